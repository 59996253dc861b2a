// `webhost simulator`: runs the built-in dstack guest-agent simulator in the foreground until
// SIGINT/SIGTERM, printing where it listens and the fingerprint of its development root CA (the
// only root its quotes verify against). Bad flags give a one-line error and exit status 2.

import { parseArgs } from 'node:util';
import { startSimulator } from './index.ts';

export const SIMULATOR_USAGE = `usage: webhost simulator [--dir D] [--socket P] [--port N] [--host H] [--image REF]

Runs a simulated dstack guest agent (SIMULATED TEE: quotes verify only against its own root CA).
  --dir D       state folder (seed, certificates); default .webhost/simulator
  --socket P    unix socket of the guest-agent API; default <dir>/dstack.sock
  --port N      also serve the API and the mock PCCS over HTTP on port N (0 = any free port)
  --host H      address for HTTP listeners; default 127.0.0.1
  --image REF   daemon image named by app-compose (digest-pinned reference)`;

export const DEFAULT_SIMULATOR_DIR = '.webhost/simulator';

function parsePort(value: string): number {
  if (!/^\d+$/.test(value) || Number(value) > 65535) throw new Error(`--port must be a number from 0 to 65535, got '${value}'`);
  return Number(value);
}

export async function simulatorCommand(argv: string[], signals: { once(s: NodeJS.Signals, f: () => void): unknown } = process): Promise<number> {
  let values: { dir?: string; socket?: string; port?: string; host?: string; image?: string; help?: boolean };
  let port: number | undefined;
  try {
    ({ values } = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        dir: { type: 'string' },
        socket: { type: 'string' },
        port: { type: 'string' },
        host: { type: 'string' },
        image: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
    if (values.port !== undefined) port = parsePort(values.port);
  } catch (e) {
    console.error(`webhost simulator: ${(e as Error).message.split('\n')[0]} (try --help)`);
    return 2;
  }
  if (values.help) {
    console.log(SIMULATOR_USAGE);
    return 0;
  }
  let sim;
  try {
    sim = await startSimulator({
      dir: values.dir ?? DEFAULT_SIMULATOR_DIR,
      socketPath: values.socket,
      httpPort: port,
      httpHost: values.host,
      imageRef: values.image,
    });
  } catch (e) {
    console.error(`webhost simulator: ${(e as Error).message}`);
    return 1;
  }
  const info = sim.agent.info();
  console.log('dstack guest-agent simulator (SIMULATED TEE, not a real attestation)');
  console.log(`  socket         ${sim.endpoint}`);
  if (sim.httpUrl) console.log(`  http           ${sim.httpUrl}`);
  console.log(`  pccs           ${sim.pccsUrl}`);
  console.log(`  root CA sha256 ${sim.rootCaFingerprint}`);
  console.log(`  app-id         ${info.app_id}`);
  console.log(`  compose-hash   ${info.compose_hash}`);
  console.log(`export DSTACK_SIMULATOR_ENDPOINT=${sim.httpUrl ?? sim.endpoint}`);
  await new Promise<void>((resolve) => {
    signals.once('SIGINT', resolve);
    signals.once('SIGTERM', resolve);
  });
  await sim.close();
  return 0;
}
