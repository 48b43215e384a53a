/**
 * Order statistics on float32 arrays, used by mask selection: finding the k-th smallest score of a
 * row in linear time is what makes masks cheaper than the reference's full sort per row. Rows use
 * RadixSelector (fast, reusable buffers of one row); the whole-matrix threshold uses kthSmallest
 * (in place, no extra buffers on arrays of tens of millions of scores).
 */

/** Below this size insertion sort beats further partitioning. */
const SMALL = 16;

function insertionSort(a: Float32Array | Float64Array, lo: number, hi: number): void {
  for (let i = lo + 1; i <= hi; i++) {
    const v = a[i]!;
    let j = i - 1;
    while (j >= lo && a[j]! > v) {
      a[j + 1] = a[j]!;
      j--;
    }
    a[j + 1] = v;
  }
}

function median3(x: number, y: number, z: number): number {
  return Math.max(Math.min(x, y), Math.min(Math.max(x, y), z));
}

/**
 * Value that would sit at index k of `a` sorted ascending. Rearranges `a` (pass a scratch copy).
 *
 * Hoare-style partition around a median-of-three pivot, where both scans stop on values equal to the
 * pivot: runs of equal scores (common for magnitudes of low-precision weights) still split evenly.
 * After ~2·log2(n) rounds without converging it sorts what is left, so adversarial inputs cost
 * O(n log n), never O(n²). NaN must not occur (callers check), -0 and +0 compare equal.
 */
export function kthSmallest(a: Float32Array | Float64Array, k: number, length = a.length): number {
  if (!(k >= 0 && k < length)) throw new RangeError(`k=${k} outside [0, ${length})`);
  let lo = 0;
  let hi = length - 1;
  let budget = 2 * Math.ceil(Math.log2(length + 1)) + 4;
  while (hi > lo) {
    if (hi - lo < SMALL) {
      insertionSort(a, lo, hi);
      return a[k]!;
    }
    if (budget-- === 0) {
      a.subarray(lo, hi + 1).sort();
      return a[k]!;
    }
    const pivot = median3(a[lo]!, a[(lo + hi) >>> 1]!, a[hi]!);
    let i = lo;
    let j = hi;
    while (i <= j) {
      while (a[i]! < pivot) i++;
      while (a[j]! > pivot) j--;
      if (i <= j) {
        const t = a[i]!;
        a[i] = a[j]!;
        a[j] = t;
        i++;
        j--;
      }
    }
    // Now a[lo..j] ≤ pivot ≤ a[i..hi], and everything strictly between j and i equals the pivot.
    if (k <= j) hi = j;
    else if (k >= i) lo = i;
    else return pivot;
  }
  return a[k]!;
}

/** Throws when a score is NaN: no order can be defined for it, and it would silently corrupt a mask. */
export function assertNoNaN(scores: Float32Array, what = 'scores'): void {
  for (let k = 0; k < scores.length; k++) {
    const v = scores[k]!;
    if (Number.isNaN(v)) throw new Error(`${what}[${k}] is NaN (a NaN weight or statistic upstream)`);
  }
}

/**
 * Float32 bits → uint32 whose unsigned order is the numeric order of the floats (negative floats
 * have their bits flipped, non-negative ones get the sign bit set). Equal keys ⇔ equal floats, provided
 * -0 was turned into +0 beforehand (x + 0 does it) and there is no NaN.
 */
export function toOrderedKeys(bits: Uint32Array): void {
  for (let x = 0; x < bits.length; x++) {
    const u = bits[x]!;
    bits[x] = u & 0x80000000 ? ~u >>> 0 : (u | 0x80000000) >>> 0;
  }
}

/**
 * Radix selection over ordered float keys: three histogram rounds on 11 + 11 + 10 bits, each over the
 * keys that share the digits chosen so far. Two full passes over a row (histogram, then gathering the
 * chosen bucket) plus passes over a shrinking remainder — 2–3× faster than quickselect on a
 * 4096-wide row (bench/masks.ts), with no data-dependent worst case. Also yields how many keys are strictly below the
 * k-th, which the stable tie rule needs. Reuses its buffers across rows of the same width.
 */
export class RadixSelector {
  /** Keys strictly smaller than the one returned by the last `select`. */
  below = 0;
  /** Keys equal to the one returned by the last `select` (at least 1). */
  equal = 0;
  private readonly counts = new Int32Array(2048);
  private candidates: Uint32Array;
  private next: Uint32Array;

  constructor(maxLength: number) {
    this.candidates = new Uint32Array(maxLength);
    this.next = new Uint32Array(maxLength);
  }

  /** The key at index k (0-based) of `keys` sorted ascending; `keys` is not modified. */
  select(keys: Uint32Array, k: number): number {
    const counts = this.counts;
    counts.fill(0);
    for (let x = 0; x < keys.length; x++) counts[keys[x]! >>> 21]!++;
    return this.selectCounted(keys, k, counts);
  }

  /**
   * `select` given the histogram of the keys' top 11 bits (`top[d]` = keys with `key >>> 21 === d`,
   * 2048 entries), which a caller can count while it makes the keys. `top` is read, not modified.
   */
  selectCounted(keys: Uint32Array, k: number, top: Int32Array): number {
    const n = keys.length;
    if (!(k >= 0 && k < n)) throw new RangeError(`k=${k} outside [0, ${n})`);
    if (n > this.candidates.length) {
      this.candidates = new Uint32Array(n);
      this.next = new Uint32Array(n);
    }
    const counts = this.counts;
    let below = 0;
    let d1 = 0;
    while (below + top[d1]! <= k) below += top[d1++]!;
    // Gathering the chosen bucket without a branch: about a tenth of the keys are in it, unpredictably.
    let cand = this.candidates;
    let m = 0;
    for (let x = 0; x < n; x++) {
      const key = keys[x]!;
      cand[m] = key;
      m += +(key >>> 21 === d1);
    }

    counts.fill(0);
    for (let x = 0; x < m; x++) counts[(cand[x]! >>> 10) & 0x7ff]!++;
    let d2 = 0;
    while (below + counts[d2]! <= k) below += counts[d2++]!;
    const rest = this.next;
    let m2 = 0;
    for (let x = 0; x < m; x++) {
      const key = cand[x]!;
      if (((key >>> 10) & 0x7ff) === d2) rest[m2++] = key;
    }
    cand = rest;

    counts.fill(0, 0, 1024);
    for (let x = 0; x < m2; x++) counts[cand[x]! & 0x3ff]!++;
    let d3 = 0;
    while (below + counts[d3]! <= k) below += counts[d3++]!;

    this.below = below;
    this.equal = counts[d3]!;
    return ((d1 << 21) | (d2 << 10) | d3) >>> 0;
  }
}
