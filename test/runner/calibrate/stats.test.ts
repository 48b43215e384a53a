import { describe, expect, it } from 'vitest';
import { accumulateSquares } from '@polyprune/gpu-runner/calibrate/accumulate';
import { chooseBatchSize, makeBatches } from '@polyprune/gpu-runner/calibrate/batches';
import { collectStats } from '@polyprune/gpu-runner/calibrate/stats';
import { decodeStats, encodeStats } from '@polyprune/gpu-runner/calibrate/stats-file';
import { findBlockOutputs, findPrunableLinears } from '@polyprune/gpu-runner/onnx/structure';
import { exposeTensors } from '@polyprune/gpu-runner/onnx/surgery';
import { loadModel, readWeight, type OnnxModel } from '@polyprune/gpu-runner/onnx/read';
import type { ActivationStats, LayerMask, PrunableLinear } from '@polyprune/gpu-runner/types';
import { linearWeights, type TinyParams } from '../helpers/graph-builder.js';
import { fedMask, referenceForward, referenceStats } from '../helpers/reference-forward.js';
import { TEST_DEVICE } from '../helpers/device.js';
import { blockMasker, type MaskPolicy } from '@polyprune/gpu-runner/prune/policy';
import { releaseMaskThreads } from '@polyprune/gpu-runner/prune/mask-threads';
import { fixture, maxRelDiff, runPlain, tiny, toSamples, tokenRows } from '../helpers/tiny.js';

// onnxruntime's CPU provider computes fp16 graphs in fp32 (it folds the weights to fp32); WebGPU
// with shader-f16 computes them in fp16, which after three blocks drifts up to ~4e-2 (lavapipe).
const FP16_TOL = TEST_DEVICE === 'cpu' ? 2e-2 : 6e-2;

describe('accumulateSquares', () => {
  it('adds Σ_t x_j² per channel, skipping masked rows only when a mask is given', () => {
    const x = Float32Array.of(1, 2, 3, 4, 5, 6); // 3 rows of width 2
    const acc = new Float64Array(2);
    expect(accumulateSquares(acc, x)).toBe(3);
    expect(Array.from(acc)).toEqual([1 + 9 + 25, 4 + 16 + 36]);
    const acc2 = new Float64Array(2);
    expect(accumulateSquares(acc2, x, BigInt64Array.of(1n, 0n, 1n))).toBe(2);
    expect(Array.from(acc2)).toEqual([1 + 25, 4 + 36]);
    expect(() => accumulateSquares(new Float64Array(4), Float32Array.of(1, 2, 3))).toThrow(/not a multiple of width 4/);
  });
});

describe('batching', () => {
  it('groups samples row-major and rejects ragged ones', () => {
    const { ids, mask } = tokenRows([3, 2, 1], 3, 50);
    const b = makeBatches(toSamples(ids, mask), 2);
    expect(b.map((x) => x.size)).toEqual([2, 1]);
    expect(Array.from(b[0]!.inputIds).map(Number)).toEqual([...ids[0]!, ...ids[1]!]);
    expect(() => makeBatches([...toSamples(ids, mask), { inputIds: new BigInt64Array(2), attentionMask: new BigInt64Array(2) }], 2)).toThrow(
      /sample 3 has length 2\/2, expected 3/,
    );
  });

  it('budgets activations by model size and free memory, never below 1 nor above the sample count', () => {
    const base = { weightBytes: 1e9, seqLen: 512, capturedWidth: 4 * 4096, hidden: 4096, samples: 100 };
    // Plenty of free memory: activations get a third of the model's size, not the machine.
    expect(chooseBatchSize({ ...base, freeBytes: 64e9 }).budgetBytes).toBeCloseTo(1e9 / 3, 0);
    expect(chooseBatchSize({ ...base, freeBytes: 640e9 }).budgetBytes).toBeCloseTo(1e9 / 3, 0);
    // Little free memory: half of it beside the weights.
    expect(chooseBatchSize({ ...base, freeBytes: 2.4e9 }).budgetBytes).toBeCloseTo(0.2e9, 0);
    const big = chooseBatchSize({ ...base, weightBytes: 30e9, freeBytes: 640e9 }).batchSize;
    const small = chooseBatchSize({ ...base, weightBytes: 30e9, freeBytes: 64e9 }).batchSize;
    expect(big).toBeGreaterThan(small);
    expect(chooseBatchSize({ ...base, freeBytes: 1e9 }).batchSize).toBe(1);
    expect(chooseBatchSize({ ...base, weightBytes: 30e9, samples: 3, freeBytes: 1e12 }).batchSize).toBe(3);
  });
});

function expectStatsClose(got: ActivationStats, want: Map<string, Float64Array>, tol = 1e-5) {
  expect([...got.keys()].sort()).toEqual([...want.keys()].sort());
  for (const [id, w] of want) expect(maxRelDiff(got.get(id)!.sqNorm, w), id).toBeLessThan(tol);
}

describe('collectStats oneshot equals the plain forward pass', () => {
  for (const family of ['xglm', 'bloom', 'gpt2', 'llama'] as const) {
    for (const maskPadding of [false, true]) {
      it(`${family}, maskPadding ${maskPadding}, uneven batches`, async () => {
        const { model, params } = tiny({ family, linear: family === 'gpt2' ? 'gemm' : 'matmul', blocks: 3 });
        const linears = findPrunableLinears(model).linears;
        const { ids, mask } = tokenRows([6, 4, 2, 6, 1], 6, params.vocab);
        const progress: Array<[number, number]> = [];
        const res = await collectStats(model, linears, toSamples(ids, mask), {
          mode: 'oneshot',
          maskPadding,
          batchSize: 2,
          onProgress: (_s, d, t) => progress.push([d, t]),
        });
        expect(res.batchSize).toBe(2);
        expect(res.runs).toBe(3);
        // samples done of 5, one report per batch
        expect(progress).toEqual([
          [2, 5],
          [4, 5],
          [5, 5],
        ]);
        const ref = referenceForward(params, ids, fedMask(mask, maskPadding));
        expectStatsClose(res.stats, new Map(linears.map((l) => [l.id, referenceStats(ref, l.id, mask, maskPadding)])));
        for (const s of res.stats.values()) {
          expect(s.samples).toBe(5);
          expect(s.tokens).toBe(maskPadding ? 19 : 30);
        }
      });
    }
  }

  it('accepts the tokenized calibration set ([samples, maxLength]) as well as per-sample arrays', async () => {
    const { model, params } = tiny({ family: 'bloom' });
    const linears = findPrunableLinears(model).linears;
    const { ids, mask } = tokenRows([4, 2, 3], 4, params.vocab);
    const whole = {
      samples: 3,
      maxLength: 4,
      inputIds: BigInt64Array.from(ids.flat().map(BigInt)),
      attentionMask: BigInt64Array.from(mask.flat().map(BigInt)),
    };
    const a = await collectStats(model, linears, whole, { mode: 'oneshot', batchSize: 2 });
    const b = await collectStats(model, linears, toSamples(ids, mask), { mode: 'oneshot', batchSize: 3 });
    for (const l of linears) expect(maxRelDiff(a.stats.get(l.id)!.sqNorm, b.stats.get(l.id)!.sqNorm)).toBeLessThan(1e-6);
  });

  it('pad positions change the statistics only when they are kept', async () => {
    const { model, params } = tiny({ family: 'xglm' });
    const linears = findPrunableLinears(model).linears;
    const short = tokenRows([3, 2], 3, params.vocab);
    const long = tokenRows([3, 2], 6, params.vocab); // same real tokens, more padding
    const run = async (rows: typeof short, maskPadding: boolean) =>
      (await collectStats(model, linears, toSamples(rows.ids, rows.mask), { mode: 'oneshot', maskPadding })).stats;
    const [a, b] = [await run(short, true), await run(long, true)];
    expect(maxRelDiff(a.get('block1.fc1')!.sqNorm, b.get('block1.fc1')!.sqNorm)).toBeLessThan(1e-6);
    const [c, d] = [await run(short, false), await run(long, false)];
    expect(maxRelDiff(c.get('block1.fc1')!.sqNorm, d.get('block1.fc1')!.sqNorm)).toBeGreaterThan(1e-3);
  });

  it('hands block outputs to the caller', async () => {
    const { model, params } = tiny({ family: 'llama' });
    const linears = findPrunableLinears(model).linears;
    const outs = findBlockOutputs(model, linears);
    const { ids, mask } = tokenRows([4, 3], 4, params.vocab);
    const seen = new Map<number, number[]>();
    await collectStats(model, linears, toSamples(ids, mask), {
      mode: 'oneshot',
      blockOutputs: outs,
      onBlockOutput: (b, x, dims) => {
        expect(dims).toEqual([2, 4, params.hidden]);
        seen.set(b, Array.from(x));
      },
    });
    const ref = referenceForward(params, ids, fedMask(mask, false));
    for (const o of outs)
      expect(
        maxRelDiff(
          seen.get(o.block)!,
          ref.blockOutputs[o.block]!.flatMap((v) => Array.from(v)),
          0.1,
        ),
      ).toBeLessThan(1e-4);
  });
});

/** Wanda-style mask written plainly: per output o, drop the half of inputs with the lowest |W|·√s. */
function plainHalfMask(l: { id: string; dIn: number; dOut: number }, w: Float32Array, s: Float64Array): LayerMask {
  const keep = new Uint8Array(l.dIn * l.dOut).fill(1);
  for (let o = 0; o < l.dOut; o++) {
    const order = Array.from({ length: l.dIn }, (_, i) => i).sort(
      (a, b) => Math.abs(w[a * l.dOut + o]!) * Math.sqrt(s[a]!) - Math.abs(w[b * l.dOut + o]!) * Math.sqrt(s[b]!) || a - b,
    );
    for (const i of order.slice(0, Math.floor(l.dIn / 2))) keep[i * l.dOut + o] = 0;
  }
  return { id: l.id, dIn: l.dIn, dOut: l.dOut, keep };
}

async function maskBlockFor(model: OnnxModel, linears: PrunableLinear[]) {
  return async (b: number, stats: ActivationStats) => {
    const masks: LayerMask[] = [];
    for (const l of linears.filter((x) => x.block === b)) {
      const w = await readWeight(model, l.weightName);
      const canon = l.storedTransposed
        ? Float32Array.from({ length: l.dIn * l.dOut }, (_, k) => w.data[(k % l.dOut) * l.dIn + Math.floor(k / l.dOut)]!)
        : w.data;
      masks.push(plainHalfMask(l, canon, stats.get(l.id)!.sqNorm));
    }
    return masks;
  };
}

/** Sequential statistics from first principles: block b's inputs with blocks < b masked. */
function referenceSequential(params: TinyParams, ids: number[][], mask: number[][], maskPadding: boolean) {
  const weights = linearWeights(params);
  const keep = new Map<string, Uint8Array>();
  const out = new Map<string, Float64Array>();
  params.blocks.forEach((blk, b) => {
    const cap = referenceForward(params, ids, fedMask(mask, maskPadding), keep);
    for (const role of blk.linears.keys()) out.set(`block${b}.${role}`, referenceStats(cap, `block${b}.${role}`, mask, maskPadding));
    for (const role of blk.linears.keys()) {
      const id = `block${b}.${role}`;
      const p = weights.get(id)!;
      keep.set(id, plainHalfMask({ id, dIn: p.dIn, dOut: p.dOut }, p.w, out.get(id)!).keep);
    }
  });
  return out;
}

describe('collectStats sequential (Wanda-exact)', () => {
  for (const strategy of ['blockwise', 'whole-graph'] as const) {
    for (const [family, linear] of [
      ['xglm', 'matmul'],
      ['bloom', 'transpose'],
      ['gpt2', 'gemm'],
      ['llama', 'matmul'],
    ] as const) {
      it(`${strategy}, ${family} (${linear}): equals a plain sequential computation; block 0 as oneshot, later blocks differ`, async () => {
        const { model, params } = tiny({ family, linear, blocks: 3 });
        const linears = findPrunableLinears(model).linears;
        const { ids, mask } = tokenRows([5, 3, 5], 5, params.vocab);
        const samples = toSamples(ids, mask);
        const seq = await collectStats(model, linears, samples, { mode: 'sequential', strategy, maskBlock: await maskBlockFor(model, linears), batchSize: 2 });
        expect(seq.strategy).toBe(strategy);
        // blockwise: 2 batches × 3 blocks for statistics + 2 × 2 to carry the pruned stream on.
        expect(seq.runs).toBe(strategy === 'blockwise' ? 10 : 6);
        expect(seq.masks.map((m) => m.id)).toEqual(linears.map((l) => l.id));
        expectStatsClose(seq.stats, referenceSequential(params, ids, mask, false));
        const one = await collectStats(model, linears, samples, { mode: 'oneshot' });
        for (const l of linears) {
          const d = maxRelDiff(seq.stats.get(l.id)!.sqNorm, one.stats.get(l.id)!.sqNorm);
          if (l.block === 0) expect(d, l.id).toBeLessThan(1e-6);
          else expect(d, l.id).toBeGreaterThan(1e-3);
        }
      });
    }
  }

  it('maskPadding applies in sequential mode too', async () => {
    const { model, params } = tiny({ family: 'llama', blocks: 2 });
    const linears = findPrunableLinears(model).linears;
    const { ids, mask } = tokenRows([5, 2], 5, params.vocab);
    const seq = await collectStats(model, linears, toSamples(ids, mask), {
      mode: 'sequential',
      maskPadding: true,
      maskBlock: await maskBlockFor(model, linears),
    });
    expectStatsClose(seq.stats, referenceSequential(params, ids, mask, true));
  });

  it('auto falls back to whole-graph runs when block outputs cannot be located', async () => {
    const { model, params } = tiny({ family: 'gpt2', blocks: 2 });
    // Expose an fc2 output as a graph output: two consumers, so the residual Add cannot be followed.
    const fc2 = model.proto.graph!.node!.find((n) => n.name === '/transformer/h.0/mlp/c_proj/Add')!;
    model.proto.graph!.output!.push({ name: fc2.output![0]!, type: model.proto.graph!.output![0]!.type! });
    model.proto.graph!.node!.push({ opType: 'Identity', name: '/tap', input: [fc2.output![0]!], output: ['tap'] });
    model.proto.graph!.output!.push({ name: 'tap', type: model.proto.graph!.output![0]!.type! });
    const linears = findPrunableLinears(model).linears;
    const { ids, mask } = tokenRows([4, 3], 4, params.vocab);
    const logs: string[] = [];
    const seq = await collectStats(model, linears, toSamples(ids, mask), {
      mode: 'sequential',
      maskBlock: await maskBlockFor(model, linears),
      log: (m) => logs.push(m),
    });
    expect(seq.strategy).toBe('whole-graph');
    expect(logs.some((m) => /falls back to whole-graph runs: block 0: expected a residual Add/.test(m))).toBe(true);
    expectStatsClose(seq.stats, referenceSequential(params, ids, mask, false));
  });

  it('fp16 models: activations and fed weights stay fp16; statistics match the fp64 reference to fp16 precision', async () => {
    const { model, params } = tiny({ family: 'bloom', dtype: 'float16', blocks: 3 });
    const linears = findPrunableLinears(model).linears;
    const { ids, mask } = tokenRows([5, 4], 5, params.vocab);
    const samples = toSamples(ids, mask);
    const one = await collectStats(model, linears, samples, { mode: 'oneshot' });
    const ref = referenceForward(params, ids, fedMask(mask, false));
    expectStatsClose(one.stats, new Map(linears.map((l) => [l.id, referenceStats(ref, l.id, mask, false)])), FP16_TOL);
    for (const strategy of ['blockwise', 'whole-graph'] as const) {
      const seq = await collectStats(model, linears, samples, { mode: 'sequential', strategy, maskBlock: await maskBlockFor(model, linears) });
      expectStatsClose(seq.stats, referenceSequential(params, ids, mask, false), FP16_TOL);
    }
  });

  it('needs a maskBlock callback that covers every linear of the block', async () => {
    const { model, params } = tiny({ family: 'gpt2' });
    const linears = findPrunableLinears(model).linears;
    const { ids, mask } = tokenRows([3], 3, params.vocab);
    await expect(collectStats(model, linears, toSamples(ids, mask), { mode: 'sequential' })).rejects.toThrow(/need a maskBlock callback/);
    await expect(collectStats(model, linears, toSamples(ids, mask), { mode: 'sequential', maskBlock: () => [] })).rejects.toThrow(
      /maskBlock\(0\) returned no mask for block0\.qkv/,
    );
  });
});

describe('sequential: the next block set up while masks are selected', () => {
  // hidden 512: the attention layers (512 × 512) are selected on the mask threads, so the selection
  // runs with the main thread handing its share over (offloadWhile) while the next block is set up.
  for (const [family, linear, dtype] of [
    ['xglm', 'matmul', 'float32'],
    ['bloom', 'transpose', 'float32'],
    ['llama', 'matmul', 'float16'],
  ] as const) {
    it(`${family} (${linear}, ${dtype}): masks and statistics are bit for bit those of the strictly sequential run`, async () => {
      const { model, params } = tiny({ family, linear, dtype, hidden: 512, ffn: 1024, blocks: 3 });
      const linears = findPrunableLinears(model).linears;
      const { ids, mask } = tokenRows([6, 4, 6], 6, params.vocab);
      const samples = toSamples(ids, mask);
      const policy: MaskPolicy = { method: 'wanda', sparsity: 0.5, pattern: 'unstructured', seed: 0, dropTop: false, magnitudeScope: 'row' };
      const run = (overlap: boolean) =>
        collectStats(model, linears, samples, {
          mode: 'sequential',
          strategy: 'blockwise',
          overlap,
          batchSize: 2,
          maskBlock: blockMasker(model, policy, linears, {}),
        });
      const strict = await run(false);
      const overlapped = await run(true);
      await releaseMaskThreads();
      // The overlapped run did set blocks up beside mask selection; the strict one did not.
      expect(Object.keys(overlapped.profile!.hidden!).sort()).toEqual(['open sessions', 'read weights']);
      expect(strict.profile!.hidden).toEqual({});
      expect(overlapped.runs).toBe(strict.runs);
      expect(overlapped.masks.map((m) => m.id)).toEqual(linears.map((l) => l.id));
      for (const [i, m] of overlapped.masks.entries()) {
        const s = strict.masks[i]!;
        expect(m.id).toBe(s.id);
        expect(Buffer.compare(Buffer.from(m.keep), Buffer.from(s.keep)), m.id).toBe(0);
      }
      for (const l of linears) expect(Array.from(overlapped.stats.get(l.id)!.sqNorm), l.id).toEqual(Array.from(strict.stats.get(l.id)!.sqNorm));
      // And both are the sequential statistics from first principles (fp16 at this width: the fp16 test above).
      if (dtype === 'float32') expectStatsClose(strict.stats, referenceSequential(params, ids, mask, false), 1e-4);
    });
  }

  it('a mask selection that fails while the next block is being set up fails the run, its sessions released', async () => {
    const { model, params } = tiny({ family: 'xglm', blocks: 3 });
    const linears = findPrunableLinears(model).linears;
    const { ids, mask } = tokenRows([4, 4], 4, params.vocab);
    const good = await maskBlockFor(model, linears);
    const maskBlock = async (b: number, stats: ActivationStats) => {
      if (b === 1) throw new Error('selection failed in block 1');
      return good(b, stats);
    };
    await expect(collectStats(model, linears, toSamples(ids, mask), { mode: 'sequential', strategy: 'blockwise', maskBlock })).rejects.toThrow(
      /selection failed in block 1/,
    );
  });
});

describe('sequential: block graphs and their external data', () => {
  it('small external tensors copied into the block graphs, or every tensor left external (one session for both passes of such a block): the same masks and statistics', async () => {
    const model = await loadModel(fixture('llama-extdata'));
    const linears = findPrunableLinears(model).linears;
    const { ids, mask } = tokenRows([8, 5, 8], 8, 200);
    const run = async (inlineMaxBytes?: number) =>
      collectStats(model, linears, toSamples(ids, mask), {
        mode: 'sequential',
        strategy: 'blockwise',
        maskPadding: true,
        batchSize: 2,
        inlineMaxBytes,
        maskBlock: await maskBlockFor(model, linears),
      });
    const inlined = await run();
    const external = await run(0);
    expect(external.runs).toBe(inlined.runs);
    for (const [i, m] of external.masks.entries()) expect(Buffer.compare(Buffer.from(m.keep), Buffer.from(inlined.masks[i]!.keep)), m.id).toBe(0);
    for (const l of linears) expect(maxRelDiff(external.stats.get(l.id)!.sqNorm, inlined.stats.get(l.id)!.sqNorm), l.id).toBeLessThan(1e-6);
    // Both are the whole-graph statistics, which never cut the graph apart.
    const whole = await collectStats(model, linears, toSamples(ids, mask), {
      mode: 'sequential',
      strategy: 'whole-graph',
      maskPadding: true,
      maskBlock: await maskBlockFor(model, linears),
    });
    for (const l of linears) expect(maxRelDiff(inlined.stats.get(l.id)!.sqNorm, whole.stats.get(l.id)!.sqNorm), l.id).toBeLessThan(1e-5);
  });
});

describe('fixture exports', () => {
  for (const dir of ['llama-extdata', 'bloom', 'gpt2', 'xglm', 'gemm']) {
    it(`${dir}: oneshot equals stats computed from separately captured inputs; sequential runs`, async () => {
      const model = await loadModel(fixture(dir));
      const linears = findPrunableLinears(model).linears;
      const { ids, mask } = tokenRows([8, 5, 8], 8, 200);
      const samples = toSamples(ids, mask);
      const one = await collectStats(model, linears, samples, { mode: 'oneshot', maskPadding: true, batchSize: 2 });
      const names = [...new Set(linears.map((l) => l.inputName))];
      const cap = await runPlain(exposeTensors(model.proto, names), ids, mask, {}, names, model.dir);
      for (const l of linears) {
        const x = cap[l.inputName]!.data as Float32Array;
        const flatMask = mask.flat();
        const want = new Float64Array(l.dIn);
        for (let r = 0; r < flatMask.length; r++) {
          if (!flatMask[r]) continue;
          for (let j = 0; j < l.dIn; j++) want[j]! += x[r * l.dIn + j]! ** 2 / 3;
        }
        expect(maxRelDiff(one.stats.get(l.id)!.sqNorm, want), l.id).toBeLessThan(1e-5);
      }
      const seq = await collectStats(model, linears, samples, { mode: 'sequential', maskPadding: true, maskBlock: await maskBlockFor(model, linears) });
      expect(seq.strategy).toBe('blockwise');
      // Cutting the real export (attention masks, rotary tables) block by block changes nothing.
      const whole = await collectStats(model, linears, samples, {
        mode: 'sequential',
        strategy: 'whole-graph',
        maskPadding: true,
        maskBlock: await maskBlockFor(model, linears),
      });
      for (const l of linears) expect(maxRelDiff(seq.stats.get(l.id)!.sqNorm, whole.stats.get(l.id)!.sqNorm), l.id).toBeLessThan(1e-5);
      for (const l of linears.filter((x) => x.block === 0)) expect(maxRelDiff(seq.stats.get(l.id)!.sqNorm, one.stats.get(l.id)!.sqNorm)).toBeLessThan(1e-5);
      const later = linears.filter((x) => x.block > 0);
      expect(later.some((l) => maxRelDiff(seq.stats.get(l.id)!.sqNorm, one.stats.get(l.id)!.sqNorm) > 1e-3)).toBe(true);
    });
  }
});

describe('statistics artifact', () => {
  it('round-trips exactly and has the documented layout', () => {
    const stats: ActivationStats = new Map([
      ['block0.q', { id: 'block0.q', sqNorm: Float64Array.of(1.5, Math.PI, 1e-300), samples: 4, tokens: 40 }],
      ['block0.fc2', { id: 'block0.fc2', sqNorm: Float64Array.of(2, 0), samples: 4, tokens: 38 }],
    ]);
    const bytes = encodeStats(stats, { model: 'abc' });
    expect(new TextDecoder().decode(bytes.subarray(0, 8))).toBe('PPSTATS1');
    const n = new DataView(bytes.buffer).getUint32(8, true);
    const header = JSON.parse(new TextDecoder().decode(bytes.subarray(12, 12 + n)));
    expect(header.layers).toEqual([
      { id: 'block0.q', dIn: 3, samples: 4, tokens: 40 },
      { id: 'block0.fc2', dIn: 2, samples: 4, tokens: 38 },
    ]);
    const at = Math.ceil((12 + n) / 8) * 8;
    expect(new DataView(bytes.buffer).getFloat64(at + 8, true)).toBe(Math.PI);
    expect(bytes.length).toBe(at + 5 * 8);
    const back = decodeStats(bytes);
    expect(back.meta).toEqual({ model: 'abc' });
    expect([...back.stats.keys()]).toEqual(['block0.q', 'block0.fc2']);
    expect(Array.from(back.stats.get('block0.q')!.sqNorm)).toEqual([1.5, Math.PI, 1e-300]);
    expect(back.stats.get('block0.fc2')!.tokens).toBe(38);
    expect(() => decodeStats(bytes.subarray(0, bytes.length - 8))).toThrow(/header describes/);
    expect(() => decodeStats(new Uint8Array(16))).toThrow(/expected magic PPSTATS1/);
  });
});

describe('square sums computed inside the graph', () => {
  for (const dir of ['gpt2', 'bloom', 'llama']) {
    it(`${dir}: equal the JS path over captured activations, with and without padding`, async () => {
      const model = await loadModel(fixture(dir));
      const linears = findPrunableLinears(model).linears;
      const { ids, mask } = tokenRows([8, 3, 6, 8], 8, 7);
      const samples = toSamples(ids, mask);
      for (const maskPadding of [false, true]) {
        const inGraph = await collectStats(model, linears, samples, { mode: 'oneshot', maskPadding, batchSize: 3 });
        const inJs = await collectStats(model, linears, samples, { mode: 'oneshot', maskPadding, batchSize: 3, activationsInJs: true });
        for (const l of linears) {
          expect(maxRelDiff(inGraph.stats.get(l.id)!.sqNorm, inJs.stats.get(l.id)!.sqNorm), `${l.id} maskPadding=${maskPadding}`).toBeLessThan(1e-5);
          expect(inGraph.stats.get(l.id)!.tokens).toBe(inJs.stats.get(l.id)!.tokens);
        }
        expect(inGraph.stats.get(linears[0]!.id)!.tokens).toBe(maskPadding ? 8 + 3 + 6 + 8 : 4 * 8);
      }
    });
  }
});
