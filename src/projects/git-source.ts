// Fetches a git source at an exact ref with the system git and writes the commit's files, byte
// for byte as git stores them (no .gitattributes conversions, no hooks, no submodules), so the
// deployed folder is exactly the recorded tree.
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, rm, symlink, writeFile, chmod } from 'node:fs/promises';
import path from 'node:path';
import { unprocessable } from '../lib/http-error.ts';
import { checkLinkTarget } from './source-paths.ts';
import { redactText } from './redact.ts';

export interface GitCheckout {
  commit: string;
  tree: string;
}

interface RunResult {
  code: number | null;
  stdout: Buffer;
  stderr: string;
}

/** A git environment that never prompts, never reads the user's config, and allows only ordinary transports. */
function gitEnv(): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: '/nonexistent',
    GIT_TERMINAL_PROMPT: '0',
    GIT_CONFIG_NOSYSTEM: '1',
    GIT_CONFIG_GLOBAL: '/dev/null',
    GIT_ALLOW_PROTOCOL: 'file:git:http:https:ssh',
    GIT_SSH_COMMAND: 'ssh -o BatchMode=yes -o StrictHostKeyChecking=accept-new',
    LANG: 'C',
  };
}

function git(args: string[], opts: { cwd?: string; input?: string; timeoutMs?: number } = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn('git', ['-c', 'core.hooksPath=/dev/null', '-c', 'protocol.ext.allow=never', ...args], {
      cwd: opts.cwd,
      env: gitEnv(),
      stdio: [opts.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    });
    const out: Buffer[] = [];
    let err = '';
    child.stdout!.on('data', (c: Buffer) => out.push(c));
    child.stderr!.on('data', (c: Buffer) => {
      if (err.length < 8192) err += c.toString();
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 120_000);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      // Redacted whole, so a URL split across chunks cannot slip through.
      resolve({ code, stdout: Buffer.concat(out), stderr: redactText(err) });
    });
    if (child.stdin) {
      child.stdin.on('error', () => undefined); // git may exit before reading all input; its exit code tells
      child.stdin.end(opts.input);
    }
  });
}

async function gitOk(args: string[], cwd: string, what: string, timeoutMs?: number): Promise<Buffer> {
  const r = await git(args, { cwd, timeoutMs });
  if (r.code !== 0) {
    const reason = r.stderr.trim().split('\n').filter(Boolean).pop() ?? `exit ${r.code}`;
    throw unprocessable('git_failed', `${what}: ${reason}`, 'source');
  }
  return r.stdout;
}

const FULL_SHA = /^[0-9a-f]{40}$/;

/** Fetches `ref` (a branch, tag or full commit SHA; the remote's HEAD when absent) into a bare scratch repo. */
async function fetchRef(repo: string, url: string, ref: string | undefined): Promise<string> {
  await gitOk(['init', '-q', '--bare', repo], path.dirname(repo), 'git init');
  await gitOk(['remote', 'add', 'origin', url], repo, 'git remote add');
  const want = ref ?? 'HEAD';
  const shallow = await git(['fetch', '-q', '--depth', '1', '--no-tags', 'origin', want], { cwd: repo, timeoutMs: 300_000 });
  if (shallow.code !== 0) {
    // Some servers refuse to fetch a commit by SHA; fetch everything and look for it instead.
    if (!(ref && FULL_SHA.test(ref))) {
      const reason = shallow.stderr.trim().split('\n').filter(Boolean).pop() ?? 'fetch failed';
      throw unprocessable('git_failed', `could not fetch ${ref ? `ref '${ref}'` : 'HEAD'} from the source: ${reason}`, ref ? 'ref' : 'source');
    }
    await gitOk(['fetch', '-q', '--tags', 'origin', '+refs/heads/*:refs/remotes/origin/*'], repo, 'git fetch', 300_000);
    const found = await git(['cat-file', '-e', `${ref}^{commit}`], { cwd: repo });
    if (found.code !== 0) throw unprocessable('git_failed', `commit ${ref} is not in the source repository`, 'ref');
    return ref;
  }
  const commit = (await gitOk(['rev-parse', '--verify', 'FETCH_HEAD^{commit}'], repo, 'git rev-parse')).toString().trim();
  if (ref && FULL_SHA.test(ref) && commit !== ref) throw unprocessable('git_failed', `fetched ${commit}, not the requested ${ref}`, 'ref');
  return commit;
}

interface LsTreeEntry {
  mode: string;
  type: string;
  oid: string;
  path: string;
}

function parseLsTree(out: Buffer): LsTreeEntry[] {
  const entries: LsTreeEntry[] = [];
  for (const rec of out.toString('utf8').split('\0')) {
    if (!rec) continue;
    const tab = rec.indexOf('\t');
    const [mode, type, oid] = rec.slice(0, tab).split(' ');
    entries.push({ mode: mode!, type: type!, oid: oid!, path: rec.slice(tab + 1) });
  }
  return entries;
}

/** Reads many blobs through one `git cat-file --batch`. */
async function readBlobs(repo: string, oids: string[]): Promise<Map<string, Buffer>> {
  const unique = [...new Set(oids)];
  const blobs = new Map<string, Buffer>();
  if (unique.length === 0) return blobs;
  const r = await git(['cat-file', '--batch'], { cwd: repo, input: unique.join('\n') + '\n', timeoutMs: 300_000 });
  if (r.code !== 0) throw unprocessable('git_failed', `git cat-file: ${r.stderr.trim()}`, 'source');
  let pos = 0;
  const buf = r.stdout;
  for (const oid of unique) {
    const nl = buf.indexOf(0x0a, pos);
    const header = buf.subarray(pos, nl).toString();
    const size = Number(header.split(' ')[2]);
    if (!header.startsWith(oid) || !Number.isFinite(size)) throw unprocessable('git_failed', `unexpected git cat-file output for ${oid}`, 'source');
    blobs.set(oid, buf.subarray(nl + 1, nl + 1 + size));
    pos = nl + 1 + size + 1;
  }
  return blobs;
}

/**
 * Clones `url` at `ref` and writes the commit's files into `dest` (which must not exist).
 * `scratch` is a folder for the temporary bare repository; it is removed afterwards.
 */
export async function checkoutGit(url: string, ref: string | undefined, dest: string, scratch: string): Promise<GitCheckout> {
  const work = await mkdtemp(path.join(scratch, 'git-'));
  try {
    const repo = path.join(work, 'repo.git');
    const commit = await fetchRef(repo, url, ref);
    const tree = (await gitOk(['rev-parse', `${commit}^{tree}`], repo, 'git rev-parse')).toString().trim();
    const entries = parseLsTree(await gitOk(['ls-tree', '-r', '-z', '--full-tree', commit], repo, 'git ls-tree'));
    const submodule = entries.find((e) => e.type === 'commit');
    if (submodule) throw unprocessable('unsupported_source', `the repository uses a git submodule (${submodule.path}), which is not supported`, 'source');
    const blobs = await readBlobs(repo, entries.map((e) => e.oid));
    await mkdir(dest, { recursive: false });
    for (const e of entries) {
      const target = path.join(dest, e.path);
      await mkdir(path.dirname(target), { recursive: true });
      const content = blobs.get(e.oid)!;
      if (e.mode === '120000') {
        checkLinkTarget(e.path, content.toString('utf8'));
        await symlink(content.toString('utf8'), target);
      } else {
        await writeFile(target, content);
        await chmod(target, e.mode === '100755' ? 0o755 : 0o644);
      }
    }
    return { commit, tree };
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}
