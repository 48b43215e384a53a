/**
 * RankC (Qi et al. 2023): how consistently a model ranks the same candidates of a parallel item in two
 * languages. Per item, rank the candidates by score in each language; with K candidates ranked,
 * RankC = Σ_{j=1..K} w_j · P@j, where P@j = |top-j(a) ∩ top-j(b)| / j and
 * w_j = exp(K − j) / Σ_{i=1..K} exp(K − i) (softmax([0, …, K−1]) reversed: K = 3 gives
 * 0.665, 0.245, 0.090). A suite's RankC is the mean over its items. Pure.
 */

/**
 * `desc`: the most likely candidate first (Qi et al.); `asc`: the least likely first, as the code of
 * Kim et al. (2024) ranks. With every candidate ranked (K = the number of choices) the two agree on
 * two choices with distinct scores and may differ from three on. Equal scores keep the lower index first
 * in either order.
 */
export type RankOrder = 'desc' | 'asc';

export interface RankcOptions {
  /** how many ranks count: K = min(choices, k); default every choice */
  k?: number;
  order?: RankOrder;
}

/** w_1..w_K: a softmax of K−1, …, 0 (shifted by the largest exponent, so large K stays finite). */
export function rankcWeights(k: number): number[] {
  if (!Number.isInteger(k) || k < 1) throw new Error(`RankC needs K ≥ 1 ranks, got ${k}`);
  const e = Array.from({ length: k }, (_, j) => Math.exp(-j));
  const sum = e.reduce((a, b) => a + b, 0);
  return e.map((x) => x / sum);
}

/** Candidate indices from first to last in `order`; equal scores keep the lower index first (as argmax). */
export function ranking(scores: readonly number[], order: RankOrder = 'desc'): number[] {
  const sign = order === 'desc' ? -1 : 1;
  return scores.map((_, i) => i).sort((a, b) => sign * (scores[a]! - scores[b]!) || a - b);
}

/** RankC of one item from both languages' per-candidate scores (candidates matched by position). */
export function itemRankc(a: readonly number[], b: readonly number[], opts: RankcOptions = {}): number {
  if (a.length !== b.length) throw new Error(`RankC needs the same candidates in both languages: ${a.length} vs ${b.length}`);
  if (a.length === 0) throw new Error('RankC needs at least one candidate');
  const k = Math.min(a.length, opts.k ?? a.length);
  const w = rankcWeights(k);
  const ra = ranking(a, opts.order);
  const rb = ranking(b, opts.order);
  const seenA = new Set<number>();
  const seenB = new Set<number>();
  let common = 0;
  let total = 0;
  for (let j = 1; j <= k; j++) {
    // Growing both top-j sets by one candidate each: the intersection grows by the new ones now in both.
    const x = ra[j - 1]!;
    const y = rb[j - 1]!;
    seenA.add(x);
    seenB.add(y);
    if (seenB.has(x)) common++;
    if (x !== y && seenA.has(y)) common++;
    total += (w[j - 1]! * common) / j;
  }
  return total;
}

/** Per-item RankC of aligned items (`a[i]` and `b[i]` are the same item's scores in each language). */
export function rankcPerItem(a: readonly (readonly number[])[], b: readonly (readonly number[])[], opts: RankcOptions = {}): Float64Array {
  if (a.length !== b.length) throw new Error(`RankC needs parallel items: ${a.length} vs ${b.length}`);
  return Float64Array.from(a, (x, i) => itemRankc(x, b[i]!, opts));
}
