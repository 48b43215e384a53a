/**
 * Runners come and go as an autoscaler makes them (docs/deploy.md): during a sweep, one runner is
 * killed outright (an eviction: SIGKILL) and one is scaled down (SIGTERM, as the kubelet does); the
 * others finish every job exactly once. And GET /v1/runner/queue reports what the jobs table holds
 * at every moment of a sweep, read from the local D1 file itself.
 */
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CreateSweepBody } from '@polyprune/cli/api';
import type { JobInfo, RunnerQueue } from '@polyprune/shared/api/jobs';
import { seed, type Seeded, startTestStack, type TestStack } from './helpers';
import { QUEUE_ROWS_SQL, type QueueRow, queueFromRows } from '../helpers/queue-figures';

const final = (s: string) => s === 'succeeded' || s === 'failed' || s === 'canceled';
const midJob = (stage: string | undefined) => !!stage && !['leased', 'download', 'load'].includes(stage);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A cheap grid: no calibration forward passes, a few suite rows. */
const sweepBody = (s: Seeded, sparsities: number[]): CreateSweepBody => ({
  modelId: s.modelId,
  pairs: [{ corpusId: s.corpusId }],
  sparsities,
  methods: [{ method: 'magnitude' }, { method: 'random' }],
  base: { suites: s.suites.map((x) => x.id), limit: 4 },
  includeDense: false,
});

async function sweepJobs(t: TestStack, sweepId: string): Promise<JobInfo[]> {
  return (await t.api.listJobs({ sweep: sweepId, limit: 200 })).items;
}

async function waitSweep(t: TestStack, sweepId: string, pred: (jobs: JobInfo[]) => boolean, timeoutMs = 300_000) {
  const deadline = Date.now() + timeoutMs;
  let jobs: JobInfo[] = [];
  while (Date.now() < deadline) {
    jobs = await sweepJobs(t, sweepId);
    if (pred(jobs)) return jobs;
    await sleep(250);
  }
  throw new Error(`sweep ${sweepId}: condition not met in ${timeoutMs} ms; ${JSON.stringify(jobs.map((j) => [j.id, j.status, j.progress?.stage]))}`);
}

/** Jobs a runner's log says it leased and did not finish. */
const abandonedBy = (output: string) => {
  const leased = [...output.matchAll(/job (\S+) \([^)]*\) leased/g)].map((m) => m[1]!);
  return leased.filter((id) => !new RegExp(`job ${id} succeeded`).test(output));
};

/** The local D1 database file of the stack (wrangler dev --persist-to). */
function d1File(t: TestStack): string {
  const dir = path.join(t.tmp, 'state', 'v3', 'd1', 'miniflare-D1DatabaseObject');
  const files = readdirSync(dir).filter((f) => f.endsWith('.sqlite') && f !== 'metadata.sqlite');
  expect(files).toHaveLength(1);
  return path.join(dir, files[0]!);
}

/** The queue figures counted row by row (test/helpers/queue-figures.ts). */
function fromTable(db: DatabaseSync, nowMs: number) {
  return queueFromRows(db.prepare(QUEUE_ROWS_SQL).all() as unknown as QueueRow[], nowMs);
}

describe('runners killed during a sweep', () => {
  let t: TestStack;
  let s: Seeded;
  beforeAll(async () => {
    // A short lease: the evicted runner's job comes back within seconds.
    t = await startTestStack({ runners: 0, vars: { LEASE_SECONDS: '8' } });
    s = await seed(t.api, 8);
  });
  afterAll(async () => {
    await t?.close();
  });

  it('4 runners, 2 killed mid-job (SIGKILL and SIGTERM): the others finish every job exactly once', async () => {
    // The two that will go are slowed so that "mid-job" is a state to wait for, not a race.
    const slow = { POLYPRUNE_STEP_DELAY_MS: '1500' };
    const evicted = t.stack.addRunner({ runnerId: 'evicted', env: slow });
    const scaledDown = t.stack.addRunner({ runnerId: 'scaled-down', env: slow });
    const sweep = await t.api.createSweep(sweepBody(s, [0.2, 0.4, 0.6]));
    expect(sweep.jobs).toHaveLength(6);
    await waitSweep(t, sweep.sweepId, (jobs) => jobs.filter((j) => j.status === 'running' && midJob(j.progress?.stage)).length === 2, 120_000);
    t.stack.addRunner({ runnerId: 'survivor-1' });
    t.stack.addRunner({ runnerId: 'survivor-2' });
    await sleep(1000);

    await evicted.stop('SIGKILL');
    await scaledDown.stop('SIGTERM', 60_000);
    expect(await scaledDown.exited).toBe(0);
    expect(scaledDown.output()).toMatch(/SIGTERM: finishing the current step/);
    const lost = [...abandonedBy(evicted.output()), ...abandonedBy(scaledDown.output())];
    expect(lost.length).toBeGreaterThanOrEqual(2);

    const jobs = await waitSweep(t, sweep.sweepId, (js) => js.every((j) => final(j.status)));
    for (const j of jobs) {
      expect(j.status, `${j.id}: ${j.error}`).toBe('succeeded');
      // One more attempt for each time a killed runner held the job.
      expect(j.attempts, j.id).toBe(1 + lost.filter((id) => id === j.id).length);
    }
    // Exactly one run per job, and it is the one the job points to.
    const runs = (await t.api.listRuns({ model: s.modelId, limit: 200 })).items.filter((r) => jobs.some((j) => j.id === r.jobId));
    expect(runs.map((r) => r.jobId).sort()).toEqual(jobs.map((j) => j.id).sort());
    for (const j of jobs) expect(runs.find((r) => r.jobId === j.id)!.id).toBe(j.runId);
    // Every run carries its scores once (no half-recorded second attempt).
    for (const r of runs) {
      const keys = r.scores.map((x) => `${x.suiteId}/${x.scoring}/${x.metric}`);
      expect(new Set(keys).size).toBe(keys.length);
    }
  });

  it('GET /v1/runner/queue matches the jobs table throughout a sweep, a runner killed in it', async () => {
    await Promise.all(t.stack.runners.map((r) => r.stop()));
    const db = new DatabaseSync(d1File(t), { readOnly: true });
    const token = t.stack.runnerToken;
    const queue = async () => {
      const r = await fetch(`${t.stack.url}/v1/runner/queue`, { headers: { authorization: `Bearer ${token}` } });
      expect(r.status).toBe(200);
      return (await r.json()) as RunnerQueue;
    };
    let matched = 0;
    let sampled = 0;
    const seen = { queued: 0, running: 0, expired: 0 };
    let done = false;
    /** Table, route, table: when both reads of the table agree, the route's answer must equal them. */
    const sampler = (async () => {
      while (!done) {
        const a = fromTable(db, Date.now());
        const { oldestQueuedSeconds, ...q } = await queue();
        const b = fromTable(db, Date.now());
        sampled++;
        if (JSON.stringify(a) === JSON.stringify(b)) {
          expect(q).toEqual(a);
          if (a.queued === 0) expect(oldestQueuedSeconds).toBe(0);
          matched++;
          seen.queued = Math.max(seen.queued, a.queued);
          seen.running = Math.max(seen.running, a.running);
          seen.expired = Math.max(seen.expired, a.running - a.leased);
        }
        await sleep(200);
      }
    })();

    const doomed = t.stack.addRunner({ runnerId: 'doomed', env: { POLYPRUNE_STEP_DELAY_MS: '1500' } });
    const sweep = await t.api.createSweep(sweepBody(s, [0.3, 0.5]));
    await waitSweep(t, sweep.sweepId, (jobs) => jobs.some((j) => j.status === 'running' && midJob(j.progress?.stage)), 120_000);
    await doomed.stop('SIGKILL');
    // Nobody takes work for a moment: the dead runner's job is running with an expired lease.
    await sleep(11_000);
    t.stack.addRunner({ runnerId: 'steady' });
    const jobs = await waitSweep(t, sweep.sweepId, (js) => js.every((j) => final(j.status)));
    await sleep(600);
    done = true;
    await sampler;
    db.close();

    expect(jobs.every((j) => j.status === 'succeeded')).toBe(true);
    expect(matched, `${matched} of ${sampled} samples were taken while the table stood still`).toBeGreaterThanOrEqual(10);
    // The sweep went through every state the figures describe.
    expect(seen.queued).toBeGreaterThanOrEqual(3);
    expect(seen.running).toBeGreaterThanOrEqual(1);
    expect(seen.expired).toBe(1);
    const last = await queue();
    expect(last).toEqual({ queued: 0, waiting: 0, running: 0, leased: 0, oldestQueuedSeconds: 0, byDevice: { cuda: 0, cpu: 0 } });
  });
});
