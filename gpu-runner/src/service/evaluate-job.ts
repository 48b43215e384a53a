/**
 * An evaluate job: the dense model, or the pruned model of a finished prune run. The pruned model is
 * rebuilt from the run's packed masks and the dense model when the masks are there (works for models
 * too large to be stored as one artifact); otherwise the run's uploaded pruned graph is used.
 */
import { mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import type { EvaluateJobSpec } from '@polyprune/shared/api/jobs';
import { discoverStructure, preflight } from '../model/preflight';
import { writePrunedModel } from '../onnx/apply-mask';
import type { Device } from '../ort';
import { sparsityReport } from '../prune/masks';
import { unpackMasks } from '../prune/pack';
import { assertEverySuiteScored, graphInput, linkCompanions } from './prune-job';
import type { RunResult } from './protocol';
import { checkDeviceLimits, checkJobMemory } from './memory-check';
import { bootstrapDenseExtra, evaluateSuites } from './suites';
import type { JobContext } from './lease-loop';

export async function runEvaluateJob(ctx: JobContext, spec: EvaluateJobSpec): Promise<RunResult> {
  const timings: Record<string, number> = {};
  const modelDir = path.join(ctx.dir, 'model');
  const t0 = performance.now();
  await ctx.step('download', async () => {
    await ctx.inputsOfRole('model', modelDir);
    for (const i of ctx.inputs.filter((x) => x.role === 'suite')) await ctx.input(i.name);
  });
  timings.download = (performance.now() - t0) / 1000;
  const graph = graphInput(ctx);
  // Refusals (quantized graph, missing data file, no logits, tokenizer beyond the vocabulary) come
  // before any compute, as for prune jobs.
  const checked = await ctx.step('preflight', async () => {
    const checked = await preflight({ dir: modelDir, graphFile: graph.name, scoring: true, modelId: spec.modelId });
    const fp16Weights = checkJobMemory(ctx, `evaluating ${graph.name}`, checked.model, [], 0, undefined, true) === 'per-run' ? 'per-run' : 'fold';
    await checkDeviceLimits(ctx, checked.model);
    return { ...checked, fp16Weights } as const;
  });

  let evalDir = modelDir;
  let overallSparsity: number | null = null;
  let layers: RunResult['layers'] = [];
  const extra: Record<string, unknown> = {};
  if (spec.runId) {
    const base = ctx.inputs.filter((i) => i.role === 'base-run');
    evalDir = path.join(ctx.dir, 'pruned');
    const masksInput = base.find((i) => i.name === 'base-masks.bin');
    if (masksInput) {
      const t1 = performance.now();
      await ctx.step('rebuild-pruned-model', async () => {
        const { masks } = unpackMasks(new Uint8Array(await readFile(await ctx.input(masksInput.name))));
        await mkdir(evalDir, { recursive: true });
        const { structure } = discoverStructure(checked.model, graph.name, graph.family);
        // Only evaluated here, never uploaded: it may read the model's own data file (linkSource).
        await writePrunedModel(checked.model, structure.linears, masks, path.join(evalDir, graph.name), { linkSource: true });
        const report = sparsityReport(masks);
        overallSparsity = report.sparsity;
        layers = report.layers.map((l) => ({ id: l.id, sparsity: l.sparsity, dIn: l.dIn, dOut: l.dOut }));
      });
      timings.rebuild = (performance.now() - t1) / 1000;
      extra.prunedFrom = 'masks';
    } else if (base.some((i) => i.name === `base-${graph.name}`)) {
      // The graph names its external data file without the "base-" prefix the API adds.
      await ctx.step('download-pruned', () => ctx.inputsOfRole('base-run', evalDir, (n) => n.replace(/^base-/, '')));
      extra.prunedFrom = 'model artifact';
    } else {
      throw new Error(`run ${spec.runId} has neither masks.bin nor a pruned ${graph.name} to evaluate`);
    }
    await linkCompanions(ctx, evalDir);
    extra.baseRunId = spec.runId;
  }
  const evaluation = await evaluateSuites(ctx, evalDir, {
    scoring: spec.scoring,
    templateLang: spec.templateLang,
    ...(spec.limit ? { limit: { rows: spec.limit, seed: spec.limitSeed } } : {}),
    device: ctx.device as Device | 'auto',
    denseDir: spec.runId ? modelDir : undefined,
    graphFile: graph.name,
    fp16Weights: checked.fp16Weights,
  });
  timings.evaluate = evaluation.seconds;
  assertEverySuiteScored(
    spec.suites,
    evaluation.scores.map((s) => s.suiteId),
  );
  return {
    overallSparsity,
    layers,
    scores: evaluation.scores,
    artifacts: evaluation.artifacts,
    device: String(ctx.device),
    timings,
    extra: {
      ...extra,
      evaluation: evaluation.summaries,
      ...(evaluation.setup ? { evaluationSetup: evaluation.setup } : {}),
      seeds: evaluation.seeds,
      bootstrapDense: bootstrapDenseExtra(evaluation),
      rankc: evaluation.rankc,
    },
  };
}
