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
  const codes = new LabelCodes();
  for (const r of rows) codes.add(labelOf(r));
  return Array.from(stratifiedSubsetOfCodes(codes.view(), codes.labels, n, seed));
}

/**
 * Each row's label as a small integer, numbered in order of first appearance (the order labels take
 * their shares in): what a worker holds for the 500,000 rows of an upload it draws from, 4 bytes a row.
 */
export class LabelCodes {
  private codes = new Uint32Array(1024);
  private readonly codeOf = new Map<string, number>();
  length = 0;

  add(label: unknown): void {
    const key = JSON.stringify(label ?? null);
    let code = this.codeOf.get(key);
    if (code === undefined) {
      code = this.codeOf.size;
      this.codeOf.set(key, code);
    }
    if (this.length === this.codes.length) {
      const bigger = new Uint32Array(2 * this.codes.length);
      bigger.set(this.codes);
      this.codes = bigger;
    }
    this.codes[this.length++] = code;
  }

  /** how many distinct labels */
  get labels(): number {
    return this.codeOf.size;
  }

  view(): Uint32Array {
    return this.codes.subarray(0, this.length);
  }
}

/**
 * stratifiedSubset over label codes (0 … labels-1, numbered by first appearance), in typed arrays:
 * the same indices for the same rows, n and seed.
 */
export function stratifiedSubsetOfCodes(codes: Uint32Array, labels: number, n: number, seed: number): Uint32Array {
  const total = codes.length;
  if (n >= total) return Uint32Array.from({ length: total }, (_, i) => i);
  // Each label's rows, in file order, one after another (a counting sort of the row indices).
  const count = new Uint32Array(labels);
  for (const c of codes) count[c]!++;
  const start = new Uint32Array(labels + 1);
  for (let g = 0; g < labels; g++) start[g + 1] = start[g]! + count[g]!;
  const pool = new Uint32Array(total);
  const fill = start.slice(0, labels);
  codes.forEach((c, i) => {
    pool[fill[c]!++] = i;
  });
  const exact = Array.from(count, (k) => (k * n) / total);
  const take = exact.map(Math.floor);
  let left = n - take.reduce((a, b) => a + b, 0);
  const byRemainder = exact.map((e, i) => ({ i, r: e - Math.floor(e) })).sort((a, b) => b.r - a.r || a.i - b.i);
  for (const { i } of byRemainder) {
    if (left === 0) break;
    take[i]!++;
    left--;
  }
  // One random stream across the labels in order: each label is shuffled whole, even one that gives no row.
  const random = mulberry32(seed);
  const chosen = new Uint32Array(n);
  let at = 0;
  for (let g = 0; g < labels; g++) {
    const from = start[g]!;
    for (let i = count[g]! - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1));
      const t = pool[from + i]!;
      pool[from + i] = pool[from + j]!;
      pool[from + j] = t;
    }
    chosen.set(pool.subarray(from, from + take[g]!), at);
    at += take[g]!;
  }
  return chosen.sort();
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
