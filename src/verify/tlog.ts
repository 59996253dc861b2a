// RFC 9162 (Certificate Transparency 2.0) Merkle trees: the hashing of the audit log, proof
// generation for the daemon, and proof verification for every verifier (CLI, page, agent).
// Pure and browser-safe: Uint8Array and @noble/hashes only.
//
// Hashing (RFC 9162 §2.1.1): leaf = SHA-256(0x00 ‖ entry), node = SHA-256(0x01 ‖ left ‖ right),
// and the empty tree hashes to SHA-256(""). The 0x00/0x01 prefixes keep a leaf from ever being
// passed off as an interior node (second-preimage resistance).
//
// Sizes and indexes are JS numbers checked to be safe integers; the proof arithmetic uses
// division rather than bit operators because those truncate to 32 bits.
import { sha256 } from '@noble/hashes/sha2';

export const HASH_SIZE = 32;

const LEAF_PREFIX = Uint8Array.of(0x00);
const NODE_PREFIX = Uint8Array.of(0x01);

export function leafHash(entry: Uint8Array): Uint8Array {
  return sha256.create().update(LEAF_PREFIX).update(entry).digest();
}

export function nodeHash(left: Uint8Array, right: Uint8Array): Uint8Array {
  return sha256.create().update(NODE_PREFIX).update(left).update(right).digest();
}

/** MTH({}) = SHA-256 of the empty string. */
export function emptyRoot(): Uint8Array {
  return sha256(new Uint8Array(0));
}

/** Thrown by the generators for impossible requests, and by the assert* verifiers with the reason a proof fails. */
export class ProofError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ProofError';
  }
}

function checkSize(n: number, what: string): void {
  if (!Number.isSafeInteger(n) || n < 0) throw new ProofError(`${what} must be a non-negative integer, got ${n}`);
}

function checkHash(h: Uint8Array, what: string): void {
  if (!(h instanceof Uint8Array) || h.length !== HASH_SIZE) throw new ProofError(`${what} must be ${HASH_SIZE} bytes`);
}

/** The largest power of two strictly less than n (n ≥ 2): the size of the left subtree (RFC 9162 §2.1.1). */
function splitPoint(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

const isOdd = (x: number): boolean => x % 2 === 1;
const half = (x: number): number => Math.floor(x / 2);

function equal(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let d = 0;
  for (let i = 0; i < a.length; i++) d |= a[i]! ^ b[i]!;
  return d === 0;
}

/**
 * An append-only Merkle tree over leaf hashes that answers roots and proofs for any earlier size.
 *
 * It stores every complete, aligned perfect subtree: level k holds the hash of leaves
 * [i·2^k, (i+1)·2^k). Those never change as the tree grows, and every left child in the RFC's
 * recursive decomposition of [0, n) is one of them, so a root or a proof costs O(log² n) hashes at
 * worst instead of re-hashing all n leaves. Memory: about two hashes per leaf.
 */
export class MerkleTree {
  private readonly levels: Uint8Array[][] = [[]];

  constructor(leafHashes: Iterable<Uint8Array> = []) {
    for (const h of leafHashes) this.append(h);
  }

  get size(): number {
    return this.levels[0]!.length;
  }

  /** Appends a leaf hash (not the entry: hash it with leafHash first); returns its index. */
  append(leaf: Uint8Array): number {
    checkHash(leaf, 'leaf hash');
    const index = this.size;
    let h: Uint8Array = leaf.slice(); // stored hashes are never shared with callers, so nobody can alter them
    let i = index;
    for (let k = 0; ; k++) {
      const level = (this.levels[k] ??= []);
      level.push(h);
      if (!isOdd(i)) break; // a left child: its parent is not complete yet
      h = nodeHash(level[i - 1]!, h);
      i = half(i);
    }
    return index;
  }

  /** Drops leaves so that `size` remain: used to roll back an append whose commit failed. */
  truncate(size: number): void {
    checkSize(size, 'size');
    if (size > this.size) throw new ProofError(`cannot truncate a tree of ${this.size} leaves to ${size}`);
    for (let k = 0, n = size; k < this.levels.length; k++, n = half(n)) this.levels[k]!.length = n;
  }

  leaf(index: number): Uint8Array {
    if (!Number.isSafeInteger(index) || index < 0 || index >= this.size) throw new ProofError(`no leaf ${index} in a tree of ${this.size}`);
    return this.levels[0]![index]!.slice();
  }

  /** MTH of the first `size` leaves (default: all). */
  root(size = this.size): Uint8Array {
    this.checkTreeSize(size);
    return size === 0 ? emptyRoot() : this.rangeHash(0, size).slice();
  }

  /** PATH(index, D[size]) of RFC 9162 §2.1.3.1: sibling hashes from the leaf up to the root. */
  inclusionProof(index: number, size = this.size): Uint8Array[] {
    this.checkTreeSize(size);
    if (!Number.isSafeInteger(index) || index < 0 || index >= size) throw new ProofError(`leaf index ${index} is not in a tree of size ${size}`);
    const proof: Uint8Array[] = [];
    this.path(index, 0, size, proof);
    return proof.map((h) => h.slice());
  }

  /**
   * PROOF(m, D[n]) of RFC 9162 §2.1.4.1 for 0 < m ≤ n (empty when m = n). A proof from a larger tree
   * to a smaller one does not exist: asking for one is an error, never an empty answer.
   */
  consistencyProof(m: number, n = this.size): Uint8Array[] {
    this.checkTreeSize(n);
    checkSize(m, 'first tree size');
    if (m > n) throw new ProofError(`no consistency proof from size ${m} to the smaller size ${n}`);
    const proof: Uint8Array[] = [];
    if (m === 0 || m === n) return proof; // every tree extends the empty tree; a tree is consistent with itself
    this.subproof(m, 0, n, true, proof);
    return proof.map((h) => h.slice());
  }

  private checkTreeSize(size: number): void {
    checkSize(size, 'tree size');
    if (size > this.size) throw new ProofError(`tree size ${size} is beyond the log's ${this.size} leaves`);
  }

  /** MTH(D[lo:hi]) for a non-empty range that occurs in the RFC decomposition (lo is a multiple of a power of two ≥ hi − lo). */
  private rangeHash(lo: number, hi: number): Uint8Array {
    const n = hi - lo;
    // A perfect, aligned subtree is stored as is (always, since hi never exceeds the tree size).
    const level = log2IfPowerOfTwo(n);
    if (level >= 0 && lo % n === 0) {
      const h = this.levels[level]?.[lo / n];
      if (h) return h;
    }
    const k = splitPoint(n);
    return nodeHash(this.rangeHash(lo, lo + k), this.rangeHash(lo + k, hi));
  }

  private path(m: number, lo: number, hi: number, out: Uint8Array[]): void {
    const n = hi - lo;
    if (n === 1) return;
    const k = splitPoint(n);
    if (m < k) {
      this.path(m, lo, lo + k, out);
      out.push(this.rangeHash(lo + k, hi));
    } else {
      this.path(m - k, lo + k, hi, out);
      out.push(this.rangeHash(lo, lo + k));
    }
  }

  /** SUBPROOF(m, D[lo:hi], b). `b` says whether the subtree is the whole of the old tree's root. */
  private subproof(m: number, lo: number, hi: number, b: boolean, out: Uint8Array[]): void {
    const n = hi - lo;
    if (m === n) {
      if (!b) out.push(this.rangeHash(lo, hi));
      return;
    }
    const k = splitPoint(n);
    if (m <= k) {
      this.subproof(m, lo, lo + k, b, out);
      out.push(this.rangeHash(lo + k, hi));
    } else {
      this.subproof(m - k, lo + k, hi, false, out);
      out.push(this.rangeHash(lo, lo + k));
    }
  }
}

/** MTH of a list of leaf hashes. */
export function merkleRoot(leafHashes: readonly Uint8Array[]): Uint8Array {
  return new MerkleTree(leafHashes).root();
}

export function inclusionProof(leafHashes: readonly Uint8Array[], index: number, size = leafHashes.length): Uint8Array[] {
  return new MerkleTree(leafHashes.slice(0, size)).inclusionProof(index, size);
}

export function consistencyProof(leafHashes: readonly Uint8Array[], m: number, n = leafHashes.length): Uint8Array[] {
  return new MerkleTree(leafHashes.slice(0, n)).consistencyProof(m, n);
}

/**
 * The root an inclusion proof leads to, by the algorithm of RFC 9162 §2.1.3.2 (steps 1–4 and the
 * `sn = 0` half of step 5). Throws a ProofError when the proof is malformed for (index, size).
 */
export function rootFromInclusionProof(index: number, size: number, leaf: Uint8Array, proof: readonly Uint8Array[]): Uint8Array {
  checkSize(index, 'leaf index');
  checkSize(size, 'tree size');
  checkHash(leaf, 'leaf hash');
  proof.forEach((p, i) => checkHash(p, `proof[${i}]`));
  if (index >= size) throw new ProofError(`leaf index ${index} is not in a tree of size ${size}`);
  let fn = index;
  let sn = size - 1;
  let r = leaf;
  for (const p of proof) {
    if (sn === 0) throw new ProofError('inclusion proof is longer than the path to the root');
    if (isOdd(fn) || fn === sn) {
      r = nodeHash(p, r);
      if (!isOdd(fn)) {
        // The right edge of a non-perfect tree: climb past the levels where this node has no sibling.
        while (!isOdd(fn) && fn !== 0) {
          fn = half(fn);
          sn = half(sn);
        }
      }
    } else {
      r = nodeHash(r, p);
    }
    fn = half(fn);
    sn = half(sn);
  }
  if (sn !== 0) throw new ProofError('inclusion proof is shorter than the path to the root');
  return r;
}

/** Throws a ProofError saying why, unless `leaf` is at `index` in the tree of `size` leaves with `root`. */
export function assertInclusion(index: number, size: number, leaf: Uint8Array, proof: readonly Uint8Array[], root: Uint8Array): void {
  checkHash(root, 'root hash');
  if (!equal(rootFromInclusionProof(index, size, leaf, proof), root)) throw new ProofError('inclusion proof leads to a different root');
}

export function verifyInclusion(index: number, size: number, leaf: Uint8Array, proof: readonly Uint8Array[], root: Uint8Array): boolean {
  try {
    assertInclusion(index, size, leaf, proof, root);
    return true;
  } catch (err) {
    if (err instanceof ProofError) return false;
    throw err;
  }
}

/**
 * Throws a ProofError saying why, unless the tree of size `second` with `secondRoot` extends the
 * tree of size `first` with `firstRoot`. The core is RFC 9162 §2.1.4.2, which covers 0 < first <
 * second; the edges are spelled out: first = second needs an empty proof and equal roots, first = 0
 * needs an empty proof and the empty-tree root, and first > second never verifies (a log cannot
 * shrink).
 */
export function assertConsistency(first: number, second: number, firstRoot: Uint8Array, secondRoot: Uint8Array, proof: readonly Uint8Array[]): void {
  checkSize(first, 'first tree size');
  checkSize(second, 'second tree size');
  checkHash(firstRoot, 'first root hash');
  checkHash(secondRoot, 'second root hash');
  proof.forEach((p, i) => checkHash(p, `proof[${i}]`));
  if (first > second) throw new ProofError(`tree size went backwards: ${first} → ${second}`);
  if (first === second) {
    if (proof.length !== 0) throw new ProofError('a proof between equal sizes must be empty');
    if (!equal(firstRoot, secondRoot)) throw new ProofError(`two different roots for the same tree size ${first}`);
    return;
  }
  if (first === 0) {
    if (proof.length !== 0) throw new ProofError('a proof from the empty tree must be empty');
    if (!equal(firstRoot, emptyRoot())) throw new ProofError('the root of size 0 is not the empty-tree hash');
    return;
  }
  // 1. An empty path cannot prove anything here.
  if (proof.length === 0) throw new ProofError('consistency proof is empty');
  // 2. When the old tree is perfect, its root is the first node of the path and is not sent.
  const path = log2IfPowerOfTwo(first) >= 0 ? [firstRoot, ...proof] : [...proof];
  // 3–4. Walk up from the old tree's last leaf past the levels where it is a right child.
  let fn = first - 1;
  let sn = second - 1;
  while (isOdd(fn)) {
    fn = half(fn);
    sn = half(sn);
  }
  // 5. Both running hashes start from the first node.
  let fr = path[0]!;
  let sr = path[0]!;
  // 6. Fold in the rest: fr rebuilds the old root, sr the new one.
  for (const c of path.slice(1)) {
    if (sn === 0) throw new ProofError('consistency proof is longer than needed');
    if (isOdd(fn) || fn === sn) {
      fr = nodeHash(c, fr);
      sr = nodeHash(c, sr);
      if (!isOdd(fn)) {
        while (!isOdd(fn) && fn !== 0) {
          fn = half(fn);
          sn = half(sn);
        }
      }
    } else {
      sr = nodeHash(sr, c);
    }
    fn = half(fn);
    sn = half(sn);
  }
  // 7.
  if (sn !== 0) throw new ProofError('consistency proof is shorter than needed');
  if (!equal(fr, firstRoot)) throw new ProofError('consistency proof does not rebuild the first root');
  if (!equal(sr, secondRoot)) throw new ProofError('consistency proof does not rebuild the second root');
}

export function verifyConsistency(first: number, second: number, firstRoot: Uint8Array, secondRoot: Uint8Array, proof: readonly Uint8Array[]): boolean {
  try {
    assertConsistency(first, second, firstRoot, secondRoot, proof);
    return true;
  } catch (err) {
    if (err instanceof ProofError) return false;
    throw err;
  }
}

/** log2(n) when n is a power of two (n ≥ 1), else -1. */
function log2IfPowerOfTwo(n: number): number {
  if (n < 1) return -1;
  let k = 0;
  while (n > 1) {
    if (isOdd(n)) return -1;
    n = half(n);
    k++;
  }
  return k;
}
