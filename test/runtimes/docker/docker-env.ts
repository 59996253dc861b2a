// Every Docker test file starts here: make sure an engine answers (starting one through
// scripts/start-dockerd.sh when none does), fail loudly when that is impossible (never skip),
// give the file its own namespace, and remove everything labelled with it afterwards.
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before } from 'node:test';
import { DockerEngine, socketFromEnv } from '../../../src/runtimes/docker/engine/client.ts';
import { LABELS } from '../../../src/runtimes/docker/names.ts';
import { ensureBaseImages, type BaseImages } from './base-images.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

export async function ensureDocker(engine: DockerEngine): Promise<void> {
  try {
    await engine.ping(3_000);
    return;
  } catch {
    // not answering: start one
  }
  const r = spawnSync('bash', [path.join(root, 'scripts/start-dockerd.sh')], { encoding: 'utf8', env: { ...process.env, DOCKER_SOCKET: engine.socketPath } });
  try {
    await engine.ping(5_000);
  } catch (err) {
    throw new Error(
      `Docker tests need a Docker engine and none could be started on ${engine.socketPath}.\n` +
        `scripts/start-dockerd.sh exited with ${r.status}: ${(r.stderr || r.stdout || '').trim()}\n(${(err as Error).message})`,
    );
  }
}

export interface DockerTestEnv {
  engine: DockerEngine;
  /** This file's namespace: every object the driver creates is labelled with it. */
  ns: string;
  images: BaseImages;
}

/** Registers before/after hooks; the returned object is filled in by `before`. */
export function dockerTestEnv(prefix: string): DockerTestEnv {
  const env = { engine: new DockerEngine(socketFromEnv()), ns: `${prefix}-${randomBytes(3).toString('hex')}`, images: { busybox: '' } } as DockerTestEnv;
  before(async () => {
    await ensureDocker(env.engine);
    env.images = await ensureBaseImages(env.engine);
  });
  after(async () => {
    await removeNamespace(env.engine, env.ns);
    env.engine.close();
  });
  return env;
}

/** Removes every container, network, volume and image labelled with the namespace. */
export async function removeNamespace(engine: DockerEngine, ns: string): Promise<void> {
  const filters = { label: [`${LABELS.namespace}=${ns}`] };
  for (const c of await engine.listContainers(filters)) await engine.removeContainer(c.Id, { force: true }).catch(() => undefined);
  for (const n of await engine.listNetworks(filters)) await engine.removeNetwork(n.Id).catch(() => undefined);
  for (const v of await engine.listVolumes(filters)) await engine.removeVolume(v.Name, true).catch(() => undefined);
  for (const i of await engine.listImages(filters)) await engine.removeImage(i.Id, true).catch(() => undefined);
}
