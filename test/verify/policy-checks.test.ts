// TD attribute policy and TCB status policy.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseQuote, type TdReport } from '../../src/verify/quote.ts';
import { checkTcb } from '../../src/verify/tcb.ts';
import { checkTdPolicy } from '../../src/verify/td-policy.ts';
import { fixtureBytes, getQuote, V0511 } from './helpers.ts';

const td10 = parseQuote(getQuote(V0511).quote).report;
const td15 = parseQuote(fixtureBytes('tdx-quote-v5-outdated.bin')).report;

function statusOf(r: TdReport, id: string): string {
  return checkTdPolicy(r).find((c) => c.id === id)!.status;
}

function withAttrs(r: TdReport, edit: (a: Uint8Array) => void): TdReport {
  const a = r.tdAttributes.slice();
  edit(a);
  return { ...r, tdAttributes: a };
}

test('real dstack TDs pass the TD policy; TD 1.0 has no mr_servicetd', () => {
  for (const c of checkTdPolicy(td10)) assert.equal(c.status, c.id === 'td.mr-servicetd' ? 'skip' : 'pass', c.id);
  for (const c of checkTdPolicy(td15)) assert.equal(c.status, 'pass', c.id);
});

test('DEBUG, a cleared SEPT_VE_DISABLE and reserved bits each fail their own check', () => {
  const debug = withAttrs(td10, (a) => (a[0] = 1));
  assert.equal(statusOf(debug, 'td.debug'), 'fail');
  assert.match(checkTdPolicy(debug)[0]!.summary, /DEBUG mode/);
  assert.equal(statusOf(debug, 'td.sept-ve-disable'), 'pass');
  assert.equal(statusOf(withAttrs(td10, (a) => (a[3] = 0)), 'td.sept-ve-disable'), 'fail');
  assert.equal(statusOf(withAttrs(td10, (a) => (a[1] = 1)), 'td.reserved-attributes'), 'fail');
  assert.equal(statusOf(withAttrs(td10, (a) => (a[3]! |= 0x20)), 'td.reserved-attributes'), 'fail');
  assert.equal(statusOf(withAttrs(td10, (a) => (a[7] = 1)), 'td.reserved-attributes'), 'fail');
  // PKS, KL and PERFMON are allowed.
  assert.equal(statusOf(withAttrs(td10, (a) => ((a[3]! |= 0xc0), (a[7] = 0x80))), 'td.reserved-attributes'), 'pass');
});

test('a non-Intel TDX module or a bound service TD fails', () => {
  const signer = td10.mrSignerSeam.slice();
  signer[0] = 1;
  assert.equal(statusOf({ ...td10, mrSignerSeam: signer }, 'td.mr-signer-seam'), 'fail');
  const st = new Uint8Array(48);
  st[47] = 1;
  assert.equal(statusOf({ ...td15, mrServiceTd: st }, 'td.mr-servicetd'), 'fail');
});

test('TCB status is judged against the allowed and tolerated sets, advisories shown', () => {
  const policy = { allowed: ['UpToDate'], tolerated: ['SWHardeningNeeded'] };
  assert.equal(checkTcb({ status: 'UpToDate', advisoryIds: [] }, policy).status, 'pass');
  const hw = checkTcb({ status: 'SWHardeningNeeded', advisoryIds: ['INTEL-SA-00837'] }, policy);
  assert.equal(hw.status, 'warn');
  assert.match(hw.summary, /INTEL-SA-00837/);
  assert.deepEqual(hw.facts?.advisory_ids, ['INTEL-SA-00837']);
  const old = checkTcb({ status: 'OutOfDate', advisoryIds: ['INTEL-SA-00960'] }, policy);
  assert.equal(old.status, 'fail');
  assert.equal(old.expected, 'UpToDate');
  assert.equal(old.actual, 'OutOfDate');
  assert.equal(checkTcb({ status: 'OutOfDate', advisoryIds: [] }, { allowed: ['UpToDate', 'OutOfDate'], tolerated: [] }).status, 'pass');
});

test('no TCB status: a TCB-level rejection fails, other failures and missing collateral skip', () => {
  const policy = { allowed: ['UpToDate'], tolerated: [] };
  assert.equal(checkTcb(null, policy, { message: 'No matching TCB level found', stage: 'tcb' }).status, 'fail');
  assert.equal(checkTcb(null, policy, { message: 'ISV enclave report signature is invalid', stage: 'quote-signature' }).status, 'skip');
  assert.equal(checkTcb(null, policy).status, 'skip');
});
