// Uploaded archives: good ones extract exactly; every hostile one is refused with a 400 naming
// 'files', and leaves nothing on disk.
import test from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readlinkSync, statSync } from 'node:fs';
import path from 'node:path';
import { extractArchive } from '../../src/projects/tarball.ts';
import { HttpError } from '../../src/lib/http-error.ts';
import { makeTar, type Member } from '../helpers/archives.ts';
import { tempDir } from '../helpers/tmp.ts';

const blob = (b: Buffer) => new Blob([new Uint8Array(b)]);

test('extracts files, folders, exec bits and inside links from tar.gz and plain tar', async () => {
  for (const gzip of [true, false]) {
    const dest = path.join(tempDir(), 'out');
    const r = await extractArchive(
      blob(
        await makeTar(
          [
            { name: './', type: 'directory' },
            { name: './index.html', content: '<h1>hi</h1>' },
            { name: './assets/css/site.css', content: 'body{}' },
            { name: './run.sh', content: '#!/bin/sh', mode: 0o755 },
            { name: './assets/latest.css', type: 'symlink', linkname: 'css/site.css' },
          ],
          gzip,
        ),
      ),
      dest,
    );
    assert.equal(readFileSync(path.join(dest, 'index.html'), 'utf8'), '<h1>hi</h1>');
    assert.equal(readFileSync(path.join(dest, 'assets/css/site.css'), 'utf8'), 'body{}');
    assert.equal(statSync(path.join(dest, 'run.sh')).mode & 0o777, 0o755);
    assert.equal(readlinkSync(path.join(dest, 'assets/latest.css')), 'css/site.css');
    assert.equal(r.entries, 5);
  }
});

const hostile: Array<[string, Member[], RegExp]> = [
  ['a .. member', [{ name: 'ok.txt' }, { name: '../escape.txt', content: 'x' }], /climbs out/],
  ['a nested .. member', [{ name: 'a/../../escape.txt', content: 'x' }], /climbs out/],
  ['an absolute member', [{ name: '/etc/cron.d/evil', content: 'x' }], /absolute/],
  ['a link pointing outside (absolute)', [{ name: 'env', type: 'symlink', linkname: '/proc/self/environ' }], /points outside/],
  ['a link pointing outside (relative)', [{ name: 'a/up', type: 'symlink', linkname: '../../etc/passwd' }], /points outside/],
  ['a path through a link', [{ name: 'd', type: 'symlink', linkname: '.' }, { name: 'd/x', content: 'x' }], /goes through a link/],
  ['a hard link', [{ name: 'f', content: 'x' }, { name: 'g', type: 'link', linkname: 'f' }], /hard link/],
  ['a character device', [{ name: 'null', type: 'character-device' }], /device/],
  ['a block device', [{ name: 'sda', type: 'block-device' }], /device/],
  ['a fifo', [{ name: 'pipe', type: 'fifo' }], /fifo/],
  ['a .git folder', [{ name: '.git/config', content: '[core]' }], /\.git/],
  ['a duplicate member', [{ name: 'a', content: '1' }, { name: 'a', content: '2' }], /twice/],
];

for (const [what, members, message] of hostile) {
  test(`refuses ${what}, leaving nothing behind`, async () => {
    const dest = path.join(tempDir(), 'out');
    await assert.rejects(extractArchive(blob(await makeTar(members)), dest), (err: unknown) => {
      assert.ok(err instanceof HttpError, String(err));
      assert.equal(err.status, 400);
      assert.equal(err.field, 'files');
      assert.match(err.message, message);
      return true;
    });
    assert.equal(existsSync(dest), false);
    assert.equal(existsSync(path.join(path.dirname(dest), 'escape.txt')), false);
  });
}

test('refuses archives over the size and entry limits', async () => {
  const big = await makeTar([{ name: 'big.bin', content: Buffer.alloc(2 * 1024 * 1024) }]);
  const dest = path.join(tempDir(), 'out');
  await assert.rejects(extractArchive(blob(big), dest, { maxEntries: 100, maxBytes: 1024 * 1024 }), /size limit/);
  assert.equal(existsSync(dest), false);
  const many = await makeTar(Array.from({ length: 20 }, (_, i) => ({ name: `f${i}`, content: 'x' })));
  await assert.rejects(extractArchive(blob(many), dest, { maxEntries: 10, maxBytes: 1 << 20 }), /more than 10 entries/);
  assert.equal(existsSync(dest), false);
});

test('refuses something that is not an archive', async () => {
  const dest = path.join(tempDir(), 'out');
  await assert.rejects(extractArchive(blob(Buffer.from('just some text, not a tarball at all')), dest), /tar or tar.gz/);
  await assert.rejects(extractArchive(blob(Buffer.from([0x1f, 0x8b, 1, 2, 3])), dest), /could not read the archive/);
  assert.equal(existsSync(dest), false);
});
