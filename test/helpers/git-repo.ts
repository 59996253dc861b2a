// Real git repositories made in a test: a working clone whose commits the daemon fetches.
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync, symlinkSync, chmodSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export type FileSpec = string | Buffer | { content: string | Buffer; mode?: number } | { symlink: string };

export function git(cwd: string, ...args: string[]): string {
  return execFileSync('git', args, {
    cwd,
    encoding: 'utf8',
    env: { ...process.env, GIT_AUTHOR_NAME: 't', GIT_AUTHOR_EMAIL: 't@example.com', GIT_COMMITTER_NAME: 't', GIT_COMMITTER_EMAIL: 't@example.com' },
  }).trim();
}

export function writeFiles(dir: string, files: Record<string, FileSpec>): void {
  for (const [rel, spec] of Object.entries(files)) {
    const full = path.join(dir, rel);
    mkdirSync(path.dirname(full), { recursive: true });
    rmSync(full, { force: true });
    if (typeof spec === 'string' || Buffer.isBuffer(spec)) writeFileSync(full, spec);
    else if ('symlink' in spec) symlinkSync(spec.symlink, full);
    else {
      writeFileSync(full, spec.content);
      if (spec.mode) chmodSync(full, spec.mode);
    }
  }
}

export class TestRepo {
  readonly dir: string;

  constructor(files: Record<string, FileSpec>, parent = os.tmpdir()) {
    this.dir = mkdtempSync(path.join(parent, 'repo-'));
    git(this.dir, 'init', '-q', '-b', 'main');
    this.commit(files, 'initial');
  }

  commit(files: Record<string, FileSpec>, message = 'update'): string {
    writeFiles(this.dir, files);
    git(this.dir, 'add', '-A');
    git(this.dir, 'commit', '-q', '--allow-empty', '-m', message);
    return this.head();
  }

  head(): string {
    return git(this.dir, 'rev-parse', 'HEAD');
  }

  tree(rev = 'HEAD'): string {
    return git(this.dir, 'rev-parse', `${rev}^{tree}`);
  }

  tag(name: string): void {
    git(this.dir, 'tag', '-a', name, '-m', name);
  }

  remove(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}
