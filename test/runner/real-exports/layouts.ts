/**
 * The real-export fixtures (test/fixtures/real/README*.md) with what each must yield, and shared
 * helpers: a calibration set tokenized by the fixture's own tokenizer, and masks computed the way a
 * prune job computes them, so the real layout can be compared with its plain fp32 reference
 * (test/fixtures/real-reference/<name>/model.onnx, the same weights as a plain export).
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { CalibrationSample } from '@polyprune/gpu-runner/calibrate/batches';
import { collectStats, type StatsMode } from '@polyprune/gpu-runner/calibrate/stats';
import { discoverStructure, preflight } from '@polyprune/gpu-runner/model/preflight';
import type { OnnxModel } from '@polyprune/gpu-runner/onnx/read';
import { selectMask, type MaskPattern } from '@polyprune/gpu-runner/prune/masks';
import { computeScores } from '@polyprune/gpu-runner/prune/scores';
import { canonicalWeight } from '@polyprune/gpu-runner/prune/policy';
import type { LoadedTokenizer } from '@polyprune/gpu-runner/tokenize/index';
import type { ActivationStats, LayerMask, PrunableLinear } from '@polyprune/gpu-runner/types';
import type { Device } from '@polyprune/gpu-runner/ort';
import { TEST_DEVICE } from '../helpers/device.js';
import type { ModelFamily } from '@polyprune/shared/api/models';

const here = path.dirname(fileURLToPath(import.meta.url));
export const REAL = path.resolve(here, '../../fixtures/real');
export const REFERENCE = path.resolve(here, '../../fixtures/real-reference');
export const REFUSE = path.resolve(here, '../../fixtures/refuse');

export interface Layout {
  dir: string;
  /** the graph file as the exporter names it */
  graph: string;
  /** external-data file the graph records, if any */
  data?: string;
  family: ModelFamily;
  discovery: 'names' | 'topology';
  /** linears per block */
  perBlock: number;
  fp16: boolean;
  scorable: boolean;
}

export const LAYOUTS: Layout[] = (
  [
    {
      dir: 'optimum-llama-merged',
      graph: 'decoder_model_merged.onnx',
      data: 'decoder_model_merged.onnx_data',
      family: 'llama',
      discovery: 'names',
      perBlock: 7,
      fp16: false,
      scorable: true,
    },
    { dir: 'optimum-gpt2', graph: 'model.onnx', family: 'gpt2', discovery: 'names', perBlock: 4, fp16: false, scorable: true },
    { dir: 'optimum-bloom-fp16', graph: 'model_fp16.onnx', family: 'bloom', discovery: 'names', perBlock: 4, fp16: true, scorable: true },
    { dir: 'torch-plain', graph: 'model.onnx', family: 'gpt2', discovery: 'topology', perBlock: 4, fp16: false, scorable: true },
    { dir: 'torch-last-state', graph: 'model.onnx', family: 'xglm', discovery: 'topology', perBlock: 6, fp16: false, scorable: false },
    { dir: 'genai-llama-fp16', graph: 'model.onnx', data: 'model.onnx.data', family: 'llama', discovery: 'names', perBlock: 5, fp16: true, scorable: true },
    {
      dir: 'genai-llama-fp32-mha',
      graph: 'model.onnx',
      data: 'model.onnx.data',
      family: 'llama',
      discovery: 'names',
      perBlock: 7,
      fp16: false,
      scorable: true,
    },
    { dir: 'ort-fused-gpt2', graph: 'model.onnx', family: 'gpt2', discovery: 'names', perBlock: 4, fp16: false, scorable: true },
  ] satisfies Layout[]
).filter((l) => existsSync(path.join(REAL, l.dir, l.graph)));

export interface Opened {
  uploaded: OnnxModel;
  model: OnnxModel;
  linears: PrunableLinear[];
  tokenizer: LoadedTokenizer;
  config: Record<string, unknown>;
  family: string;
  discovery: { method: string; note?: string; layout?: string };
  notes: string[];
}

/** A model directory as a job sees it: preflight, then the working graph and its linears. */
export async function open(dir: string, graph: string, scoring = false): Promise<Opened> {
  const checked = await preflight({ dir, graphFile: graph, scoring });
  const { working, structure } = discoverStructure(checked.model, graph);
  return {
    uploaded: checked.model,
    model: working.model,
    linears: structure.linears,
    tokenizer: checked.tokenizer,
    config: checked.side.config,
    family: structure.family,
    discovery: structure.discovery,
    notes: working.notes,
  };
}

const TEXT = [
  'French: Le chat dort sur le canapé.</s>English: The cat is sleeping on the sofa.</s>',
  'German: Der Zug kommt heute später an.</s>English: The train arrives later today.</s>',
  'Spanish: Mañana vamos a la playa.</s>English: Tomorrow we are going to the beach.</s>',
  'Russian: Я читаю эту книгу.</s>English: I am reading this book.</s>',
  'The weather is nice and the children are playing in the garden.',
];

/**
 * Calibration samples: right-padded to unequal lengths, or (padded = false) all of one length.
 * Exports differ in what they compute at pad positions (HF feeds them position 1, a plain export
 * derives its own), so padded samples are compared with pad positions dropped.
 */
export function calibration(tok: LoadedTokenizer, padded: boolean, seqLen = 16): CalibrationSample[] {
  return TEXT.map((t, k) => {
    const ids = tok.encode(t).slice(0, padded ? seqLen - 2 * k : seqLen);
    if (ids.length < seqLen && !padded) throw new Error(`calibration text ${k} is shorter than ${seqLen} tokens`);
    const inputIds = new BigInt64Array(seqLen).fill(BigInt(tok.padId));
    const attentionMask = new BigInt64Array(seqLen);
    ids.forEach((id, j) => {
      inputIds[j] = BigInt(id);
      attentionMask[j] = 1n;
    });
    return { inputIds, attentionMask };
  });
}

export type Method = 'wanda' | 'magnitude';

/**
 * Masks as a prune job computes them (oneshot or sequential Wanda, or magnitude). Padded samples
 * drop pads from the statistics unless `maskPadding` says otherwise (false: the reference's call).
 */
export async function masksFor(
  o: Opened,
  method: Method,
  mode: StatsMode,
  pattern: MaskPattern,
  padded = true,
  maskPadding = padded,
  strategy?: 'blockwise' | 'whole-graph',
  device: Device = TEST_DEVICE,
): Promise<{ masks: LayerMask[]; stats?: ActivationStats; strategy?: string }> {
  const mask = async (l: PrunableLinear, stats?: ActivationStats) => {
    const w = await canonicalWeight(o.model, l);
    const scores = computeScores(w, method === 'magnitude' ? { method } : { method: 'wanda', sqNorm: stats!.get(l.id)!.sqNorm });
    return selectMask(l.id, scores, { dIn: l.dIn, dOut: l.dOut }, { pattern, dropTop: false });
  };
  if (method === 'magnitude') return { masks: await Promise.all(o.linears.map((l) => mask(l))) };
  const r = await collectStats(o.model, o.linears, calibration(o.tokenizer, padded), {
    mode,
    maskPadding,
    config: o.config,
    session: { device, intraOpThreads: 1 },
    batchSize: 2,
    strategy,
    maskBlock: mode === 'sequential' ? (b, stats) => Promise.all(o.linears.filter((l) => l.block === b).map((l) => mask(l, stats))) : undefined,
  });
  return { masks: mode === 'sequential' ? r.masks : await Promise.all(o.linears.map((l) => mask(l, r.stats))), stats: r.stats, strategy: r.strategy };
}

/** Fraction of mask entries on which two mask sets agree. */
export function agreement(a: LayerMask[], b: LayerMask[]): number {
  let same = 0;
  let total = 0;
  for (const [k, m] of a.entries()) {
    const n = b[k]!;
    for (let i = 0; i < m.keep.length; i++) same += m.keep[i] === n.keep[i] ? 1 : 0;
    total += m.keep.length;
  }
  return same / total;
}
