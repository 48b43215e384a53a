/**
 * Order statistics on float32 arrays, used by mask selection: finding the k-th smallest score in
 * linear time is what makes masks cheaper than the reference's full sort. Per-neuron rows are
 * selected in WebAssembly (mask-tile.ts); the whole-matrix threshold uses kthSmallest (in place, no
 * extra buffers on arrays of tens of millions of scores).
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
