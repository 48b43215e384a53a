import type { JobKind } from '@polyprune/shared/api/jobs';
import { and, desc, eq, inArray, or, type SQL, sql } from 'drizzle-orm';
import { jobArtifacts, models, runs } from '../db/schema';
import { loadModelStatus } from '../ingest/model-status';
import { ADMIN_OWNER } from '../lib/auth';
import type { Db } from '../lib/db';

/** The job a lease is for: whose it is and who may see it. */
export interface ReusingJob {
  modelId: string;
  owner: string;
  visibility: string;
}

/** An artifact of an earlier run a job may download as an input. */
export interface ReusableArtifact {
  runId: string;
  kind: string;
  config: Record<string, unknown>;
  /** the runner's calibration feeds version (run.extra.calibration.statsVersion); null: not recorded */
  statsVersion: number | null;
  name: string;
  sha256: string;
  size: number;
  r2Key: string;
}

/**
 * The one rule for everything a job reuses from earlier runs (statistics, dense samples, anything
 * later): only runs the job's owner may read, and for a public job only public runs, since its
 * inputs and its run record name the run reused and a public record must not point at private work.
 */
export function runsReadableByJob(job: Pick<ReusingJob, 'owner' | 'visibility'>): SQL | undefined {
  if (job.visibility === 'public') return eq(runs.visibility, 'public');
  if (job.owner === ADMIN_OWNER) return undefined;
  return or(eq(runs.visibility, 'public'), eq(runs.owner, job.owner));
}

/** Joined rows (run × artifact) looked at; newer ones first. */
const CANDIDATES = 200;

/**
 * The artifacts with one of `names` of the runs a job may reuse, newest run first, in one query:
 * runs of the job's model on the model's current graph bytes, made no earlier than the last model
 * file's (re)upload (the graph's sha does not cover external weights nor the tokenizer), readable
 * by the job (`runsReadableByJob`), listing the artifact in their record.
 */
export async function reusableArtifacts(db: Db, job: ReusingJob, kinds: readonly JobKind[], names: readonly string[]): Promise<ReusableArtifact[]> {
  const model = await db.query.models.findFirst({ where: eq(models.id, job.modelId) });
  if (!model) return [];
  const { graphFile, files } = await loadModelStatus(db, model);
  if (!graphFile) return [];
  const lastUpload =
    files
      .map((f) => f.createdAt)
      .sort()
      .at(-1) ?? '';
  const rows = await db
    .select({
      runId: runs.id,
      kind: runs.kind,
      config: runs.config,
      statsVersion: sql<number | null>`json_extract(${runs.extra}, '$.calibration.statsVersion')`,
      listed: runs.artifacts,
      createdAt: runs.createdAt,
      name: jobArtifacts.name,
      sha256: jobArtifacts.sha256,
      size: jobArtifacts.size,
      r2Key: jobArtifacts.r2Key,
    })
    .from(runs)
    .innerJoin(jobArtifacts, and(eq(jobArtifacts.jobId, runs.jobId), inArray(jobArtifacts.name, [...names])))
    .where(and(eq(runs.modelId, job.modelId), inArray(runs.kind, [...kinds]), eq(runs.modelSha256, graphFile.sha256), runsReadableByJob(job)))
    .orderBy(desc(runs.createdAt), desc(runs.id))
    .limit(CANDIDATES);
  return rows
    .filter((r) => r.createdAt >= lastUpload && (r.listed as { name: string }[]).some((a) => a.name === r.name))
    .map(({ listed: _listed, createdAt: _createdAt, ...a }) => a);
}
