/**
 * The queue figures of `GET /v1/runner/queue` counted row by row from the jobs table, as the route
 * documents them: the independent count the worker test and the scale-out e2e test compare with.
 */
export interface QueueRow {
  id: string;
  status: string;
  spec: string;
  lease_expires_at: number | null;
  lease_device: string | null;
  created_at: string;
}

export const QUEUE_ROWS_SQL = 'SELECT id, status, spec, lease_expires_at, lease_device, created_at FROM jobs';

export function queueFromRows(rows: QueueRow[], nowMs: number) {
  const status = new Map(rows.map((r) => [r.id, r.status]));
  const queued = rows.filter((r) => r.status === 'queued');
  const waiting = queued.filter((r) => ((JSON.parse(r.spec).jobs ?? []) as string[]).some((id) => ['queued', 'running'].includes(status.get(id) ?? '')));
  const running = rows.filter((r) => r.status === 'running');
  const live = running.filter((r) => r.lease_expires_at !== null && r.lease_expires_at >= nowMs);
  const ready = queued.length - waiting.length;
  const of = (d: string) => live.filter((r) => r.lease_device?.toLowerCase() === d).length;
  return {
    queued: queued.length,
    waiting: waiting.length,
    running: running.length,
    leased: live.length,
    byDevice: { cuda: ready + of('cuda'), cpu: ready + of('cpu') },
  };
}

/** When the oldest queued job was created (ms since the epoch); null for an empty queue. */
export function oldestQueuedAt(rows: QueueRow[]): number | null {
  const queued = rows.filter((r) => r.status === 'queued');
  return queued.length ? Math.min(...queued.map((r) => Date.parse(r.created_at))) : null;
}
