/**
 * Faults with real processes: a runner killed with SIGKILL mid-job, and the API (wrangler/workerd)
 * stopped and restarted mid-job on the same state directory.
 *
 * POLYPRUNE_STEP_DELAY_MS slows the first runner's steps so that "mid-job" is a state the test can
 * wait for, rather than a race against a model that prunes in a second.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pruneSpec, seed, type Seeded, startTestStack, type TestStack, waitJob } from './helpers';

const final = (s: string) => s === 'succeeded' || s === 'failed' || s === 'canceled';
const midJob = (stage: string | undefined) => !!stage && !['leased', 'download', 'load'].includes(stage);

describe('a runner killed mid-job', () => {
  let t: TestStack;
  let s: Seeded;
  beforeAll(async () => {
    // A short lease so that the dead runner's job comes back within seconds.
    t = await startTestStack({ runners: 0, vars: { LEASE_SECONDS: '8' } });
    s = await seed(t.api);
  });
  afterAll(async () => {
    await t?.close();
  });

  it('is retried by a second runner after the lease expires, and succeeds once', async () => {
    const slow = t.stack.addRunner({ runnerId: 'doomed', env: { POLYPRUNE_STEP_DELAY_MS: '1500' } });
    const job = await t.api.createJob(pruneSpec(s));
    const mid = await waitJob(t.api, job.id, (j) => j.status === 'running' && midJob(j.progress?.stage), 120_000);
    expect(mid.attempts).toBe(1);
    await slow.stop('SIGKILL');

    t.stack.addRunner({ runnerId: 'survivor' });
    const done = await waitJob(t.api, job.id, (j) => final(j.status), 240_000);
    expect(done.status, done.error ?? '').toBe('succeeded');
    expect(done.attempts).toBe(2);

    const runs = (await t.api.listRuns({ model: s.modelId })).items.filter((r) => r.jobId === job.id);
    expect(runs).toHaveLength(1);
    expect(runs[0]!.id).toBe(done.runId);
    const keys = runs[0]!.scores.map((x) => `${x.suiteId}/${x.scoring}/${x.metric}`);
    expect(new Set(keys).size).toBe(keys.length);
    expect(runs[0]!.scores.filter((x) => x.metric === 'acc')).toHaveLength(s.suites.length);

    const board = await t.api.leaderboard({ model: s.modelId, format: 'mc', metric: 'acc' });
    expect(board.rows.filter((r) => r.method === 'wanda')).toHaveLength(1);
  });

  it('on SIGTERM finishes the current step, hands the job back as retryable and exits 0', async () => {
    // Only this runner may take the job.
    await Promise.all(t.stack.runners.map((r) => r.stop()));
    const polite = t.stack.addRunner({ runnerId: 'polite', env: { POLYPRUNE_STEP_DELAY_MS: '2000' } });
    const job = await t.api.createJob(pruneSpec(s, { sparsity: 0.25 }));
    await waitJob(t.api, job.id, (j) => j.status === 'running' && j.progress?.stage !== undefined && j.progress.stage !== 'leased', 120_000);
    await polite.stop('SIGTERM', 60_000);
    expect(await polite.exited).toBe(0);
    expect(polite.output()).toMatch(/SIGTERM: finishing the current step/);
    expect(polite.output()).not.toMatch(/interrupting the current step/);

    const back = await t.api.getJob(job.id);
    expect(back.status).toBe('queued');
    expect(back.error).toMatch(/shutting down/);
    expect(back.runId).toBeNull();

    t.stack.addRunner({ runnerId: 'after-sigterm' });
    const done = await waitJob(t.api, job.id, (j) => final(j.status), 240_000);
    expect(done.status, done.error ?? '').toBe('succeeded');
    expect(done.attempts).toBe(2);
  });

  it('stops work on a job at once when its lease is lost (canceled), and takes the next one', async () => {
    await Promise.all(t.stack.runners.map((r) => r.stop()));
    const r = t.stack.addRunner({ runnerId: 'canceled', env: { POLYPRUNE_STEP_DELAY_MS: '1500' } });
    const job = await t.api.createJob(pruneSpec(s, { sparsity: 0.75 }));
    await waitJob(t.api, job.id, (j) => j.status === 'running' && midJob(j.progress?.stage), 120_000);
    expect((await t.api.cancelJob(job.id)).status).toBe('canceled');
    // The next heartbeat (a third of the 8 s lease) answers 409; the runner gives the job up.
    const deadline = Date.now() + 20_000;
    while (!/abandoned: lease lost/.test(r.output()) && Date.now() < deadline) await new Promise((res) => setTimeout(res, 100));
    expect(r.output()).toMatch(new RegExp(`job ${job.id} abandoned: lease lost`));
    // Given up mid-job: it neither completed nor failed the canceled job.
    expect(r.output()).not.toMatch(new RegExp(`job ${job.id} (succeeded|failed)`));
    const after = await t.api.getJob(job.id);
    expect(after.status).toBe('canceled');
    expect(after.runId).toBeNull();

    const next = await t.api.createJob(pruneSpec(s, { method: 'magnitude', calibration: undefined }));
    const done = await waitJob(t.api, next.id, (j) => final(j.status), 240_000);
    expect(done.status, done.error ?? '').toBe('succeeded');
  });
});

describe('the API restarted mid-job', () => {
  let t: TestStack;
  let s: Seeded;
  beforeAll(async () => {
    // A lease long enough to outlast the restart: the same attempt must carry on.
    t = await startTestStack({ runners: 0, vars: { LEASE_SECONDS: '90' } });
    s = await seed(t.api);
  });
  afterAll(async () => {
    await t?.close();
  });

  it('keeps the job, its progress and everything uploaded before, and the job finishes', async () => {
    t.stack.addRunner({ runnerId: 'steady', env: { POLYPRUNE_STEP_DELAY_MS: '2500' } });
    const job = await t.api.createJob(pruneSpec(s));
    const before = await waitJob(t.api, job.id, (j) => j.status === 'running' && midJob(j.progress?.stage), 120_000);

    await t.stack.worker.stop();
    await t.stack.restartWorker();

    const after = await t.api.getJob(job.id);
    expect(after.status === 'running' || after.status === 'succeeded').toBe(true);
    expect(after.attempts).toBe(1);
    expect(after.startedAt).toBe(before.startedAt);
    expect(after.progress).not.toBeNull();
    expect((await t.api.getModel(s.modelId)).complete).toBe(true);

    const done = await waitJob(t.api, job.id, (j) => final(j.status), 240_000);
    expect(done.status, done.error ?? '').toBe('succeeded');
    expect(done.attempts).toBe(1);
    const run = await t.api.getRun(done.runId!);
    expect(run.artifacts.map((a) => a.name)).toEqual(expect.arrayContaining(['masks.bin', 'stats.bin']));
  });
});
