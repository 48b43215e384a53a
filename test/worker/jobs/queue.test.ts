import { env } from 'cloudflare:workers';
import { beforeAll, describe, expect, it } from 'vitest';
import type { JobInfo, LeaseResponse, RunnerQueue } from '@polyprune/shared/api/jobs';
import { ADMIN, call, makeToken } from '../helpers';
import { makeWorld, pruneSpec, type World } from '../fixtures';
import { oldestQueuedAt, QUEUE_ROWS_SQL, type QueueRow, queueFromRows } from '../../helpers/queue-figures';

let w: World;
beforeAll(async () => {
  w = await makeWorld('queue-owner');
});

const queue = async (token = w.runner) => {
  const r = await call<RunnerQueue>('GET', '/v1/runner/queue', { token });
  expect(r.status).toBe(200);
  return r.body;
};

async function newJob(extra: Record<string, unknown> = {}) {
  const r = await call<JobInfo>('POST', '/v1/jobs', { token: w.writer, json: pruneSpec(w, extra) });
  expect(r.status).toBe(201);
  return r.body.id;
}

async function leaseAs(runnerId: string, device?: string) {
  const r = await call<LeaseResponse>('POST', '/v1/runner/lease', { token: w.runner, json: { runnerId, device } });
  expect(r.status).toBe(200);
  return r.body;
}

/** The figures counted row by row from the table (test/helpers/queue-figures.ts), and the oldest one's age. */
async function fromTable(nowMs: number) {
  const rows = (await env.DB.prepare(QUEUE_ROWS_SQL).all<QueueRow>()).results;
  const oldest = oldestQueuedAt(rows);
  return { ...queueFromRows(rows, nowMs), oldestMs: oldest === null ? null : nowMs - oldest };
}

async function expectMatchesTable() {
  const before = Date.now();
  const q = await queue();
  const t = await fromTable(before);
  expect({ ...q, oldestQueuedSeconds: undefined }).toEqual({ ...t, oldestMs: undefined, oldestQueuedSeconds: undefined });
  if (t.oldestMs === null) expect(q.oldestQueuedSeconds).toBe(0);
  else expect(Math.abs(q.oldestQueuedSeconds - t.oldestMs / 1000)).toBeLessThanOrEqual(2);
  return q;
}

describe('GET /v1/runner/queue', () => {
  it('answers runner and admin tokens only', async () => {
    expect((await call('GET', '/v1/runner/queue')).status).toBe(401);
    expect((await call('GET', '/v1/runner/queue', { token: w.writer })).status).toBe(403);
    expect((await call('GET', '/v1/runner/queue', { token: await makeToken('q-reader', ['read']) })).status).toBe(403);
    expect((await call('GET', '/v1/runner/queue', { token: ADMIN })).status).toBe(200);
    expect((await call('GET', '/v1/runner/queue', { token: w.runner })).status).toBe(200);
  });

  it('is all zeros on an empty queue', async () => {
    expect(await queue()).toEqual({ queued: 0, waiting: 0, running: 0, leased: 0, oldestQueuedSeconds: 0, byDevice: { cuda: 0, cpu: 0 } });
  });

  it('counts queued, waiting, running and live leases by device as the jobs table holds them', async () => {
    const a = await newJob({ method: 'magnitude', sparsity: 0.3 });
    const b = await newJob({ method: 'magnitude', sparsity: 0.4 });
    await newJob({ method: 'random', sparsity: 0.5 });
    await newJob({ method: 'random', sparsity: 0.6 });
    // Waits for a and b: queued, but no runner can take it yet.
    const an = await call<JobInfo>('POST', '/v1/jobs', { token: w.writer, json: { kind: 'analyze', modelId: w.model, jobs: [a, b] } });
    expect(an.status).toBe(201);
    let q = await expectMatchesTable();
    expect(q).toMatchObject({ queued: 5, waiting: 1, running: 0, leased: 0, byDevice: { cuda: 4, cpu: 4 } });

    const gpu = await leaseAs('gpu-0', 'cuda');
    await leaseAs('cpu-0', 'cpu');
    await leaseAs('laptop', 'auto');
    q = await expectMatchesTable();
    // Jobs name no device: the one ready job counts under both, plus each device's own leases.
    expect(q).toMatchObject({ queued: 2, waiting: 1, running: 3, leased: 3, byDevice: { cuda: 2, cpu: 2 } });

    // A runner that stopped heartbeating: still running in the table, no longer leased.
    await env.DB.prepare('UPDATE jobs SET lease_expires_at = ?1 WHERE id = ?2')
      .bind(Date.now() - 1000, gpu.job.id)
      .run();
    q = await expectMatchesTable();
    expect(q).toMatchObject({ running: 3, leased: 2, byDevice: { cuda: 1, cpu: 2 } });

    // The oldest queued job's age, from its creation time.
    await env.DB.prepare("UPDATE jobs SET created_at = ?1 WHERE status = 'queued' AND kind = 'prune'")
      .bind(new Date(Date.now() - 300_000).toISOString())
      .run();
    q = await expectMatchesTable();
    expect(q.oldestQueuedSeconds).toBeGreaterThanOrEqual(299);
    expect(q.oldestQueuedSeconds).toBeLessThan(310);

    // The next lease call requeues the expired job (it had attempts left) and hands out one.
    await leaseAs('gpu-1', 'CUDA');
    q = await expectMatchesTable();
    expect(q).toMatchObject({ running: 3, leased: 3 });
  });

  it('is in the OpenAPI document with its schema and scope', async () => {
    const doc = (await call('GET', '/v1/openapi.json')).body;
    const op = doc.paths['/v1/runner/queue'].get;
    expect(op.security).toEqual([{ bearer: ['runner'] }]);
    expect(op.responses['200'].content['application/json'].schema.$ref).toBe('#/components/schemas/RunnerQueue');
    expect(Object.keys(doc.components.schemas.RunnerQueue.properties).sort()).toEqual(
      ['byDevice', 'leased', 'oldestQueuedSeconds', 'queued', 'running', 'waiting'].sort(),
    );
  });
});
