import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildReport, compare, fail, pass, SIMULATED_NOTICE, skip, warn } from '../../src/verify/check.ts';

test('ok means no failure and at least one pass; warnings and skips stay visible', () => {
  assert.equal(buildReport([pass('a', 'A', 'fine'), warn('b', 'B', 'hmm'), skip('c', 'C', 'n/a')], {}, false).ok, true);
  const bad = buildReport([pass('a', 'A', 'fine'), fail('b', 'B', 'broken')], {}, false);
  assert.equal(bad.ok, false);
  assert.match(bad.summary, /^NOT VERIFIED: 1 check\(s\) failed\. 1 passed, 1 failed, 0 warning\(s\), 0 skipped\. \[b\] broken$/);
  const empty = buildReport([skip('a', 'A', 'n/a')], {}, false);
  assert.equal(empty.ok, false, 'nothing checked is not a pass');
  assert.match(empty.summary, /nothing could be checked/);
});

test('a simulated report says SIMULATED first, in plain words', () => {
  const r = buildReport([pass('a', 'A', 'fine')], {}, true);
  assert.equal(r.simulated, true);
  assert.ok(r.summary.startsWith(SIMULATED_NOTICE));
  assert.match(SIMULATED_NOTICE, /not by Intel TDX hardware/);
  assert.match(r.summary, /VERIFIED AGAINST THE SIMULATOR ONLY/);
  assert.doesNotMatch(r.summary, /(^|\. )VERIFIED: /);
});

test('compare shows expected and actual either way', () => {
  const ok = compare('x', 'X', 'ab', 'ab', 'same', 'differs');
  assert.deepEqual([ok.status, ok.expected, ok.actual, ok.summary], ['pass', 'ab', 'ab', 'same']);
  const no = compare('x', 'X', 'ab', 'cd', 'same', 'differs');
  assert.deepEqual([no.status, no.expected, no.actual, no.summary], ['fail', 'ab', 'cd', 'differs']);
  assert.equal('facts' in pass('y', 'Y', 's', { facts: {} }), false, 'empty facts are left out');
});
