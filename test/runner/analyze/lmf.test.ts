import { describe, expect, it } from 'vitest';
import { buildLmfReport, jaccard, rankDimensions, ResidualAccumulator } from '@polyprune/gpu-runner/analyze/lmf';

function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 4294967296;
  };
}

/** Residual activations as plain JS arrays [token][dim]; `loud` dims get large values. */
function tokens(n: number, dim: number, seed: number, loud: number[] = []): number[][] {
  const r = lcg(seed);
  return Array.from({ length: n }, () => Array.from({ length: dim }, (_, d) => (r() - 0.5) * (loud.includes(d) ? 40 : 1)));
}

const flat = (rows: number[][]) => Float32Array.from(rows.flat());

/** m_d = sqrt(Σ_t h[t,d]² / T) over the kept tokens, with JS numbers (values rounded to f32 as stored). */
function refMagnitudes(rows: number[][], keep: boolean[]): number[] {
  const dim = rows[0]!.length;
  const out: number[] = [];
  for (let d = 0; d < dim; d++) {
    let s = 0;
    let t = 0;
    rows.forEach((row, k) => {
      if (!keep[k]) return;
      s += Math.fround(row[d]!) ** 2;
      t++;
    });
    out.push(Math.sqrt(s / t));
  }
  return out;
}

/** Plain ranking: array of {d, m} sorted with explicit rules. */
function refRank(m: number[], k: number, order: 'top' | 'bottom'): number[] {
  return m
    .map((v, d) => ({ v, d }))
    .sort((a, b) => (a.v !== b.v ? (order === 'top' ? b.v - a.v : a.v - b.v) : a.d - b.d))
    .slice(0, k)
    .map((x) => x.d);
}

describe('ResidualAccumulator', () => {
  it('gives the RMS over kept tokens, equal to a plain computation, across calls and mask types', () => {
    const dim = 6;
    const a = tokens(5, dim, 1);
    const b = tokens(3, dim, 2);
    const acc = new ResidualAccumulator(2, dim);
    acc.accumulateResidual(1, flat(a), Uint8Array.from([1, 1, 0, 1, 1]));
    acc.accumulateResidual(1, flat(b), BigInt64Array.from([1n, 0n, 1n]));
    const want = refMagnitudes([...a, ...b], [true, true, false, true, true, true, false, true]);
    const got = acc.magnitudes(1);
    want.forEach((w, d) => expect(got[d]).toBeCloseTo(w, 10));
    expect(acc.tokenCount(1)).toBe(6);
    expect(acc.tokenCount(0)).toBe(0);
    expect(() => acc.magnitudes(0)).toThrow(/no tokens/);
  });

  it('does not depend on how tokens are split into calls', () => {
    const rows = tokens(10, 4, 3);
    const one = new ResidualAccumulator(1, 4);
    one.accumulateResidual(0, flat(rows));
    const many = new ResidualAccumulator(1, 4);
    for (let t = 0; t < 10; t += 3) many.accumulateResidual(0, flat(rows.slice(t, t + 3)));
    const x = one.magnitudes(0);
    const y = many.magnitudes(0);
    for (let d = 0; d < 4; d++) expect(y[d]).toBeCloseTo(x[d]!, 12);
  });

  it('merges and survives a JSON round trip', () => {
    const rows = tokens(4, 3, 4);
    const a = new ResidualAccumulator(1, 3);
    a.accumulateResidual(0, flat(rows.slice(0, 2)));
    const b = new ResidualAccumulator(1, 3);
    b.accumulateResidual(0, flat(rows.slice(2)));
    a.merge(b);
    const back = ResidualAccumulator.fromJSON(JSON.parse(JSON.stringify(a)));
    const want = refMagnitudes(rows, [true, true, true, true]);
    want.forEach((w, d) => expect(back.magnitudes(0)[d]).toBeCloseTo(w, 10));
  });

  it('rejects data that is not [tokens, dim] and masks of the wrong length', () => {
    const acc = new ResidualAccumulator(1, 4);
    expect(() => acc.accumulateResidual(0, new Float32Array(6))).toThrow(/tokens, 4/);
    expect(() => acc.accumulateResidual(0, new Float32Array(8), new Uint8Array(3))).toThrow(/mask/);
    expect(() => acc.accumulateResidual(1, new Float32Array(4))).toThrow(/block 1/);
  });
});

describe('ranking and overlap', () => {
  it('ranks top (descending) and bottom (ascending) with ties by lower dimension', () => {
    const m = [3, 1, 3, 0, 1, 5, 0];
    expect(rankDimensions(Float64Array.from(m), 3, 'top')).toEqual([5, 0, 2]);
    expect(rankDimensions(Float64Array.from(m), 3, 'bottom')).toEqual([3, 6, 1]);
    expect(rankDimensions(Float64Array.from(m), 7, 'top')).toEqual(refRank(m, 7, 'top'));
  });

  it('jaccard = |A∩B| / |A∪B|', () => {
    expect(jaccard([1, 2, 3], [2, 3, 4])).toBe(2 / 4);
    expect(jaccard([1, 2], [1, 2])).toBe(1);
    expect(jaccard([1], [2])).toBe(0);
  });
});

describe('buildLmfReport', () => {
  const blocks = 3;
  const dim = 10;
  // Pair fr-en: dims 2 and 7 loud; pair zh-en: dims 2 and 4 loud; monolingual fr: only dim 2.
  const loud: Record<string, number[]> = { 'fr-en': [2, 7], 'zh-en': [2, 4], 'fr-mono': [2], 'zh-mono': [4, 9] };
  const data: Record<string, number[][][]> = {};
  const accs: Record<string, ResidualAccumulator> = {};
  for (const [name, dims] of Object.entries(loud)) {
    const acc = new ResidualAccumulator(blocks, dim);
    data[name] = [];
    for (let b = 0; b < blocks; b++) {
      const rows = tokens(12, dim, name.length * 10 + b, dims);
      data[name]!.push(rows);
      acc.accumulateResidual(b, flat(rows));
    }
    accs[name] = acc;
  }

  it('reports top/bottom-k per block and Jaccard overlaps equal to plain computations', () => {
    const report = buildLmfReport(
      [
        { pair: 'fr-en', translation: accs['fr-en']!, monolingual: accs['fr-mono']! },
        { pair: 'zh-en', translation: accs['zh-en']!, monolingual: accs['zh-mono']! },
      ],
      { k: 2, includeMagnitudes: true },
    );
    expect(report).toMatchObject({ version: 1, magnitude: 'rms-over-tokens', k: 2, blocks, dim });
    expect(report.overlap.labels).toEqual(['fr-en', 'zh-en']);
    const all = new Array(12).fill(true);
    for (let b = 0; b < blocks; b++) {
      const ref = (name: string) => refMagnitudes(data[name]![b]!, all);
      const frTop = refRank(ref('fr-en'), 2, 'top');
      const zhTop = refRank(ref('zh-en'), 2, 'top');
      const frBottom = refRank(ref('fr-en'), 2, 'bottom');
      const zhBottom = refRank(ref('zh-en'), 2, 'bottom');
      const fr = report.pairs[0]!.translation[b]!;
      expect(fr.top).toEqual(frTop);
      expect([...fr.top].sort()).toEqual([2, 7]);
      expect(fr.bottom).toEqual(frBottom);
      fr.topMagnitudes.forEach((v, q) => expect(v).toBeCloseTo(ref('fr-en')[frTop[q]!]!, 6));
      expect(fr.magnitudes!.length).toBe(dim);
      expect(fr.tokens).toBe(12);
      expect(report.pairs[1]!.translation[b]!.top).toEqual(zhTop);
      const o = report.overlap.translation[b]!;
      expect(o.block).toBe(b);
      // {2,7} vs {2,4}: one shared of three
      expect(o.top).toEqual([
        [1, 1 / 3],
        [1 / 3, 1],
      ]);
      const plainJ = (a: number[], c: number[]) => a.filter((x) => c.includes(x)).length / new Set([...a, ...c]).size;
      expect(o.bottom[0]![1]).toBe(plainJ(frBottom, zhBottom));
      // translation fr {2,7} vs monolingual fr {2, quietest other}: top sets share dim 2
      const monoTop = refRank(ref('fr-mono'), 2, 'top');
      expect(report.pairs[0]!.translationVsMonolingual![b]!.top).toBe(plainJ(frTop, monoTop));
      expect(report.overlap.monolingual![b]!.top[0]![1]).toBe(plainJ(monoTop, refRank(ref('zh-mono'), 2, 'top')));
    }
    // Plain JSON: survives stringify/parse unchanged.
    expect(JSON.parse(JSON.stringify(report))).toEqual(report);
  });

  it('takes k from a ratio of dim, omits monolingual parts when absent, validates input', () => {
    const r = buildLmfReport([{ pair: 'fr-en', translation: accs['fr-en']! }], { ratio: 0.3 });
    expect(r.k).toBe(3);
    expect(r.pairs[0]!.monolingual).toBeUndefined();
    expect(r.overlap.monolingual).toBeUndefined();
    expect(r.pairs[0]!.translation[0]!.magnitudes).toBeUndefined();
    expect(() => buildLmfReport([], { k: 1 })).toThrow(/at least one/);
    expect(() => buildLmfReport([{ pair: 'a', translation: accs['fr-en']! }], { k: 11 })).toThrow(/k must/);
    expect(() => buildLmfReport([{ pair: 'a', translation: accs['fr-en']! }], { k: 1, ratio: 0.1 })).toThrow(/exactly one/);
    expect(() =>
      buildLmfReport(
        [
          { pair: 'a', translation: accs['fr-en']! },
          { pair: 'b', translation: new ResidualAccumulator(2, dim) },
        ],
        { k: 1 },
      ),
    ).toThrow(/expected \[3, 10\]/);
    expect(() => buildLmfReport([{ pair: 'a', translation: new ResidualAccumulator(3, dim) }], { k: 1 })).toThrow(/no tokens/);
  });
});
