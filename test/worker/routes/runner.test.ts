import { env } from 'cloudflare:workers';
import { beforeAll, describe, expect, it } from 'vitest';
import type { z } from 'zod';
import type { artifactInfo, JobInfo, RunInfo } from '@polyprune/shared/api/jobs';
import { CALIBRATION_STATS_VERSION } from '@polyprune/shared/api/run-provenance';
import { call, type ErrorBody, sha256 } from '../helpers';
import { lease, leaseJob, makeWorld, pruneSpec, type World } from '../fixtures';
import { graph, model, tensor, tinyOnnx } from '../onnx-writer';

let w: World;
beforeAll(async () => {
  w = await makeWorld('runner-owner');
});

async function newJob(extra: Record<string, unknown> = {}) {
  const r = await call<JobInfo>('POST', '/v1/jobs', { token: w.writer, json: pruneSpec(w, extra) });
  expect(r.status).toBe(201);
  return r.body.id;
}

async function drainQueue() {
  while ((await lease(w.runner, 'drain')).status === 200) {}
}

const result = (suiteIds: string[], value = 0.5) => ({
  overallSparsity: 0.5,
  layers: [{ id: 'block0.q', sparsity: 0.5, dIn: 4, dOut: 4 }],
  scores: suiteIds.map((s) => ({ suiteId: s, format: 'xnli', lang: 'fr', scoring: 'paper', metric: 'acc', value, n: 10 })),
  artifacts: [],
});

describe('runner protocol', () => {
  it('hands each queued job to exactly one of many concurrent lease calls', async () => {
    await drainQueue();
    const ids = [await newJob(), await newJob(), await newJob()];
    const answers = await Promise.all(Array.from({ length: 10 }, (_, i) => lease(w.runner, `racer-${i}`)));
    const got = answers.filter((a) => a.status === 200).map((a) => a.body.job.id);
    expect(got.sort()).toEqual([...ids].sort());
    expect(answers.filter((a) => a.status === 204)).toHaveLength(7);
    expect(new Set(answers.filter((a) => a.status === 200).map((a) => a.body.leaseToken)).size).toBe(3);
  });

  it('leases the oldest job first and lists its inputs with hashes', async () => {
    await drainQueue();
    const first = await newJob();
    await newJob();
    const l = await lease(w.runner);
    expect(l.body.job.id).toBe(first);
    expect(l.body.job.status).toBe('running');
    expect(l.body.job.attempts).toBe(1);
    const roles = l.body.inputs.map((i) => i.role).sort();
    expect(roles).toEqual(['corpus', 'model', 'model', 'suite', 'suite', 'suite']);
    const corpus = l.body.inputs.find((i) => i.role === 'corpus')!;
    const data = await call('GET', `/v1/runner/jobs/${first}/inputs/${corpus.name}`, { token: w.runner, headers: { 'x-lease-token': l.body.leaseToken } });
    expect(data.status).toBe(200);
    expect(await sha256(data.bytes)).toBe(corpus.sha256);
    const part = await call('GET', `/v1/runner/jobs/${first}/inputs/model.onnx`, {
      token: w.runner,
      headers: { 'x-lease-token': l.body.leaseToken, range: 'bytes=0-3' },
    });
    expect(part.status).toBe(206);
    expect(part.bytes).toEqual(tinyOnnx().subarray(0, 4));
  });

  it('extends the lease and records progress with heartbeats', async () => {
    const id = await newJob();
    const l = await leaseJob(w.runner, id);
    const hb = await call('POST', `/v1/runner/jobs/${id}/heartbeat`, {
      token: w.runner,
      json: { leaseToken: l.leaseToken, progress: { stage: 'calibrate', done: 3, total: 10 } },
    });
    expect(hb.status).toBe(200);
    const job = await call('GET', `/v1/jobs/${id}`, { token: w.writer });
    expect(job.body.progress).toEqual({ stage: 'calibrate', done: 3, total: 10 });
    // The runner's estimate of the time left rides along, and goes when a report has none.
    const withEta = { leaseToken: l.leaseToken, progress: { stage: 'calibrate', done: 5, total: 10, etaSeconds: 42.4 } };
    expect((await call('POST', `/v1/runner/jobs/${id}/heartbeat`, { token: w.runner, json: withEta })).status).toBe(200);
    expect((await call('GET', `/v1/jobs/${id}`, { token: w.writer })).body.progress).toEqual({ stage: 'calibrate', done: 5, total: 10, etaSeconds: 42 });
    const without = { leaseToken: l.leaseToken, progress: { stage: 'masks', done: 1, total: 4 } };
    expect((await call('POST', `/v1/runner/jobs/${id}/heartbeat`, { token: w.runner, json: without })).status).toBe(200);
    expect((await call('GET', `/v1/jobs/${id}`, { token: w.writer })).body.progress).toEqual({ stage: 'masks', done: 1, total: 4 });
  });

  it('requeues an expired lease, and fails the job with the reason after maxAttempts', async () => {
    await drainQueue();
    const id = await newJob();
    const expire = () => env.DB.prepare('UPDATE jobs SET lease_expires_at = 0 WHERE id = ?').bind(id).run();
    const l1 = await leaseJob(w.runner, id);
    await expire();
    const l2 = await leaseJob(w.runner, id);
    expect(l2.leaseToken).not.toBe(l1.leaseToken);
    // The first runner lost its lease: every runner route says 409 and writes nothing.
    const stale = { token: w.runner, json: { leaseToken: l1.leaseToken } };
    expect((await call('POST', `/v1/runner/jobs/${id}/heartbeat`, stale)).status).toBe(409);
    expect((await call('GET', `/v1/runner/jobs/${id}/inputs/model.onnx`, { token: w.runner, headers: { 'x-lease-token': l1.leaseToken } })).status).toBe(409);
    expect(
      (await call('PUT', `/v1/runner/jobs/${id}/artifacts/masks.bin`, { token: w.runner, body: 'x', headers: { 'x-lease-token': l1.leaseToken } })).status,
    ).toBe(409);
    expect((await call('POST', `/v1/runner/jobs/${id}/complete`, { token: w.runner, json: { leaseToken: l1.leaseToken, result: result([]) } })).status).toBe(
      409,
    );
    expect((await call('POST', `/v1/runner/jobs/${id}/fail`, { token: w.runner, json: { leaseToken: l1.leaseToken, error: 'x' } })).status).toBe(409);
    expect((await env.DB.prepare('SELECT COUNT(*) AS n FROM job_artifacts WHERE job_id = ?').bind(id).first<{ n: number }>())!.n).toBe(0);

    await expire();
    await leaseJob(w.runner, id); // attempt 3 of 3
    await expire();
    await lease(w.runner); // any lease call runs the requeue pass first
    const job = await call<JobInfo>('GET', `/v1/jobs/${id}`, { token: w.writer });
    expect(job.body.status).toBe('failed');
    expect(job.body.attempts).toBe(3);
    expect(job.body.error).toMatch(/lease expired on attempt 3 of 3/);
  });

  it('records artifacts and a run once, even when complete is sent twice', async () => {
    const id = await newJob();
    const l = await leaseJob(w.runner, id);
    const mask = new Uint8Array([0b10101010, 0b01010101]);
    const put = await call<z.infer<typeof artifactInfo>>('PUT', `/v1/runner/jobs/${id}/artifacts/masks.bin`, {
      token: w.runner,
      body: mask,
      headers: { 'x-lease-token': l.leaseToken },
    });
    expect(put.status).toBe(201);
    expect(put.body.sha256).toBe(await sha256(mask));
    const body = { leaseToken: l.leaseToken, result: { ...result([w.suites.fr]), artifacts: ['masks.bin'] } };
    const a = await call<{ runId: string; job: JobInfo }>('POST', `/v1/runner/jobs/${id}/complete`, { token: w.runner, json: body });
    const b = await call<{ runId: string; job: JobInfo }>('POST', `/v1/runner/jobs/${id}/complete`, { token: w.runner, json: body });
    expect(a.status).toBe(200);
    expect(b.status).toBe(200);
    expect(b.body.runId).toBe(a.body.runId);
    const runs = await env.DB.prepare('SELECT COUNT(*) AS n FROM runs WHERE job_id = ?').bind(id).first<{ n: number }>();
    expect(runs!.n).toBe(1);
    const scores = await env.DB.prepare('SELECT COUNT(*) AS n FROM scores WHERE run_id = ?').bind(a.body.runId).first<{ n: number }>();
    expect(scores!.n).toBe(1);
    const run = await call<RunInfo>('GET', `/v1/runs/${a.body.runId}`, { token: w.writer });
    expect(run.body).toMatchObject({ jobId: id, variant: 'wanda 50% mt:fr-en', overallSparsity: 0.5, kind: 'prune' });
    expect(run.body.config).toMatchObject({ method: 'wanda', sparsity: 0.5 });
    expect(run.body.modelSha256).toBe(await sha256(tinyOnnx()));
    // The corpus validation resolved when the job was created: the bytes the runner downloaded.
    expect(run.body.corpusSha256).toBe(l.inputs.find((i) => i.role === 'corpus')?.sha256);
    expect(run.body.artifacts).toEqual([{ name: 'masks.bin', sha256: await sha256(mask), size: 2 }]);
    const dl = await call('GET', `/v1/runs/${a.body.runId}/artifacts/masks.bin`, { token: w.writer });
    expect(dl.bytes).toEqual(mask);
    const job = await call<JobInfo>('GET', `/v1/jobs/${id}`, { token: w.writer });
    expect(job.body).toMatchObject({ status: 'succeeded', runId: a.body.runId });
  });

  it('refuses results that name unknown artifacts or suites, writing nothing', async () => {
    const id = await newJob();
    const l = await leaseJob(w.runner, id);
    const bad1 = await call('POST', `/v1/runner/jobs/${id}/complete`, {
      token: w.runner,
      json: { leaseToken: l.leaseToken, result: { ...result([]), artifacts: ['nope.bin'] } },
    });
    expect(bad1.status).toBe(422);
    const bad2 = await call('POST', `/v1/runner/jobs/${id}/complete`, { token: w.runner, json: { leaseToken: l.leaseToken, result: result(['sui_other']) } });
    expect(bad2.status).toBe(422);
    const bad3 = await call('POST', `/v1/runner/jobs/${id}/complete`, { token: w.runner, json: { leaseToken: l.leaseToken, result: { scores: 'many' } } });
    expect(bad3.status).toBe(400);
    expect((await env.DB.prepare('SELECT COUNT(*) AS n FROM runs WHERE job_id = ?').bind(id).first<{ n: number }>())!.n).toBe(0);
    expect((await call('GET', `/v1/jobs/${id}`, { token: w.writer })).body.status).toBe('running');
  });

  it('cancel while running makes the next heartbeat 409', async () => {
    const id = await newJob();
    const l = await leaseJob(w.runner, id);
    expect((await call('POST', `/v1/jobs/${id}/cancel`, { token: w.writer })).status).toBe(200);
    const hb = await call<ErrorBody>('POST', `/v1/runner/jobs/${id}/heartbeat`, { token: w.runner, json: { leaseToken: l.leaseToken } });
    expect(hb.status).toBe(409);
    expect(hb.body.error.code).toBe('lease_lost');
    expect((await call('POST', `/v1/runner/jobs/${id}/complete`, { token: w.runner, json: { leaseToken: l.leaseToken, result: result([]) } })).status).toBe(
      409,
    );
  });

  it('fail: retryable requeues (idempotently), non-retryable fails', async () => {
    await drainQueue();
    const id = await newJob();
    const l = await leaseJob(w.runner, id);
    const body = { leaseToken: l.leaseToken, error: 'SIGTERM during calibrate', code: 'shutting_down', retryable: true };
    const f1 = await call<JobInfo>('POST', `/v1/runner/jobs/${id}/fail`, { token: w.runner, json: body });
    const f2 = await call<JobInfo>('POST', `/v1/runner/jobs/${id}/fail`, { token: w.runner, json: body });
    expect(f1.body).toMatchObject({ status: 'queued', errorCode: 'shutting_down' });
    expect(f2.status).toBe(200);
    expect(f2.body.status).toBe('queued');
    const l2 = await leaseJob(w.runner, id);
    // A code outside the runner's closed set is refused; the lease is still good afterwards.
    const bad = await call('POST', `/v1/runner/jobs/${id}/fail`, { token: w.runner, json: { leaseToken: l2.leaseToken, error: 'x', code: 'gpu_on_fire' } });
    expect(bad.status).toBe(400);
    expect(bad.body.error.message).toMatch(/^invalid body: code:/);
    const f3 = await call('POST', `/v1/runner/jobs/${id}/fail`, { token: w.runner, json: { leaseToken: l2.leaseToken, error: 'model graph not understood' } });
    expect(f3.body).toMatchObject({ status: 'failed', error: 'model graph not understood', errorCode: null, attempts: 2 });
    const f4 = await call('POST', `/v1/runner/jobs/${id}/fail`, { token: w.runner, json: { leaseToken: l2.leaseToken, error: 'model graph not understood' } });
    expect(f4.body.errorCode).toBeNull();
  });

  it('needs the runner scope', async () => {
    expect((await call('POST', '/v1/runner/lease', { token: w.writer, json: { runnerId: 'x' } })).status).toBe(403);
    expect((await call('POST', '/v1/runner/lease', { json: { runnerId: 'x' } })).status).toBe(401);
  });
});

describe('statistics reuse (docs/design.md §3.2)', () => {
  it('offers the stats of an earlier oneshot run with the same calibration, and only then', async () => {
    const w2 = await makeWorld('stats-owner');
    const spec = (extra: Record<string, unknown>) => ({ ...pruneSpec(w2, { mode: 'oneshot' }), ...extra });
    const first = (await call('POST', '/v1/jobs', { token: w2.writer, json: spec({ sparsity: 0.5 }) })).body.id;
    const l = await leaseJob(w2.runner, first);
    expect(l.inputs.some((i) => i.role === 'stats')).toBe(false);
    const stats = new Uint8Array([1, 2, 3, 4]);
    await call('PUT', `/v1/runner/jobs/${first}/artifacts/stats.bin`, { token: w2.runner, body: stats, headers: { 'x-lease-token': l.leaseToken } });
    const done = await call('POST', `/v1/runner/jobs/${first}/complete`, {
      token: w2.runner,
      json: { leaseToken: l.leaseToken, result: { artifacts: ['stats.bin'], extra: { calibration: { statsVersion: CALIBRATION_STATS_VERSION } } } },
    });
    expect(done.status).toBe(200);

    const offered = async (extra: Record<string, unknown>) => {
      const id = (await call('POST', '/v1/jobs', { token: w2.writer, json: spec(extra) })).body.id;
      const lease = await leaseJob(w2.runner, id);
      await call('POST', `/v1/runner/jobs/${id}/fail`, { token: w2.runner, json: { leaseToken: lease.leaseToken, error: 'test done' } });
      return lease.inputs.filter((i) => i.role === 'stats');
    };
    const same = await offered({ sparsity: 0.7, method: 'wanda' });
    expect(same).toHaveLength(1);
    expect(same[0]).toMatchObject({ name: 'prior-stats.bin', sha256: await sha256(stats), meta: { runId: done.body.runId, artifact: 'stats.bin' } });
    expect(await offered({ sparsity: 0.7, mode: 'sequential' })).toEqual([]);
    // SparseGPT needs Hessians, which Wanda's statistics are not.
    expect(await offered({ sparsity: 0.7, method: 'sparsegpt' })).toEqual([]);
    expect(await offered({ sparsity: 0.7, calibration: { corpusId: w2.corpusFr, samples: 64 } })).toEqual([]);
    expect(await offered({ sparsity: 0.7, calibration: { corpusId: w2.corpusDe } })).toEqual([]);
    // maskPadding true feeds the padding mask and drops pads: other statistics.
    expect(await offered({ sparsity: 0.7, calibration: { corpusId: w2.corpusFr, maskPadding: true } })).toEqual([]);
    // Any model file uploaded since (a new tokenizer, external weights) invalidates old statistics…
    await call('PUT', `/v1/models/${w2.model}/files/tokenizer.json`, { token: w2.writer, body: '{"model":{"vocab":{}}}' });
    expect(await offered({ sparsity: 0.7 })).toEqual([]);
    // …and so do new graph bytes.
    const retrained = model(graph({ initializers: [tensor('w', { raw: new Uint8Array(16).fill(1) })] }));
    await call('PUT', `/v1/models/${w2.model}/files/model.onnx`, { token: w2.writer, body: retrained });
    expect(await offered({ sparsity: 0.7 })).toEqual([]);
  });

  it('never offers statistics computed with other calibration feeds (a run that records no or another version)', async () => {
    const w3 = await makeWorld('stats-version');
    const spec = (extra: Record<string, unknown>) => ({ ...pruneSpec(w3, { mode: 'oneshot' }), ...extra });
    const finish = async (sparsity: number, extra: Record<string, unknown>) => {
      const id = (await call('POST', '/v1/jobs', { token: w3.writer, json: spec({ sparsity }) })).body.id;
      const l = await leaseJob(w3.runner, id);
      await call('PUT', `/v1/runner/jobs/${id}/artifacts/stats.bin`, {
        token: w3.runner,
        body: new Uint8Array([sparsity * 10]),
        headers: { 'x-lease-token': l.leaseToken },
      });
      const done = await call('POST', `/v1/runner/jobs/${id}/complete`, {
        token: w3.runner,
        json: { leaseToken: l.leaseToken, result: { artifacts: ['stats.bin'], extra } },
      });
      expect(done.status).toBe(200);
      return done.body.runId as string;
    };
    const offered = async () => {
      const id = (await call('POST', '/v1/jobs', { token: w3.writer, json: spec({ sparsity: 0.7 }) })).body.id;
      const lease = await leaseJob(w3.runner, id);
      await call('POST', `/v1/runner/jobs/${id}/fail`, { token: w3.runner, json: { leaseToken: lease.leaseToken, error: 'test done' } });
      return lease.inputs.filter((i) => i.role === 'stats').map((i) => (i as unknown as { meta: { runId: string } }).meta.runId);
    };
    // A runner from before the version was recorded fed the padding mask with maskPadding false.
    await finish(0.3, {});
    expect(await offered()).toEqual([]);
    await finish(0.4, { calibration: { statsVersion: CALIBRATION_STATS_VERSION - 1 } });
    expect(await offered()).toEqual([]);
    const current = await finish(0.5, { calibration: { statsVersion: CALIBRATION_STATS_VERSION } });
    expect(await offered()).toEqual([current]);
  });
});
