// The deploy manifest: every bad field is a 400 that names it.
import test from 'node:test';
import assert from 'node:assert/strict';
import { parseDeployManifest, parseRepoManifest, autodetect } from '../../src/projects/manifest.ts';
import { HttpError } from '../../src/lib/http-error.ts';

function rejects(input: unknown, field: string, code?: string) {
  assert.throws(
    () => parseDeployManifest(input),
    (err: unknown) => err instanceof HttpError && err.status === 400 && err.field === field && (!code || err.code === code),
    `expected a 400 naming '${field}' for ${JSON.stringify(input)}`,
  );
}

test('accepts a full manifest and normalises it', () => {
  const m = parseDeployManifest({
    name: 'my-app',
    source: 'https://github.com/o/r.git',
    ref: 'v1.2.3',
    runtime: 'deno',
    entry: './src/server.ts',
    env: { API_KEY: 'x', _OK: '' },
    listen: { port: 9000 },
    limits: { memory_mb: 256, pids: 64, cpus: 0.5 },
    isolation: 'container', // the reference's field: accepted, ignored
  });
  assert.equal(m.entry, 'src/server.ts');
  assert.deepEqual(m.listen, { port: 9000, protocol: 'http' });
  assert.deepEqual(m.limits, { memoryMb: 256, pids: 64, cpus: 0.5 });
});

test('names must be DNS labels and not reserved', () => {
  for (const name of ['', 'UPPER', '-lead', 'trail-', 'a_b', 'a.b', '_api', 'x'.repeat(64), 'www', 'api', 42, null]) rejects({ name, source: 'x' }, 'name');
  assert.equal(parseDeployManifest({ name: 'a'.repeat(63), source: 'x' }).name, 'a'.repeat(63));
});

test('every other field is checked and named', () => {
  const base = { name: 'ok', source: 'https://h/r.git' };
  rejects({ ...base, runtime: 'cobol' }, 'runtime', 'unknown_runtime');
  rejects({ ...base, entry: '../x.ts' }, 'entry');
  rejects({ ...base, entry: '/etc/passwd' }, 'entry');
  rejects({ ...base, mode: 'prod' }, 'mode');
  rejects({ ...base, env: { 'BAD-NAME': 'x' } }, 'env.BAD-NAME');
  rejects({ ...base, env: { A: 1 } }, 'env.A');
  rejects({ ...base, env: 'A=1' }, 'env');
  rejects({ ...base, listen: 8080 }, 'listen');
  rejects({ ...base, listen: { port: 80 } }, 'listen.port');
  rejects({ ...base, listen: { port: 8080, protocol: 'tcp' } }, 'listen.protocol');
  rejects({ ...base, limits: { memory_mb: 1 } }, 'limits.memory_mb');
  rejects({ ...base, limits: { disk: 1 } }, 'limits.disk');
  rejects({ ...base, ref: '--upload-pack=evil' }, 'ref');
  rejects({ ...base, ref: 'a..b' }, 'ref');
  rejects({ ...base, sourcee: 'typo' }, 'sourcee', 'unknown_field');
  rejects({ ...base, commit_sha: 'not-hex' }, 'commit_sha');
});

test('error messages never echo env values', () => {
  try {
    parseDeployManifest({ name: 'ok', env: { 'BAD NAME': 'super-secret-value' } });
    assert.fail('should throw');
  } catch (err) {
    assert.doesNotMatch(JSON.stringify((err as HttpError).toJSON()), /super-secret-value/);
  }
});

test('project.json errors name the file', () => {
  assert.throws(() => parseRepoManifest({ runtime: 'java' }), (e: unknown) => e instanceof HttpError && e.field === 'project.json:runtime');
  assert.throws(() => parseRepoManifest([]), (e: unknown) => e instanceof HttpError && e.status === 400);
});

test('autodetect follows the reference order; static serves the whole folder', () => {
  const has = (files: string[]) => (f: string) => files.includes(f);
  assert.deepEqual(autodetect(has(['server.ts', 'index.html'])), { runtime: 'deno', entry: 'server.ts' });
  assert.deepEqual(autodetect(has(['index.ts'])), { runtime: 'bun', entry: 'index.ts' });
  assert.deepEqual(autodetect(has(['index.mjs'])), { runtime: 'node', entry: 'index.mjs' });
  assert.deepEqual(autodetect(has(['app.py'])), { runtime: 'python', entry: 'app.py' });
  assert.deepEqual(autodetect(has(['index.html', 'style.css'])), { runtime: 'static', entry: '.' });
  assert.equal(autodetect(has(['README.md'])), undefined);
});
