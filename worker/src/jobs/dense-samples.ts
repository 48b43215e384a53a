import { and, desc, eq, inArray } from 'drizzle-orm';
import type { JobSpec } from '../../../shared/src/api/jobs';
import { jobArtifacts, models, runs } from '../db/schema';
import { loadModelStatus } from '../ingest/model-status';
import type { Db } from '../lib/db';

export interface DenseSamples {
  runId: string;
  name: string;
  sha256: string;
  size: number;
  r2Key: string;
}

/**
 * The dense model's per-row results a job's paired bootstrap can reuse: from dense evaluations
 * (samples.jsonl.gz) and from earlier prune jobs that scored dense themselves (dense-samples.jsonl.gz),
 * on the same model bytes, template language, suites and rows (the same row limit and seed), newest first, as few files as cover the job's
 * (suite, scoring) pairs. The runner checks each file's header (model, suite bytes) before use.
 */
/** Whether two jobs evaluate the same rows of a suite: both every row, or the same limit and seed. */
const sameRows = (a: { limit?: number | null; limitSeed?: number }, b: { limit?: number | null; limitSeed?: number }) =>
  (a.limit ?? null) === (b.limit ?? null) && (a.limit == null || (a.limitSeed ?? 0) === (b.limitSeed ?? 0));

export async function findDenseSamples(db: Db, job: { modelId: string; spec: JobSpec }): Promise<DenseSamples[]> {
  const spec = job.spec;
  if (spec.kind === 'analyze' || (spec.kind === 'evaluate' && !spec.runId) || spec.suites.length === 0) return [];
  const model = await db.query.models.findFirst({ where: eq(models.id, job.modelId) });
  if (!model) return [];
  const { graphFile, files } = await loadModelStatus(db, model);
  if (!graphFile) return [];
  // A run older than any model file's (re)upload may have seen other bytes (tokenizer, external weights).
  const lastUpload =
    files
      .map((f) => f.createdAt)
      .sort()
      .at(-1) ?? '';
  const candidates = await db
    .select()
    .from(runs)
    .where(and(eq(runs.modelId, job.modelId), inArray(runs.kind, ['evaluate', 'prune']), eq(runs.modelSha256, graphFile.sha256)))
    .orderBy(desc(runs.createdAt))
    .limit(50);
  const wanted = new Set(spec.suites.flatMap((s) => spec.scoring.map((sc) => `${s}/${sc}`)));
  const out: DenseSamples[] = [];
  for (const r of candidates) {
    if (!wanted.size) break;
    const cfg = r.config as { runId?: string; suites?: string[]; scoring?: string[]; templateLang?: string; limit?: number; limitSeed?: number };
    if (r.createdAt < lastUpload || (cfg.templateLang ?? 'en') !== spec.templateLang || !sameRows(cfg, spec)) continue;
    const name = r.kind === 'evaluate' ? (cfg.runId ? null : 'samples.jsonl.gz') : 'dense-samples.jsonl.gz';
    if (!name) continue;
    const covers = (cfg.suites ?? []).flatMap((s) => (cfg.scoring ?? ['paper']).map((sc) => `${s}/${sc}`)).filter((k) => wanted.has(k));
    if (!covers.length) continue;
    const a = await db.query.jobArtifacts.findFirst({ where: and(eq(jobArtifacts.jobId, r.jobId), eq(jobArtifacts.name, name)) });
    if (!a) continue;
    out.push({ runId: r.id, name: a.name, sha256: a.sha256, size: a.size, r2Key: a.r2Key });
    // A prune job's dense samples cover only the suites it bootstrapped; the runner scores what is missing.
    for (const k of covers) wanted.delete(k);
  }
  return out;
}
