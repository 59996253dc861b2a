// RFC 9162 Merkle trees: the published certificate-transparency test tree, every proof for every
// (m, n) up to 20 leaves against a from-the-definition recomputation, and the ways a proof must fail.
import test from 'node:test';
import assert from 'node:assert/strict';
import { sha256 } from '@noble/hashes/sha2';
import { bytesToHex, hexToBytes, utf8ToBytes } from '../../src/verify/bytes.ts';
import {
  MerkleTree,
  ProofError,
  assertConsistency,
  consistencyProof,
  emptyRoot,
  inclusionProof,
  leafHash,
  merkleRoot,
  nodeHash,
  rootFromInclusionProof,
  verifyConsistency,
  verifyInclusion,
} from '../../src/verify/tlog.ts';

// The 8-leaf test tree of RFC 6962 implementations (certificate-transparency, trillian): leaf
// inputs, and the published MTH of the first n leaves for n = 1..8.
const LEAVES = ['', '00', '10', '2021', '3031', '40414243', '5051525354555657', '606162636465666768696a6b6c6d6e6f'].map(hexToBytes);
const ROOTS = [
  '6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d',
  'fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125',
  'aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77',
  'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7',
  '4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4',
  '76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef',
  'ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c',
  '5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328',
];
// Published proofs in that tree: (0-based leaf index, tree size) → audit path; (m, n) → consistency path.
const INCLUSION: [number, number, string[]][] = [
  [0, 8, ['96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7', '5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e', '6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4']],
  [5, 8, ['bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b', 'ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0', 'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7']],
  [2, 3, ['fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125']],
  [1, 5, ['6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d', '5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e', 'bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b']],
];
const CONSISTENCY: [number, number, string[]][] = [
  [1, 8, ['96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7', '5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e', '6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4']],
  [6, 8, ['0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a', 'ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0', 'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7']],
  [2, 5, ['5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e', 'bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b']],
];

const hex = (hs: Uint8Array[]) => hs.map(bytesToHex);
const H = LEAVES.map(leafHash);

// ---- a from-the-definition reference (RFC 9162 §2.1.1, §2.1.3.1, §2.1.4.1), deliberately naive ----
function k(n: number): number {
  let x = 1;
  while (x * 2 < n) x *= 2;
  return x;
}
function mth(d: Uint8Array[]): Uint8Array {
  if (d.length === 0) return sha256(new Uint8Array(0));
  if (d.length === 1) return d[0]!;
  return nodeHash(mth(d.slice(0, k(d.length))), mth(d.slice(k(d.length))));
}
function refPath(m: number, d: Uint8Array[]): Uint8Array[] {
  if (d.length === 1) return [];
  const s = k(d.length);
  return m < s ? [...refPath(m, d.slice(0, s)), mth(d.slice(s))] : [...refPath(m - s, d.slice(s)), mth(d.slice(0, s))];
}
function refSubproof(m: number, d: Uint8Array[], b: boolean): Uint8Array[] {
  if (m === d.length) return b ? [] : [mth(d)];
  const s = k(d.length);
  return m <= s ? [...refSubproof(m, d.slice(0, s), b), mth(d.slice(s))] : [...refSubproof(m - s, d.slice(s), false), mth(d.slice(0, s))];
}

const zero = new Uint8Array(32);
const flip = (h: Uint8Array) => {
  const c = h.slice();
  c[0]! ^= 1;
  return c;
};

test('leaf and node hashing use the 0x00 / 0x01 prefixes', () => {
  assert.equal(bytesToHex(emptyRoot()), 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
  assert.equal(bytesToHex(leafHash(hexToBytes('00'))), '96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7');
  assert.equal(bytesToHex(leafHash(utf8ToBytes(''))), ROOTS[0]);
  assert.equal(bytesToHex(nodeHash(H[0]!, H[1]!)), ROOTS[1]);
});

test('roots of the published 8-leaf tree', () => {
  assert.equal(bytesToHex(merkleRoot([])), bytesToHex(emptyRoot()));
  for (let n = 1; n <= 8; n++) assert.equal(bytesToHex(merkleRoot(H.slice(0, n))), ROOTS[n - 1], `size ${n}`);
  // The incremental tree answers the same for every earlier size.
  const t = new MerkleTree(H);
  for (let n = 1; n <= 8; n++) assert.equal(bytesToHex(t.root(n)), ROOTS[n - 1], `historical size ${n}`);
});

test('published inclusion proofs are generated and verify', () => {
  for (const [i, n, want] of INCLUSION) {
    const proof = inclusionProof(H, i, n);
    assert.deepEqual(hex(proof), want, `PATH(${i}, D[${n}])`);
    assert.ok(verifyInclusion(i, n, H[i]!, proof, hexToBytes(ROOTS[n - 1]!)));
  }
});

test('published consistency proofs are generated and verify', () => {
  for (const [m, n, want] of CONSISTENCY) {
    const proof = consistencyProof(H, m, n);
    assert.deepEqual(hex(proof), want, `PROOF(${m}, D[${n}])`);
    assert.ok(verifyConsistency(m, n, hexToBytes(ROOTS[m - 1]!), hexToBytes(ROOTS[n - 1]!), proof));
    // The same proof with the roots swapped, or a wrong old root, does not.
    assert.equal(verifyConsistency(m, n, hexToBytes(ROOTS[n - 1]!), hexToBytes(ROOTS[m - 1]!), proof), false);
    assert.equal(verifyConsistency(m, n, hexToBytes(ROOTS[(m % 8)]!), hexToBytes(ROOTS[n - 1]!), proof), false);
  }
});

test('every inclusion proof up to 20 leaves matches the definition, verifies, and fails when altered', () => {
  const leaves = Array.from({ length: 20 }, (_, i) => leafHash(utf8ToBytes(`entry ${i}`)));
  const tree = new MerkleTree(leaves);
  for (let n = 1; n <= 20; n++) {
    const root = mth(leaves.slice(0, n));
    assert.deepEqual(tree.root(n), root);
    for (let i = 0; i < n; i++) {
      const proof = tree.inclusionProof(i, n);
      assert.deepEqual(hex(proof), hex(refPath(i, leaves.slice(0, n))), `PATH(${i}, D[${n}])`);
      assert.ok(verifyInclusion(i, n, leaves[i]!, proof, root), `verify (${i}, ${n})`);
      // Wrong leaf, index, size, root; each node changed; a node added or removed.
      assert.equal(verifyInclusion(i, n, flip(leaves[i]!), proof, root), false);
      if (i > 0) assert.equal(verifyInclusion(i - 1, n, leaves[i]!, proof, root), false);
      if (i + 1 < n) assert.equal(verifyInclusion(i + 1, n, leaves[i]!, proof, root), false);
      // Another size with that size's true root. (The same root under another size can pass: the
      // size is not hashed into the path, which is why it is bound by the signed checkpoint.)
      if (n < 20) assert.equal(verifyInclusion(i, n + 1, leaves[i]!, proof, mth(leaves.slice(0, n + 1))), false);
      if (i < n - 1) assert.equal(verifyInclusion(i, n - 1, leaves[i]!, proof, mth(leaves.slice(0, n - 1))), false);
      assert.equal(verifyInclusion(i, n, leaves[i]!, proof, flip(root)), false);
      for (let j = 0; j < proof.length; j++) {
        const bad = proof.slice();
        bad[j] = flip(bad[j]!);
        assert.equal(verifyInclusion(i, n, leaves[i]!, bad, root), false);
      }
      assert.equal(verifyInclusion(i, n, leaves[i]!, [...proof, root], root), false);
      assert.equal(verifyInclusion(i, n, leaves[i]!, [zero, ...proof], root), false);
      if (proof.length) assert.equal(verifyInclusion(i, n, leaves[i]!, proof.slice(0, -1), root), false);
    }
  }
});

test('every consistency proof up to 20 leaves matches the definition, verifies, and fails when altered', () => {
  const leaves = Array.from({ length: 20 }, (_, i) => leafHash(utf8ToBytes(`entry ${i}`)));
  const tree = new MerkleTree(leaves);
  for (let n = 1; n <= 20; n++) {
    const rn = mth(leaves.slice(0, n));
    for (let m = 1; m <= n; m++) {
      const rm = mth(leaves.slice(0, m));
      const proof = tree.consistencyProof(m, n);
      const want = m === n ? [] : refSubproof(m, leaves.slice(0, n), true);
      assert.deepEqual(hex(proof), hex(want), `PROOF(${m}, D[${n}])`);
      assert.ok(verifyConsistency(m, n, rm, rn, proof), `verify (${m}, ${n})`);
      if (m === n) {
        assert.equal(verifyConsistency(m, n, rm, flip(rn), proof), false, 'equal sizes, different roots');
        assert.equal(verifyConsistency(m, n, rm, rn, [rm]), false, 'equal sizes, non-empty proof');
        continue;
      }
      assert.equal(verifyConsistency(m, n, flip(rm), rn, proof), false);
      assert.equal(verifyConsistency(m, n, rm, flip(rn), proof), false);
      // Other sizes, each with its true root.
      const r = (s: number) => mth(leaves.slice(0, s));
      if (m > 1) assert.equal(verifyConsistency(m - 1, n, r(m - 1), rn, proof), false);
      if (m + 1 < n) assert.equal(verifyConsistency(m + 1, n, r(m + 1), rn, proof), false);
      if (n < 20) assert.equal(verifyConsistency(m, n + 1, rm, r(n + 1), proof), false);
      if (m < n - 1) assert.equal(verifyConsistency(m, n - 1, rm, r(n - 1), proof), false);
      assert.equal(verifyConsistency(m, n, rm, rn, []), false);
      // A smaller tree after a larger one: never consistent, with any proof.
      assert.equal(verifyConsistency(n, m, rn, rm, proof), false);
      for (let j = 0; j < proof.length; j++) {
        const bad = proof.slice();
        bad[j] = flip(bad[j]!);
        assert.equal(verifyConsistency(m, n, rm, rn, bad), false);
      }
      assert.equal(verifyConsistency(m, n, rm, rn, [...proof, rn]), false);
      assert.equal(verifyConsistency(m, n, rm, rn, [proof[0]!, ...proof]), false);
      assert.equal(verifyConsistency(m, n, rm, rn, proof.slice(0, -1)), false);
      // A tree whose first m leaves were rewritten cannot prove it extends the old root.
      const forged = leaves.slice(0, n);
      forged[m - 1] = flip(forged[m - 1]!);
      const forgedTree = new MerkleTree(forged);
      assert.equal(verifyConsistency(m, n, rm, forgedTree.root(), forgedTree.consistencyProof(m, n)), false);
    }
  }
});

test('edges: empty trees, out-of-range requests, malformed hashes', () => {
  const t = new MerkleTree(H.slice(0, 5));
  assert.ok(verifyConsistency(0, 5, emptyRoot(), t.root(), []));
  assert.ok(verifyConsistency(0, 0, emptyRoot(), emptyRoot(), []));
  assert.equal(verifyConsistency(0, 5, zero, t.root(), []), false);
  assert.equal(verifyConsistency(0, 5, emptyRoot(), t.root(), [zero]), false);
  assert.deepEqual(t.consistencyProof(0, 5), []);
  assert.throws(() => t.consistencyProof(4, 3), ProofError, 'no proof to a smaller tree');
  assert.throws(() => t.consistencyProof(2, 6), ProofError, 'beyond the tree');
  assert.throws(() => t.inclusionProof(5, 5), ProofError);
  assert.throws(() => t.inclusionProof(-1, 5), ProofError);
  assert.throws(() => t.inclusionProof(0.5, 5), ProofError);
  assert.throws(() => t.root(6), ProofError);
  assert.equal(verifyInclusion(0, 0, H[0]!, [], emptyRoot()), false);
  assert.equal(verifyInclusion(0, 1, H[0]!, [], H[0]!), true);
  assert.equal(verifyInclusion(1, 1, H[0]!, [], H[0]!), false);
  // Hashes of the wrong length are rejected, not silently hashed.
  assert.equal(verifyInclusion(0, 2, H[0]!, [new Uint8Array(31)], H[0]!), false);
  assert.throws(() => rootFromInclusionProof(0, 1, new Uint8Array(5), []), /32 bytes/);
  assert.throws(() => assertConsistency(1, 2, H[0]!, new Uint8Array(0), [H[1]!]), /32 bytes/);
  assert.throws(() => t.append(new Uint8Array(3)), ProofError);
});

test('truncate rolls the tree back exactly', () => {
  const leaves = Array.from({ length: 13 }, (_, i) => leafHash(Uint8Array.of(i)));
  for (let keep = 0; keep <= 13; keep++) {
    const t = new MerkleTree(leaves);
    t.truncate(keep);
    assert.equal(t.size, keep);
    assert.deepEqual(t.root(), mth(leaves.slice(0, keep)));
    // And grows again to the same state.
    for (const h of leaves.slice(keep)) t.append(h);
    assert.deepEqual(t.root(), mth(leaves));
    assert.deepEqual(hex(t.inclusionProof(keep === 13 ? 0 : keep, 13)), hex(refPath(keep === 13 ? 0 : keep, leaves)));
  }
});

test('a proof that stops at an inner node, or climbs past the root, does not verify', () => {
  const [h0, h1, h2, h3] = H as [Uint8Array, Uint8Array, Uint8Array, Uint8Array];
  const h01 = nodeHash(h0, h1);
  // Leaf 0 of 4 with only its first sibling, checked against that inner node as if it were the root.
  assert.equal(verifyInclusion(0, 4, h0, [h1], h01), false);
  // Leaf 0 of 1 with an extra node, checked against what that extra node hashes to.
  assert.equal(verifyInclusion(0, 1, h0, [h1], nodeHash(h1, h0)), false);
  // Consistency 1 → 4 cut short, with the inner node offered as the new root.
  assert.equal(verifyConsistency(1, 4, h0, h01, [h1]), false);
  assert.ok(verifyConsistency(1, 4, h0, nodeHash(h01, nodeHash(h2, h3)), [h1, nodeHash(h2, h3)]));
});

test('hashes handed out are copies: mutating them cannot corrupt the tree', () => {
  const t = new MerkleTree(H.slice(0, 4));
  const want = bytesToHex(t.root());
  t.root().fill(0);
  t.leaf(0).fill(0);
  for (const p of t.inclusionProof(1)) p.fill(0);
  for (const p of t.consistencyProof(2)) p.fill(0);
  const mine = H[3]!.slice();
  const u = new MerkleTree([mine]);
  mine.fill(0);
  assert.equal(bytesToHex(t.root()), want);
  assert.equal(bytesToHex(u.root()), bytesToHex(H[3]!));
});
