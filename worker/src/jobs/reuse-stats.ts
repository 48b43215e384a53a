import { and, desc, eq, or, type SQL } from 'drizzle-orm';
import type { CalibrationSpec, JobSpec } from '../../../shared/src/api/jobs';
import { CALIBRATION_STATS_VERSION } from '../../../shared/src/api/run-provenance';
import { jobArtifacts, models, runs } from '../db/schema';
import { loadModelStatus } from '../ingest/model-status';
import { ADMIN_OWNER } from '../lib/auth';
import type { Db } from '../lib/db';

/** Everything in the spec that determines oneshot statistics; method, sparsity and pattern do not. */
const statsKey = (c: CalibrationSpec) =>
  JSON.stringify([c.corpusId, c.dataType, c.contrastCorpusId ?? null, c.shots, c.samples, c.maxLength, c.maskPadding, c.direction]);

/**
 * The runner's calibration feeds version the run recorded; runs from before it was recorded (1) fed
 * graphs that take an attention mask the padding mask even with maskPadding false.
 */
const statsVersionOf = (extra: unknown) => {
  const v = (extra as { calibration?: { statsVersion?: unknown } } | null)?.calibration?.statsVersion;
  return typeof v === 'number' ? v : 1;
};

export interface ReusableStats {
  runId: string;
  artifacts: { name: string; sha256: string; size: number; r2Key: string }[];
}

/**
 * Design §3.2: in oneshot mode a new sparsity or method on the same (model, corpus, options) needs
 * no new forward pass. Finds the newest run whose statistics fit this job, on the same model bytes,
 * among the runs the job's owner may read. A public job only reuses public runs: its inputs name
 * the run, and a public record must not point at private work.
 */
export async function findReusableStats(db: Db, job: { modelId: string; spec: JobSpec; owner: string; visibility: string }): Promise<ReusableStats | null> {
  const spec = job.spec;
  // SparseGPT needs Hessians, which no run stores: it always calibrates.
  if (spec.kind !== 'prune' || spec.mode !== 'oneshot' || !spec.calibration || spec.method === 'sparsegpt') return null;
  const model = await db.query.models.findFirst({ where: eq(models.id, job.modelId) });
  if (!model) return null;
  const { graphFile: onnx, files } = await loadModelStatus(db, model);
  if (!onnx) return null;
  // The graph's sha does not cover its external weights nor the tokenizer: a run older than any
  // model file's (re)upload may have seen other bytes.
  const lastUpload =
    files
      .map((f) => f.createdAt)
      .sort()
      .at(-1) ?? '';
  const key = statsKey(spec.calibration);
  const candidates = await db
    .select()
    .from(runs)
    .where(and(eq(runs.modelId, job.modelId), eq(runs.kind, 'prune'), eq(runs.modelSha256, onnx.sha256), readableRuns(job)))
    .orderBy(desc(runs.createdAt))
    .limit(50);
  for (const r of candidates) {
    const cfg = r.config as { mode?: string; calibration?: CalibrationSpec };
    if (r.createdAt < lastUpload) continue;
    if (cfg.mode !== 'oneshot' || !cfg.calibration || statsKey(cfg.calibration) !== key) continue;
    if (statsVersionOf(r.extra) !== CALIBRATION_STATS_VERSION) continue;
    const wanted = ['stats.bin', ...(spec.calibration.dataType === 'mt-contrast' ? ['contrast-stats.bin'] : [])];
    const arts = await db.select().from(jobArtifacts).where(eq(jobArtifacts.jobId, r.jobId));
    const found = wanted.map((n) => arts.find((a) => a.name === n));
    if (found.every(Boolean)) return { runId: r.id, artifacts: found.map((a) => ({ name: a!.name, sha256: a!.sha256, size: a!.size, r2Key: a!.r2Key })) };
  }
  return null;
}

function readableRuns(job: { owner: string; visibility: string }): SQL | undefined {
  if (job.visibility === 'public') return eq(runs.visibility, 'public');
  if (job.owner === ADMIN_OWNER) return undefined;
  return or(eq(runs.visibility, 'public'), eq(runs.owner, job.owner));
}
