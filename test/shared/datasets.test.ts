import { describe, expect, it } from 'vitest';
import { languageName, normaliseLanguage } from '@polyprune/shared/languages';
import { mulberry32 } from '@polyprune/shared/random';
import { LabelCodes, rowLabel, stratifiedSubset, stratifiedSubsetOfCodes } from '@polyprune/shared/subset';

describe('stratifiedSubset', () => {
  const rows = [...Array(7).fill(0), ...Array(2).fill(1), ...Array(1).fill(2)].map((label, i) => ({ i, label }));

  it('gives each label its share of n by largest remainder, in file order, the same for the same seed', () => {
    // n = 5 of 10 rows labelled 7/2/1: exact shares 3.5, 1.0, 0.5 → floors 3, 1, 0; one left goes to the
    // largest remainder (0.5, a tie between labels 0 and 2 → the label seen first, 0): 4, 1, 0.
    const pick = stratifiedSubset(rows, 5, 42, rowLabel);
    const labels = pick.map((k) => rows[k]!.label);
    expect([0, 1, 2].map((l) => labels.filter((x) => x === l).length)).toEqual([4, 1, 0]);
    expect(pick).toEqual([...pick].sort((a, b) => a - b));
    expect(stratifiedSubset(rows, 5, 42, rowLabel)).toEqual(pick);
    const seeds = new Set(Array.from({ length: 20 }, (_, s) => stratifiedSubset(rows, 5, s, rowLabel).join(',')));
    expect(seeds.size).toBeGreaterThan(1);
  });

  it('keeps everything when n covers the rows; samples plainly without labels', () => {
    expect(stratifiedSubset(rows, 10, 1, rowLabel)).toEqual(rows.map((_, i) => i));
    const texts = Array.from({ length: 50 }, (_, i) => ({ text: `t${i}` }));
    const pick = stratifiedSubset(texts, 7, 3, rowLabel);
    expect(pick).toHaveLength(7);
    expect(new Set(pick).size).toBe(7);
  });
});

/**
 * The draw as first written, with plain arrays (a Map of index lists, each copied and shuffled):
 * the typed-array version the worker runs over 500,000 rows must pick exactly these rows.
 */
function plainStratified(labels: readonly unknown[], n: number, seed: number): number[] {
  if (n >= labels.length) return labels.map((_, i) => i);
  const groups = new Map<string, number[]>();
  labels.forEach((l, i) => {
    const k = JSON.stringify(l ?? null);
    const g = groups.get(k);
    if (g) g.push(i);
    else groups.set(k, [i]);
  });
  const list = [...groups.values()];
  const exact = list.map((g) => (g.length * n) / labels.length);
  const take = exact.map(Math.floor);
  let left = n - take.reduce((a, b) => a + b, 0);
  const order = exact.map((e, i) => ({ i, r: e - Math.floor(e) })).sort((a, b) => b.r - a.r || a.i - b.i);
  for (const { i } of order) {
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

describe('stratifiedSubsetOfCodes', () => {
  it('draws the rows the plain-array draw draws, for skewed, single and absent labels', () => {
    const random = mulberry32(11);
    const vocab: unknown[] = ['entailment', 'neutral', 'contradiction', 3, null, { a: 1 }, 'rare'];
    for (let trial = 0; trial < 40; trial++) {
      const rows = 1 + Math.floor(random() * 3000);
      const kinds = 1 + Math.floor(random() * vocab.length);
      // skewed: label k about half as frequent as label k-1, so some labels get no share of n
      const labels = Array.from({ length: rows }, () => vocab[Math.min(kinds - 1, Math.floor(-Math.log2(random() + 1e-12)))]);
      const codes = new LabelCodes();
      for (const l of labels) codes.add(l);
      for (const n of [1, 7, Math.floor(rows / 3) + 1, rows - 1, rows, rows + 5]) {
        const seed = Math.floor(random() * 1e9);
        const want = plainStratified(labels, n, seed);
        expect(Array.from(stratifiedSubsetOfCodes(codes.view(), codes.labels, n, seed)), `trial ${trial}, ${rows} rows, n ${n}`).toEqual(want);
        expect(stratifiedSubset(labels, n, seed, (l) => l)).toEqual(want);
      }
    }
  });

  it('numbers labels by first appearance and grows past its first buffer', () => {
    const codes = new LabelCodes();
    for (let i = 0; i < 5000; i++) codes.add(i % 3 === 0 ? 'b' : 'a');
    expect(codes.labels).toBe(2);
    expect(codes.length).toBe(5000);
    expect(Array.from(codes.view().subarray(0, 4))).toEqual([0, 1, 1, 0]);
  });
});

describe('normaliseLanguage', () => {
  it('maps ISO 639-1, ISO 639-3 (macro and individual) and FLORES-200 codes onto one code', () => {
    const cases: [string, string][] = [
      ['en', 'en'],
      ['eng', 'en'],
      ['eng_Latn', 'en'],
      ['arb_Arab', 'ar'],
      ['ara', 'ar'],
      ['zho_Hans', 'zh'],
      ['zho_Hant', 'zh-Hant'],
      ['zh-Hant', 'zh-Hant'],
      ['cmn', 'zh'],
      ['npi_Deva', 'ne'],
      ['quy_Latn', 'qu'],
      ['pt-BR', 'pt-BR'],
      ['yue_Hant', 'yue'],
    ];
    for (const [given, canonical] of cases) expect(normaliseLanguage(given), given).toMatchObject({ canonical });
    expect(normaliseLanguage('zho_Hant')).toMatchObject({ script: 'Hant', name: 'Chinese' });
    expect(languageName('fra_Latn')).toBe('French');
  });

  it('refuses codes it cannot name and malformed ones', () => {
    for (const code of ['tlh', 'xx', 'fra_latn', 'FR', 'french']) expect('error' in normaliseLanguage(code), code).toBe(true);
    expect(() => languageName('tlh')).toThrow(/no English name/);
  });
});
