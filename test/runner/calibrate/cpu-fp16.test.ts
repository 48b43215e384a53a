/**
 * fp16 weights on CPU (onnx/cpu-fp16.ts): sequential calibration feeds a block's fp16 weights
 * widened to fp32 once per block, and calibration passes cast constant fp16 weights per run instead
 * of holding onnxruntime's folded fp32 copy. Both must compute what onnxruntime's own handling
 * computes (configureSessions({ cpuFp16: false })), bit for bit, and the pruned model stays fp16.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { CalibrationSample, TokenizedCalibration } from '@polyprune/gpu-runner/calibrate/batches';
import { collectStats } from '@polyprune/gpu-runner/calibrate/stats';
import { makeBatches } from '@polyprune/gpu-runner/calibrate/batches';
import { hessianBlockwise } from '@polyprune/gpu-runner/calibrate/hessians';
import { collectResidualStream } from '@polyprune/gpu-runner/calibrate/residual';
import { scoreRequests } from '@polyprune/gpu-runner/evaluate/batching';
import { openEvalModel } from '@polyprune/gpu-runner/evaluate/model';
import { castWeightsPerRun, feedFp32 } from '@polyprune/gpu-runner/onnx/cpu-fp16';
import { writePrunedModel } from '@polyprune/gpu-runner/onnx/apply-mask';
import { fp16ToFp32, fp32ToFp16 } from '@polyprune/gpu-runner/onnx/fp16';
import { DataType, onnx } from '@polyprune/gpu-runner/onnx/proto';
import { loadModel, readTensorBytes, type OnnxModel } from '@polyprune/gpu-runner/onnx/read';
import { openSession } from '@polyprune/gpu-runner/onnx/session';
import { findBlockOutputs, findPrunableLinears } from '@polyprune/gpu-runner/onnx/structure';
import { configureSessions, float16Tensor, float32Tensor, ort, type Tensor } from '@polyprune/gpu-runner/ort';
import { weightsToInputs } from '@polyprune/gpu-runner/onnx/surgery';
import { canonicalWeight } from '@polyprune/gpu-runner/prune/policy';
import { selectMask } from '@polyprune/gpu-runner/prune/masks';
import { computeScores } from '@polyprune/gpu-runner/prune/scores';
import type { ActivationStats, LayerMask, PrunableLinear } from '@polyprune/gpu-runner/types';
import { TEST_DEVICE } from '../helpers/device.js';
import { tiny, toSamples, tokenRows } from '../helpers/tiny.js';
import { LAYOUTS, REAL, calibration, open } from '../real-exports/layouts.js';

afterEach(() => configureSessions({ cpuFp16: true }));

interface Case {
  name: string;
  model: OnnxModel;
  linears: PrunableLinear[];
  samples: CalibrationSample[];
  config?: Record<string, unknown>;
}

function tinyCase(family: 'bloom' | 'llama' | 'gpt2', linear: 'matmul' | 'transpose' | 'gemm'): Case {
  const { model, params } = tiny({ family, linear, dtype: 'float16', blocks: 3 });
  const { ids, mask } = tokenRows([6, 4, 6], 6, params.vocab);
  return { name: `tiny ${family} (${linear})`, model, linears: findPrunableLinears(model).linears, samples: toSamples(ids, mask) };
}

async function realCase(dir: string, graph: string): Promise<Case> {
  const o = await open(path.join(REAL, dir), graph);
  return { name: dir, model: o.model, linears: o.linears, samples: calibration(o.tokenizer, true), config: o.config };
}

/** Wanda at 50 % from a block's weights (the stored map maskBlock is handed, else read from the model). */
async function wandaMask(model: OnnxModel, l: PrunableLinear, stats: ActivationStats, stored?: ReadonlyMap<string, Float32Array | Uint16Array>) {
  const w = await canonicalWeight(model, l, stored);
  return selectMask(l.id, computeScores(w, { method: 'wanda', sqNorm: stats.get(l.id)!.sqNorm }), l, { pattern: { kind: 'unstructured', sparsity: 0.5 } });
}

async function sequential(c: Case, cpuFp16: boolean) {
  configureSessions({ cpuFp16 });
  const storedTypes = new Set<string>();
  const r = await collectStats(c.model, c.linears, c.samples, {
    mode: 'sequential',
    strategy: 'blockwise',
    maskPadding: true,
    batchSize: 2,
    config: c.config,
    session: { device: 'cpu' },
    maskBlock: (b, stats, stored) => {
      for (const d of stored.values()) storedTypes.add(d.constructor.name);
      return Promise.all(c.linears.filter((l) => l.block === b).map((l) => wandaMask(c.model, l, stats, stored)));
    },
  });
  return { ...r, storedTypes };
}

function expectSameStats(a: ActivationStats, b: ActivationStats) {
  expect([...a.keys()]).toEqual([...b.keys()]);
  for (const [id, s] of b) expect(Array.from(a.get(id)!.sqNorm), id).toEqual(Array.from(s.sqNorm));
}

function expectSameMasks(a: LayerMask[], b: LayerMask[]) {
  expect(a.map((m) => m.id)).toEqual(b.map((m) => m.id));
  for (const [k, m] of b.entries()) expect(Buffer.from(a[k]!.keep).equals(Buffer.from(m.keep)), m.id).toBe(true);
}

const fp16Layouts = LAYOUTS.filter((l) => l.fp16);

describe.skipIf(TEST_DEVICE !== 'cpu')('fp16 weights on CPU', () => {
  it('the fp16 real layouts are here (a missing one would leave the comparison below empty)', () => {
    expect(fp16Layouts.map((l) => l.dir).sort()).toEqual(['genai-llama-fp16', 'optimum-bloom-fp16']);
  });

  const cases: Array<() => Promise<Case> | Case> = [
    () => tinyCase('llama', 'matmul'),
    () => tinyCase('bloom', 'transpose'),
    () => tinyCase('gpt2', 'gemm'),
    ...fp16Layouts.map((l) => () => realCase(l.dir, l.graph)),
  ];
  const names = ['tiny llama (matmul)', 'tiny bloom (transpose)', 'tiny gpt2 (gemm)', ...fp16Layouts.map((l) => l.dir)];

  for (const [k, make] of cases.entries()) {
    it(`${names[k]}: sequential Wanda feeds the block's weights as fp32, widened once; statistics and masks equal onnxruntime's handling bit for bit`, async () => {
      const c = await make();
      const ours = await sequential(c, true);
      const theirs = await sequential(c, false);
      // Mask selection is handed the fp32 weights the block runs were fed (before: the fp16 halves).
      expect([...ours.storedTypes]).toEqual(['Float32Array']);
      expect([...theirs.storedTypes]).toEqual(['Uint16Array']);
      expectSameStats(ours.stats, theirs.stats);
      expectSameMasks(ours.masks, theirs.masks);
      // And the masks are Wanda's on those statistics, from the weights as stored (an independent read).
      for (const l of c.linears) {
        const m = await wandaMask(c.model, l, ours.stats);
        expect(Buffer.from(m.keep).equals(Buffer.from(ours.masks.find((x) => x.id === l.id)!.keep)), l.id).toBe(true);
      }
    });
  }

  for (const [k, make] of cases.entries()) {
    it(`${names[k]}: SparseGPT's block passes (Hessians, updated weights fed on) equal onnxruntime's handling bit for bit`, async () => {
      const c = await make();
      const run = async (cpuFp16: boolean) => {
        configureSessions({ cpuFp16 });
        const seen: Float64Array[] = [];
        const r = await hessianBlockwise({
          model: c.model,
          linears: c.linears,
          batches: makeBatches(c.samples, 2),
          samples: c.samples.length,
          maskPadding: true,
          elemType: DataType.FLOAT16,
          mode: 'sequential',
          progress: () => {},
          session: { device: 'cpu' },
          config: c.config ?? {},
          // Stands in for SparseGPT: keeps the larger half of each weight and halves what it keeps, so
          // that the next block runs on weights the callback changed.
          pruneBlock: async (b, hessians) => {
            const out = [];
            for (const l of c.linears.filter((x) => x.block === b)) {
              seen.push(Float64Array.from(hessians.get(l.id)!.h));
              const t = c.model.initializers.get(l.weightName)!;
              const bytes = await readTensorBytes(c.model, t);
              const w = fp16ToFp32(new Uint16Array(bytes.slice().buffer));
              const scores = Float32Array.from(w, Math.abs);
              const mask = selectMask(
                l.id,
                scores,
                { dIn: l.storedTransposed ? l.dOut : l.dIn, dOut: l.storedTransposed ? l.dIn : l.dOut },
                { pattern: { kind: 'unstructured', sparsity: 0.5 } },
              );
              const kept = w.map((v, i) => (mask.keep[i] ? v / 2 : 0));
              out.push({ mask: { ...mask, id: l.id, dIn: l.dIn, dOut: l.dOut }, stored: new Uint8Array(fp32ToFp16(kept).buffer) });
            }
            return out;
          },
        });
        return { seen, masks: r.masks };
      };
      const [ours, theirs] = [await run(true), await run(false)];
      expect(ours.seen.length).toBe(c.linears.length);
      for (const [i, h] of theirs.seen.entries()) expect(Buffer.from(ours.seen[i]!.buffer).equals(Buffer.from(h.buffer)), `Hessian ${i}`).toBe(true);
      expectSameMasks(ours.masks, theirs.masks);
    });
  }

  for (const [k, make] of cases.entries()) {
    it(`${names[k]}: oneshot statistics and the residual stream with weights cast per run equal onnxruntime's folded copy bit for bit`, async () => {
      const c = await make();
      const oneshot = async (cpuFp16: boolean) => {
        configureSessions({ cpuFp16 });
        return (await collectStats(c.model, c.linears, c.samples, { mode: 'oneshot', batchSize: 2, config: c.config, session: { device: 'cpu' } })).stats;
      };
      expectSameStats(await oneshot(true), await oneshot(false));
      const outputs = findBlockOutputs(c.model, c.linears);
      const residual = async (cpuFp16: boolean) => {
        configureSessions({ cpuFp16 });
        const got: Float32Array[] = [];
        const tokens: TokenizedCalibration = {
          samples: c.samples.length,
          maxLength: c.samples[0]!.inputIds.length,
          inputIds: BigInt64Array.from(c.samples.flatMap((s) => [...s.inputIds])),
          attentionMask: BigInt64Array.from(c.samples.flatMap((s) => [...s.attentionMask])),
        };
        await collectResidualStream(c.model, outputs, tokens, (_b, x) => got.push(Float32Array.from(x)), {
          elemType: DataType.FLOAT16,
          hidden: c.linears[0]!.dIn,
          config: c.config,
          session: { device: 'cpu' },
        });
        return got;
      };
      const [a, b] = [await residual(true), await residual(false)];
      expect(a.length).toBe(b.length);
      for (const [i, x] of b.entries()) expect(Buffer.from(a[i]!.buffer).equals(Buffer.from(x.buffer)), `block output ${i}`).toBe(true);
    });
  }

  it('evaluation with fp16 weights cast per run (where the folded copy does not fit) scores exactly as with the folded copy', async () => {
    const layout = fp16Layouts.find((l) => l.dir === 'genai-llama-fp16')!;
    const dir = path.join(REAL, layout.dir);
    const text = ['French: Le chat dort sur le canapé.</s>English: The cat sleeps.', 'The weather is nice today.'];
    const score = async (fp16Weights: 'fold' | 'per-run') => {
      const m = await openEvalModel(dir, { device: 'cpu', graphFile: layout.graph, fp16Weights });
      try {
        return (
          await scoreRequests(
            m,
            text.map((t) => ({ tokens: Int32Array.from(m.tokenizer.encode(t)), scoreFrom: 1 })),
          )
        ).logprobs;
      } finally {
        await m.session.release();
      }
    };
    const [a, b] = [await score('per-run'), await score('fold')];
    expect(a.map((x) => Array.from(x))).toEqual(b.map((x) => Array.from(x)));
  });

  it('the pruned model of a sequential job stays fp16: masked weights zero, every other half as uploaded', async () => {
    const layout = fp16Layouts.find((l) => l.dir === 'genai-llama-fp16')!;
    const o = await open(path.join(REAL, layout.dir), layout.graph);
    const c = await realCase(layout.dir, layout.graph);
    const { masks } = await sequential(c, true);
    const out = await mkdtemp(path.join(os.tmpdir(), 'pp-fp16-'));
    try {
      await writePrunedModel(o.uploaded, o.linears, masks, path.join(out, layout.graph));
      const pruned = await loadModel(path.join(out, layout.graph));
      for (const l of o.linears) {
        const t = pruned.initializers.get(l.weightName)!;
        expect(t.dataType, l.id).toBe(DataType.FLOAT16);
        const halves = (bytes: Uint8Array) => new Uint16Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
        const after = halves(await readTensorBytes(pruned, t));
        const before = halves(await readTensorBytes(o.uploaded, o.uploaded.initializers.get(l.weightName)!));
        const keep = masks.find((m) => m.id === l.id)!.keep;
        // The graph stores [in, out] here, the mask's canonical layout.
        expect(l.storedTransposed).toBe(false);
        for (let i = 0; i < keep.length; i++) if (after[i] !== (keep[i] ? before[i] : 0)) throw new Error(`${l.id}[${i}]: ${after[i]} after pruning`);
      }
    } finally {
      await rm(out, { recursive: true, force: true });
    }
  });
});

describe('cpu-fp16 graph rewrites', () => {
  it('feedFp32 declares fed fp16 weights fp32 only where every reader can take them, and runs bit-equal', async () => {
    for (const linear of ['matmul', 'transpose', 'gemm'] as const) {
      const { model } = tiny({ family: linear === 'gemm' ? 'gpt2' : 'llama', linear, dtype: 'float16', blocks: 1 });
      const linears = findPrunableLinears(model).linears;
      const names = linears.map((l) => l.weightName);
      const fed = weightsToInputs(model.proto, names);
      const { proto, widened } = feedFp32(fed, names);
      expect([...widened].sort(), linear).toEqual([...names].sort());
      for (const i of proto.graph!.input ?? []) if (widened.has(i.name!)) expect(i.type?.tensorType?.elemType).toBe(DataType.FLOAT);
      // A name that is no fp16 input is left alone.
      expect(feedFp32(fed, ['input_ids']).widened.size).toBe(0);
      const feeds16: Record<string, Tensor> = {};
      const feeds32: Record<string, Tensor> = {};
      for (const n of names) {
        const t = model.initializers.get(n)!;
        const bytes = await readTensorBytes(model, t);
        const h = new Uint16Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
        const dims = (t.dims ?? []).map(Number);
        feeds16[n] = float16Tensor(h, dims);
        feeds32[n] = float32Tensor(fp16ToFp32(h), dims);
      }
      const ids = { input_ids: new ort.Tensor('int64', BigInt64Array.of(3n, 9n, 4n, 1n), [1, 4]) };
      const run = async (p: typeof proto, w: Record<string, Tensor>) => {
        const open = await openSession(p, model.dir, { device: 'cpu' });
        try {
          const inputs = new Set(open.session.inputNames);
          const feeds: Record<string, Tensor> = { ...w, ...ids };
          if (inputs.has('attention_mask')) feeds.attention_mask = new ort.Tensor('int64', BigInt64Array.of(1n, 1n, 1n, 1n), [1, 4]);
          const out = await open.session.run(feeds);
          return fp16ToFp32(new Uint16Array((out[open.session.outputNames[0]!]!.data as Uint16Array).buffer.slice(0)));
        } finally {
          await open.release();
        }
      };
      expect(Array.from(await run(proto, feeds32)), linear).toEqual(Array.from(await run(fed, feeds16)));
    }
  });

  it('castWeightsPerRun declares the fp16 MatMul/Gemm weights overridable; IR < 4 graphs are left as they are', () => {
    const { model } = tiny({ family: 'bloom', linear: 'transpose', dtype: 'float16', blocks: 2 });
    const linears = findPrunableLinears(model).linears;
    const r = castWeightsPerRun(model.proto);
    // Every linear's weight (read through a Transpose here) and the untied head's; not the embedding.
    const head = model.proto.graph!.node!.find((n) => n.name === '/lm_head/MatMul')!.input![1]!;
    expect(new Set(r.weights)).toEqual(new Set([...linears.map((l) => l.weightName), head]));
    const inputs = new Set((r.proto.graph!.input ?? []).map((i) => i.name));
    const inits = new Set((r.proto.graph!.initializer ?? []).map((t) => t.name));
    for (const w of r.weights) expect(inputs.has(w) && inits.has(w), w).toBe(true);
    const old = onnx.ModelProto.create({ ...model.proto, irVersion: 3 });
    expect(castWeightsPerRun(old).weights).toEqual([]);
  });
});

/** This process's resident memory (Linux): anonymous, and the peak since resetPeak(). */
function memory(): { anon: number; peak: number; rss: number } {
  const s = readFileSync('/proc/self/status', 'utf8');
  const kb = (k: string) => Number(new RegExp(`${k}:\\s+(\\d+) kB`).exec(s)![1]) * 1024;
  return { anon: kb('RssAnon'), peak: kb('VmHWM'), rss: kb('VmRSS') };
}
const resetPeak = () => writeFileSync('/proc/self/clear_refs', '5');

describe.skipIf(TEST_DEVICE !== 'cpu' || process.platform !== 'linux')('memory of a calibration session on an fp16 model (CPU)', () => {
  it('holds no fp32 copy of the weights, and a run casts one weight at a time', async () => {
    // A chain of four 2048 × 2048 fp16 MatMuls (8 MiB each; 16 MiB as fp32) in external data.
    const d = 2048;
    const layers = 4;
    const MiB = 2 ** 20;
    const dir = await mkdtemp(path.join(os.tmpdir(), 'pp-fp16-mem-'));
    try {
      const w = new Uint16Array(d * d);
      for (let i = 0; i < w.length; i++) w[i] = 0x1000 + (i % 977); // small positive halves
      const bytes = new Uint8Array(w.buffer);
      await writeFile(path.join(dir, 'model.onnx_data'), Buffer.concat(Array.from({ length: layers }, () => bytes)));
      const F16 = DataType.FLOAT16;
      const vi = (name: string) =>
        onnx.ValueInfoProto.create({
          name,
          type: onnx.TypeProto.create({
            tensorType: onnx.TypeProto.Tensor.create({
              elemType: F16,
              shape: onnx.TensorShapeProto.create({
                dim: [onnx.TensorShapeProto.Dimension.create({ dimParam: 'n' }), onnx.TensorShapeProto.Dimension.create({ dimValue: d })],
              }),
            }),
          }),
        });
      const weight = (k: number) =>
        onnx.TensorProto.create({
          name: `w${k}`,
          dims: [d, d],
          dataType: F16,
          dataLocation: onnx.TensorProto.DataLocation.EXTERNAL,
          externalData: [
            onnx.StringStringEntryProto.create({ key: 'location', value: 'model.onnx_data' }),
            onnx.StringStringEntryProto.create({ key: 'offset', value: String(k * bytes.byteLength) }),
            onnx.StringStringEntryProto.create({ key: 'length', value: String(bytes.byteLength) }),
          ],
        });
      const proto = onnx.ModelProto.create({
        irVersion: 8,
        opsetImport: [onnx.OperatorSetIdProto.create({ domain: '', version: 17 })],
        graph: onnx.GraphProto.create({
          name: 'g',
          node: Array.from({ length: layers }, (_, k) =>
            onnx.NodeProto.create({ opType: 'MatMul', name: `mm${k}`, input: [k ? `h${k}` : 'x', `w${k}`], output: [k + 1 < layers ? `h${k + 1}` : 'y'] }),
          ),
          initializer: Array.from({ length: layers }, (_, k) => weight(k)),
          input: [vi('x')],
          output: [vi('y')],
        }),
      });
      const x = float16Tensor(new Uint16Array(4 * d).fill(0x3c00), [4, d]);
      const measure = async (fp16Weights: 'fold' | 'per-run') => {
        const before = memory();
        const open = await openSession(proto, dir, { device: 'cpu', fp16Weights });
        try {
          const held = memory().anon - before.anon;
          await open.session.run({ x }); // first run: pages of the weights mapped in
          const steady = memory().rss;
          resetPeak();
          const y = (await open.session.run({ x })).y!;
          expect(y.dims).toEqual([4, d]);
          return { held, run: memory().peak - steady, y: Array.from(y.data as ArrayLike<number>) };
        } finally {
          await open.release();
        }
      };
      const folded = await measure('fold');
      const cast = await measure('per-run');
      // onnxruntime's own handling folds a 64 MiB fp32 copy that the session keeps.
      expect(folded.held).toBeGreaterThan(56 * MiB);
      expect(cast.held).toBeLessThan(12 * MiB);
      // Casts happen next to their MatMul: one or two 16 MiB copies alive, never all four.
      expect(cast.run).toBeLessThan(40 * MiB);
      expect(cast.y).toEqual(folded.y);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
