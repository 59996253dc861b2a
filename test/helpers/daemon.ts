// A real daemon for a test: its own state folder and port, the data plane asked for, and a small
// client for its API. Call stop() in an after() hook of the suite that started it.
import { startDaemon, type Daemon } from '../../src/daemon/daemon.ts';
import type { DaemonConfig } from '../../src/daemon/config.ts';
import { tempDir } from './tmp.ts';
import { makeTar, type Member } from './archives.ts';
import { freePort } from './net.ts';

export { freePort, eventually } from './net.ts';

export const TEST_TOKEN = 'test-token-0123456789abcdef0123456789abcdef';

export interface TestDaemon {
  daemon: Daemon;
  url: string;
  stateDir: string;
  config: DaemonConfig;
  accessLines: string[];
  logLines: string[];
  api(method: string, path: string, body?: unknown, headers?: Record<string, string>): Promise<Response>;
  deployGit(manifest: Record<string, unknown>): Promise<Response>;
  deployTar(manifest: Record<string, unknown>, members: Member[] | Buffer): Promise<Response>;
  restart(): Promise<void>;
  stop(): Promise<void>;
}

export async function testDaemon(overrides: Partial<DaemonConfig> = {}): Promise<TestDaemon> {
  const stateDir = overrides.stateDir ?? tempDir('webhost-state-');
  const dataPlane = overrides.dataPlane ?? 'node';
  const config: DaemonConfig = {
    port: dataPlane === 'node' ? 0 : await freePort(),
    host: '127.0.0.1',
    stateDir,
    tokenFromEnv: TEST_TOKEN,
    baseDomain: 'localhost',
    trustProxy: false,
    production: false,
    uploadLimitBytes: 20 * 1024 * 1024,
    readyTimeoutMs: 20_000,
    drainTimeoutMs: 10_000,
    upstreamTimeoutMs: 30_000,
    dstackEndpoint: undefined,
    dataPlane,
    dockerNamespace: `t-${Math.random().toString(16).slice(2, 10)}`,
    pccsUrl: 'http://127.0.0.1:9',
    ...overrides,
  };
  const accessLines: string[] = [];
  const logLines: string[] = [];
  const hooks = { access: (t: string) => void accessLines.push(...t.trim().split('\n')), log: (m: string) => void logLines.push(m) };
  let daemon = await startDaemon(config, hooks);
  config.port = daemon.port;
  const t: TestDaemon = {
    get daemon() {
      return daemon;
    },
    get url() {
      return `http://127.0.0.1:${daemon.port}`;
    },
    stateDir,
    config,
    accessLines,
    logLines,
    async api(method, path, body, headers = {}) {
      const h: Record<string, string> = { authorization: `Bearer ${TEST_TOKEN}`, ...headers };
      let payload: BodyInit | undefined;
      if (body instanceof FormData) payload = body;
      else if (body !== undefined) {
        h['content-type'] ??= 'application/json';
        payload = typeof body === 'string' ? body : JSON.stringify(body);
      }
      return fetch(`${t.url}${path}`, { method, headers: h, body: payload });
    },
    deployGit(manifest) {
      return t.api('POST', '/_api/projects', manifest);
    },
    async deployTar(manifest, members) {
      const form = new FormData();
      form.set('manifest', JSON.stringify(manifest));
      const archive = Buffer.isBuffer(members) ? members : await makeTar(members);
      form.set('files', new Blob([new Uint8Array(archive)]), 'src.tar.gz');
      return t.api('POST', '/_api/projects', form);
    },
    async restart() {
      await daemon.close();
      daemon = await startDaemon(config, hooks);
    },
    async stop() {
      await daemon.close();
    },
  };
  return t;
}

