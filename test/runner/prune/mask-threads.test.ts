/**
 * Per-output-neuron masks selected on worker threads equal the plain full-sort reference (and so the
 * single-threaded selection) bit for bit: every neuron's entries come from whichever thread took it,
 * and a share no thread wrote would stay 0 in the shared mask and fail the comparison.
 */
import { describe, expect, it } from 'vitest';
import {
  PARALLEL_MIN_SCORES,
  buffers,
  offloadWhile,
  releaseMaskThreads,
  scoreBuffer,
  selectMaskThreaded,
  selectRowMaskThreaded,
  splitColumns,
} from '@polyprune/gpu-runner/prune/mask-threads';
import { SharedPool } from '@polyprune/gpu-runner/prune/shared-pool';
import { selectRowMask, takeRanges } from '@polyprune/gpu-runner/prune/masks';
import { firstDiff, makeScores, refRowMask, type ScoreKind } from './reference.js';

describe('splitColumns', () => {
  it('covers [0, dOut) once, in ranges of whole 16-neuron tiles (the last one may be partial)', () => {
    for (const dOut of [1, 15, 16, 17, 100, 1024, 4099]) {
      for (const parts of [1, 2, 3, 7, 8, 500]) {
        const r = splitColumns(dOut, parts);
        expect(r.length).toBeLessThanOrEqual(Math.min(parts, Math.ceil(dOut / 16)));
        expect(r[0]![0]).toBe(0);
        expect(r.at(-1)![1]).toBe(dOut);
        for (let i = 0; i < r.length; i++) {
          expect(r[i]![1]).toBeGreaterThan(r[i]![0]);
          if (i > 0) expect(r[i]![0]).toBe(r[i - 1]![1]);
          expect(r[i]![0] % 16).toBe(0);
        }
      }
    }
  });
});

describe('takeRanges', () => {
  it('selects each range not yet taken by the shared counter, once, and leaves the taken ones alone', () => {
    const dIn = 64;
    const dOut = 200;
    const scores = makeScores(dIn, dOut, 'ties', 3);
    const want = refRowMask(scores, dIn, dOut, 0.5, false);
    const pieces = splitColumns(dOut, 5);
    const ranges = Int32Array.from(pieces.flat());
    const keep = new Uint8Array(dIn * dOut).fill(7);
    const next = new Int32Array(new SharedArrayBuffer(4));
    next[0] = 2; // another thread took the first two
    takeRanges(scores, { dIn, dOut }, Math.floor(dIn / 2), false, ranges, next, keep);
    expect(next[0]).toBeGreaterThanOrEqual(pieces.length);
    for (const [p, [o0, o1]] of pieces.entries()) {
      for (let i = 0; i < dIn; i++) for (let o = o0; o < o1; o++) expect(keep[i * dOut + o], `range ${p}`).toBe(p < 2 ? 7 : want[i * dOut + o]);
    }
    // Nothing left: a second taker selects nothing.
    const again = keep.slice();
    takeRanges(scores, { dIn, dOut }, Math.floor(dIn / 2), false, ranges, next, keep);
    expect(firstDiff(keep, again)).toBe(-1);
  });
});

describe('SharedPool', () => {
  it('hands back the smallest free buffer that is large enough, else a new one; keeps the largest few', () => {
    const pool = new SharedPool(2, 60_000);
    const a = pool.take(100);
    const b = pool.take(1000);
    const c = pool.take(10);
    expect([a.byteLength, b.byteLength, c.byteLength]).toEqual([100, 1000, 10]);
    pool.give(a);
    pool.give(b);
    pool.give(c);
    // at most 2 kept, the largest
    expect(pool.freeBytes).toBe(1100);
    expect(pool.take(50)).toBe(a);
    expect(pool.take(50)).toBe(b);
    expect(pool.take(50)).not.toBe(c);
    expect(pool.freeBytes).toBe(0);
  });

  it('drops what it holds after being idle', async () => {
    const pool = new SharedPool(4, 20);
    pool.give(pool.take(64));
    expect(pool.freeBytes).toBe(64);
    await new Promise((r) => setTimeout(r, 60));
    expect(pool.freeBytes).toBe(0);
  });
});

describe('selectRowMaskThreaded', () => {
  // 512 × 600 = 307,200 scores: above PARALLEL_MIN_SCORES, dOut not a multiple of 16.
  const dIn = 512;
  const dOut = 600;
  it('is large enough to be spread over threads', () => expect(dIn * dOut).toBeGreaterThanOrEqual(PARALLEL_MIN_SCORES));

  const kinds: ScoreKind[] = ['continuous', 'ties', 'zeros-and-ties', 'signed'];
  for (const kind of kinds) {
    it(`${kind}: equals the full-sort reference on 2, 3 and 5 threads, dropTop both ways`, async () => {
      const scores = makeScores(dIn, dOut, kind, 5);
      for (const dropTop of [false, true]) {
        const want = refRowMask(scores, dIn, dOut, 0.5, dropTop);
        for (const threads of [2, 3, 5]) {
          const got = await selectRowMaskThreaded(scores, { dIn, dOut }, 0.5, dropTop, threads);
          expect(got.buffer instanceof SharedArrayBuffer).toBe(false);
          expect(firstDiff(got, want), `${kind} dropTop=${dropTop} threads=${threads}`).toBe(-1);
        }
      }
    });
  }

  it('while offloadWhile work is pending every share goes to the worker threads: the same mask, before and after', async () => {
    const scores = makeScores(dIn, dOut, 'ties', 12);
    const want = refRowMask(scores, dIn, dOut, 0.5, false);
    let finish = () => {};
    const work = offloadWhile(new Promise<void>((resolve) => (finish = resolve)));
    // A share the calling thread kept and never selected would stay 0 in the mask.
    for (const threads of [2, 3])
      expect(firstDiff(await selectRowMaskThreaded(scores, { dIn, dOut }, 0.5, false, threads), want), `threads=${threads}`).toBe(-1);
    finish();
    await work;
    // A failed work item ends the hand-over too.
    await expect(offloadWhile(Promise.reject(new Error('setup failed')))).rejects.toThrow(/setup failed/);
    expect(firstDiff(await selectRowMaskThreaded(scores, { dIn, dOut }, 0.5, false, 2), want)).toBe(-1);
  });

  it('scores computed into shared memory are used in place and give the same mask', async () => {
    const spec = { pattern: { kind: 'unstructured' as const, sparsity: 0.3 } };
    const buf = scoreBuffer({ dIn, dOut }, spec, 4);
    expect(buf.buffer instanceof SharedArrayBuffer).toBe(true);
    const scores = makeScores(dIn, dOut, 'continuous', 8);
    buf.set(scores);
    const m = await selectMaskThreaded('x', buf, { dIn, dOut }, spec, 4);
    expect(firstDiff(m.keep, refRowMask(scores, dIn, dOut, 0.3, false))).toBe(-1);
    // Lent shared memory comes back for the next layer's scores.
    expect(buffers.take(dIn * dOut * 4)).toBe(buf.buffer);
    // Small layers and other patterns stay on ordinary memory.
    expect(scoreBuffer({ dIn: 64, dOut: 64 }, spec, 4).buffer instanceof SharedArrayBuffer).toBe(false);
    expect(scoreBuffer({ dIn, dOut }, { pattern: { kind: 'nm', n: 2, m: 4 } }, 4).buffer instanceof SharedArrayBuffer).toBe(false);
    expect(scoreBuffer({ dIn, dOut }, spec, 1).buffer instanceof SharedArrayBuffer).toBe(false);
  });

  it('several layers in flight at once share the pool and each gets its own mask', async () => {
    const layers = [1, 2, 3].map((seed) => makeScores(dIn, dOut, 'continuous', seed));
    const got = await Promise.all(layers.map((s) => selectRowMaskThreaded(s, { dIn, dOut }, 0.5, false, 3)));
    for (const [i, s] of layers.entries()) expect(firstDiff(got[i]!, selectRowMask(s, { dIn, dOut }, 0.5))).toBe(-1);
  });

  it('many layers in a row reuse the same shared memory: what the pool holds does not grow', async () => {
    const spec = { pattern: { kind: 'unstructured' as const, sparsity: 0.5 } };
    let held = -1;
    for (let layer = 0; layer < 6; layer++) {
      const scores = makeScores(dIn, dOut, 'continuous', 20 + layer);
      const buf = scoreBuffer({ dIn, dOut }, spec, 3);
      buf.set(scores);
      const m = await selectMaskThreaded('x', buf, { dIn, dOut }, spec, 3);
      expect(firstDiff(m.keep, selectRowMask(scores, { dIn, dOut }, 0.5))).toBe(-1);
      if (held < 0) held = buffers.freeBytes;
      expect(buffers.freeBytes).toBe(held);
      expect(held).toBeGreaterThanOrEqual(dIn * dOut * 5);
    }
  });

  it('after releaseMaskThreads the pool is empty and the next selection starts threads again', async () => {
    await releaseMaskThreads();
    expect(buffers.freeBytes).toBe(0);
    const scores = makeScores(dIn, dOut, 'ties', 31);
    expect(firstDiff(await selectRowMaskThreaded(scores, { dIn, dOut }, 0.5, false, 2), refRowMask(scores, dIn, dOut, 0.5, false))).toBe(-1);
    await releaseMaskThreads();
  });

  it('a scaled weight (scores computed as read), in shared memory or not, gives the reference mask on 2 and 3 threads', async () => {
    const weight = makeScores(dIn, dOut, 'signed', 41);
    const factor = Float64Array.from({ length: dIn }, (_, i) => (i % 7 === 0 ? 0 : 1 + (i % 5)));
    const f = factor.map((v) => v || 1); // 'signed' has ±∞, and ∞·0 would be NaN
    const scores = Float32Array.from(weight, (v, x) => Math.abs(v) * f[Math.floor(x / dOut)]!);
    const shared = new Float32Array(new SharedArrayBuffer(weight.byteLength));
    shared.set(weight);
    const held = buffers.freeBytes;
    for (const w of [weight, shared]) {
      for (const dropTop of [false, true]) {
        for (const threads of [2, 3]) {
          const got = await selectRowMaskThreaded({ weight: w, factor: f }, { dIn, dOut }, 0.5, dropTop, threads);
          expect(firstDiff(got, refRowMask(scores, dIn, dOut, 0.5, dropTop)), `dropTop=${dropTop} threads=${threads}`).toBe(-1);
        }
      }
    }
    // Shared weights are read in place; others are copied into the pool, which hands the copy back.
    expect(buffers.freeBytes - held).toBeLessThanOrEqual(dIn * dOut * 5);
    // A NaN score in any thread's share is an error, after which selection works as before.
    for (const at of [3 * dOut + 2, (dIn - 1) * dOut + dOut - 1]) {
      const nan = shared.slice();
      nan[at] = Number.NaN;
      await expect(selectRowMaskThreaded({ weight: nan, factor: f }, { dIn, dOut }, 0.5, false, 2)).rejects.toThrow(new RegExp(`scores\\[${at}\\] is NaN`));
    }
    expect(firstDiff(await selectRowMaskThreaded({ weight: shared, factor: f }, { dIn, dOut }, 0.5, false, 2), refRowMask(scores, dIn, dOut, 0.5, false))).toBe(
      -1,
    );
    await expect(selectMaskThreaded('x', { weight, factor: f }, { dIn, dOut }, { pattern: { kind: 'nm', n: 2, m: 4 } })).rejects.toThrow(
      /needs its scores computed first/,
    );
  });

  it('zeroMasked: the weight ends as weight × mask (+0 where dropped), in shared memory or not, on 1–3 threads and at sparsity 0 and 1', async () => {
    const weight = makeScores(dIn, dOut, 'signed', 43).map((v) => (Number.isFinite(v) ? v : 1));
    const f = Float64Array.from({ length: dIn }, (_, i) => 1 + (i % 5));
    const scores = Float32Array.from(weight, (v, x) => Math.abs(v) * f[Math.floor(x / dOut)]!);
    for (const p of [0.5, 0, 1]) {
      const want = refRowMask(scores, dIn, dOut, p, false);
      for (const shared of [false, true]) {
        for (const threads of [1, 2, 3]) {
          const w = shared ? new Float32Array(new SharedArrayBuffer(weight.byteLength)) : new Float32Array(weight.length);
          w.set(weight);
          const got = await selectRowMaskThreaded({ weight: w, factor: f, zeroMasked: true }, { dIn, dOut }, p, false, threads);
          const what = `p=${p} shared=${shared} threads=${threads}`;
          expect(firstDiff(got, want), what).toBe(-1);
          // Independently: the dense weight times the reference mask, bit for bit (+0, never -0).
          const expected = new Uint32Array(Float32Array.from(weight, (v, x) => (want[x] ? v : 0)).buffer);
          expect(firstDiff(new Uint32Array(w.buffer, 0, w.length), expected), what).toBe(-1);
        }
      }
    }
    // Without zeroMasked the weight is only read.
    const w = new Float32Array(new SharedArrayBuffer(weight.byteLength));
    w.set(weight);
    await selectRowMaskThreaded({ weight: w, factor: f }, { dIn, dOut }, 0.5, false, 2);
    expect(firstDiff(w, weight)).toBe(-1);
  });

  it('sparsity 0 and 1, and bad input, as the single-threaded selection', async () => {
    const scores = makeScores(dIn, dOut, 'continuous', 2);
    expect((await selectRowMaskThreaded(scores, { dIn, dOut }, 0, false, 4)).every((v) => v === 1)).toBe(true);
    expect((await selectRowMaskThreaded(scores, { dIn, dOut }, 1, false, 4)).every((v) => v === 0)).toBe(true);
    await expect(selectRowMaskThreaded(scores, { dIn, dOut: dOut + 1 }, 0.5, false, 4)).rejects.toThrow(/expected/);
    const nan = scores.slice();
    nan[12345] = Number.NaN;
    await expect(selectRowMaskThreaded(nan, { dIn, dOut }, 0.5, false, 4)).rejects.toThrow(/NaN/);
  });
});
