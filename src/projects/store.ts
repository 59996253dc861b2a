// Durable project state in the state folder. Every write is atomic (temp file, fsync, rename), so
// after a crash or restart each project comes back exactly as it was last acknowledged.
//
//   <state>/projects/<name>.json                     the ProjectRecord (0600: holds env values)
//   <state>/tenants/<name>/deployments/<id>/src/     the deployment's files (immutable)
//   <state>/tenants/<name>/deployments/<id>.json     the StoredDeployment
//   <state>/tenants/<name>/data/                     the project's dataDir
//   <state>/tenants/<name>/run/                      its instances' sockets
import { mkdir, readdir, rm, rename } from 'node:fs/promises';
import path from 'node:path';
import { readJsonIfExists, writeJsonAtomic } from '../lib/atomic-file.ts';
import type { ProjectRecord, StoredDeployment } from './model.ts';
import { removeDeploymentCache } from '../runtimes/process-driver.ts';

export const FIRST_TENANT_ID = 200_000;

export class ProjectStore {
  readonly stateDir: string;
  private readonly records = new Map<string, ProjectRecord>();

  constructor(stateDir: string) {
    this.stateDir = stateDir;
  }

  get projectsDir(): string {
    return path.join(this.stateDir, 'projects');
  }
  get tenantsDir(): string {
    return path.join(this.stateDir, 'tenants');
  }
  get tmpDir(): string {
    return path.join(this.stateDir, 'tmp');
  }
  tenantDir(name: string): string {
    return path.join(this.tenantsDir, name);
  }
  deploymentsDir(name: string): string {
    return path.join(this.tenantDir(name), 'deployments');
  }
  deploymentDir(name: string, id: string): string {
    return path.join(this.deploymentsDir(name), id);
  }
  sourceDir(name: string, id: string): string {
    return path.join(this.deploymentDir(name, id), 'src');
  }
  dataDir(name: string): string {
    return path.join(this.tenantDir(name), 'data');
  }
  runDir(name: string): string {
    return path.join(this.tenantDir(name), 'run');
  }

  /** Creates the folders and loads every project record. Leftover temp files of an interrupted deploy are removed. */
  async open(): Promise<void> {
    await mkdir(this.stateDir, { recursive: true, mode: 0o711 });
    await mkdir(this.projectsDir, { recursive: true, mode: 0o700 });
    await mkdir(this.tenantsDir, { recursive: true, mode: 0o711 });
    await rm(this.tmpDir, { recursive: true, force: true });
    await mkdir(this.tmpDir, { recursive: true, mode: 0o700 });
    for (const file of await readdir(this.projectsDir)) {
      if (!file.endsWith('.json') || file.startsWith('.')) continue;
      const rec = await readJsonIfExists<ProjectRecord>(path.join(this.projectsDir, file));
      if (rec) this.records.set(rec.name, rec);
    }
  }

  get(name: string): ProjectRecord | undefined {
    return this.records.get(name);
  }

  list(): ProjectRecord[] {
    return [...this.records.values()].sort((a, b) => a.name.localeCompare(b.name));
  }

  async save(rec: ProjectRecord): Promise<void> {
    await writeJsonAtomic(path.join(this.projectsDir, `${rec.name}.json`), rec, 0o600);
    this.records.set(rec.name, rec);
  }

  /** Removes the record first (so a crash mid-way never resurrects a half-deleted project), then its folders. */
  async remove(name: string): Promise<void> {
    await rm(path.join(this.projectsDir, `${name}.json`), { force: true });
    this.records.delete(name);
    const doomed = path.join(this.tmpDir, `deleted-${name}-${Date.now()}`);
    await rename(this.tenantDir(name), doomed).catch(() => undefined);
    await rm(doomed, { recursive: true, force: true });
    await rm(path.join(this.stateDir, 'runtime-cache', name), { recursive: true, force: true });
  }

  /** The next unused tenant uid/gid. */
  allocateId(): number {
    let max = FIRST_TENANT_ID - 1;
    for (const r of this.records.values()) max = Math.max(max, r.uid);
    return max + 1;
  }

  async saveDeployment(name: string, d: StoredDeployment): Promise<void> {
    await writeJsonAtomic(path.join(this.deploymentsDir(name), `${d.id}.json`), d, 0o640);
  }

  async loadDeployment(name: string, id: string): Promise<StoredDeployment | undefined> {
    return readJsonIfExists<StoredDeployment>(path.join(this.deploymentsDir(name), `${id}.json`));
  }

  /** A deployment's files, record and runtime cache (what its runtime compiled or fetched for it). */
  async removeDeployment(name: string, id: string): Promise<void> {
    await rm(path.join(this.deploymentsDir(name), `${id}.json`), { force: true });
    await rm(this.deploymentDir(name, id), { recursive: true, force: true });
    await removeDeploymentCache(this.stateDir, name, id);
  }
}
