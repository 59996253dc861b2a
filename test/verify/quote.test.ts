import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bytesToHex } from '../../src/verify/bytes.ts';
import { INTEL_QE_VENDOR_ID, parseQuote, reportOffset } from '../../src/verify/quote.ts';
import { fixtureBytes, getQuote, OLD, STRIPPED, V0511 } from './helpers.ts';

const v4 = getQuote(V0511).quote;

test('parses the dstack v0.5.11 quote field by field', () => {
  const q = parseQuote(v4);
  assert.equal(q.header.version, 4);
  assert.equal(q.header.teeType, 0x81);
  assert.equal(q.header.attKeyType, 2);
  assert.equal(bytesToHex(q.header.qeVendorId), INTEL_QE_VENDOR_ID);
  assert.equal(bytesToHex(q.header.userData), '1eadadc7f30fb7f911d24aa522afc59000000000');
  assert.equal(q.report.type, 'td10');
  assert.equal(
    bytesToHex(q.report.mrTd),
    'b24d3b24e9e3c16012376b52362ca09856c4adecb709d5fac33addf1c47e193da075b125b6c364115771390a5461e217',
  );
  assert.equal(bytesToHex(q.report.tdAttributes), '0000001000000000');
  assert.equal(bytesToHex(q.report.xfam), 'e702060000000000');
  assert.ok(bytesToHex(q.report.teeTcbSvn).startsWith('0b0104'));
  assert.equal(bytesToHex(q.report.reportData), '1234' + '0'.repeat(124));
  assert.equal(q.signedRegion.length, 632);
  assert.equal(q.trailingBytes, 70, 'dstack pads quotes with 70 zero bytes after the signature data');
  assert.equal(q.qeAuthData.length, 32);
  assert.equal(q.pckChainPem.match(/BEGIN CERTIFICATE/g)?.length, 3);
  // The report fields sit where dstack's TDX_QUOTE_REPORT_DATA_RANGE says.
  assert.deepEqual(q.report.reportData, v4.subarray(568, 632));
  assert.equal(reportOffset(4, 'report_data'), 568);
  assert.deepEqual(q.report.rtmr[3], v4.subarray(reportOffset(4, 'rtmr3'), reportOffset(4, 'rtmr3') + 48));
});

test('parses every fixture quote, including v5 with a TD 1.5 body', () => {
  for (const q of [getQuote(STRIPPED).quote, getQuote(OLD).quote, fixtureBytes('tdx-quote-generic.bin')]) {
    const p = parseQuote(q);
    assert.equal(p.header.version, 4);
    assert.equal(p.report.type, 'td10');
  }
  const v5 = parseQuote(fixtureBytes('tdx-quote-v5-outdated.bin'));
  assert.equal(v5.header.version, 5);
  assert.equal(v5.bodyType, 3);
  assert.equal(v5.report.type, 'td15');
  assert.equal(v5.report.mrServiceTd?.length, 48);
  assert.equal(v5.report.teeTcbSvn2?.length, 16);
  assert.equal(v5.signedRegion.length, 48 + 6 + 648);
  assert.equal(reportOffset(5, 'rtmr3'), 526);
  assert.deepEqual(v5.report.rtmr[3], v5.raw.subarray(526, 574));
});

function withU16(b: Uint8Array, off: number, v: number): Uint8Array {
  const out = b.slice();
  out[off] = v & 0xff;
  out[off + 1] = v >> 8;
  return out;
}

test('rejects a wrong version, TEE type or key type', () => {
  assert.throws(() => parseQuote(withU16(v4, 0, 3)), /version 3/);
  assert.throws(() => parseQuote(withU16(v4, 2, 3)), /attestation key type 3/);
  assert.throws(() => parseQuote(withU16(v4, 4, 0)), /tee_type 0x0 is not TDX/);
});

test('rejects truncation at every structural boundary, by declared lengths', () => {
  // Cut inside: header, body, sig_data_len, signature, QE report, auth data, PEM chain.
  for (const cut of [10, 47, 300, 633, 700, 900, 1220, 2000, 4935]) {
    assert.throws(() => parseQuote(v4.subarray(0, cut)), /truncated/, `cut at ${cut}`);
  }
  // The 70 trailing zeros are not part of the declared lengths: dropping them is fine.
  assert.equal(parseQuote(v4.subarray(0, v4.length - 70)).trailingBytes, 0);
});

test('rejects inconsistent inner lengths and non-zero trailing bytes', () => {
  // signature_data_len one byte longer than the data it declares.
  const sigLen = v4[632]! | (v4[633]! << 8);
  assert.throws(() => parseQuote(withU16(v4, 632, sigLen + 1)), /unexplained bytes|truncated/);
  const tail = v4.slice();
  tail[tail.length - 1] = 1;
  assert.throws(() => parseQuote(tail), /not all zero/);
  // certification data type must be 6 (QE report certification data).
  assert.throws(() => parseQuote(withU16(v4, 764, 5)), /certification data type 5 is not 6/);
});

test('rejects a v5 quote whose body descriptor is not TD10/TD15 with the right size', () => {
  const v5 = fixtureBytes('tdx-quote-v5-outdated.bin');
  assert.throws(() => parseQuote(withU16(v5, 48, 1)), /unsupported v5 body type 1/);
  const badSize = v5.slice();
  badSize[50] = 0x49; // 0x0249 = 585 instead of 648
  assert.throws(() => parseQuote(badSize), /size 585/);
});
