/**
 * A prune job, composed from the engine (design §3): model → calibration text → activation
 * statistics → scores → masks → pruned model, packed masks, statistics and LMF report as artifacts →
 * evaluation of the pruned model on the job's suites.
 */
import { mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import type { PruneJobSpec } from '../../../shared/src/api/jobs';
import type { LmfStatus } from '../../../shared/src/api/analysis';
import { ResidualAccumulator, buildLmfReport, type LmfInput, type LmfReport } from '../analyze/lmf';
import { collectResidualStream } from '../calibrate/residual';
import { collectStats, type CollectOptions } from '../calibrate/stats';
import { DataType } from '../onnx/proto';
import { decodeStats, encodeStats } from '../calibrate/stats-file';
import { discoverStructure, preflight } from '../model/preflight';
import type { ModelConfig } from '../onnx/graph-io';
import { writePrunedModel } from '../onnx/apply-mask';
import { readWeight, type OnnxModel } from '../onnx/read';
import { findBlockOutputs } from '../onnx/structure';
import type { Device } from '../ort';
import { selectMask, sparsityReport, type MaskPattern } from '../prune/masks';
import { packMasks } from '../prune/pack';
import { computeScores, type ScoreInputs } from '../prune/scores';
import type { LoadedTokenizer } from '../tokenize/index';
import type { ActivationStats, DenseWeight, LayerMask, PrunableLinear } from '../types';
import { calibrationSet, loadCorpus, type CorpusData } from './calibration';
import type { RunResult } from './protocol';
import { evaluateSuites } from './suites';
import type { JobContext } from './worker-loop';

/** The LMF report is an analysis, not the method: a few samples give stable top-k sets. */
const LMF_SAMPLES = 16;

export function maskPattern(spec: PruneJobSpec): MaskPattern {
  if (spec.pattern === '2:4') return { kind: 'nm', n: 2, m: 4 };
  if (spec.pattern === '4:8') return { kind: 'nm', n: 4, m: 8 };
  if (spec.method === 'magnitude' && spec.magnitudeScope === 'matrix') return { kind: 'unstructured-matrix', sparsity: spec.sparsity };
  return { kind: 'unstructured', sparsity: spec.sparsity };
}

/** The weight in the canonical [dIn, dOut] layout whatever layout the graph stores it in. */
export async function canonicalWeight(model: OnnxModel, l: PrunableLinear): Promise<DenseWeight> {
  const w = await readWeight(model, l.weightName);
  if (w.data.length !== l.dIn * l.dOut) throw new Error(`${l.id}: weight ${l.weightName} has ${w.data.length} values, expected ${l.dIn}x${l.dOut}`);
  if (!l.storedTransposed) return { dIn: l.dIn, dOut: l.dOut, data: w.data };
  const data = new Float32Array(l.dIn * l.dOut);
  for (let o = 0; o < l.dOut; o++) {
    const row = o * l.dIn;
    for (let i = 0; i < l.dIn; i++) data[i * l.dOut + o] = w.data[row + i]!;
  }
  return { dIn: l.dIn, dOut: l.dOut, data };
}

interface Statistics {
  main?: ActivationStats;
  contrast?: ActivationStats;
}

function scoreInputs(spec: PruneJobSpec, l: PrunableLinear, index: number, st: Statistics): ScoreInputs {
  if (spec.method === 'magnitude') return { method: 'magnitude' };
  // A different stream per layer, reproducible from the job's seed.
  if (spec.method === 'random') return { method: 'random', seed: (spec.seed + index * 7919) % 2 ** 31 };
  const main = st.main?.get(l.id);
  if (!main) throw new Error(`no activation statistics for ${l.id}`);
  if (spec.calibration?.dataType === 'mt-contrast') {
    const c = st.contrast?.get(l.id);
    if (!c) throw new Error(`no contrast statistics for ${l.id}`);
    return { method: 'mt-contrast', mtSqNorm: main.sqNorm, contrastSqNorm: c.sqNorm };
  }
  return { method: 'wanda', sqNorm: main.sqNorm };
}

async function maskOf(model: OnnxModel, spec: PruneJobSpec, l: PrunableLinear, index: number, st: Statistics): Promise<LayerMask> {
  const w = await canonicalWeight(model, l);
  const scores = computeScores(w, scoreInputs(spec, l, index, st));
  return selectMask(l.id, scores, { dIn: l.dIn, dOut: l.dOut }, { pattern: maskPattern(spec), dropTop: spec.dropTop });
}

/** Statistics of an earlier oneshot run the API offered with the lease (role "stats"), if any. */
async function priorStats(ctx: JobContext): Promise<{ runId: string; main: ActivationStats; contrast?: ActivationStats } | undefined> {
  const main = ctx.inputs.find((i) => i.role === 'stats' && i.meta.artifact === 'stats.bin');
  if (!main) return undefined;
  const load = async (name: string) => decodeStats(new Uint8Array(await readFile(await ctx.input(name)))).stats;
  const contrast = ctx.inputs.find((i) => i.role === 'stats' && i.meta.artifact === 'contrast-stats.bin');
  return { runId: String(main.meta.runId), main: await load(main.name), ...(contrast ? { contrast: await load(contrast.name) } : {}) };
}

/**
 * Why the residual stream of a graph cannot be tapped, in words a user can act on. A fused
 * residual-add + norm whose mean/inv-std outputs the graph uses is left fused (onnx/normalize.ts),
 * and then no block ends at a plain Add.
 */
export function residualTapProblem(model: OnnxModel, err: Error): string {
  const fused = (model.proto.graph!.node ?? []).filter((n) => /^Skip(Simplified)?LayerNormalization$/.test(n.opType ?? ''));
  if (fused.length) {
    const ops = [...new Set(fused.map((n) => n.opType))].join(', ');
    return `no LMF report: the residual stream runs through ${fused.length} fused residual-add + norm node(s) (${ops}) that stay fused because their mean/inv-std outputs are used, so no block output can be tapped (${err.message})`;
  }
  return `no LMF report: the residual stream of this graph cannot be tapped (${err.message})`;
}

/** Residual-stream magnitudes for translation vs monolingual demonstrations of the job's pair. */
async function lmfReport(
  ctx: JobContext,
  model: OnnxModel,
  linears: PrunableLinear[],
  blocks: number,
  corpus: CorpusData,
  spec: PruneJobSpec,
  tok: LoadedTokenizer,
  session: CollectOptions['session'],
  config: ModelConfig,
): Promise<{ report: LmfReport } | { reason: string }> {
  let outputs: ReturnType<typeof findBlockOutputs>;
  try {
    outputs = findBlockOutputs(model, linears);
  } catch (err) {
    return { reason: residualTapProblem(model, err as Error) };
  }
  const cal = spec.calibration!;
  const samples = Math.min(cal.samples, LMF_SAMPLES);
  const elemType = model.initializers.get(linears[0]!.weightName)?.dataType ?? DataType.FLOAT;
  const series = async (kind: 'mt' | 'mono') => {
    const set = calibrationSet(corpus, kind, cal, tok, samples);
    let acc: ResidualAccumulator | undefined;
    await collectResidualStream(
      model,
      outputs,
      set.tokens,
      (block, x, dims, mask) => {
        acc ??= new ResidualAccumulator(blocks, dims[dims.length - 1]!);
        acc.accumulateResidual(block, x, mask);
      },
      { session, config, elemType, hidden: linears[0]!.dIn, onProgress: (_s, done, total) => ctx.progress(`lmf ${kind}`, done, total) },
    );
    return acc!;
  };
  const input: LmfInput = { pair: `${corpus.srcLang}-${corpus.tgtLang}`, translation: await series('mt'), monolingual: await series('mono') };
  return { report: buildLmfReport([input], { ratio: 0.3 }) };
}

export async function runPruneJob(ctx: JobContext, spec: PruneJobSpec): Promise<RunResult> {
  const timings: Record<string, number> = {};
  const timed = async <T>(name: string, fn: () => Promise<T>): Promise<T> => {
    const t0 = performance.now();
    const out = await ctx.step(name, fn);
    timings[name] = Math.round((performance.now() - t0) / 10) / 100;
    return out;
  };
  const device = ctx.device as Device | 'auto';
  const session = { device, log: ctx.log };
  const modelDir = path.join(ctx.dir, 'model');
  const outDir = path.join(ctx.dir, 'pruned');

  await timed('download', async () => {
    await ctx.inputsOfRole('model', modelDir);
    for (const i of ctx.inputs.filter((x) => x.role !== 'model')) await ctx.input(i.name);
  });
  const graph = graphInput(ctx);
  // Everything that can refuse the model is checked before any compute.
  const { checked, prunable } = await timed('preflight', async () => {
    const checked = await preflight({ dir: modelDir, graphFile: graph.name, scoring: spec.suites.length > 0, modelId: spec.modelId });
    return { checked, prunable: discoverStructure(checked.model, graph.name, graph.family) };
  });
  const { family, blocks, linears, discovery } = prunable.structure;
  // Calibration and masks run on the working graph; the masks are written into the graph as uploaded.
  const uploaded = checked.model;
  const model = prunable.working.model;
  const config = checked.side.config;
  const tok = checked.tokenizer;
  for (const note of prunable.working.notes) ctx.log(`graph: ${note}`);
  if (discovery.note) ctx.log(`structure: ${discovery.note}`);
  ctx.log(`${family}: ${blocks} blocks, ${linears.length} prunable linears (by ${discovery.method}); ${spec.method} at ${spec.sparsity} (${spec.pattern})`);

  const st: Statistics = {};
  let masks: LayerMask[] = [];
  const extra: Record<string, unknown> = { family, blocks, linears: linears.length, discovery, graph: { file: graph.name, notes: prunable.working.notes } };
  let statsDevice: string | undefined;
  let corpus: CorpusData | undefined;

  if (spec.method === 'wanda') {
    const cal = spec.calibration;
    if (!cal) throw new Error('wanda needs calibration (corpusId, dataType, shots, samples, maxLength)');
    corpus = await loadCorpus(ctx, 'corpus');
    const set = calibrationSet(corpus, cal.dataType === 'mono' ? 'mono' : 'mt', cal, tok);
    extra.calibration = {
      pair: `${corpus.srcLang}-${corpus.tgtLang}`,
      dataType: cal.dataType,
      samples: cal.samples,
      shots: cal.shots,
      maxLength: cal.maxLength,
      direction: cal.direction,
      wrapped: set.wrapped,
      corpusPairs: corpus.pairs.length,
    };
    const prior = spec.mode === 'oneshot' ? await priorStats(ctx) : undefined;
    if (prior) {
      // Same model bytes, corpus and calibration options as an earlier oneshot run: no forward pass.
      st.main = prior.main;
      st.contrast = prior.contrast;
      extra.statsReusedFrom = prior.runId;
      ctx.log(`reusing activation statistics of run ${prior.runId}`);
    }
    if (cal.dataType === 'mt-contrast' && !prior) {
      const contrast = await loadCorpus(ctx, 'contrast');
      const cset = calibrationSet(contrast, contrast.srcLang === contrast.tgtLang ? 'mono' : 'mt', cal, tok);
      st.contrast = (
        await timed('calibrate-contrast', () =>
          collectStats(model, linears, cset.tokens, {
            mode: 'oneshot',
            maskPadding: cal.maskPadding,
            session,
            config,
            onProgress: (_s, d, t) => ctx.progress('calibrate contrast', d, t),
          }),
        )
      ).stats;
    }
    const sequential = spec.mode === 'sequential';
    const r = prior
      ? undefined
      : await timed('calibrate', () =>
          collectStats(model, linears, set.tokens, {
            mode: spec.mode,
            maskPadding: cal.maskPadding,
            session,
            config,
            log: ctx.log,
            onProgress: (_s, d, t) => ctx.progress(sequential ? 'calibrate+mask' : 'calibrate', d, t),
            // Sequential (Wanda-exact): block b's masks are chosen before block b+1 is calibrated.
            maskBlock: sequential
              ? (b, stats) => {
                  st.main = stats;
                  return Promise.all(
                    linears
                      .map((l, i) => [l, i] as const)
                      .filter(([l]) => l.block === b)
                      .map(([l, i]) => maskOf(model, spec, l, i, st)),
                  );
                }
              : undefined,
          }),
        );
    if (r) {
      st.main = r.stats;
      statsDevice = r.device;
      extra.calibrationRuns = r.runs;
      extra.calibrationBatchSize = r.batchSize;
      if (sequential) masks = r.masks;
    }
  }
  if (masks.length === 0) {
    masks = await timed('masks', async () => {
      const out: LayerMask[] = [];
      for (const [i, l] of linears.entries()) {
        out.push(await maskOf(model, spec, l, i, st));
        ctx.progress('masks', i + 1, linears.length);
      }
      return out;
    });
  }
  const report = sparsityReport(masks);
  ctx.log(`masks: overall sparsity ${report.sparsity.toFixed(4)}`);

  const artifacts: string[] = [];
  const upload = async (name: string, data: Uint8Array | { path: string }) => {
    await ctx.upload(name, data);
    artifacts.push(name);
  };
  const meta = {
    method: spec.method,
    sparsity: spec.sparsity,
    pattern: spec.pattern,
    dropTop: spec.dropTop,
    modelSha256: graph.sha256,
  };
  await timed('upload-masks', async () => {
    await upload('masks.bin', packMasks(masks, meta));
    if (st.main) await upload('stats.bin', encodeStats(st.main, { ...meta, calibration: spec.calibration }));
    if (st.contrast) await upload('contrast-stats.bin', encodeStats(st.contrast, { ...meta, role: 'contrast' }));
  });

  // The run says whether it has an LMF report and, when not, why (the page shows it).
  let lmf: LmfStatus = { status: 'not-applicable', reason: `no LMF report: method ${spec.method} uses no calibration text to compare translation with` };
  if (corpus && spec.calibration) {
    const r = await timed('lmf', () => lmfReport(ctx, model, linears, blocks, corpus!, spec, tok, session, config));
    if ('report' in r) {
      await ctx.step('upload-lmf', () => upload('lmf.json', new TextEncoder().encode(JSON.stringify(r.report))));
      lmf = { status: 'available', pair: r.report.pairs[0]!.pair, k: r.report.k, blocks: r.report.blocks, dim: r.report.dim };
    } else {
      ctx.log(r.reason);
      lmf = { status: 'unavailable', reason: r.reason };
    }
  }
  extra.lmf = lmf;

  await mkdir(outDir, { recursive: true });
  // Same file name, external-data name, dtype and cache I/O as the upload.
  const saved = await timed('write-model', () => writePrunedModel(uploaded, linears, masks, path.join(outDir, graph.name)));
  await linkCompanions(ctx, outDir);
  const files = [saved.modelPath, ...(saved.dataPath ? [saved.dataPath] : [])];
  // Large files (an external-data file of a real LM) go up in parts, read from disk part by part.
  await timed('upload-model', async () => {
    for (const f of files) await upload(path.basename(f), { path: f });
  });

  const evaluation = await evaluateSuites(ctx, outDir, {
    scoring: spec.scoring,
    templateLang: spec.templateLang,
    device,
    denseDir: modelDir,
    graphFile: graph.name,
  });
  timings.evaluate = Math.round(evaluation.seconds * 100) / 100;
  assertEverySuiteScored(
    spec.suites,
    evaluation.scores.map((s) => s.suiteId),
  );

  return {
    overallSparsity: report.sparsity,
    layers: report.layers.map((l) => ({ id: l.id, sparsity: l.sparsity, dIn: l.dIn, dOut: l.dOut })),
    scores: evaluation.scores,
    artifacts,
    device: statsDevice ?? String(ctx.device),
    timings,
    extra: { ...extra, evaluation: evaluation.summaries },
  };
}

/** The model's graph file as the lease marks it (meta.graph), with its registered family; model.onnx before that existed. */
export function graphInput(ctx: JobContext): { name: string; sha256?: string; family?: string } {
  const models = ctx.inputs.filter((i) => i.role === 'model');
  const g = models.find((i) => i.meta.graph === true) ?? models.find((i) => i.name === 'model.onnx');
  if (!g) throw new Error(`the job's model has no graph file among ${models.map((i) => i.name).join(', ') || 'no files'}`);
  return { name: g.name, sha256: g.sha256, family: typeof g.meta.family === 'string' ? g.meta.family : undefined };
}

/** The tokenizer and config travel with a pruned graph so that its directory is a complete model. */
export async function linkCompanions(ctx: JobContext, dir: string): Promise<void> {
  for (const i of ctx.inputs) if (i.role === 'model' && /\.(json|txt|model)$/.test(i.name)) await ctx.place(i.name, path.join(dir, i.name));
}

/** A result without a score for a requested suite is partial: fail rather than report it. */
export function assertEverySuiteScored(requested: string[], scored: string[]): void {
  const have = new Set(scored);
  const missing = requested.filter((s) => !have.has(s));
  if (missing.length) throw new Error(`no scores for suites ${missing.join(', ')}; refusing to report a partial result`);
}
