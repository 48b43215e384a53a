/**
 * Calibration on several corpora at once (a mix). The rule, in full:
 *
 * 1. Allocation: corpus k of weights w gets ⌊samples·w_k/Σw⌋ samples; the samples left over go one
 *    each to the corpora with the largest fractional parts samples·w_k/Σw − ⌊…⌋, the lower index
 *    first among equal parts (largest-remainder / Hamilton rounding). Counts sum to `samples`;
 *    a corpus of tiny weight may get none.
 * 2. Each corpus's n_k samples are its first n_k demonstration windows exactly as a single-corpus
 *    job of n_k samples takes them (text.ts: sample j starts at pair j·(shots+1)), so the draw needs
 *    no seed and a mix of one is the single-corpus job.
 * 3. Interleaving: round robin in the mix's order — sample 0 of every corpus that has one, then
 *    sample 1 of every corpus that has one, and so on.
 */

/** Samples per corpus: largest-remainder rounding of samples × weight / Σweights. */
export function allocateSamples(samples: number, weights: readonly number[]): number[] {
  if (!Number.isInteger(samples) || samples < 0) throw new Error(`samples must be a non-negative integer, got ${samples}`);
  if (!weights.length) throw new Error('a mix needs at least one corpus');
  for (const w of weights) if (!(w > 0) || !Number.isFinite(w)) throw new Error(`mix weights must be finite and > 0, got ${w}`);
  const total = weights.reduce((a, b) => a + b, 0);
  const quotas = weights.map((w) => (samples * w) / total);
  const counts = quotas.map(Math.floor);
  let left = samples - counts.reduce((a, b) => a + b, 0);
  const order = quotas.map((q, k) => ({ k, frac: q - Math.floor(q) })).sort((a, b) => b.frac - a.frac || a.k - b.k);
  for (const { k } of order) {
    if (left <= 0) break;
    counts[k]!++;
    left--;
  }
  return counts;
}

/** Round robin over the corpora's sample lists; also returns which corpus each sample came from. */
export function interleave<T>(lists: readonly (readonly T[])[]): { items: T[]; source: number[] } {
  const items: T[] = [];
  const source: number[] = [];
  const longest = Math.max(0, ...lists.map((l) => l.length));
  for (let j = 0; j < longest; j++) {
    lists.forEach((l, k) => {
      if (j < l.length) {
        items.push(l[j]!);
        source.push(k);
      }
    });
  }
  return { items, source };
}
