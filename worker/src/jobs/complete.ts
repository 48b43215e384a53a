import { and, eq, inArray } from 'drizzle-orm';
import { analysisSummary } from '@polyprune/shared/api/analysis';
import type { AnalyzeJobSpec, EvaluateJobSpec, PruneJobSpec, RunResult } from '@polyprune/shared/api/jobs';
import { jobArtifacts, models, runs, suites } from '../db/schema';
import { loadModelStatus } from '../ingest/model-status';
import type { Bindings } from '../env';
import type { Db } from '../lib/db';
import { nowIso } from '../lib/db';
import { ApiError } from '../lib/errors';
import { resolveAnalysisRuns } from './analysis-runs';
import { checkJsonArtifacts, checkRunExtra } from './json-artifacts';
import type { JobRow } from './store';
import { variantOf, type VariantInfo } from './variant';

export const CODE_VERSION = '0.1.0';

/**
 * Records a finished job: run, scores and job status in ONE D1 batch (D1's only transaction).
 * Every insert is guarded by the job update having matched this lease, so a stale runner that
 * slips past the earlier checks still writes nothing, and a unique index stops a second run.
 */
export async function writeRun(env: Bindings, db: Db, job: JobRow, leaseToken: string, result: RunResult, runId: string): Promise<string> {
  const spec = job.spec;
  const known = result.artifacts.length
    ? await db
        .select()
        .from(jobArtifacts)
        // An artifact from an earlier, expired lease may be partial or from other inputs: it must be uploaded again.
        .where(and(eq(jobArtifacts.jobId, job.id), eq(jobArtifacts.leaseToken, leaseToken), inArray(jobArtifacts.name, result.artifacts)))
    : [];
  const missing = result.artifacts.filter((n) => !known.some((k) => k.name === n));
  if (missing.length) throw new ApiError(422, 'unknown_artifact', `artifacts not uploaded under this lease: ${missing.join(', ')}`, { missing });
  checkRunExtra(result.extra);
  await checkJsonArtifacts(env.BLOBS, known);

  const described = spec.kind === 'analyze' ? await describeAnalysis(db, spec, result) : await describeScored(db, job, spec, result);
  const { variant, corpusSha } = described;

  const samples = spec.kind === 'analyze' ? new Map<string, SuiteSample>() : await suiteSamples(db, spec.suites);
  const limit = spec.kind === 'analyze' ? null : (spec.limit ?? null);
  // The seed picks which rows a limit keeps: part of what a score was computed on, meaningless without a limit.
  const limitSeed = spec.kind === 'analyze' || limit === null ? null : (spec.limitSeed ?? 0);

  const now = nowIso();
  const codeVersion = result.codeVersion ?? env.CODE_VERSION ?? CODE_VERSION;
  const artifacts = known.map((k) => ({ name: k.name, sha256: k.sha256, size: k.size }));
  const d1 = env.DB;
  const stmts: D1PreparedStatement[] = [
    d1
      .prepare(
        `UPDATE jobs SET status = 'succeeded', run_id = ?1, finished_at = ?2, updated_at = ?2,
           progress_stage = 'done', progress_done = coalesce(progress_total, 1), progress_total = coalesce(progress_total, 1), progress_eta_seconds = NULL
         WHERE id = ?3 AND lease_token = ?4 AND status = 'running'`,
      )
      .bind(runId, now, job.id, leaseToken),
    d1
      .prepare(
        `INSERT INTO runs (id, job_id, owner, kind, visibility, model_id, model_sha256, corpus_sha256, variant, config, code_version,
           overall_sparsity, layers, artifacts, timings, extra, created_at)
         SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17
         WHERE EXISTS (SELECT 1 FROM jobs WHERE id = ?2 AND run_id = ?1)`,
      )
      .bind(
        runId,
        job.id,
        job.owner,
        job.kind,
        job.visibility,
        job.modelId,
        described.modelSha,
        corpusSha,
        variant.variant,
        JSON.stringify(described.config),
        codeVersion,
        result.overallSparsity,
        JSON.stringify(result.layers),
        JSON.stringify(artifacts),
        JSON.stringify(result.timings),
        JSON.stringify(result.extra),
        now,
      ),
  ];
  for (const s of result.scores) {
    stmts.push(
      d1
        .prepare(
          `INSERT INTO scores (run_id, model_id, visibility, owner, variant, method, sparsity, pattern, calibration, suite_id, format, lang, scoring, metric, value, n,
             template_lang, subset, seed, row_limit, limit_seed)
           SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21
           WHERE EXISTS (SELECT 1 FROM runs WHERE id = ?1)`,
        )
        .bind(
          runId,
          job.modelId,
          job.visibility,
          job.owner,
          variant.variant,
          variant.method,
          variant.sparsity,
          variant.pattern,
          variant.calibration,
          s.suiteId,
          s.format,
          s.lang,
          s.scoring,
          s.metric,
          s.value,
          s.n,
          s.templateLang ?? null,
          samples.get(s.suiteId)?.n ?? null,
          samples.get(s.suiteId)?.seed ?? null,
          limit,
          limitSeed,
        ),
    );
  }
  try {
    await d1.batch(stmts);
  } catch (err) {
    const msg = (err as Error).message;
    if (/UNIQUE|PRIMARY KEY/i.test(msg))
      throw new ApiError(422, 'duplicate_score', `result repeats a (suite, scoring, metric) or the job already has a run: ${msg}`);
    throw err;
  }
  return runId;
}

interface SuiteSample {
  n: number;
  seed: number;
}

/** The upload subsets of a job's suites (suite stats.subset), so every score says what it was computed on. */
async function suiteSamples(db: Db, ids: string[]): Promise<Map<string, SuiteSample>> {
  const out = new Map<string, SuiteSample>();
  if (!ids.length) return out;
  for (const s of await db.select({ id: suites.id, stats: suites.stats }).from(suites).where(inArray(suites.id, ids))) {
    const sub = (s.stats as { subset?: SuiteSample }).subset;
    if (sub) out.set(s.id, { n: sub.n, seed: sub.seed });
  }
  return out;
}

/** A prune or evaluate run: scores only for suites the job asked for, once each; the graph file's bytes. */
async function describeScored(db: Db, job: JobRow, spec: PruneJobSpec | EvaluateJobSpec, result: RunResult): Promise<Described> {
  const seen = new Set<string>();
  for (const sc of result.scores) {
    const k = `${sc.suiteId}/${sc.scoring}/${sc.metric}`;
    if (seen.has(k)) throw new ApiError(422, 'duplicate_score', `result lists ${k} twice`);
    seen.add(k);
    if (!spec.suites.includes(sc.suiteId)) throw new ApiError(422, 'unknown_suite', `score for suite ${sc.suiteId}, which the job did not ask for`);
  }

  // The run records the bytes of the graph file it ran, whatever the export named it.
  const model = await db.query.models.findFirst({ where: eq(models.id, job.modelId) });
  const onnx = model ? (await loadModelStatus(db, model)).graphFile : null;
  let corpusSha: string | null = null;
  let variant: VariantInfo;
  if (spec.kind === 'evaluate' && spec.runId) {
    const base = await db.query.runs.findFirst({ where: eq(runs.id, spec.runId) });
    const cfg = (base?.config ?? {}) as { variantInfo?: VariantInfo };
    variant = cfg.variantInfo ?? {
      variant: base?.variant ?? 'pruned',
      method: 'pruned',
      sparsity: base?.overallSparsity ?? null,
      pattern: null,
      calibration: null,
    };
    corpusSha = base?.corpusSha256 ?? null;
  } else {
    // Resolved when the job was validated (corpora are immutable): no look-up here.
    corpusSha = job.corpusSha256;
    variant = variantOf(spec, job.corpusPair);
  }
  return { modelSha: onnx?.sha256 ?? null, corpusSha, variant, config: { ...spec, variantInfo: variant, device: result.device ?? null } };
}

interface Described {
  modelSha: string | null;
  corpusSha: string | null;
  variant: VariantInfo;
  config: Record<string, unknown>;
}

/**
 * An analysis run: analysis.json stored, a summary of the contract's shape over exactly the runs the
 * job compares (as the lease listed them), no scores. Recorded with the compared runs' model bytes.
 */
async function describeAnalysis(db: Db, spec: AnalyzeJobSpec, result: RunResult): Promise<Described> {
  if (result.scores.length) throw new ApiError(422, 'unexpected_scores', 'an analysis reports no scores');
  if (!result.artifacts.includes('analysis.json')) throw new ApiError(422, 'missing_artifact', 'an analysis result must list its analysis.json artifact');
  const parsed = analysisSummary.safeParse(result.extra.analysis);
  if (!parsed.success) {
    const first = parsed.error.issues[0];
    throw new ApiError(422, 'invalid_analysis', `extra.analysis: ${first?.path.join('.') || '(root)'}: ${first?.message}`, parsed.error.issues.slice(0, 10));
  }
  const { runs: compared } = await resolveAnalysisRuns(db, spec);
  const want = compared.map((r) => r.id);
  const got = parsed.data.runs.map((r) => r.runId);
  if (got.length !== want.length || got.some((id) => !want.includes(id))) {
    throw new ApiError(422, 'analysis_runs_mismatch', `the analysis covers runs ${got.join(', ')}, the job compares ${want.join(', ')}`);
  }
  const n = want.length;
  const variant: VariantInfo = { variant: `analysis of ${n} runs`, method: 'analyze', sparsity: null, pattern: null, calibration: null };
  return {
    modelSha: compared[0]?.modelSha256 ?? null,
    corpusSha: null,
    variant,
    config: { ...spec, runs: want, labels: parsed.data.runs.map((r) => r.label), variantInfo: variant },
  };
}
