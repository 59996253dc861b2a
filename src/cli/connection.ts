// Where the daemon is and how to authenticate: flags, then environment, then the config file
// (~/.config/webhost/config.json: {"url", "token"}), then the local default (http://localhost:8080
// with the token the local daemon stored in ./.webhost/token).
import { readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

export interface Connection {
  url: string;
  token: string | undefined;
}

export function configFile(env: NodeJS.ProcessEnv = process.env): string {
  const base = env.XDG_CONFIG_HOME || path.join(os.homedir(), '.config');
  return path.join(base, 'webhost', 'config.json');
}

export async function resolveConnection(flags: { url?: string; token?: string }, env: NodeJS.ProcessEnv = process.env): Promise<Connection> {
  let file: { url?: string; token?: string } = {};
  try {
    file = JSON.parse(await readFile(configFile(env), 'utf8')) as typeof file;
  } catch {
    // no config file: fine
  }
  const url = (flags.url ?? env.WEBHOST_URL ?? file.url ?? `http://localhost:${env.INGRESS_PORT ?? 8080}`).replace(/\/+$/, '');
  let token = flags.token ?? env.WEBHOST_TOKEN ?? env.TEE_DAEMON_TOKEN ?? file.token;
  if (!token) {
    const stateDir = env.WEBHOST_STATE_DIR ?? '.webhost';
    token = (await readFile(path.join(stateDir, 'token'), 'utf8').catch(() => '')).trim() || undefined;
  }
  return { url, token };
}
