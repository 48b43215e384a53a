/**
 * What the evaluation engine needs to know about a decoder-LM graph: its I/O contract
 * (onnx/graph-io.ts), its tokenizer and side files, and — measured, not assumed — what its KV cache
 * can do. Exporters differ there: a model-builder cache may reject a multi-token step after a
 * non-empty past, and a cache holding padding is only correct where positions are fed.
 */
import path from 'node:path';
import { describeGraph, type GraphIO, type ModelConfig } from '../onnx/graph-io.js';
import { readSideFiles } from '../model/side-files.js';
import { gatherHeadRows } from '../onnx/head-gather.js';
import { addTokenLogProbs } from '../onnx/token-logprobs.js';
import { fuseTransposedHead } from '../onnx/normalize.js';
import { loadModel } from '../onnx/read.js';
import { initializerBytes } from '../onnx/write.js';
import { openSession, withDeviceCut } from '../onnx/session.js';
import { createSession, type Session, type SessionOptions } from '../ort.js';
import { loadTokenizer } from '../tokenize/index.js';
import { probeCache, type CacheAbilities } from './cache-probe.js';
import type { EvalModel } from './eval-model.js';

export { describeGraph };
export type { EvalModel };

/** The logits budget when the model's size is not known. */
export const DEFAULT_LOGIT_FLOATS = 2 ** 26;

/**
 * Logits one forward pass may compute (head rows × vocab). A pass that returns them holds them twice
 * (onnxruntime's output and the JavaScript copy the binding makes; a preallocated output is copied as
 * well) and the previous pass's copy may not be collected yet; one that returns target log-probs
 * (token-logprobs.ts) holds them and their log-softmax inside onnxruntime only. With an eighth of the weights per copy, XGLM-564M's
 * evaluation peaked at 1.55 × the model (VmHWM; weights memory-mapped, all touched by the tied
 * head); a sixteenth keeps the three copies near 0.2 ×. A 250k vocabulary at 2 GB of weights gets
 * ≈ 135 tokens a pass; never less than 4 Mi floats, never more than 64 Mi.
 */
export function logitBudget(weightBytes: number): number {
  return Math.max(2 ** 22, Math.min(DEFAULT_LOGIT_FLOATS, Math.floor(weightBytes / 16 / 4)));
}

/** Tokens one forward pass may hold logits for, under `maxLogitFloats` or the model's budget. */
export function logitTokens(model: EvalModel, maxLogitFloats?: number): number {
  return Math.max(1, Math.floor((maxLogitFloats ?? model.logitFloats ?? DEFAULT_LOGIT_FLOATS) / Math.max(model.tokenizer.vocabSize, 1)));
}

const num = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);

/** Context length from the side files; BLOOM (ALiBi) declares none, hence the fallback. */
export function contextLengthOf(config: ModelConfig, fallback = 2048): number {
  return num(config.max_position_embeddings) ?? num(config.n_positions) ?? num(config.n_ctx) ?? num(config.seq_length) ?? fallback;
}

/**
 * A session on the graph file; a tied head exported as MatMul(Transpose(embedding)) is read through
 * FusedMatMul instead, so onnxruntime does not fold a transposed copy of the embedding into memory,
 * and the head computes only the positions a pass asks for (head-gather.ts) unless `gatherHead` is false,
 * and then the log-probs of the tokens scored (token-logprobs.ts) unless `tokenLogProbs` is false.
 * `fp16Weights: "per-run"` casts fp16 weights on every run on CPU instead of folding an fp32 copy (onnx/cpu-fp16.ts).
 */
async function openGraph(
  file: string,
  opts: SessionOptions & { gatherHead?: boolean; tokenLogProbs?: boolean },
): Promise<{ session: Session; weightBytes: number }> {
  const model = await loadModel(file);
  const weightBytes = initializerBytes(model);
  const fused = fuseTransposedHead(model.proto);
  const outputs = (fused.proto.graph!.output ?? []).map((o) => o.name ?? '');
  const logits = outputs.includes('logits') ? 'logits' : outputs.find((o) => /logits|lm_logits|scores/i.test(o));
  let gathered = opts.gatherHead !== false && logits ? gatherHeadRows(fused.proto, logits) : undefined;
  if (gathered && opts.tokenLogProbs !== false) gathered = addTokenLogProbs(gathered, logits!) ?? gathered;
  if (!fused.rewritten && !gathered && opts.fp16Weights !== 'per-run') {
    return { session: (await createSession(file, await withDeviceCut(model.proto, opts))).session, weightBytes };
  }
  return { session: (await openSession(gathered ?? fused.proto, model.dir, opts)).session, weightBytes };
}

export interface OpenOptions extends SessionOptions {
  /** context length to use when the side files name none */
  defaultContextLength?: number;
  /** the graph file in the model directory (default model.onnx) */
  graphFile?: string;
  /** skip measuring the cache (tests of the unprobed paths) */
  cache?: CacheAbilities;
  /** false: the head computes logits for every position (the path before head-gather.ts; benchmarks and tests compare the two) */
  gatherHead?: boolean;
  /** false: scoring reads the gathered logits and normalises them in JavaScript (the path before token-logprobs.ts) */
  tokenLogProbs?: boolean;
}

/** Opens the graph, tokenizer.json and side files from a model directory. */
export async function openEvalModel(modelDir: string, opts: OpenOptions = {}): Promise<EvalModel> {
  const side = await readSideFiles(modelDir);
  const tokenizer = await loadTokenizer(modelDir);
  const { session, weightBytes } = await openGraph(path.join(modelDir, opts.graphFile ?? 'model.onnx'), opts);
  let io: GraphIO;
  try {
    io = describeGraph(session, side.config);
  } catch (err) {
    await session.release().catch(() => undefined);
    throw err;
  }
  if (!io.logits) {
    await session.release().catch(() => undefined);
    throw new Error(
      `the graph ends at ${io.outputs.join(', ')}, not at logits: it can be pruned but not scored (export it with its LM head, e.g. optimum-cli --task text-generation-with-past)`,
    );
  }
  const model: EvalModel = {
    session,
    tokenizer,
    io,
    contextLength: contextLengthOf(side.config, opts.defaultContextLength),
    cache: { prefix: false, step: false, padded: false },
    logitFloats: logitBudget(weightBytes),
  };
  model.cache = opts.cache ?? (await probeCache(model, opts.log));
  return model;
}
