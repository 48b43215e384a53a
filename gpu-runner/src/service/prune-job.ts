/**
 * A prune job, composed from the engine (docs/design.md §3): model → calibration text → activation
 * statistics → scores → masks → pruned model, packed masks, statistics and LMF report as artifacts →
 * evaluation of the pruned model on the job's suites.
 */
import { mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import type { PruneJobSpec } from '@polyprune/shared/api/jobs';
import type { LmfStatus } from '@polyprune/shared/api/analysis';
import { CALIBRATION_STATS_VERSION, type CalibrationRecord, type LayerSparsityRecord, type RunSeeds } from '@polyprune/shared/api/run-provenance';
import { calibrationFeeds } from '../calibrate/feeds';
import { truncation } from '../calibrate/text';
import { lmfReport as lmfReportSchema } from '@polyprune/shared/api/lmf';
import type { UploadSource } from '@polyprune/shared/multipart-upload';
import { ResidualAccumulator, buildLmfReport, type LmfInput, type LmfReport } from '../analyze/lmf';
import { collectResidualStream } from '../calibrate/residual';
import { collectStats, type CollectOptions } from '../calibrate/stats';
import { DataType } from '../onnx/proto';
import { decodeStats, encodeStats } from '../calibrate/stats-file';
import { discoverStructure, preflight, UnsupportedModel } from '../model/preflight';
import type { ModelConfig } from '../onnx/graph-io';
import { writePrunedModel } from '../onnx/apply-mask';
import { UpdatedWeights, writeUpdatedModel } from '../onnx/write-weights';
import { hessianBlockwise } from '../calibrate/hessians';
import { makeBatches, splitSamples } from '../calibrate/batches';
import { Gemm } from '../prune/linalg64';
import { sparseGptOptions, sparseGptPruner } from '../prune/sparsegpt-policy';
import type { OnnxModel } from '../onnx/read';
import { BlocksNotSeparable, findBlockOutputs } from '../onnx/structure';
import type { Device } from '../ort';
import { sparsityReport } from '../prune/masks';
import { packMasks } from '../prune/pack';
import { planOwl } from '../prune/owl';
import { releaseMaskThreads } from '../prune/mask-threads';
import { allMasks, blockMasker, layerSparsityOf, type MaskPolicy, RANDOM_LAYER_SEEDS, type Statistics } from '../prune/policy';
import type { LoadedTokenizer } from '../tokenize/index';
import type { ActivationStats, LayerMask, PrunableLinear } from '../types';
import { calibrationSet, loadCorpora, loadCorpus, mixCalibrationSet, type CorpusData } from './calibration';
import type { RunResult } from './protocol';
import { checkDeviceLimits, checkJobMemory, type EvaluationFp16 } from './memory-check';
import { bootstrapDenseExtra, evaluateSuites } from './suites';
import type { JobContext } from './lease-loop';

/** The LMF report is an analysis, not the method: a few samples give stable top-k sets. */
const LMF_SAMPLES = 16;

/**
 * Statistics of an earlier oneshot run the API offered with the lease (role "stats"), if any, and
 * only if they were computed with the calibration feeds of this version (the file's meta says).
 */
async function priorStats(ctx: JobContext): Promise<{ runId: string; main: ActivationStats; contrast?: ActivationStats } | undefined> {
  const main = ctx.inputs.find((i) => i.role === 'stats' && i.meta.artifact === 'stats.bin');
  if (!main) return undefined;
  const load = async (name: string) => decodeStats(new Uint8Array(await readFile(await ctx.input(name))));
  const contrast = ctx.inputs.find((i) => i.role === 'stats' && i.meta.artifact === 'contrast-stats.bin');
  const m = await load(main.name);
  const c = contrast ? await load(contrast.name) : undefined;
  const stale = [m, ...(c ? [c] : [])].find((s) => s.meta.statsVersion !== CALIBRATION_STATS_VERSION);
  if (stale) {
    ctx.log(
      `not reusing the statistics of run ${String(main.meta.runId)}: calibration feeds version ${String(stale.meta.statsVersion ?? 1)}, this runner's is ${CALIBRATION_STATS_VERSION}`,
    );
    return undefined;
  }
  return { runId: String(main.meta.runId), main: m.stats, ...(c ? { contrast: c.stats } : {}) };
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
  m: LoadedModel,
  corpus: CorpusData,
  spec: PruneJobSpec,
  session: CollectOptions['session'],
  memoryLimitBytes: number | undefined,
): Promise<{ report: LmfReport } | { reason: string }> {
  const { model, linears, blocks, tok, config } = m;
  let outputs: ReturnType<typeof findBlockOutputs>;
  try {
    outputs = findBlockOutputs(model, linears);
  } catch (err) {
    if (!(err instanceof BlocksNotSeparable)) throw err;
    return { reason: residualTapProblem(model, err) };
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
      {
        maskPadding: cal.maskPadding,
        session,
        config,
        elemType,
        hidden: linears[0]!.dIn,
        memoryLimitBytes,
        onProgress: (_s, done, total) => ctx.progress(`lmf ${kind}`, done, total),
      },
    );
    return acc!;
  };
  const input: LmfInput = { pair: `${corpus.srcLang}-${corpus.tgtLang}`, translation: await series('mt'), monolingual: await series('mono') };
  return { report: buildLmfReport([input], { ratio: 0.3 }) };
}

/** What every stage of a prune job shares. */
interface PruneRun {
  ctx: JobContext;
  spec: PruneJobSpec;
  graph: ReturnType<typeof graphInput>;
  modelDir: string;
  device: Device | 'auto';
  session: CollectOptions['session'];
  memoryLimitBytes?: number;
  /** Runs a named step and records its seconds in the run's timings. */
  timed: <T>(name: string, fn: () => Promise<T>) => Promise<T>;
  timings: Record<string, number>;
  /** Recorded on the run (its `extra`). */
  extra: Record<string, unknown>;
  artifacts: string[];
  /** how evaluation holds fp16 weights on CPU, as the memory check chose */
  evaluationFp16?: EvaluationFp16;
}

/** The model as preflight accepted it, and the graph calibration runs on. */
interface LoadedModel {
  /** the graph as uploaded: masks are written into it */
  uploaded: OnnxModel;
  /** the working graph (normalized) that calibration and masks run on */
  model: OnnxModel;
  config: ModelConfig;
  tok: LoadedTokenizer;
  blocks: number;
  linears: PrunableLinear[];
}

export async function runPruneJob(ctx: JobContext, spec: PruneJobSpec): Promise<RunResult> {
  const run = startRun(ctx, spec);
  await run.timed('download', async () => {
    await ctx.inputsOfRole('model', run.modelDir);
    for (const i of ctx.inputs.filter((x) => x.role !== 'model')) await ctx.input(i.name);
  });
  const pruned = await prune(run);
  const evaluation = await evaluatePruned(run);
  const seeds: RunSeeds = {
    ...(run.spec.method === 'random' ? { randomMasks: { seed: run.spec.seed, perLayer: RANDOM_LAYER_SEEDS } } : {}),
    ...evaluation.seeds,
  };
  return {
    ...pruned,
    scores: evaluation.scores,
    artifacts: [...run.artifacts, ...evaluation.artifacts],
    timings: run.timings,
    extra: {
      ...run.extra,
      evaluation: evaluation.summaries,
      ...(evaluation.setup ? { evaluationSetup: evaluation.setup } : {}),
      seeds,
      bootstrapDense: bootstrapDenseExtra(evaluation),
      rankc: evaluation.rankc,
    },
  };
}

/**
 * Everything up to the uploaded pruned model. Its own function so that the masks (a byte per
 * weight) and the decoded graphs are garbage by the time evaluation runs.
 */
async function prune(run: PruneRun): Promise<Pick<RunResult, 'overallSparsity' | 'layers' | 'device'>> {
  const { ctx } = run;
  const m = await loadPrunable(run);
  const st: Statistics = {};
  // layerSparsity fills in policy.blockSparsity during calibration (OWL reads dense Wanda scores).
  const policy: MaskPolicy = { ...run.spec };
  const updated = run.spec.method === 'sparsegpt' ? new UpdatedWeights(path.join(run.ctx.dir, 'updated-weights')) : undefined;
  let calibrated: Awaited<ReturnType<typeof calibrate>> | undefined;
  let masks: LayerMask[];
  try {
    calibrated = run.spec.method === 'wanda' || updated || run.spec.layerSparsity ? await calibrate(run, m, st, policy, updated) : undefined;
    masks = calibrated?.masks.length
      ? calibrated.masks
      : await run.timed('masks', () => allMasks(m.model, policy, m.linears, st, (d, t) => ctx.progress('masks', d, t)));
  } finally {
    // Also when calibration fails: the threads and the heap (block weights included) must not outlive the job.
    await releaseMaskThreads();
  }
  const report = sparsityReport(masks);
  recordBlockSparsity(run, m, report);
  ctx.log(`masks: overall sparsity ${report.sparsity.toFixed(4)}`);
  await uploadMasksAndStats(run, masks, st);
  // The model before the LMF report: the masks it empties are then garbage while the LMF pass runs.
  await writeAndUploadPrunedModel(run, m, masks, updated);
  run.extra.lmf = await lmfStage(run, m, calibrated?.corpus);
  return {
    overallSparsity: report.sparsity,
    layers: report.layers.map((l) => ({ id: l.id, sparsity: l.sparsity, dIn: l.dIn, dOut: l.dOut })),
    device: calibrated?.device ?? String(ctx.device),
  };
}

function startRun(ctx: JobContext, spec: PruneJobSpec): PruneRun {
  const timings: Record<string, number> = {};
  return {
    ctx,
    spec,
    graph: graphInput(ctx),
    modelDir: path.join(ctx.dir, 'model'),
    device: ctx.device as Device | 'auto',
    session: { device: ctx.device as Device | 'auto', log: ctx.log },
    memoryLimitBytes: ctx.memoryLimit?.bytes,
    timings,
    timed: async (name, fn) => {
      const t0 = performance.now();
      const out = await ctx.step(name, fn);
      timings[name] = Math.round((performance.now() - t0) / 10) / 100;
      return out;
    },
    extra: {},
    artifacts: [],
  };
}

/** Everything that can refuse the model (memory included) is checked before any compute. */
async function loadPrunable(run: PruneRun): Promise<LoadedModel> {
  const { ctx, spec, graph } = run;
  const { checked, prunable } = await run.timed('preflight', async () => {
    const checked = await preflight({ dir: run.modelDir, graphFile: graph.name, scoring: spec.suites.length > 0, modelId: spec.modelId });
    const prunable = discoverStructure(checked.model, graph.name, graph.family);
    const maxLength = spec.calibration?.maxLength ?? 1;
    run.evaluationFp16 = checkJobMemory(
      ctx,
      `pruning ${graph.name}`,
      checked.model,
      prunable.structure.linears,
      maxLength,
      spec.method,
      spec.suites.length > 0,
    );
    await checkDeviceLimits(ctx, checked.model);
    return { checked, prunable };
  });
  const { family, blocks, linears, discovery } = prunable.structure;
  for (const note of prunable.working.notes) ctx.log(`graph: ${note}`);
  if (discovery.note) ctx.log(`structure: ${discovery.note}`);
  ctx.log(`${family}: ${blocks} blocks, ${linears.length} prunable linears (by ${discovery.method}); ${spec.method} at ${spec.sparsity} (${spec.pattern})`);
  Object.assign(run.extra, { family, blocks, linears: linears.length, discovery, graph: { file: graph.name, notes: prunable.working.notes } });
  return { uploaded: checked.model, model: prunable.working.model, config: checked.side.config, tok: checked.tokenizer, blocks, linears };
}

/**
 * Activation statistics (st.main, st.contrast) from the calibration text, or those of an earlier
 * oneshot run with the same inputs; sequential mode also returns the masks, chosen block by block.
 */
async function calibrate(
  run: PruneRun,
  m: LoadedModel,
  st: Statistics,
  policy: MaskPolicy,
  updated?: UpdatedWeights,
): Promise<{ corpus: CorpusData; masks: LayerMask[]; device?: string }> {
  const { ctx, spec } = run;
  const cal = spec.calibration;
  if (!cal)
    throw new Error(
      `${spec.method}${spec.layerSparsity ? `+${spec.layerSparsity.kind}` : ''} needs calibration (corpusId, dataType, shots, samples, maxLength)`,
    );
  const corpora = await loadCorpora(ctx);
  const corpus = corpora[0]!;
  const set = mixCalibrationSet(corpora, cal.dataType === 'mono' ? 'mono' : 'mt', cal, m.tok);
  const contrast = cal.dataType === 'mt-contrast' ? await loadCorpus(ctx, 'contrast') : undefined;
  const cset = contrast ? calibrationSet(contrast, contrast.srcLang === contrast.tgtLang ? 'mono' : 'mt', cal, m.tok) : undefined;
  const record: CalibrationRecord = {
    statsVersion: CALIBRATION_STATS_VERSION,
    pair: set.parts.map((p) => p.pair).join('+'),
    dataType: cal.dataType,
    samples: cal.samples,
    shots: cal.shots,
    maxLength: cal.maxLength,
    direction: cal.direction,
    wrapped: set.wrapped,
    corpusPairs: corpora.reduce((n, c) => n + c.pairs.length, 0),
    truncated: truncation(set.tokens),
    ...(corpora.length > 1 ? { mix: set.parts } : {}),
    ...(contrast && cset ? { contrast: { wrapped: cset.wrapped, corpusPairs: contrast.pairs.length, truncated: truncation(cset.tokens) } } : {}),
    ...calibrationFeeds(
      (m.model.proto.graph?.input ?? []).map((i) => i.name ?? ''),
      cal.maskPadding,
    ),
  };
  run.extra.calibration = record;
  const common = { maskPadding: cal.maskPadding, memoryLimitBytes: run.memoryLimitBytes, session: run.session, config: m.config };
  if (updated) {
    if (spec.layerSparsity) {
      // OWL's outlier ratios come from the dense model (an earlier oneshot run's statistics, or a pass).
      const prior = await priorStats(ctx);
      const dense =
        prior?.main ??
        (
          await run.timed('calibrate-owl', () =>
            collectStats(m.model, m.linears, set.tokens, { ...common, mode: 'oneshot', onProgress: (_s, d, t) => ctx.progress('calibrate owl', d, t) }),
          )
        ).stats;
      if (prior) run.extra.statsReusedFrom = prior.runId;
      st.main = dense;
      await owlStage(run, m, dense, policy);
    }
    return { corpus, ...(await calibrateSparseGpt(run, m, set.tokens, updated, policy)) };
  }
  // Only sequential Wanda chooses masks during calibration; everything else reads dense statistics.
  const sequential = spec.mode === 'sequential' && spec.method === 'wanda';
  const prior = sequential ? undefined : await priorStats(ctx);
  if (prior) {
    // Same model bytes, corpus and calibration options as an earlier oneshot run: no forward pass.
    st.main = prior.main;
    st.contrast = prior.contrast;
    run.extra.statsReusedFrom = prior.runId;
    ctx.log(`reusing activation statistics of run ${prior.runId}`);
    if (spec.layerSparsity) await owlStage(run, m, prior.main, policy);
    return { corpus, masks: [] };
  }
  if (cset) {
    const r = await run.timed('calibrate-contrast', () =>
      collectStats(m.model, m.linears, cset.tokens, { ...common, mode: 'oneshot', onProgress: (_s, d, t) => ctx.progress('calibrate contrast', d, t) }),
    );
    st.contrast = r.stats;
  }
  if (spec.layerSparsity && sequential) {
    // OWL's outlier ratios come from the dense model: one oneshot pass before the sequential one.
    const dense = await run.timed('calibrate-owl', () =>
      collectStats(m.model, m.linears, set.tokens, { ...common, mode: 'oneshot', onProgress: (_s, d, t) => ctx.progress('calibrate owl', d, t) }),
    );
    await owlStage(run, m, dense.stats, policy);
  }
  const r = await run.timed('calibrate', () =>
    collectStats(m.model, m.linears, set.tokens, {
      ...common,
      mode: sequential ? 'sequential' : 'oneshot',
      log: ctx.log,
      onProgress: (_s, d, t) => ctx.progress(sequential ? 'calibrate+mask' : 'calibrate', d, t),
      maskBlock: sequential ? blockMasker(m.model, policy, m.linears, st) : undefined,
    }),
  );
  st.main = r.stats;
  run.extra.calibrationRuns = r.runs;
  run.extra.calibrationBatchSize = r.batchSize;
  if (spec.layerSparsity && !sequential) await owlStage(run, m, r.stats, policy);
  return { corpus, masks: sequential ? r.masks : [], device: r.device };
}

/** OWL: each block's outlier ratio from dense statistics, and the per-block sparsity the masks take. */
async function owlStage(run: PruneRun, m: LoadedModel, dense: ActivationStats, policy: MaskPolicy): Promise<void> {
  const ls = run.spec.layerSparsity!;
  const plan = await run.timed('owl', () =>
    planOwl(m.model, m.linears, dense, { m: ls.m, lambda: ls.lambda, sparsity: run.spec.sparsity }, (d, t) => run.ctx.progress('owl ratios', d, t)),
  );
  policy.blockSparsity = plan.blockSparsity;
  const record: LayerSparsityRecord = { ...ls, sparsity: run.spec.sparsity, blocks: plan.blocks };
  run.extra.layerSparsity = record;
  const range = plan.blocks.map((b) => b.sparsity);
  run.ctx.log(`owl: block sparsities ${Math.min(...range).toFixed(4)}–${Math.max(...range).toFixed(4)} around ${run.spec.sparsity}`);
}

/** The sparsity each block reached, next to its OWL target (the run's sparsity report by block). */
function recordBlockSparsity(run: PruneRun, m: LoadedModel, report: ReturnType<typeof sparsityReport>): void {
  const owl = run.extra.layerSparsity as LayerSparsityRecord | undefined;
  if (!owl) return;
  const blockOf = new Map(m.linears.map((l) => [l.id, l.block]));
  for (const b of owl.blocks) {
    const layers = report.layers.filter((l) => blockOf.get(l.id) === b.block);
    b.achieved = layers.reduce((n, l) => n + l.pruned, 0) / layers.reduce((n, l) => n + l.total, 0);
  }
}

/**
 * SparseGPT always calibrates (its Hessians are never stored, so no earlier run's statistics serve):
 * block by block, Hessians from the block's inputs, then fasterprune of each linear, the updated
 * weights fed to the next block in sequential mode.
 */
async function calibrateSparseGpt(
  run: PruneRun,
  m: LoadedModel,
  tokens: Parameters<typeof splitSamples>[0],
  updated: UpdatedWeights,
  policy: MaskPolicy,
): Promise<{ masks: LayerMask[]; device: string }> {
  const { ctx, spec } = run;
  const cal = spec.calibration!;
  const samples = splitSamples(tokens);
  const elemType = m.model.initializers.get(m.linears[0]!.weightName)?.dataType ?? DataType.FLOAT;
  // One sample per batch keeps a block's activations small next to its Hessians.
  const batches = makeBatches(samples, 1);
  const opts = sparseGptOptions(spec);
  run.extra.sparsegpt = opts;
  const gemm = new Gemm();
  try {
    const r = await run.timed('calibrate', () =>
      hessianBlockwise({
        model: m.model,
        linears: m.linears,
        batches,
        samples: samples.length,
        maskPadding: cal.maskPadding,
        elemType,
        mode: spec.mode,
        progress: (_s, d, t) => ctx.progress('calibrate+prune', d, t),
        session: run.session,
        config: m.config,
        pruneBlock: sparseGptPruner(m.model, m.linears, opts, gemm, updated, (l) => layerSparsityOf(policy, l)),
      }),
    );
    run.extra.calibrationRuns = r.runs;
    run.extra.calibrationBatchSize = 1;
    return { masks: r.masks, device: r.device };
  } catch (err) {
    // No whole-graph fallback for SparseGPT: the next block must see the updated weights.
    if (err instanceof BlocksNotSeparable)
      throw new UnsupportedModel(`method sparsegpt needs blocks that can be cut apart at the residual stream: ${err.message}`);
    throw err;
  } finally {
    await gemm.release();
  }
}

async function upload(run: PruneRun, name: string, data: UploadSource): Promise<void> {
  await run.ctx.upload(name, data);
  run.artifacts.push(name);
}

async function uploadMasksAndStats(run: PruneRun, masks: LayerMask[], st: Statistics): Promise<void> {
  const { spec } = run;
  const meta = { method: spec.method, sparsity: spec.sparsity, pattern: spec.pattern, dropTop: spec.dropTop, modelSha256: run.graph.sha256 };
  // The feeds version travels with the statistics: a later job reuses them only under the same one.
  const statsMeta = { ...meta, statsVersion: CALIBRATION_STATS_VERSION, maskPadding: spec.calibration?.maskPadding };
  await run.timed('upload-masks', async () => {
    await upload(run, 'masks.bin', packMasks(masks, meta));
    if (st.main) await upload(run, 'stats.bin', encodeStats(st.main, { ...statsMeta, calibration: spec.calibration }));
    if (st.contrast) await upload(run, 'contrast-stats.bin', encodeStats(st.contrast, { ...statsMeta, role: 'contrast' }));
  });
}

/** The run says whether it has an LMF report and, when not, why (the page shows it). */
async function lmfStage(run: PruneRun, m: LoadedModel, corpus: CorpusData | undefined): Promise<LmfStatus> {
  const { ctx, spec } = run;
  if (!corpus || !spec.calibration) {
    return { status: 'not-applicable', reason: `no LMF report: method ${spec.method} uses no calibration text to compare translation with` };
  }
  const r = await run.timed('lmf', () => lmfReport(ctx, m, corpus, spec, run.session, run.memoryLimitBytes));
  if ('reason' in r) {
    ctx.log(r.reason);
    return { status: 'unavailable', reason: r.reason };
  }
  // Checked against the contract before it leaves, as the worker checks it again at completion.
  const checked = lmfReportSchema.parse(r.report);
  await ctx.step('upload-lmf', () => upload(run, 'lmf.json', new TextEncoder().encode(JSON.stringify(checked))));
  return { status: 'available', pair: r.report.pairs[0]!.pair, k: r.report.k, blocks: r.report.blocks, dim: r.report.dim };
}

/**
 * Same file name, external-data name, dtype and cache I/O as the upload; large files go up in parts.
 * Empties `masks` once the model is written (they are in masks.bin already): a byte per weight, half
 * an fp16 model, freed before the upload and the LMF pass that follow.
 */
async function writeAndUploadPrunedModel(run: PruneRun, m: LoadedModel, masks: LayerMask[], updated?: UpdatedWeights): Promise<void> {
  const outDir = prunedDir(run);
  await mkdir(outDir, { recursive: true });
  const out = path.join(outDir, run.graph.name);
  // The copy evaluation opens may read the source's data file (linkSource); the upload sends the
  // one-file form, assembled from the same bytes as it is read.
  const opts = { linkSource: true };
  // SparseGPT changes the weights it keeps; the other methods only zero the pruned ones.
  const saved = await run.timed('write-model', () =>
    updated ? writeUpdatedModel(m.uploaded, m.linears, masks, updated, out, opts) : writePrunedModel(m.uploaded, m.linears, masks, out, opts),
  );
  masks.length = 0;
  await linkCompanions(run.ctx, outDir);
  await run.timed('upload-model', async () => {
    for (const f of saved.portable) await upload(run, f.name, f.source);
  });
}

const prunedDir = (run: PruneRun) => path.join(run.ctx.dir, 'pruned');

async function evaluatePruned(run: PruneRun) {
  const evaluation = await evaluateSuites(run.ctx, prunedDir(run), {
    scoring: run.spec.scoring,
    templateLang: run.spec.templateLang,
    ...(run.spec.limit ? { limit: { rows: run.spec.limit, seed: run.spec.limitSeed } } : {}),
    device: run.device,
    denseDir: run.modelDir,
    graphFile: run.graph.name,
    fp16Weights: run.evaluationFp16 === 'per-run' ? 'per-run' : 'fold',
  });
  run.timings.evaluate = Math.round(evaluation.seconds * 100) / 100;
  assertEverySuiteScored(
    run.spec.suites,
    evaluation.scores.map((s) => s.suiteId),
  );
  return evaluation;
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
