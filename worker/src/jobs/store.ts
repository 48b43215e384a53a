import { and, asc, eq, lt, sql } from 'drizzle-orm';
import type { JobInfo } from '@polyprune/shared/api/jobs';
import { jobs } from '../db/schema';
import { type Principal, visibleTo } from '../lib/auth';
import type { Db } from '../lib/db';
import { nowIso } from '../lib/db';
import { notFound } from '../lib/errors';

export type JobRow = typeof jobs.$inferSelect;

export function jobView(r: JobRow): JobInfo {
  return {
    id: r.id,
    owner: r.owner,
    kind: r.kind,
    status: r.status,
    spec: r.spec,
    modelId: r.modelId,
    pair: r.corpusPair ?? null,
    sweepId: r.sweepId,
    attempts: r.attempts,
    maxAttempts: r.maxAttempts,
    progress: r.progressStage
      ? {
          stage: r.progressStage,
          done: r.progressDone ?? 0,
          total: r.progressTotal ?? 0,
          ...(r.progressEtaSeconds != null ? { etaSeconds: r.progressEtaSeconds } : {}),
        }
      : null,
    error: r.error,
    errorCode: r.errorCode,
    runId: r.runId,
    createdAt: r.createdAt,
    startedAt: r.startedAt,
    finishedAt: r.finishedAt,
    updatedAt: r.updatedAt,
  };
}

/**
 * Expired leases go back to the queue until the job has used its attempts; then the job fails
 * with the reason. Runs on every lease call and from the cron trigger.
 */
export async function requeueExpired(db: Db, nowMs = Date.now()) {
  const now = nowIso();
  const expired = and(eq(jobs.status, 'running'), lt(jobs.leaseExpiresAt, nowMs));
  await db.batch([
    db
      .update(jobs)
      .set({
        status: 'failed',
        errorCode: null,
        error: sql`'lease expired on attempt ' || ${jobs.attempts} || ' of ' || ${jobs.maxAttempts} || ' (runner ' || coalesce(${jobs.runnerId}, '?') || ' stopped reporting)'`,
        leaseToken: null,
        finishedAt: now,
        updatedAt: now,
      })
      .where(and(expired, sql`${jobs.attempts} >= ${jobs.maxAttempts}`)),
    db
      .update(jobs)
      .set({
        status: 'queued',
        leaseToken: null,
        leaseExpiresAt: null,
        runnerId: null,
        error: sql`'lease expired on attempt ' || ${jobs.attempts}`,
        errorCode: null,
        updatedAt: now,
      })
      .where(and(expired, sql`${jobs.attempts} < ${jobs.maxAttempts}`)),
  ]);
}

/** SQL: the job (alias `j`) names jobs it waits for (`spec.jobs`) of which one is still queued or running. */
export const waitsForOthers = (j: string) =>
  `EXISTS (SELECT 1 FROM json_each(${j}.spec, '$.jobs') w JOIN jobs d ON d.id = w.value WHERE d.status IN ('queued', 'running'))`;

/**
 * Claims the oldest queued job in ONE statement: the sub-select and the update run atomically in
 * SQLite, and the `status = 'queued'` guard makes a second racing claim match nothing. A job that
 * names jobs it waits for (an analysis: `spec.jobs`) is not ready while any of them is queued or
 * running.
 */
/**
 * `holder`: id of the runner token asking; the lease token is only good with that token. `device`:
 * what the runner reported, kept for the queue figures by device (jobs name no device).
 */
export async function claimNext(
  d1: D1Database,
  runnerId: string,
  leaseToken: string,
  expiresAt: number,
  holder: string,
  device: string | null = null,
): Promise<string | null> {
  const now = nowIso();
  const row = await d1
    .prepare(
      `UPDATE jobs SET status = 'running', lease_token = ?1, lease_expires_at = ?2, runner_id = ?3, lease_holder = ?5, lease_device = ?6,
         attempts = attempts + 1, started_at = coalesce(started_at, ?4), updated_at = ?4, error = NULL, error_code = NULL
       WHERE id = (
         SELECT j.id FROM jobs j WHERE j.status = 'queued' AND NOT ${waitsForOthers('j')}
         ORDER BY j.id LIMIT 1)
         AND status = 'queued'
       RETURNING id`,
    )
    .bind(leaseToken, expiresAt, runnerId, now, holder, device)
    .first<{ id: string }>();
  return row?.id ?? null;
}

/** The jobs of a sweep the caller may see (404 when none: a sweep is only its jobs). */
export async function sweepJobs(db: Db, p: Principal | null, sweepId: string): Promise<JobRow[]> {
  const rows = await db
    .select()
    .from(jobs)
    .where(and(eq(jobs.sweepId, sweepId), visibleTo(p, jobs)))
    .orderBy(asc(jobs.id))
    .limit(500);
  if (!rows.length) throw notFound('sweep');
  return rows;
}
