import { describe, expect, it } from 'vitest';
import { countPruned, prunedPerRow, selectMask, selectMatrixMask, selectNmMask, selectRowMask, sparsityReport } from '@polyprune/gpu-runner/prune/masks';
import { kthSmallest } from '@polyprune/gpu-runner/prune/select';
import { firstDiff, lcg, makeScores, refMatrixMask, refNmMask, refRowMask, type ScoreKind } from './reference.js';

const kinds: ScoreKind[] = ['continuous', 'ties', 'constant', 'ascending', 'descending', 'zeros-and-ties', 'signed'];

describe('kthSmallest', () => {
  it('equals the k-th element of a full sort for many shapes and sizes', () => {
    const r = lcg(7);
    const gens: Record<string, (n: number) => number[]> = {
      random: (n) => Array.from({ length: n }, () => r()),
      fewValues: (n) => Array.from({ length: n }, () => Math.floor(r() * 3)),
      sorted: (n) => Array.from({ length: n }, (_, x) => x),
      reversed: (n) => Array.from({ length: n }, (_, x) => n - x),
      constant: (n) => Array.from({ length: n }, () => 2),
      organPipe: (n) => Array.from({ length: n }, (_, x) => Math.min(x, n - x)),
      signedZeros: (n) => Array.from({ length: n }, (_, x) => (x % 2 ? -0 : 0) + (x % 5 === 0 ? 1 : 0)),
    };
    for (const [name, gen] of Object.entries(gens)) {
      for (const n of [1, 2, 3, 15, 16, 17, 33, 100, 257, 5000]) {
        const values = Float32Array.from(gen(n));
        const sorted = Array.from(values).sort((a, b) => a - b);
        for (const k of new Set([0, 1, n >> 1, n - 2, n - 1].filter((x) => x >= 0 && x < n))) {
          const got = kthSmallest(values.slice(), k);
          expect(got === sorted[k], `${name} n=${n} k=${k}: ${got} vs ${sorted[k]}`).toBe(true);
        }
      }
    }
  });

  it('rejects k outside the array', () => {
    expect(() => kthSmallest(new Float32Array(3), 3)).toThrow(/outside/);
  });
});

describe('selectRowMask (per output neuron, stable ties)', () => {
  const shapes: [number, number][] = [
    [1, 3],
    [7, 5],
    [37, 17],
    [64, 3],
    [300, 20],
    // Several tiles of neurons, the last one partial.
    [40, 150],
  ];
  for (const kind of kinds) {
    for (const [dIn, dOut] of shapes) {
      it(`${kind} [${dIn}, ${dOut}] equals a full stable sort per row, both directions`, () => {
        const scores = makeScores(dIn, dOut, kind, dIn * 31 + dOut);
        for (const p of [0, 0.1, 0.3, 0.5, 0.7, 0.99, 1]) {
          for (const dropTop of [false, true]) {
            const got = selectRowMask(scores, { dIn, dOut }, p, dropTop);
            const want = refRowMask(scores, dIn, dOut, p, dropTop);
            expect(firstDiff(got, want), `p=${p} dropTop=${dropTop}`).toBe(-1);
          }
        }
      });
    }
  }

  it('drops exactly ⌊dIn·p⌋ per neuron with the float quirk of int(d_in * ratio)', () => {
    // 100 * 0.29 = 28.999999999999996 in double: the reference's int() gives 28, not 29.
    expect(prunedPerRow(100, 0.29)).toBe(28);
    const scores = makeScores(100, 4, 'continuous', 3);
    const keep = selectRowMask(scores, { dIn: 100, dOut: 4 }, 0.29);
    for (let o = 0; o < 4; o++) {
      let dropped = 0;
      for (let i = 0; i < 100; i++) if (keep[i * 4 + o] === 0) dropped++;
      expect(dropped).toBe(28);
    }
  });

  it('among equal scores drops the lower input index first (hand example)', () => {
    // one neuron, scores by input: [2, 1, 1, 1, 3]; drop 2 → the two lowest-index 1s (inputs 1 and 2).
    const scores = Float32Array.from([2, 1, 1, 1, 3]);
    expect([...selectRowMask(scores, { dIn: 5, dOut: 1 }, 0.4)]).toEqual([1, 0, 0, 1, 1]);
    // dropTop, drop 2 → 3 (input 4) then the first 2 (input 0).
    expect([...selectRowMask(scores, { dIn: 5, dOut: 1 }, 0.4, true)]).toEqual([0, 1, 1, 1, 0]);
  });

  it('rejects NaN scores, bad shapes and sparsities', () => {
    expect(() => selectRowMask(Float32Array.from([1, NaN]), { dIn: 2, dOut: 1 }, 0.5)).toThrow(/NaN/);
    expect(() => selectRowMask(new Float32Array(5), { dIn: 2, dOut: 2 }, 0.5)).toThrow(/expected/);
    expect(() => selectRowMask(new Float32Array(4), { dIn: 2, dOut: 2 }, 1.5)).toThrow(/sparsity/);
  });
});

describe('selectRowMask on a scaled weight (scores |W|·factor computed as read)', () => {
  /** The scores the test computes itself: |W[i, o]|·factor[i] in double, rounded to float32. */
  const scoresOf = (weight: Float32Array, factor: Float64Array, dOut: number) =>
    Float32Array.from(weight, (v, x) => Math.abs(v) * factor[Math.floor(x / dOut)]!);
  for (const kind of kinds) {
    for (const [dIn, dOut] of [
      [7, 5],
      [37, 17],
      [300, 20],
    ] as const) {
      it(`${kind} [${dIn}, ${dOut}]: the full stable sort of the computed scores, both directions`, () => {
        const weight = makeScores(dIn, dOut, kind, dIn + dOut);
        const r = lcg(dIn * 3 + dOut);
        // Zero, tiny, ordinary and huge factors: products that round, underflow and overflow.
        const factor = Float64Array.from({ length: dIn }, (_, i) => [0, 1e-300, 1, 3.7, 1e300][i % 5]! * (1 + r()));
        const infinite = weight.some((v) => !Number.isFinite(v));
        const f = infinite ? factor.map((v) => v || 1) : factor; // ∞·0 is NaN: tested below
        const scores = scoresOf(weight, f, dOut);
        for (const p of [0.1, 0.5, 0.99]) {
          for (const dropTop of [false, true]) {
            const got = selectRowMask({ weight, factor: f }, { dIn, dOut }, p, dropTop);
            expect(firstDiff(got, refRowMask(scores, dIn, dOut, p, dropTop)), `p=${p} dropTop=${dropTop}`).toBe(-1);
          }
        }
      });
    }
  }

  it('a NaN score (NaN weight, or ∞ times a zero factor) is an error naming it; shapes are checked', () => {
    const weight = makeScores(20, 8, 'continuous', 4);
    const factor = new Float64Array(20).fill(2);
    const nan = weight.slice();
    nan[5 * 8 + 3] = Number.NaN;
    expect(() => selectRowMask({ weight: nan, factor }, { dIn: 20, dOut: 8 }, 0.5)).toThrow(/scores\[43\] is NaN/);
    const inf = weight.slice();
    inf[2 * 8 + 1] = Infinity;
    const zeroAt2 = factor.slice();
    zeroAt2[2] = 0;
    expect(() => selectRowMask({ weight: inf, factor: zeroAt2 }, { dIn: 20, dOut: 8 }, 0.5)).toThrow(/scores\[17\] is NaN/);
    expect(() => selectRowMask({ weight, factor: new Float64Array(19) }, { dIn: 20, dOut: 8 }, 0.5)).toThrow(/factor has 19 values/);
    expect(() => selectRowMask({ weight, factor }, { dIn: 20, dOut: 9 }, 0.5)).toThrow(/weight has 160 values/);
  });
});

describe('selectNmMask', () => {
  for (const [n, m] of [
    [2, 4],
    [4, 8],
    [1, 4],
    [3, 8],
  ] as const) {
    for (const kind of kinds) {
      it(`${n}:${m} ${kind} equals the per-group reference and every group keeps exactly ${n}`, () => {
        const dIn = m * 9;
        const dOut = 11;
        const scores = makeScores(dIn, dOut, kind, n * 100 + m);
        for (const dropTop of [false, true]) {
          const got = selectNmMask(scores, { dIn, dOut }, n, m, dropTop);
          expect(firstDiff(got, refNmMask(scores, dIn, dOut, n, m, dropTop)), `dropTop=${dropTop}`).toBe(-1);
          for (let o = 0; o < dOut; o++) {
            for (let g = 0; g < dIn / m; g++) {
              let kept = 0;
              for (let r = 0; r < m; r++) kept += got[(g * m + r) * dOut + o]!;
              expect(kept).toBe(n);
            }
          }
        }
      });
    }
  }

  it('rejects dIn not divisible by m and impossible patterns', () => {
    expect(() => selectNmMask(new Float32Array(6), { dIn: 6, dOut: 1 }, 2, 4)).toThrow(/divisible/);
    expect(() => selectNmMask(new Float32Array(8), { dIn: 8, dOut: 1 }, 5, 4)).toThrow(/n ≤ m/);
  });
});

describe('selectMatrixMask (one threshold per matrix)', () => {
  for (const kind of kinds) {
    for (const [dIn, dOut] of [
      [5, 7],
      [33, 9],
      [128, 16],
    ] as const) {
      it(`${kind} [${dIn}, ${dOut}] equals a full sort of the matrix with PyTorch-order ties`, () => {
        const scores = makeScores(dIn, dOut, kind, dIn + dOut);
        for (const p of [0, 0.2, 0.5, 0.77, 1]) {
          for (const dropTop of [false, true]) {
            const got = selectMatrixMask(scores, { dIn, dOut }, p, dropTop);
            expect(firstDiff(got, refMatrixMask(scores, dIn, dOut, p, dropTop)), `p=${p} dropTop=${dropTop}`).toBe(-1);
          }
        }
      });
    }
  }
});

describe('selectMask and sparsityReport', () => {
  it('dispatches on the pattern and reports per-layer and overall sparsity', () => {
    const a = makeScores(16, 8, 'continuous', 1);
    const b = makeScores(8, 4, 'ties', 2);
    const ma = selectMask('block0.q', a, { dIn: 16, dOut: 8 }, { pattern: { kind: 'unstructured', sparsity: 0.5 } });
    const mb = selectMask('block0.fc1', b, { dIn: 8, dOut: 4 }, { pattern: { kind: 'nm', n: 2, m: 4 }, dropTop: true });
    const mc = selectMask('block1.o', a, { dIn: 16, dOut: 8 }, { pattern: { kind: 'unstructured-matrix', sparsity: 0.25 } });
    expect(firstDiff(ma.keep, refRowMask(a, 16, 8, 0.5, false))).toBe(-1);
    expect(firstDiff(mb.keep, refNmMask(b, 8, 4, 2, 4, true))).toBe(-1);
    expect(firstDiff(mc.keep, refMatrixMask(a, 16, 8, 0.25, false))).toBe(-1);

    const report = sparsityReport([ma, mb, mc]);
    const plainPruned = (keep: Uint8Array) => keep.filter((v) => v === 0).length;
    expect(report.layers.map((l) => [l.id, l.total, l.pruned])).toEqual([
      ['block0.q', 128, plainPruned(ma.keep)],
      ['block0.fc1', 32, plainPruned(mb.keep)],
      ['block1.o', 128, plainPruned(mc.keep)],
    ]);
    expect(report.layers.map((l) => l.sparsity)).toEqual([0.5, 0.5, 0.25]);
    expect(report.total).toBe(288);
    expect(report.pruned).toBe(64 + 16 + 32);
    expect(report.sparsity).toBeCloseTo(112 / 288, 12);
    expect(countPruned(ma)).toBe(64);
    expect(sparsityReport([])).toEqual({ layers: [], total: 0, pruned: 0, sparsity: 0 });
  });
});
