import { test } from 'node:test';
import assert from 'node:assert/strict';
import { sha512 } from '@noble/hashes/sha2';
import { appReportData, checkNonce, checkReportData, padReportData, reportDataForPreimage } from '../../src/verify/binding.ts';
import { REPORT_DATA_TAG, type Preimage } from '../../src/verify/bundle.ts';
import { bytesToHex, utf8ToBytes } from '../../src/verify/bytes.ts';

const preimage: Preimage = {
  v: 'dstack-webhost/v1',
  project: 'hello',
  deployment: {
    id: 'a'.repeat(64),
    tree_hash: 'b'.repeat(40),
    commit_sha: null,
    manifest_digest: 'c'.repeat(64),
    image_digests: [],
  },
  log: { origin: 'example.org/hello', size: 3, root_hash: 'AAAA', public_key: 'hello+01234567+AQ==' },
  app_key: null,
  nonce: 'abcdef',
};

test('report_data = SHA-512(tag ‖ RFC 8785 JSON of the preimage)', () => {
  const jcs =
    '{"app_key":null,"deployment":{"commit_sha":null,"id":"' + 'a'.repeat(64) + '","image_digests":[],"manifest_digest":"' + 'c'.repeat(64) + '","tree_hash":"' + 'b'.repeat(40) + '"},' +
    '"log":{"origin":"example.org/hello","public_key":"hello+01234567+AQ==","root_hash":"AAAA","size":3},"nonce":"abcdef","project":"hello","v":"dstack-webhost/v1"}';
  const rd = reportDataForPreimage(preimage);
  assert.equal(rd.length, 64);
  assert.equal(bytesToHex(rd), bytesToHex(sha512(utf8ToBytes(REPORT_DATA_TAG + jcs))));
  // A golden value: if the tag or the canonical form ever changes, old quotes stop verifying.
  assert.equal(
    bytesToHex(rd),
    '8b677d3371c76354a870d24313a76a291fb3fadff313130b2cad94c0175e57b7a745e7fade6b79ad0b6f8b46ec8a419f5fc6204966cd10a23528a696ec11e76a',
  );
});

test('key order does not matter, content does; the app tag separates domains', () => {
  // Same content, keys in reverse order.
  const reordered = Object.fromEntries(Object.entries(preimage).reverse()) as unknown as Preimage;
  assert.notEqual(Object.keys(reordered)[0], Object.keys(preimage)[0]);
  assert.equal(bytesToHex(reportDataForPreimage(reordered)), bytesToHex(reportDataForPreimage(preimage)));
  assert.notEqual(bytesToHex(reportDataForPreimage({ ...preimage, log: { ...preimage.log, size: 4 } })), bytesToHex(reportDataForPreimage(preimage)));
  assert.notEqual(bytesToHex(appReportData(preimage)), bytesToHex(reportDataForPreimage(preimage)));
});

test('binding.report-data passes only for the matching preimage or expected value', () => {
  const rd = reportDataForPreimage(preimage);
  assert.equal(checkReportData(rd, { preimage }).status, 'pass');
  const other = checkReportData(rd, { preimage: { ...preimage, project: 'other' } });
  assert.equal(other.status, 'fail');
  assert.equal(other.actual, bytesToHex(rd));
  // GetQuote right-pads short report_data with zeros.
  const q = padReportData(new Uint8Array([0x12, 0x34]));
  assert.equal(checkReportData(q, { expected: new Uint8Array([0x12, 0x34]) }).status, 'pass');
  assert.equal(checkReportData(q, { expected: new Uint8Array([0x12, 0x35]) }).status, 'fail');
  assert.equal(checkReportData(rd, { preimage, expected: rd }).status, 'pass');
  assert.equal(checkReportData(rd, { preimage, expected: q }).status, 'fail');
  assert.equal(checkReportData(rd, {}).status, 'skip');
  assert.throws(() => padReportData(new Uint8Array(65)));
});

test('binding.nonce: the preimage must carry the nonce the verifier sent', () => {
  assert.equal(checkNonce('ABCDEF', preimage, false).status, 'pass');
  const stale = checkNonce('012345', preimage, false);
  assert.equal(stale.status, 'fail');
  assert.equal(stale.expected, '012345');
  assert.equal(stale.actual, 'abcdef');
  assert.equal(checkNonce('012345', { ...preimage, nonce: null }, false).status, 'fail');
  assert.equal(checkNonce(undefined, preimage, false).status, 'skip');
  assert.equal(checkNonce('01', undefined, false).status, 'fail');
  assert.equal(checkNonce('01', undefined, true).status, 'skip');
});
