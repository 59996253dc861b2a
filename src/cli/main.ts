// Entry point of the `webhost` command: dispatches to one module per subcommand, loaded on demand
// so a quick command does not load the daemon.
import { CliError } from './cli-error.ts';

const USAGE = `usage: webhost <command> [options]

daemon:
  serve                      run the daemon (ingress, API, runtimes)
  simulator                  run the dstack guest-agent simulator

developing:
  deploy <folder|git-url>    deploy a project (--name NAME)
  ls                         list projects
  logs <name> [-f]           show (and follow) an app's output
  redeploy <name>            re-fetch the project's ref and deploy it
  rollback <name> [--to ID]  switch to an earlier deployment
  promote <name>             make a project attested
  rm <name>                  tear a project down
  dev <folder>               run a handler locally, reloading on change

verifying:
  verify <url>               check an attested project, link by link

'webhost <command> --help' shows a command's options.`;

type Command = (argv: string[]) => Promise<number>;

const COMMANDS: Record<string, () => Promise<Command>> = {
  serve: async () => (await import('./serve.ts')).serveCommand,
  deploy: async () => (await import('./commands/projects.ts')).deployCommand,
  ls: async () => (await import('./commands/projects.ts')).lsCommand,
  logs: async () => (await import('./commands/projects.ts')).logsCommand,
  redeploy: async () => (await import('./commands/projects.ts')).redeployCommand,
  rollback: async () => (await import('./commands/projects.ts')).rollbackCommand,
  promote: async () => (await import('./commands/projects.ts')).promoteCommand,
  rm: async () => (await import('./commands/projects.ts')).rmCommand,
  verify: async () => (await import('./commands/verify.ts')).verifyCommand,
  dev: async () => (await import('./dev.ts')).devCommand,
  simulator: async () => (await import('../attestation/simulator/command.ts')).simulatorCommand,
};

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined || command === 'help' || command === '--help' || command === '-h') {
    console.log(USAGE);
    return 0;
  }
  const load = COMMANDS[command];
  if (!load) {
    console.error(`webhost: unknown command '${command}' (try 'webhost help')`);
    return 2;
  }
  try {
    return await (await load())(rest);
  } catch (err) {
    if (err instanceof CliError) {
      console.error(`webhost ${command}: ${err.message}`);
      if (err.detail) console.error(err.detail.trimEnd());
      return err.exitCode;
    }
    throw err;
  }
}
