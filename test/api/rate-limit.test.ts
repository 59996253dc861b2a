// Fresh quotes cost the TEE real work: a client that asks for too many nonced quotes gets a 429,
// while the cached un-nonced bundle stays available to everyone.
import test from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { testDaemon } from '../helpers/daemon.ts';

test('nonced quotes are rate-limited per client; the cached bundle is not', async () => {
  const d = await testDaemon();
  try {
    assert.equal((await d.deployTar({ name: 'rl' }, [{ name: 'index.html', content: 'x' }])).status, 201);
    assert.equal((await d.api('POST', '/_api/projects/rl/promote')).status, 200);
    const statuses: number[] = [];
    for (let i = 0; i < 14; i++) statuses.push((await fetch(`${d.url}/_api/attest/rl?nonce=${randomBytes(8).toString('hex')}`)).status);
    assert.ok(statuses.slice(0, 10).every((s) => s === 200), statuses.join());
    const limited = await fetch(`${d.url}/_api/verification/rl?nonce=${randomBytes(8).toString('hex')}`);
    assert.equal(limited.status, 429);
    assert.equal((await limited.json()).code, 'rate_limited');
    assert.equal((await fetch(`${d.url}/_api/verification/rl`)).status, 200, 'the un-nonced bundle is served from cache');
  } finally {
    await d.stop();
  }
});
