/**
 * Per-output-neuron masks selected on worker threads equal the plain full-sort reference (and so the
 * single-threaded selection) bit for bit: every neuron's entries come from whichever thread took it,
 * and a share no thread wrote would stay 0 in the shared mask and fail the comparison.
 */
import { describe, expect, it } from 'vitest';
import {
  PARALLEL_MIN_SCORES,
  offloadWhile,
  releaseMaskThreads,
  scoreBuffer,
  selectMaskThreaded,
  selectRowMaskThreaded,
  selectRowMasksThreaded,
  splitColumns,
} from '@polyprune/gpu-runner/prune/mask-threads';
import { kernelOver, scratchIn, takeRanges } from '@polyprune/gpu-runner/prune/mask-tile';
import { selectRowMask } from '@polyprune/gpu-runner/prune/masks';
import { WasmHeap, setHeapLimit, sharedArray, theHeap } from '@polyprune/gpu-runner/prune/wasm-heap';
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
    const ranges = Int32Array.from(pieces.flatMap(([o0, o1]) => [0, o0, o1]));
    const heap = new WasmHeap();
    const weights = heap.take(scores.byteLength)!;
    weights.set(new Uint8Array(scores.buffer));
    const keep = heap.take(dIn * dOut)!.fill(7);
    const layers = [{ weightAt: weights.byteOffset, keepAt: keep.byteOffset, zero: false, dIn, dOut, k: dIn / 2, dropTop: false }];
    const next = new Int32Array(new SharedArrayBuffer(4));
    next[0] = 2; // another thread took the first two
    takeRanges(kernelOver(heap.id, heap.memory), heap.memory, layers, scratchIn(heap, dIn), ranges, next);
    expect(next[0]).toBeGreaterThanOrEqual(pieces.length);
    for (const [p, [o0, o1]] of pieces.entries()) {
      for (let i = 0; i < dIn; i++) for (let o = o0; o < o1; o++) expect(keep[i * dOut + o], `range ${p}`).toBe(p < 2 ? 7 : want[i * dOut + o]);
    }
    // Nothing left: a second taker selects nothing.
    const again = keep.slice();
    takeRanges(kernelOver(heap.id, heap.memory), heap.memory, layers, scratchIn(heap, dIn), ranges, next);
    expect(firstDiff(keep, again)).toBe(-1);
  });
});

describe('WasmHeap', () => {
  it('hands back the smallest free region that is large enough, else a new one, 64-byte aligned and apart', () => {
    const heap = new WasmHeap();
    const a = heap.take(100)!;
    const b = heap.take(1000)!;
    const c = heap.take(10)!;
    expect([a.byteLength, b.byteLength, c.byteLength]).toEqual([100, 1000, 10]);
    for (const r of [a, b, c]) expect(r.byteOffset % 64).toBe(0);
    // Regions never overlap, slack for a whole last 16-lane group included.
    expect(b.byteOffset).toBeGreaterThanOrEqual(a.byteOffset + 100 + 64);
    expect(c.byteOffset).toBeGreaterThanOrEqual(b.byteOffset + 1000 + 64);
    heap.give(a);
    heap.give(b);
    heap.give(c);
    expect(heap.freeBytes).toBe(1110);
    expect(heap.take(50)!.byteOffset).toBe(a.byteOffset);
    expect(heap.take(50)!.byteOffset).toBe(b.byteOffset);
    expect(heap.take(5)!.byteOffset).toBe(c.byteOffset);
    expect(heap.take(50)!.byteOffset).toBeGreaterThan(c.byteOffset);
    expect(heap.freeBytes).toBe(0);
  });

  it('grows its memory for what it hands out; knows its own arrays, also those made before growing', () => {
    const heap = new WasmHeap();
    const small = heap.take(64)!;
    const large = heap.take(8 << 20)!;
    expect(heap.memory.buffer.byteLength).toBeGreaterThanOrEqual(large.byteOffset + (8 << 20));
    expect(heap.offsetOf(small)).toBe(small.byteOffset);
    expect(heap.offsetOf(new Float32Array(large.buffer, large.byteOffset + 64, 4))).toBe(large.byteOffset + 64);
    expect(heap.offsetOf(new Uint8Array(new SharedArrayBuffer(64)))).toBeUndefined();
    expect(new WasmHeap().offsetOf(small)).toBeUndefined();
    // Something not its own is not taken back.
    heap.give(new Uint8Array(64));
    expect(heap.freeBytes).toBe(0);
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

  it("several layers in one hand-over: each mask is its own layer's, whatever the mix of sizes, forms and directions", async () => {
    const small = makeScores(40, 24, 'ties', 61); // selected on the calling thread
    const wide = makeScores(dIn, dOut, 'continuous', 62);
    const tall = makeScores(dOut, dIn, 'zeros-and-ties', 63);
    const weight = makeScores(dIn, dOut, 'signed', 64);
    const factor = Float64Array.from({ length: dIn }, (_, i) => 1 + (i % 7));
    const held = weight.slice();
    const items = [
      { scores: wide, shape: { dIn, dOut }, sparsity: 0.5 },
      { scores: small, shape: { dIn: 40, dOut: 24 }, sparsity: 0.3 },
      { scores: { weight: held, factor, zeroMasked: true }, shape: { dIn, dOut }, sparsity: 0.7, dropTop: true },
      { scores: tall, shape: { dIn: dOut, dOut: dIn }, sparsity: 0.25 },
      { scores: wide, shape: { dIn, dOut }, sparsity: 1 },
    ];
    const scaled = Float32Array.from(weight, (v, x) => Math.abs(v) * factor[Math.floor(x / dOut)]!);
    const want = [
      refRowMask(wide, dIn, dOut, 0.5, false),
      refRowMask(small, 40, 24, 0.3, false),
      refRowMask(scaled, dIn, dOut, 0.7, true),
      refRowMask(tall, dOut, dIn, 0.25, false),
      new Uint8Array(dIn * dOut),
    ];
    for (const threads of [2, 3]) {
      held.set(weight);
      const got = await selectRowMasksThreaded(items, threads);
      for (const [x, keep] of got.entries()) expect(firstDiff(keep, want[x]!), `layer ${x}, threads=${threads}`).toBe(-1);
      expect(
        firstDiff(
          held,
          Float32Array.from(weight, (v, x) => (want[2]![x] ? v : 0)),
        ),
      ).toBe(-1);
    }
    // A NaN score in one layer (found by whichever thread selects it) fails the batch with its
    // index; the next batch works as before.
    const nan = weight.slice();
    nan[7 * dOut + 9] = Number.NaN;
    await expect(selectRowMasksThreaded([items[0]!, { scores: { weight: nan, factor }, shape: { dIn, dOut }, sparsity: 0.5 }], 2)).rejects.toThrow(
      new RegExp(`scores\\[${7 * dOut + 9}\\] is NaN`),
    );
    expect(firstDiff((await selectRowMasksThreaded([items[0]!], 2))[0]!, want[0]!)).toBe(-1);
  });

  it('a layer outside a full heap is selected a slab of neurons at a time: the same masks and zeroed weights', async () => {
    // A heap of 16 MiB: held weights leave an eighth free, and copies of the layers below fit only in slabs.
    setHeapLimit(16 << 20);
    try {
      const held = sharedArray(Float32Array, 7 << 19); // 14 MiB: would leave less than the reserve
      expect(theHeap().offsetOf(held)).toBeUndefined();
      expect(held.buffer instanceof SharedArrayBuffer).toBe(true);
      const fits = sharedArray(Float32Array, 1 << 20);
      expect(theHeap().offsetOf(fits)).toBe(fits.byteOffset);
      const weight = makeScores(dIn, dOut, 'signed', 71);
      const factor = Float64Array.from({ length: dIn }, (_, i) => 1 + (i % 5));
      const scaled = Float32Array.from(weight, (v, x) => Math.abs(v) * factor[Math.floor(x / dOut)]!);
      const scores = makeScores(dIn, dOut, 'ties', 72);
      for (const threads of [1, 2]) {
        const w = weight.slice();
        const [a, b] = await selectRowMasksThreaded(
          [
            { scores: { weight: w, factor, zeroMasked: true }, shape: { dIn, dOut }, sparsity: 0.5, dropTop: true },
            { scores, shape: { dIn, dOut }, sparsity: 0.3 },
          ],
          threads,
          64 << 10, // 64 KiB slabs: 32 neurons of 512 inputs
        );
        expect(firstDiff(a!, refRowMask(scaled, dIn, dOut, 0.5, true)), `threads=${threads}`).toBe(-1);
        expect(firstDiff(b!, refRowMask(scores, dIn, dOut, 0.3, false)), `threads=${threads}`).toBe(-1);
        expect(
          firstDiff(
            w,
            Float32Array.from(weight, (v, x) => (a![x] ? v : 0)),
          ),
        ).toBe(-1);
      }
    } finally {
      setHeapLimit();
    }
  });

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
    await releaseMaskThreads(); // a new heap: nothing else of this size free in it
    const spec = { pattern: { kind: 'unstructured' as const, sparsity: 0.3 } };
    const buf = scoreBuffer({ dIn, dOut }, spec, 4);
    expect(theHeap().offsetOf(buf)).toBe(buf.byteOffset);
    const scores = makeScores(dIn, dOut, 'continuous', 8);
    buf.set(scores);
    const m = await selectMaskThreaded('x', buf, { dIn, dOut }, spec, 4);
    expect(firstDiff(m.keep, refRowMask(scores, dIn, dOut, 0.3, false))).toBe(-1);
    // Lent heap memory comes back for the next layer's scores.
    expect(theHeap().take(dIn * dOut * 4)!.byteOffset).toBe(buf.byteOffset);
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

  it('many layers in a row reuse the same heap memory: neither what it holds free nor its size grows', async () => {
    const spec = { pattern: { kind: 'unstructured' as const, sparsity: 0.5 } };
    let held = -1;
    let size = -1;
    for (let layer = 0; layer < 6; layer++) {
      const scores = makeScores(dIn, dOut, 'continuous', 20 + layer);
      const buf = scoreBuffer({ dIn, dOut }, spec, 3);
      buf.set(scores);
      const m = await selectMaskThreaded('x', buf, { dIn, dOut }, spec, 3);
      expect(firstDiff(m.keep, selectRowMask(scores, { dIn, dOut }, 0.5))).toBe(-1);
      if (held < 0) [held, size] = [theHeap().freeBytes, theHeap().memory.buffer.byteLength];
      expect(theHeap().freeBytes).toBe(held);
      expect(theHeap().memory.buffer.byteLength).toBe(size);
      expect(held).toBeGreaterThanOrEqual(dIn * dOut * 5);
    }
  });

  it('after releaseMaskThreads the heap is a new one and the next selection starts threads again', async () => {
    const before = theHeap();
    await releaseMaskThreads();
    expect(theHeap()).not.toBe(before);
    expect(theHeap().freeBytes).toBe(0);
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
    const held = theHeap().freeBytes;
    for (const w of [weight, shared]) {
      for (const dropTop of [false, true]) {
        for (const threads of [2, 3]) {
          const got = await selectRowMaskThreaded({ weight: w, factor: f }, { dIn, dOut }, 0.5, dropTop, threads);
          expect(firstDiff(got, refRowMask(scores, dIn, dOut, 0.5, dropTop)), `dropTop=${dropTop} threads=${threads}`).toBe(-1);
        }
      }
    }
    // Weights outside the heap are copied into it, and the copy handed back.
    expect(theHeap().freeBytes - held).toBeLessThanOrEqual(dIn * dOut * 5);
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
