/**
 * The queue figures an autoscaler reads (GET /v1/runner/queue): one aggregate statement over the
 * queued and running rows (the jobs_status index), so the figures are of one instant.
 */
import type { RunnerQueue } from '@polyprune/shared/api/jobs';
import { waitsForOthers } from './store';

interface Row {
  queued: number | null;
  waiting: number | null;
  running: number | null;
  leased: number | null;
  leased_cuda: number | null;
  leased_cpu: number | null;
  oldest: string | null;
}

/**
 * A lease counts as live while lease_expires_at ≥ now; a running job past it waits for the next
 * lease call or cron tick to requeue it, and no runner is working on it any more.
 */
export async function queueFigures(d1: D1Database, nowMs = Date.now()): Promise<RunnerQueue> {
  const live = `j.status = 'running' AND j.lease_expires_at >= ?1`;
  const r = await d1
    .prepare(
      `SELECT
         sum(j.status = 'queued') AS queued,
         sum(j.status = 'queued' AND ${waitsForOthers('j')}) AS waiting,
         sum(j.status = 'running') AS running,
         sum(${live}) AS leased,
         sum(${live} AND lower(j.lease_device) = 'cuda') AS leased_cuda,
         sum(${live} AND lower(j.lease_device) = 'cpu') AS leased_cpu,
         min(CASE WHEN j.status = 'queued' THEN j.created_at END) AS oldest
       FROM jobs j WHERE j.status IN ('queued', 'running')`,
    )
    .bind(nowMs)
    .first<Row>();
  const n = (v: number | null | undefined) => v ?? 0;
  const ready = n(r?.queued) - n(r?.waiting);
  const oldest = r?.oldest ? Math.max(0, Math.floor((nowMs - Date.parse(r.oldest)) / 1000)) : 0;
  return {
    queued: n(r?.queued),
    waiting: n(r?.waiting),
    running: n(r?.running),
    leased: n(r?.leased),
    oldestQueuedSeconds: oldest,
    byDevice: { cuda: ready + n(r?.leased_cuda), cpu: ready + n(r?.leased_cpu) },
  };
}
