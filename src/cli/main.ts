// Entry point of the `webhost` command: dispatches to one module per subcommand.

const USAGE = `usage: webhost <command> [options]

commands:
  serve        run the daemon (ingress, API, runtimes)
  help         this text`;

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      console.log(USAGE);
      return 0;
    default:
      void rest;
      console.error(`webhost: unknown command '${command}' (try 'webhost help')`);
      return 2;
  }
}
