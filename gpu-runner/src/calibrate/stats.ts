/**
 * Activation statistics with onnxruntime (docs/design.md §3.2): the linears' input tensors are exposed as
 * graph outputs and s_j = mean over samples of Σ_tokens x_j² is accumulated per layer in Float64.
 *
 * oneshot: one dense pass captures every layer's input (statistics reusable for any sparsity).
 * sequential: Wanda-exact, see sequential.ts.
 */
import type { ModelConfig } from '../onnx/graph-io.js';
import { DataType } from '../onnx/proto.js';
import type { OnnxModel } from '../onnx/read.js';
import { openSession } from '../onnx/session.js';
import { BlocksNotSeparable, findBlockOutputs } from '../onnx/structure.js';
import { addSquareSumOutputs, sqSumName } from '../onnx/square-sums.js';
import { exposeTensors } from '../onnx/surgery.js';
import { onlyOutputs } from '../onnx/subgraph.js';
import { initializerBytes } from '../onnx/write.js';
import type { SessionOptions } from '../ort.js';
import type { ActivationStats, LayerMask, PrunableLinear, ProgressFn } from '../types.js';
import { asFloat32 } from './accumulate.js';
import { chooseBatchSize, makeBatches, splitSamples, type CalibrationSample, type TokenizedCalibration } from './batches.js';
import { tokenFeeds } from './feeds.js';
import { accumulatorsFor, addBatch, addSquareSums, finalize } from './layer-accumulators.js';
import { sequentialBlockwise, sequentialWholeGraph, type MaskBlockFn, type SequentialInput, type SequentialProfile } from './sequential.js';

export type StatsMode = 'oneshot' | 'sequential';

export interface CollectOptions {
  mode: StatsMode;
  /** false (reference): the graph is fed a mask of ones and pads count; true: the padding mask, pads dropped (feeds.ts). */
  maskPadding?: boolean;
  /** Overrides the batch size chosen from model size and free memory. */
  batchSize?: number;
  /** The memory this runner may use; the batch size stays within it. */
  memoryLimitBytes?: number;
  /** sequential only: masks for block b's linears, given the statistics collected so far. */
  maskBlock?: MaskBlockFn;
  /** sequential only: 'auto' (default) runs block by block and falls back to 'whole-graph' when blocks cannot be cut apart. */
  strategy?: 'auto' | 'blockwise' | 'whole-graph';
  /** blockwise sequential: set the next block up while this one's masks are selected (default true; the results are the same) */
  overlap?: boolean;
  /** blockwise sequential: external tensors up to this many bytes are copied into each block's graph (default onnx/inline-external.ts INLINE_MAX_BYTES) */
  inlineMaxBytes?: number;
  /** oneshot only: residual-stream tensors to hand to `onBlockOutput` per batch (docs/design.md §3.5). */
  blockOutputs?: Array<{ block: number; name: string }>;
  onBlockOutput?: (block: number, x: Float32Array, dims: number[], attentionMask: BigInt64Array) => void;
  /** oneshot only: capture whole activations and square them in JS instead of inside the graph (a cross-check; slower). */
  activationsInJs?: boolean;
  onProgress?: ProgressFn;
  session?: SessionOptions;
  /** the model's side files (head counts resolve symbolic cache dims) */
  config?: ModelConfig;
  log?: (msg: string) => void;
}

export interface CollectResult {
  stats: ActivationStats;
  /** sequential: the masks `maskBlock` returned, in block order. */
  masks: LayerMask[];
  batchSize: number;
  device: string;
  /** onnxruntime runs made. */
  runs: number;
  /** sequential: the strategy used. */
  strategy?: 'blockwise' | 'whole-graph';
  seconds: number;
  /** blockwise sequential: seconds per stage and per block */
  profile?: SequentialProfile;
}

export async function collectStats(
  model: OnnxModel,
  linears: PrunableLinear[],
  calibration: TokenizedCalibration | CalibrationSample[],
  opts: CollectOptions,
): Promise<CollectResult> {
  const samples = Array.isArray(calibration) ? calibration : splitSamples(calibration);
  if (linears.length === 0) throw new Error('no prunable linears to calibrate');
  if (opts.mode === 'sequential' && !opts.maskBlock) throw new Error('sequential statistics need a maskBlock callback');
  const started = performance.now();
  const log = opts.log ?? (() => {});
  const progress = opts.onProgress ?? (() => {});
  const maskPadding = opts.maskPadding ?? false;
  const seqLen = samples[0]?.inputIds.length ?? 0;
  // Blockwise sequential mode keeps the residual stream of every sample between blocks.
  const streamBytes = opts.mode === 'sequential' ? samples.length * seqLen * linears[0]!.dIn * 4 : 0;
  const choice = chooseBatchSize({
    weightBytes: initializerBytes(model) + streamBytes,
    seqLen,
    capturedWidth: [...accumulatorsFor(linears).values()].reduce((s, a) => s + a.sum.length, 0),
    hidden: linears[0]!.dIn,
    samples: samples.length,
    limitBytes: opts.memoryLimitBytes,
  });
  const batchSize = opts.batchSize ?? choice.batchSize;
  log(
    `calibration batch size ${batchSize} (${(choice.perSampleBytes / 2 ** 20).toFixed(1)} MiB/sample, budget ${(choice.budgetBytes / 2 ** 30).toFixed(2)} GiB)`,
  );
  const batches = makeBatches(samples, batchSize);
  // Activations have the weights' element type (fp16 exports compute in fp16).
  const elemType = model.initializers.get(linears[0]!.weightName)?.dataType ?? DataType.FLOAT;
  const seconds = () => (performance.now() - started) / 1000;

  if (opts.mode === 'sequential') {
    const input: SequentialInput = {
      model,
      linears,
      batches,
      samples: samples.length,
      maskPadding,
      elemType,
      maskBlock: opts.maskBlock!,
      progress,
      session: opts.session,
      config: opts.config ?? {},
      overlap: opts.overlap,
      inlineMaxBytes: opts.inlineMaxBytes,
    };
    const strategy = opts.strategy ?? 'auto';
    if (strategy !== 'whole-graph') {
      try {
        const outputs = findBlockOutputs(model, linears);
        const r = await sequentialBlockwise(input, outputs);
        return { ...r, batchSize, strategy: 'blockwise', seconds: seconds() };
      } catch (err) {
        if (strategy === 'blockwise' || !(err instanceof BlocksNotSeparable)) throw err;
        log(`sequential calibration falls back to whole-graph runs: ${(err as Error).message}`);
      }
    }
    const r = await sequentialWholeGraph(input);
    return { ...r, batchSize, strategy: 'whole-graph', seconds: seconds() };
  }

  const acc = accumulatorsFor(linears);
  const maskInput = (model.proto.graph!.input ?? []).find((i) => i.name === 'attention_mask')?.name ?? undefined;
  // Square sums are computed inside the graph unless full activations are wanted anyway (LMF
  // report) or padding must be dropped in a graph without an attention-mask input.
  const inGraph = !opts.blockOutputs?.length && !opts.activationsInJs && (!maskPadding || maskInput !== undefined);
  const captured = [...acc.values()].map((a) => ({ name: a.tensor, width: a.sum.length }));
  const extra = inGraph
    ? captured.map((c) => sqSumName(c.name))
    : [...new Set([...linears.map((l) => l.inputName), ...(opts.blockOutputs ?? []).map((b) => b.name)])];
  const graph = inGraph ? addSquareSumOutputs(model.proto, captured, maskPadding ? maskInput : undefined) : exposeTensors(model.proto, extra, elemType);
  // Few runs of many tokens each: casting fp16 weights per run (CPU) costs less than holding an fp32 copy.
  const open = await openSession(onlyOutputs(graph, extra), model.dir, { fp16Weights: 'per-run', ...opts.session });
  log(`calibrating on ${open.device}${inGraph ? ' (square sums in the graph)' : ''}`);
  const stats: ActivationStats = new Map();
  try {
    for (const [k, batch] of batches.entries()) {
      const out = await open.session.run(tokenFeeds(open.session, batch, new Set(), { maskPadding, config: opts.config }), extra);
      if (inGraph) addSquareSums(acc, out, batch, maskPadding);
      else addBatch(acc, out, batch, maskPadding);
      for (const bo of opts.blockOutputs ?? []) {
        const t = out[bo.name]!;
        opts.onBlockOutput?.(bo.block, asFloat32(t.data), [...t.dims], batch.attentionMask);
      }
      // In samples, not batches: the unit a user chose (and an ETA that moves evenly).
      progress('calibrate', Math.min((k + 1) * batchSize, samples.length), samples.length);
    }
    finalize(linears, acc, samples.length, stats);
  } finally {
    await open.release();
  }
  return { stats, masks: [], batchSize, device: open.device, runs: batches.length, seconds: seconds() };
}
