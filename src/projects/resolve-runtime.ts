// Which runtime and entry a source gets: the request's fields, then the repo's project.json, then
// autodetection from the files present. Shared by the deploy pipeline and `webhost dev`, so an app
// runs locally exactly as it will be deployed.
import { access, lstat, readFile, readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { badRequest } from '../lib/http-error.ts';
import { isDockerRuntime } from '../runtimes/docker/index.ts';
import type { RuntimeName } from '../runtimes/driver.ts';
import { autodetect, defaultEntry, parseRepoManifest, type RepoManifest } from './manifest.ts';

const exists = (p: string) => access(p).then(() => true, () => false);

/** The repo's project.json, when there is one. Errors name the file. */
export async function readRepoManifest(dir: string): Promise<RepoManifest | undefined> {
  const file = path.join(dir, 'project.json');
  let text: string;
  try {
    const st = await lstat(file);
    if (!st.isFile()) return undefined;
    text = await readFile(file, 'utf8');
  } catch {
    return undefined;
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw badRequest('invalid_manifest', `project.json is not valid JSON: ${(err as Error).message}`, 'project.json');
  }
  return parseRepoManifest(json);
}

export async function resolveRuntime(spec: { runtime?: RuntimeName; entry?: string }, repo: RepoManifest | undefined, dir: string, noFiles: boolean): Promise<{ runtime: RuntimeName; entry: string }> {
  const top = new Set(await readdir(dir));
  let runtime = spec.runtime ?? repo?.runtime;
  let entry = spec.entry ?? repo?.entry;
  if (!runtime) {
    const found = autodetect((f) => top.has(f));
    if (!found) {
      throw badRequest('cannot_detect_runtime', "cannot detect the runtime: add server.ts, index.ts, index.js, app.py, index.html, a Dockerfile or a compose file, or set 'runtime'", 'runtime');
    }
    runtime = found.runtime;
    entry ??= found.entry;
  }
  if (isDockerRuntime(runtime)) {
    // The Docker driver checks its own files (Dockerfile, compose file) against its policy.
    return { runtime, entry: runtime === 'dockerfile' ? (entry ?? 'Dockerfile') : '' };
  }
  if (noFiles) throw badRequest('missing_field', `runtime ${runtime} needs a source: a git URL or uploaded files`, 'source');
  // A runtime given without an entry takes the first file autodetection would pick for it
  // (node: index.js, then index.mjs), else its default.
  entry ??= defaultEntry(runtime, (f) => top.has(f))!;
  const full = path.join(dir, entry);
  const st = await stat(full).catch(() => undefined);
  const want = runtime === 'static' ? st?.isDirectory() : st?.isFile();
  if (!want || !(await exists(full))) {
    throw badRequest('missing_entry', `the entry ${JSON.stringify(entry)} for runtime ${runtime} is not ${runtime === 'static' ? 'a folder' : 'a file'} in the source`, 'entry');
  }
  return { runtime, entry };
}

