// C2SP signed notes and checkpoints: the public example keys and notes of golang.org/x/mod/sumdb/note
// (PeterNeumann, EnochRoot) byte for byte, the spec's verification rules, and strict parsing.
import test from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import {
  NoteError,
  base64DecodeStrict,
  base64Encode,
  ed25519NoteKey,
  formatCheckpoint,
  formatVerifierKey,
  noteKeyId,
  openCheckpoint,
  openNote,
  parseCheckpoint,
  parseNote,
  parseSignerKey,
  parseVerifierKey,
  signCheckpoint,
  signNote,
  SIG_ED25519,
  type Checkpoint,
  type NoteErrorCode,
} from '../../src/verify/note.ts';

// Public test vectors of the Go reference implementation's documentation and tests.
const PETER_VKEY = 'PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW';
const PETER_SKEY = 'PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz';
const ENOCH_VKEY = 'EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop';
const TEXT = "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n";
const PETER_SIG = '— PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n';
const ENOCH_SIG = '— EnochRoot rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n2tiOHp+vAF1aGrQ5ovTG01oOTGwnWLox33WWd1RvMc+QQ=\n';

function fails(fn: () => unknown, code: NoteErrorCode, label?: string) {
  assert.throws(fn, (e: unknown) => e instanceof NoteError && e.code === code, label ?? `expected NoteError ${code}`);
}

test('the PeterNeumann keys: key ID, vkey from skey, and the published signature byte for byte', () => {
  const signer = parseSignerKey(PETER_SKEY);
  assert.equal(signer.name, 'PeterNeumann');
  assert.equal(signer.keyId, 0xc74f20a3);
  assert.equal(signer.vkey, PETER_VKEY);
  assert.equal(signer.skey, PETER_SKEY);
  const v = parseVerifierKey(PETER_VKEY);
  assert.equal(noteKeyId('PeterNeumann', SIG_ED25519, v.publicKey), 0xc74f20a3);
  // Ed25519 is deterministic, so the note we sign must be the published one.
  assert.equal(signNote(TEXT, [signer]), TEXT + '\n' + PETER_SIG);
  const opened = openNote(TEXT + '\n' + PETER_SIG, [PETER_VKEY]);
  assert.equal(opened.text, TEXT);
  assert.equal(opened.verified.length, 1);
  assert.equal(parseVerifierKey(ENOCH_VKEY).keyId, 0xaf0cfe78);
});

test('unknown keys are ignored, every known key must verify, and at least one must', () => {
  const both = TEXT + '\n' + PETER_SIG + ENOCH_SIG;
  let n = openNote(both, [PETER_VKEY]);
  assert.deepEqual(n.verified.map((s) => s.name), ['PeterNeumann']);
  assert.deepEqual(n.unverified.map((s) => s.name), ['EnochRoot']);
  n = openNote(both, [PETER_VKEY, ENOCH_VKEY]);
  assert.deepEqual(n.verified.map((s) => s.name), ['PeterNeumann', 'EnochRoot']);
  fails(() => openNote(both, []), 'unverified_note');
  fails(() => openNote(TEXT + '\n' + ENOCH_SIG, [PETER_VKEY]), 'unverified_note');
  // Same name, different key: unknown, so ignored, so nothing verifies.
  const impostor = ed25519NoteKey('PeterNeumann', new Uint8Array(32).fill(7));
  fails(() => openNote(signNote(TEXT, [impostor]), [PETER_VKEY]), 'unverified_note');
  // Two trusted keys with one name and ID are a configuration error.
  fails(() => openNote(both, [ENOCH_VKEY, PETER_VKEY, ENOCH_VKEY]), 'ambiguous_key');
  // A known key's bad signature rejects the note even when another known key signed it well.
  const badPeter = PETER_SIG.slice(0, 60) + 'ABCD' + PETER_SIG.slice(60);
  fails(() => openNote(TEXT + '\n' + badPeter, [PETER_VKEY]), 'bad_signature');
  fails(() => openNote(TEXT + '\n' + ENOCH_SIG + badPeter, [PETER_VKEY, ENOCH_VKEY]), 'bad_signature');
  // A bad line from an unknown key is just ignored; a verbatim duplicate is reported once.
  const badEnoch = ENOCH_SIG.slice(0, 60) + 'ABCD' + ENOCH_SIG.slice(60);
  n = openNote(TEXT + '\n' + PETER_SIG + PETER_SIG + ENOCH_SIG + ENOCH_SIG + badEnoch, [PETER_VKEY]);
  assert.equal(n.verified.length, 1);
  assert.equal(n.unverified.length, 2);
  // The text is what is signed: one changed letter fails.
  fails(() => openNote(TEXT.replace('cryptography', 'cryptographY') + '\n' + PETER_SIG, [PETER_VKEY]), 'bad_signature');
});

test('malformed notes are rejected before any key is consulted', () => {
  const bad: (string | Uint8Array)[] = [
    TEXT,
    TEXT + '\n',
    TEXT + '\n' + PETER_SIG.slice(0, -1), // no final newline
    '\x01' + TEXT + '\n' + PETER_SIG,
    Uint8Array.of(0xff, ...new TextEncoder().encode(TEXT + '\n' + PETER_SIG)), // invalid UTF-8
    '\uD800' + TEXT + '\n' + PETER_SIG, // lone surrogate
    TEXT + '\n' + '— Bad Name x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n',
    TEXT + '\n' + PETER_SIG + 'Unexpected line.\n',
    TEXT + '\n' + PETER_SIG.repeat(101), // too many signatures
    TEXT.replace(/\n/g, '\r\n') + '\r\n' + PETER_SIG, // CRLF
    TEXT + '\n' + PETER_SIG.replace('— ', '-- '),
    TEXT + '\n' + PETER_SIG.replace('— ', '—  '),
    TEXT + '\n' + PETER_SIG.replace(' x08go', '  x08go'),
    TEXT + '\n' + PETER_SIG.replace('\n', ' \n'), // trailing space
    TEXT + '\n' + PETER_SIG.replace('AM=\n', 'AM\n'), // missing padding
    TEXT + '\n' + PETER_SIG.replace('AM=\n', 'AN=\n'), // non-zero padding bits: a second spelling of the same bytes
    TEXT + '\n' + PETER_SIG.replace('x08go', 'x08g\to'),
    TEXT + '\n' + '— PeterNeumann AAAA\n', // shorter than a key ID and one byte
    TEXT + '\n' + PETER_SIG + '\n', // blank line after the signatures
  ];
  for (const msg of bad) {
    fails(() => openNote(msg, [PETER_VKEY]), 'malformed_note', `should be malformed: ${JSON.stringify(typeof msg === 'string' ? msg : '<bytes>')}`);
    fails(() => parseNote(msg), 'malformed_note');
  }
  // Blank lines inside the text are fine: the signatures start after the last one.
  const k = ed25519NoteKey('example.com/k', new Uint8Array(32).fill(1));
  const inner = 'a\n\nb\n';
  assert.equal(openNote(signNote(inner, [k]), [k.vkey]).text, inner);
});

test('verifier and signer keys: only the canonical spelling parses', () => {
  // Every proper substring and every one-character change of the Go example keys is rejected.
  for (const key of [PETER_VKEY, PETER_SKEY]) {
    const parse = key === PETER_VKEY ? parseVerifierKey : parseSignerKey;
    assert.doesNotThrow(() => parse(key));
    for (let i = 0; i <= key.length; i++) {
      for (let j = i + 1; j <= key.length; j++) if (i !== 0 || j !== key.length) fails(() => parse(key.slice(i, j)), 'malformed_key', key.slice(i, j));
    }
    for (let i = 0; i < key.length; i++) {
      const mangled = key.slice(0, i) + String.fromCharCode(key.charCodeAt(i) + 1) + key.slice(i + 1);
      fails(() => parse(mangled), 'malformed_key', mangled);
    }
  }
  fails(() => parseVerifierKey('PeterNeumann+cc469956+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TWBADKEY=='), 'malformed_key'); // wrong key length
  fails(() => parseVerifierKey('PeterNeumann+173116ae+ZRpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW'), 'malformed_key'); // unknown algorithm
  fails(() => parseVerifierKey(PETER_VKEY.replace('c74f20a3', 'C74F20A3')), 'malformed_key');
  fails(() => parseVerifierKey(PETER_VKEY + '\n'), 'malformed_key');
  fails(() => parseVerifierKey(' ' + PETER_VKEY), 'malformed_key');
  // The identity point and other small-order keys are refused even with a matching key ID.
  const identity = new Uint8Array(32);
  identity[0] = 1;
  fails(() => parseVerifierKey(formatVerifierKey('x', identity)), 'malformed_key');
});

test('keys from a seed are stable, and sign notes that verify', () => {
  const seed = new Uint8Array(32).map((_, i) => i);
  const a = ed25519NoteKey('host.example/dstack-webhost/app/1', seed);
  const b = ed25519NoteKey('host.example/dstack-webhost/app/1', seed.slice());
  assert.equal(a.vkey, b.vkey);
  assert.equal(parseSignerKey(a.skey).vkey, a.vkey);
  assert.equal(parseVerifierKey(a.vkey).keyId, a.keyId);
  assert.match(a.vkey, /^host\.example\/dstack-webhost\/app\/1\+[0-9a-f]{8}\+[A-Za-z0-9+/]{44}$/);
  // A different name is a different key ID, so a different key for verifiers.
  const c = ed25519NoteKey('host.example/dstack-webhost/app/2', seed);
  assert.notEqual(c.keyId, a.keyId);
  fails(() => openNote(signNote('hi\n', [c]), [a.vkey]), 'unverified_note');
  fails(() => ed25519NoteKey('bad name', seed), 'malformed_key');
  fails(() => ed25519NoteKey('a+b', seed), 'malformed_key');
  fails(() => ed25519NoteKey('ok', seed.subarray(1)), 'malformed_key');
  fails(() => signNote('no newline', [a]), 'malformed_note');
  fails(() => signNote('', [a]), 'malformed_note');
  fails(() => signNote('tab\there\n', [a]), 'malformed_note');
  fails(() => signNote('x\n', []), 'malformed_note');
});

const ORIGIN = 'host.example/dstack-webhost/app/1';
const ROOT = Uint8Array.from({ length: 32 }, (_, i) => i * 7);

test('checkpoints: format, sign, open, with extension lines and cosignatures', () => {
  const key = ed25519NoteKey(ORIGIN, new Uint8Array(32).fill(3));
  const witness = ed25519NoteKey('witness.example/w1', new Uint8Array(32).fill(4));
  const c: Checkpoint = { origin: ORIGIN, size: 1234, rootHash: ROOT, extensions: [] };
  const body = formatCheckpoint(c);
  assert.equal(body, `${ORIGIN}\n1234\n${base64Encode(ROOT)}\n`);
  assert.deepEqual(parseCheckpoint(body), c);
  const signed = signCheckpoint(c, [key, witness]);
  const opened = openCheckpoint(signed, [key.vkey], { origin: ORIGIN });
  assert.equal(opened.size, 1234);
  assert.deepEqual(opened.rootHash, ROOT);
  assert.equal(opened.note.unverified.length, 1, 'the witness signature is tolerated, not trusted');
  fails(() => openCheckpoint(signed, [key.vkey], { origin: ORIGIN + 'x' }), 'origin_mismatch');
  // A checkpoint re-signed by another key does not open with this log's key.
  const other = ed25519NoteKey(ORIGIN, new Uint8Array(32).fill(9));
  fails(() => openCheckpoint(signCheckpoint(c, [other]), [key.vkey]), 'unverified_note');
  // Changing the size or root under the signature fails.
  fails(() => openCheckpoint(signed.replace('\n1234\n', '\n1235\n'), [key.vkey]), 'bad_signature');
  const ext = { ...c, size: 0, extensions: ['ext one', 'ext two'] };
  assert.deepEqual(openCheckpoint(signCheckpoint(ext, [key]), [key.vkey]).extensions, ['ext one', 'ext two']);
});

test('checkpoint bodies: only the canonical spelling parses', () => {
  const root = base64Encode(ROOT);
  const good = `${ORIGIN}\n5\n${root}\n`;
  assert.equal(parseCheckpoint(good).size, 5);
  assert.equal(parseCheckpoint(`${ORIGIN}\n0\n${root}\n`).size, 0);
  const bad = [
    `${ORIGIN}\n5\n${root}`, // no final newline
    `${ORIGIN}\n5\n`,
    `${ORIGIN}\n05\n${root}\n`,
    `${ORIGIN}\n00\n${root}\n`,
    `${ORIGIN}\n+5\n${root}\n`,
    `${ORIGIN}\n-5\n${root}\n`,
    `${ORIGIN}\n 5\n${root}\n`,
    `${ORIGIN}\n5 \n${root}\n`,
    `${ORIGIN}\n5e0\n${root}\n`,
    `${ORIGIN}\n0x5\n${root}\n`,
    `${ORIGIN}\n١\n${root}\n`, // a non-ASCII digit
    `${ORIGIN}\n99999999999999999999\n${root}\n`,
    `${ORIGIN}\n5\n${root.slice(0, -1)}\n`,
    `${ORIGIN}\n5\n${root} \n`,
    `${ORIGIN}\n5\n ${root}\n`,
    `${ORIGIN}\n5\n${base64Encode(ROOT.subarray(1))}\n`,
    `${ORIGIN}\n5\n${root.slice(0, 42)}B=\n`, // non-zero padding bits
    `${ORIGIN}\n5\n${root.replace(/\+/g, '-').replace(/\//g, '_')}\n`,
    `${ORIGIN}\n5\n${root}\n\n`, // empty extension line
    `${ORIGIN}\r\n5\r\n${root}\r\n`,
    `\n5\n${root}\n`,
  ];
  for (const text of bad) fails(() => parseCheckpoint(text), 'malformed_checkpoint', JSON.stringify(text));
  fails(() => formatCheckpoint({ origin: ORIGIN, size: -1, rootHash: ROOT, extensions: [] }), 'malformed_checkpoint');
  fails(() => formatCheckpoint({ origin: ORIGIN, size: 1.5, rootHash: ROOT, extensions: [] }), 'malformed_checkpoint');
  fails(() => formatCheckpoint({ origin: 'a\nb', size: 1, rootHash: ROOT, extensions: [] }), 'malformed_checkpoint');
  fails(() => formatCheckpoint({ origin: ORIGIN, size: 1, rootHash: ROOT.subarray(1), extensions: [] }), 'malformed_checkpoint');
  fails(() => formatCheckpoint({ origin: ORIGIN, size: 1, rootHash: ROOT, extensions: [''] }), 'malformed_checkpoint');
});

test('base64: the standard encoding, decoded only in its canonical form', () => {
  for (let n = 0; n < 70; n++) {
    const b = new Uint8Array(randomBytes(n));
    const text = Buffer.from(b).toString('base64');
    assert.equal(base64Encode(b), text);
    assert.deepEqual(base64DecodeStrict(text), b);
  }
  for (const s of ['A', 'AA', 'AAA', 'AA=', 'AB==', 'AAB=', 'A===', '====', 'AA==AA==', ' AAA', 'AA A', 'AA-_', 'AAAA\n']) {
    assert.equal(base64DecodeStrict(s), null, JSON.stringify(s));
  }
  assert.deepEqual(base64DecodeStrict(''), new Uint8Array(0));
});
