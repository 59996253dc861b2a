// `webhost serve`: runs the daemon until SIGINT/SIGTERM, then shuts down gracefully (stops taking
// requests, lets in-flight ones finish, stops every app).
import { loadConfig, SERVE_USAGE } from '../daemon/config.ts';
import { ConfigError } from '../daemon/token.ts';
import { startDaemon } from '../daemon/daemon.ts';

export async function serveCommand(argv: string[]): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    console.log(SERVE_USAGE);
    return 0;
  }
  let daemon;
  try {
    const config = await loadConfig(argv, process.env);
    daemon = await startDaemon(config);
    const url = `http://localhost:${daemon.port}`;
    process.stderr.write(`[webhost] listening on ${url} (state: ${config.stateDir})\n`);
    if (daemon.token.source === 'generated') {
      process.stderr.write(`[webhost] generated an admin token (stored in ${daemon.token.file}, shown only this once):\n\n    ${daemon.token.token}\n\n`);
    } else if (daemon.token.source === 'file') {
      process.stderr.write(`[webhost] admin token: in ${daemon.token.file}\n`);
    }
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(`webhost serve: ${err.message}`);
      return 2;
    }
    if ((err as NodeJS.ErrnoException).code === 'EADDRINUSE') {
      console.error(`webhost serve: the port is already in use (${(err as Error).message})`);
      return 1;
    }
    throw err;
  }
  const d = daemon;
  await new Promise<void>((resolve) => {
    const stop = (sig: string) => {
      process.stderr.write(`[webhost] ${sig}: shutting down\n`);
      void d.close().then(resolve);
    };
    process.once('SIGINT', () => stop('SIGINT'));
    process.once('SIGTERM', () => stop('SIGTERM'));
  });
  return 0;
}
