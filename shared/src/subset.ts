/**
 * Seeded subsets of evaluation rows, stratified by label: the paper evaluates on fixed-size subsets,
 * and the same (rows, n, seed) must give the same rows on the worker (upload) and the runner (job limit).
 */
import { mulberry32 } from './random';

/**
 * Indices (ascending, so file order is kept) of an n-row subset. Each label gets a share of n in
 * proportion to its count (largest remainder, ties to the label seen first); rows within a label are
 * drawn by a seeded shuffle. Without labels (`labelOf` returning undefined) it is a plain seeded sample.
 */
export function stratifiedSubset<T>(rows: readonly T[], n: number, seed: number, labelOf: (row: T) => unknown): number[] {
  if (n >= rows.length) return rows.map((_, i) => i);
  const groups = new Map<string, number[]>();
  rows.forEach((r, i) => {
    const k = JSON.stringify(labelOf(r) ?? null);
    const g = groups.get(k);
    if (g) g.push(i);
    else groups.set(k, [i]);
  });
  const list = [...groups.values()];
  const exact = list.map((g) => (g.length * n) / rows.length);
  const take = exact.map(Math.floor);
  let left = n - take.reduce((a, b) => a + b, 0);
  const byRemainder = exact.map((e, i) => ({ i, r: e - Math.floor(e) })).sort((a, b) => b.r - a.r || a.i - b.i);
  for (const { i } of byRemainder) {
    if (left === 0) break;
    take[i]!++;
    left--;
  }
  const random = mulberry32(seed);
  const chosen: number[] = [];
  list.forEach((g, gi) => {
    const pool = [...g];
    for (let i = pool.length - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1));
      [pool[i], pool[j]] = [pool[j]!, pool[i]!];
    }
    chosen.push(...pool.slice(0, take[gi]));
  });
  return chosen.sort((a, b) => a - b);
}

/** The label a row is stratified by, per suite format; undefined where rows have none. */
export function rowLabel(row: unknown): unknown {
  if (row && typeof row === 'object') {
    const r = row as Record<string, unknown>;
    if ('label' in r) return r.label;
    if ('stars' in r) return r.stars;
  }
  return undefined;
}
