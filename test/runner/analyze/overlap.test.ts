/**
 * Mask overlap figures on packed masks, checked against a plain computation over sets of (row,
 * input) positions: identical masks agree fully, complementary masks not at all, independent random
 * masks as much as chance predicts.
 */
import { describe, expect, it } from 'vitest';
import { channelSet, layerOverlap, lmfShares, overlapFigures, prunedPerRow, sumOverlaps } from '@polyprune/gpu-runner/analyze/overlap';
import { packPlain, randomRows } from './plain-masks.js';

type Plain = boolean[][];

/** The figures spelled out over sets of "o,i" keys. */
function plain(a: Plain, b: Plain, lmf?: Set<number>) {
  const dIn = a[0]!.length;
  const pa = new Set<string>();
  const pb = new Set<string>();
  a.forEach((row, o) => row.forEach((k, i) => !k && pa.add(`${o},${i}`)));
  b.forEach((row, o) => row.forEach((k, i) => !k && pb.add(`${o},${i}`)));
  const both = [...pa].filter((x) => pb.has(x)).length;
  const either = new Set([...pa, ...pb]).size;
  let expectedBoth = 0;
  a.forEach((row, o) => {
    expectedBoth += (row.filter((k) => !k).length * b[o]!.filter((k) => !k).length) / dIn;
  });
  const rowsIdentical = a.filter((row, o) => row.every((k, i) => k === b[o]![i])).length;
  const diff = [...new Set([...pa, ...pb])].filter((x) => pa.has(x) !== pb.has(x));
  const inLmf = lmf ? diff.filter((x) => lmf.has(Number(x.split(',')[1]))).length : null;
  return {
    jaccard: either === 0 ? 1 : both / either,
    jaccardChance: expectedBoth / (pa.size + pb.size - expectedBoth),
    both,
    either,
    rowsIdentical,
    differing: diff.length,
    differingInLmf: inLmf,
    expectedInLmf: lmf ? (diff.length * lmf.size) / dIn : null,
  };
}

const complement = (m: Plain): Plain => m.map((row) => row.map((k) => !k));

describe('layer overlap', () => {
  for (const dIn of [16, 13]) {
    it(`identical masks → Jaccard 1, every row identical (dIn ${dIn})`, () => {
      const m = randomRows(dIn, 24, Math.floor(dIn / 2), 1);
      const f = overlapFigures(layerOverlap(packPlain('a', m), packPlain('b', m)));
      expect(f.jaccard).toBe(1);
      expect(f.rowsIdentical).toBe(24);
      expect(f.differing).toBe(0);
      expect(f.prunedA).toBe(24 * Math.floor(dIn / 2));
    });

    it(`complementary masks → Jaccard 0, no row identical (dIn ${dIn})`, () => {
      const m = randomRows(dIn, 24, Math.floor(dIn / 2), 2);
      const f = overlapFigures(layerOverlap(packPlain('a', m), packPlain('b', complement(m))));
      expect(f.jaccard).toBe(0);
      expect(f.both).toBe(0);
      expect(f.rowsIdentical).toBe(0);
      expect(f.differing).toBe(24 * dIn);
    });

    it(`equals the plain computation on unrelated masks of different sparsities, LMF channels included (dIn ${dIn})`, () => {
      const a = randomRows(dIn, 40, Math.floor(dIn * 0.5), 3);
      const b = randomRows(dIn, 40, Math.floor(dIn * 0.7), 4);
      // Two rows forced equal so the row count is not trivially 0.
      b[5] = [...a[5]!];
      b[6] = [...a[6]!];
      const lmf = new Set([0, 3, 7, dIn - 1]);
      const got = overlapFigures(layerOverlap(packPlain('a', a), packPlain('b', b), { lmf: channelSet(dIn, lmf) }));
      const want = plain(a, b, lmf);
      expect(got.both).toBe(want.both);
      expect(got.either).toBe(want.either);
      expect(got.jaccard).toBeCloseTo(want.jaccard, 12);
      expect(got.jaccardChance).toBeCloseTo(want.jaccardChance, 12);
      expect(got.rowsIdentical).toBe(want.rowsIdentical);
      expect(got.rowsIdentical).toBeGreaterThanOrEqual(2);
      expect(got.differing).toBe(want.differing);
      expect(got.differingInLmf).toBe(want.differingInLmf);
      expect(got.expectedInLmf).toBeCloseTo(want.expectedInLmf!, 9);
    });
  }

  it('independent random masks agree as chance predicts (p/(2−p) at equal sparsity)', () => {
    const dIn = 64;
    const dOut = 512;
    for (const [pa, pb, seed] of [
      [0.5, 0.5, 10],
      [0.5, 0.75, 11],
    ] as const) {
      const a = randomRows(dIn, dOut, dIn * pa, seed);
      const b = randomRows(dIn, dOut, dIn * pb, seed + 100);
      const f = overlapFigures(layerOverlap(packPlain('a', a), packPlain('b', b), { lmf: channelSet(dIn, [1, 2, 3, 4, 5, 6, 7, 8]) }));
      // E|∩| = pa·pb per weight: the chance Jaccard is pa·pb / (pa + pb − pa·pb).
      expect(f.jaccardChance).toBeCloseTo((pa * pb) / (pa + pb - pa * pb), 12);
      // 32k weights: the observed Jaccard of random masks is within a few thousandths of chance.
      expect(Math.abs(f.jaccard - f.jaccardChance)).toBeLessThan(0.01);
      expect(f.rowsIdentical).toBe(0);
      // Differences of random masks fall on LMF channels in proportion to their number (8 of 64).
      const share = f.differingInLmf! / f.differing;
      expect(Math.abs(share - 8 / 64)).toBeLessThan(0.02);
      expect(f.expectedInLmf! / f.differing).toBeCloseTo(8 / 64, 12);
    }
  });

  it('counts pruned weights per row as the plain count', () => {
    const m = randomRows(13, 9, 4, 5);
    m[2] = m[2]!.map(() => true);
    const rows = prunedPerRow(packPlain('a', m));
    expect([...rows]).toEqual(m.map((row) => row.filter((k) => !k).length));
  });

  it('sums layers weight-weighted and takes LMF shares over the layers that have a set', () => {
    const a1 = randomRows(16, 8, 8, 20);
    const b1 = randomRows(16, 8, 8, 21);
    const a2 = randomRows(8, 4, 4, 22);
    const b2 = complement(a2);
    const l1 = layerOverlap(packPlain('x', a1), packPlain('y', b1), { lmf: channelSet(16, [0, 1]) });
    const l2 = layerOverlap(packPlain('x', a2), packPlain('y', b2));
    const sum = overlapFigures(sumOverlaps([l1, l2]));
    const p1 = plain(a1, b1, new Set([0, 1]));
    const p2 = plain(a2, b2);
    expect(sum.jaccard).toBeCloseTo((p1.both + p2.both) / (p1.either + p2.either), 12);
    expect(sum.differing).toBe(p1.differing + p2.differing);
    // Layer 2 has no LMF set: only layer 1's differences count, over layer 1's own differences.
    const shares = lmfShares([l1, l2]);
    expect(shares.share).toBeCloseTo(p1.differingInLmf! / p1.differing, 12);
    expect(shares.expected).toBeCloseTo(2 / 16, 12);
    expect(lmfShares([l2])).toEqual({ share: null, expected: null });
  });

  it('refuses masks of different shapes and channels outside the layer', () => {
    expect(() => layerOverlap(packPlain('a', randomRows(8, 4, 4, 1)), packPlain('b', randomRows(8, 5, 4, 1)))).toThrow(/cannot compare/);
    expect(() => channelSet(8, [8])).toThrow(/outside/);
  });
});
