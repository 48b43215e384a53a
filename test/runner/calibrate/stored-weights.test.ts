/**
 * Sequential calibration hands each block's weights, as it holds them to feed them (stored layout
 * and type, fp16 as raw halves, or widened to fp32 when fed so on CPU), to the masks, which then
 * need not read them again: the canonical weights and the masks must be exactly those read from the
 * model, for fp32, fp16 and transposed storage, and those maskOf computes from the model one by one.
 */
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { FeedBuffers, loadFeedWeights } from '@polyprune/gpu-runner/calibrate/feed-weights';
import { theHeap } from '@polyprune/gpu-runner/prune/wasm-heap';
import { readTensorBytes } from '@polyprune/gpu-runner/onnx/read';
import { discoverStructure, preflight } from '@polyprune/gpu-runner/model/preflight';
import { blockMasker, canonicalWeight, maskOf } from '@polyprune/gpu-runner/prune/policy';
import type { ActivationStats } from '@polyprune/gpu-runner/types';

const repo = path.resolve(import.meta.dirname, '../../..');
const MODELS = [
  { dir: 'test/fixtures/models/gemm', graph: 'model.onnx', kind: 'Float32Array transposed', widen: false },
  { dir: 'test/fixtures/real/optimum-bloom-fp16', graph: 'model_fp16.onnx', kind: 'Uint16Array', widen: false },
  { dir: 'test/fixtures/real/optimum-bloom-fp16', graph: 'model_fp16.onnx', kind: 'Float32Array', widen: true },
  { dir: 'demo/model', graph: 'model.onnx', kind: 'Float32Array', widen: false },
];

describe.each(MODELS)('$dir ($kind): weights held for feeding give the masks of weights read from the model', ({ dir, graph, kind, widen }) => {
  it('canonical weights and wanda masks are identical', async () => {
    const checked = await preflight({ dir: path.join(repo, dir), graphFile: graph, scoring: false });
    const { working, structure } = discoverStructure(checked.model, graph);
    const model = working.model;
    const own = structure.linears.filter((l) => l.block === 0);
    const held = await loadFeedWeights(model, own, new Set(widen ? own.map((l) => l.weightName) : []));
    const stored = new Map([...held].map(([k, w]) => [k, w.data]));
    const kinds = new Set(own.map((l) => `${held.get(l.weightName)!.data.constructor.name}${l.storedTransposed ? ' transposed' : ''}`));
    const stats: ActivationStats = new Map(
      own.map((l) => [l.id, { id: l.id, sqNorm: Float64Array.from({ length: l.dIn }, (_, j) => 1 + ((j * 7) % 5)), samples: 1, tokens: 1 }]),
    );
    for (const l of own) {
      const read = await canonicalWeight(model, l);
      const fromHeld = await canonicalWeight(model, l, stored);
      expect(fromHeld.data).not.toBe(read.data);
      expect(Array.from(fromHeld.data)).toEqual(Array.from(read.data));
    }
    const spec = { method: 'wanda' as const, sparsity: 0.5, pattern: 'unstructured' as const, seed: 0, dropTop: false, magnitudeScope: 'row' as const };
    const a = await blockMasker(model, spec, structure.linears, {})(0, stats);
    const b = await blockMasker(model, spec, structure.linears, {})(0, stats, stored);
    expect(b.map((m) => m.id)).toEqual(a.map((m) => m.id));
    b.forEach((m, i) => expect(Buffer.from(m.keep).equals(Buffer.from(a[i]!.keep))).toBe(true));
    const inline = await Promise.all(own.map((l) => maskOf(model, spec, l, structure.linears.indexOf(l), { main: stats })));
    inline.forEach((m, i) => expect(Buffer.from(m.keep).equals(Buffer.from(b[i]!.keep)), m.id).toBe(true));
    expect([...kinds]).toEqual([kind]);
  });
  it("block after block into the same arrays (FeedBuffers): the next block's weights exactly, as read fresh", async () => {
    const checked = await preflight({ dir: path.join(repo, dir), graphFile: graph, scoring: false });
    const { working, structure } = discoverStructure(checked.model, graph);
    const model = working.model;
    const blocks = Math.max(...structure.linears.map((l) => l.block)) + 1;
    expect(blocks).toBeGreaterThan(1);
    const buffers = new FeedBuffers(true);
    let before = new Set<unknown>();
    for (let b = 0; b < blocks; b++) {
      const own = structure.linears.filter((l) => l.block === b);
      const widenSet = new Set(widen ? own.map((l) => l.weightName) : []);
      const held = await loadFeedWeights(model, own, widenSet, buffers);
      const fresh = await loadFeedWeights(model, own, widenSet);
      for (const [name, w] of held) {
        const bytes = (a: Float32Array | Uint16Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength);
        expect(w.data.constructor).toBe(fresh.get(name)!.data.constructor);
        expect(bytes(w.data).equals(bytes(fresh.get(name)!.data)), name).toBe(true);
        // Not widened: the stored bytes as they are in the model.
        if (!widen) expect(bytes(w.data).equals(Buffer.from(await readTensorBytes(model, model.initializers.get(name)!))), name).toBe(true);
        // The feed tensor reads the same array, which lies in the heap mask selection works in;
        // arrays a caller does not hand on (no `inHeap`) are shared memory of their own.
        expect(w.tensor.data).toBe(w.data);
        expect(theHeap().offsetOf(w.data)).toBe(w.data.byteOffset);
        const own = fresh.get(name)!.data;
        expect(own.buffer instanceof SharedArrayBuffer && theHeap().offsetOf(own) === undefined).toBe(true);
      }
      // From the second block on, the arrays are the first block's (same shapes), filled anew.
      const arrays = new Set([...held.values()].map((w) => w.data));
      if (b > 0) expect([...arrays].filter((a) => before.has(a)).length).toBe(arrays.size);
      buffers.giveBack(held);
      before = arrays;
    }
  });
});
