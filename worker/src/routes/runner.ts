import { and, eq, isNull, or } from 'drizzle-orm';
import { createRoute, z } from '@hono/zod-openapi';
import type { Context } from 'hono';
import {
  type AnalyzeJobSpec,
  artifactInfo,
  artifactName,
  completeBody,
  failBody,
  heartbeatBody,
  type JobInput,
  jobInfo,
  leaseBody,
  leaseResponse,
  runnerQueue,
} from '../../../shared/src/api/jobs';
import { limits } from '../../../shared/src/api/limits';
import type { SuiteInfo } from '../../../shared/src/api/suites';
import { artifactUploads, corpora, jobArtifacts, jobs, models, runs, suites } from '../db/schema';
import { loadModelStatus } from '../ingest/model-status';
import type { AppEnv } from '../env';
import { expectedSha, serveBlob } from '../lib/blobs';
import { storeStreamed } from '../lib/streamed-body';
import { newId, newSecret } from '../lib/crypto';
import { type Db, nowIso } from '../lib/db';
import { ApiError, notFound } from '../lib/errors';
import { assemble, storePart } from '../lib/multipart';
import { ApiApp, err, json, jsonBody, raw, rawBody } from '../lib/openapi';
import { claimNext, type JobRow, jobView, requeueExpired } from '../jobs/store';
import { writeRun } from '../jobs/complete';
import { queueFigures } from '../jobs/queue';
import { analysisInputs, comparableProblem, resolveAnalysisRuns } from '../jobs/analysis-runs';
import { findReusableStats, STATS_ARTIFACTS, wantsStats } from '../jobs/reuse-stats';
import { DENSE_SAMPLE_ARTIFACTS, findDenseSamples, wantsDenseSamples } from '../jobs/dense-samples';
import { reusableArtifacts } from '../jobs/reusable-runs';

/** Artifacts of one job; pruned models of large LMs need the multipart path of model uploads. */
const MAX_ARTIFACT = limits.singlePutBytes;

const staleLease = (id: string) => new ApiError(409, 'lease_lost', `the lease on job ${id} is no longer yours (expired and re-leased, canceled, or finished)`);

interface Located {
  input: JobInput;
  r2Key: string;
}

/** Everything a runner may download for a job, by name. */
async function jobInputs(db: Db, job: JobRow, only?: string): Promise<Located[]> {
  const spec = job.spec;
  // An analysis reads stored masks and LMF reports, never the model.
  if (spec.kind === 'analyze') return analysisInputs(db, spec);
  const out: Located[] = [];
  // Model files keep their uploaded names; the graph is marked, with the family as a structure hint.
  const model = await db.query.models.findFirst({ where: eq(models.id, job.modelId) });
  const st = model ? await loadModelStatus(db, model) : { files: [], graph: null, graphFile: null };
  for (const f of st.files) {
    const meta: Record<string, unknown> = f.name === st.graph ? { graph: true, family: model!.family, externalData: f.graphInfo?.externalData ?? [] } : {};
    out.push({ input: { name: f.name, role: 'model', sha256: f.sha256, size: f.size, meta }, r2Key: f.r2Key });
  }
  if (spec.kind === 'prune' && spec.calibration) {
    const add = async (id: string, role: 'corpus' | 'contrast', name: string, mix: Record<string, unknown> = {}) => {
      const c = await db.query.corpora.findFirst({ where: eq(corpora.id, id) });
      if (c) out.push({ input: { name, role, sha256: c.sha256, size: c.size, meta: { corpusId: c.id, src: c.src, tgt: c.tgt, ...mix } }, r2Key: c.r2Key });
    };
    const mix = spec.calibration.corpora;
    if (mix) {
      // Every corpus of a mix, in the spec's order (meta.index), with its weight.
      for (const [index, m] of mix.entries()) await add(m.corpusId, 'corpus', `corpus-${index}.jsonl`, { index, weight: m.weight });
    } else if (spec.calibration.corpusId) await add(spec.calibration.corpusId, 'corpus', 'corpus.jsonl');
    if (spec.calibration.contrastCorpusId) await add(spec.calibration.contrastCorpusId, 'contrast', 'contrast.jsonl');
  }
  for (const id of spec.suites) {
    const s = await db.query.suites.findFirst({ where: eq(suites.id, id) });
    if (s)
      out.push({
        input: {
          name: `suite-${s.id}.jsonl`,
          role: 'suite',
          sha256: s.sha256,
          size: s.size,
          // task and upload subset: what the runner's RankC needs to tell parallel suites
          meta: { suiteId: s.id, format: s.format, lang: s.lang, task: s.task ?? s.name, subset: (s.stats as SuiteInfo['stats']).subset ?? null },
        },
        r2Key: s.r2Key,
      });
  }
  // Searching earlier runs is the costly part (one query for both kinds of reuse); a download of another input skips it.
  const wantPrior = (only === undefined || only.startsWith('prior-')) && wantsStats(spec);
  const wantDense = (only === undefined || only.startsWith('dense-samples-')) && wantsDenseSamples(spec);
  const reusable =
    wantPrior || wantDense
      ? await reusableArtifacts(db, job, wantDense ? ['prune', 'evaluate'] : ['prune'], [
          ...(wantPrior ? STATS_ARTIFACTS : []),
          ...(wantDense ? DENSE_SAMPLE_ARTIFACTS : []),
        ])
      : [];
  const prior = wantPrior ? findReusableStats(spec, reusable) : null;
  for (const a of prior?.artifacts ?? []) {
    out.push({
      input: { name: `prior-${a.name}`, role: 'stats', sha256: a.sha256, size: a.size, meta: { runId: prior!.runId, artifact: a.name } },
      r2Key: a.r2Key,
    });
  }
  const dense = wantDense ? findDenseSamples(spec, reusable) : [];
  for (const d of dense) {
    out.push({
      input: { name: `dense-samples-${d.runId}.jsonl.gz`, role: 'dense-samples', sha256: d.sha256, size: d.size, meta: { runId: d.runId, artifact: d.name } },
      r2Key: d.r2Key,
    });
  }
  if (spec.kind === 'evaluate' && spec.runId) {
    const run = await db.query.runs.findFirst({ where: eq(runs.id, spec.runId) });
    const arts = await db
      .select()
      .from(jobArtifacts)
      .where(eq(jobArtifacts.jobId, run?.jobId ?? ''));
    for (const a of arts) {
      // A pruned model keeps the uploaded layout: foo.onnx with foo.onnx.data or foo.onnx_data.
      if (/\.onnx(\.data|_data)?$/.test(a.name) || a.name === 'masks.bin') {
        out.push({
          input: { name: `base-${a.name}`, role: 'base-run', sha256: a.sha256, size: a.size, meta: { runId: run!.id, artifact: a.name } },
          r2Key: a.r2Key,
        });
      }
    }
  }
  return out;
}

/** A lease token is good only with the runner token that took it (rows leased before that rule: any). */
const holds = (job: JobRow, leaseToken: string, holder: string) => job.leaseToken === leaseToken && (job.leaseHolder === null || job.leaseHolder === holder);

/** The runner token's id, to which its leases are bound. */
const holderOf = (c: Context<AppEnv>) => c.get('principal')!.tokenId;

async function leasedJob(db: Db, id: string, token: string | undefined, holder: string): Promise<JobRow> {
  if (!token) throw new ApiError(400, 'invalid_request', 'X-Lease-Token header is required');
  const job = await db.query.jobs.findFirst({ where: eq(jobs.id, id) });
  if (!job) throw notFound('job');
  if (job.status !== 'running' || !holds(job, token, holder)) throw staleLease(id);
  return job;
}

const jobParam = z.object({ id: z.string().min(1).max(64) });
const artifactParams = jobParam.extend({ name: artifactName });
const artifactUploadParams = artifactParams.extend({ uploadId: z.string().min(1).max(64) });

/**
 * Records an uploaded artifact, re-checking the lease first: the upload may have taken long, and a
 * lease lost meanwhile must not record anything.
 */
async function recordArtifact(db: Db, jobId: string, name: string, blob: { sha256: string; size: number; key: string }, leaseToken: string, holder: string) {
  await leasedJob(db, jobId, leaseToken, holder);
  const row = { jobId, name, sha256: blob.sha256, size: blob.size, r2Key: blob.key, leaseToken, createdAt: nowIso() };
  await db
    .insert(jobArtifacts)
    .values(row)
    .onConflictDoUpdate({
      target: [jobArtifacts.jobId, jobArtifacts.name],
      set: { sha256: row.sha256, size: row.size, r2Key: row.r2Key, leaseToken, createdAt: row.createdAt },
    });
}

/** An artifact upload of this job, under the caller's (current) lease. */
async function artifactUpload(db: Db, jobId: string, name: string, uploadId: string, token: string | undefined, holder: string) {
  await leasedJob(db, jobId, token, holder);
  const u = await db.query.artifactUploads.findFirst({ where: eq(artifactUploads.id, uploadId) });
  if (!u || u.jobId !== jobId || u.name !== name) throw notFound('upload');
  if (u.leaseToken !== token) throw staleLease(jobId);
  return u;
}

/** Fails a just-leased analysis whose runs cannot be compared; true when it did. */
async function refuseAnalysis(db: Db, job: JobRow, spec: AnalyzeJobSpec, token: string): Promise<boolean> {
  const problem = await comparableProblem(db, job.modelId, await resolveAnalysisRuns(db, spec));
  if (!problem) return false;
  const now = nowIso();
  await db
    .update(jobs)
    .set({ status: 'failed', error: `${problem.code}: ${problem.message}`, leaseExpiresAt: null, finishedAt: now, updatedAt: now })
    .where(and(eq(jobs.id, job.id), eq(jobs.leaseToken, token), eq(jobs.status, 'running')));
  return true;
}

const runner = { tags: ['runner'], 'x-scope': 'runner' as const };
const lost = err('lease lost');

const lease = createRoute({
  operationId: 'leaseJob',
  ...runner,
  method: 'post',
  path: '/lease',
  summary: 'Claim the oldest queued job (204 when none)',
  request: { body: jsonBody(leaseBody) },
  responses: { 200: json('lease', leaseResponse), 204: { description: 'no work' } },
});
const queue = createRoute({
  operationId: 'getRunnerQueue',
  ...runner,
  method: 'get',
  path: '/queue',
  summary: 'Queue depth for an autoscaler: queued, running, live leases, age of the oldest queued job, runners wanted by device',
  responses: { 200: json('queue figures', runnerQueue) },
});
const heartbeat = createRoute({
  operationId: 'heartbeatJob',
  ...runner,
  method: 'post',
  path: '/jobs/{id}/heartbeat',
  summary: 'Extend the lease, report progress',
  request: { params: jobParam, body: jsonBody(heartbeatBody) },
  responses: { 200: json('extended', z.object({ leaseExpiresAt: z.string() })), 409: lost },
});
const input = createRoute({
  operationId: 'downloadJobInput',
  ...runner,
  method: 'get',
  path: '/jobs/{id}/inputs/{name}',
  summary: 'Download an input (X-Lease-Token; Range supported)',
  request: { params: jobParam.extend({ name: z.string().min(1).max(200) }) },
  responses: { 200: raw(), 206: raw(), 409: lost },
});
const putArtifact = createRoute({
  operationId: 'uploadArtifact',
  ...runner,
  method: 'put',
  path: '/jobs/{id}/artifacts/{name}',
  summary: 'Upload an artifact (X-Lease-Token)',
  request: { params: artifactParams, body: rawBody() },
  responses: { 201: json('stored', artifactInfo), 409: lost },
});
const startUpload = createRoute({
  operationId: 'startArtifactUpload',
  ...runner,
  method: 'post',
  path: '/jobs/{id}/artifacts/{name}/uploads',
  summary: `Start a multipart artifact upload (X-Lease-Token; for artifacts over ${limits.singlePutBytes / 1048576} MB)`,
  request: { params: artifactParams },
  responses: { 201: json('started', z.object({ uploadId: z.string() })), 409: lost },
});
const putPart = createRoute({
  operationId: 'uploadArtifactPart',
  ...runner,
  method: 'put',
  path: '/jobs/{id}/artifacts/{name}/uploads/{uploadId}/parts/{n}',
  summary: 'Upload part n (1-based; every part but the last ≥ 5 MiB)',
  request: { params: artifactUploadParams.extend({ n: z.coerce.number().int().min(1).max(10_000) }), body: rawBody() },
  responses: { 200: json('part stored', z.object({ partNumber: z.number(), size: z.number(), sha256: z.string() })), 409: lost },
});
const completeUpload = createRoute({
  operationId: 'completeArtifactUpload',
  ...runner,
  method: 'post',
  path: '/jobs/{id}/artifacts/{name}/uploads/{uploadId}/complete',
  summary: 'Assemble the parts, hash server-side (X-Content-SHA256 checked)',
  request: { params: artifactUploadParams },
  responses: { 201: json('stored', artifactInfo), 409: err('lease lost or missing parts'), 422: err('hash mismatch') },
});
const complete = createRoute({
  operationId: 'completeJob',
  ...runner,
  method: 'post',
  path: '/jobs/{id}/complete',
  summary: 'Report results (one D1 batch; idempotent per lease)',
  request: { params: jobParam, body: jsonBody(completeBody) },
  responses: {
    200: json('run recorded', z.object({ runId: z.string(), job: jobInfo })),
    409: lost,
    422: err('unknown_artifact (not uploaded under this lease), unknown_suite, duplicate_score, invalid_analysis'),
  },
});
const fail = createRoute({
  operationId: 'failJob',
  ...runner,
  method: 'post',
  path: '/jobs/{id}/fail',
  summary: 'Report a failure (retryable requeues)',
  request: { params: jobParam, body: jsonBody(failBody) },
  responses: { 200: json('recorded', jobInfo), 409: lost },
});

export const runnerRoutes = new ApiApp()
  .openapi(lease, async (c) => {
    const body = c.req.valid('json');
    const db = c.var.db;
    await requeueExpired(db);
    // An analysis whose runs cannot be compared (its prune jobs failed, a model file changed between
    // them) fails here with the reason, and the next job is offered instead.
    for (let tries = 0; tries < 20; tries++) {
      const token = newSecret();
      const expires = Date.now() + c.var.config.leaseSeconds * 1000;
      const id = await claimNext(c.env.DB, body.runnerId, token, expires, holderOf(c), body.device ?? null);
      if (!id) return c.body(null, 204);
      const job = (await db.query.jobs.findFirst({ where: eq(jobs.id, id) }))!;
      if (job.spec.kind === 'analyze' && (await refuseAnalysis(db, job, job.spec, token))) continue;
      const inputs = (await jobInputs(db, job)).map((l) => l.input);
      return c.json({ job: jobView(job), leaseToken: token, leaseExpiresAt: new Date(expires).toISOString(), inputs }, 200);
    }
    return c.body(null, 204);
  })
  // Read-only: an expired lease shows as running but not leased until a lease call or the cron requeues it.
  .openapi(queue, async (c) => c.json(await queueFigures(c.env.DB), 200))
  .openapi(heartbeat, async (c) => {
    const { id } = c.req.valid('param');
    const body = c.req.valid('json');
    const db = c.var.db;
    const expires = Date.now() + c.var.config.leaseSeconds * 1000;
    const progress = body.progress
      ? {
          progressStage: body.progress.stage,
          progressDone: Math.round(body.progress.done),
          progressTotal: Math.round(body.progress.total),
          progressEtaSeconds: body.progress.etaSeconds === undefined ? null : Math.round(body.progress.etaSeconds),
        }
      : {};
    const [row] = await db
      .update(jobs)
      .set({ leaseExpiresAt: expires, updatedAt: nowIso(), ...progress })
      .where(
        and(eq(jobs.id, id), eq(jobs.leaseToken, body.leaseToken), eq(jobs.status, 'running'), or(isNull(jobs.leaseHolder), eq(jobs.leaseHolder, holderOf(c)))),
      )
      .returning({ id: jobs.id });
    if (!row) throw staleLease(id);
    return c.json({ leaseExpiresAt: new Date(expires).toISOString() }, 200);
  })
  .openapi(input, async (c) => {
    const { id, name } = c.req.valid('param');
    const db = c.var.db;
    const job = await leasedJob(db, id, c.req.header('x-lease-token'), holderOf(c));
    const found = (await jobInputs(db, job, name)).find((l) => l.input.name === name);
    if (!found) throw notFound(`input "${name}"`);
    return serveBlob(c.env.BLOBS, found.r2Key, c.req.header('range'), name, found.input.sha256);
  })
  .openapi(putArtifact, async (c) => {
    const { id, name } = c.req.valid('param');
    const db = c.var.db;
    const token = c.req.header('x-lease-token');
    await leasedJob(db, id, token, holderOf(c));
    const expected = expectedSha(c.req.header('x-content-sha256'));
    const blob = await storeStreamed(c.env.BLOBS, c.req.raw, MAX_ARTIFACT, expected);
    await recordArtifact(db, id, name, blob, token!, holderOf(c));
    return c.json({ name, sha256: blob.sha256, size: blob.size }, 201);
  })
  // Large artifacts (a pruned model of a real LM) go through R2 multipart, like model uploads.
  .openapi(startUpload, async (c) => {
    const { id, name } = c.req.valid('param');
    const db = c.var.db;
    const token = c.req.header('x-lease-token');
    await leasedJob(db, id, token, holderOf(c));
    const uploadId = newId('aup');
    const r2Key = `artifact-uploads/${uploadId}`;
    const mp = await c.env.BLOBS.createMultipartUpload(r2Key);
    await db.insert(artifactUploads).values({ id: uploadId, jobId: id, name, r2UploadId: mp.uploadId, r2Key, leaseToken: token!, createdAt: nowIso() });
    return c.json({ uploadId }, 201);
  })
  .openapi(putPart, async (c) => {
    const { id, name, uploadId, n } = c.req.valid('param');
    const db = c.var.db;
    const u = await artifactUpload(db, id, name, uploadId, c.req.header('x-lease-token'), holderOf(c));
    return c.json(await storePart(c.env.BLOBS, db, { id: u.id, r2Key: u.r2Key, r2UploadId: u.r2UploadId }, n, c.req.raw), 200);
  })
  .openapi(completeUpload, async (c) => {
    const { id, name, uploadId } = c.req.valid('param');
    const db = c.var.db;
    const token = c.req.header('x-lease-token');
    const u = await artifactUpload(db, id, name, uploadId, token, holderOf(c));
    const expected = expectedSha(c.req.header('x-content-sha256'));
    const done = await assemble(c.env.BLOBS, db, { id: u.id, r2Key: u.r2Key, r2UploadId: u.r2UploadId }, expected, () =>
      db.delete(artifactUploads).where(eq(artifactUploads.id, uploadId)),
    );
    await recordArtifact(db, id, name, done, token!, holderOf(c));
    await done.cleanup();
    return c.json({ name, sha256: done.sha256, size: done.size }, 201);
  })
  .openapi(complete, async (c) => {
    const { id } = c.req.valid('param');
    const body = c.req.valid('json');
    const db = c.var.db;
    const job = await db.query.jobs.findFirst({ where: eq(jobs.id, id) });
    if (!job) throw notFound('job');
    if (!holds(job, body.leaseToken, holderOf(c))) throw staleLease(id);
    // The same lease completing twice (a retried request) gets the first answer.
    if (job.status === 'succeeded' && job.runId) return c.json({ runId: job.runId, job: jobView(job) }, 200);
    if (job.status !== 'running') throw staleLease(id);
    const runId = await writeRun(c.env, db, job, body.leaseToken, body.result, newId('run'));
    const after = (await db.query.jobs.findFirst({ where: eq(jobs.id, id) }))!;
    if (after.runId !== runId) {
      if (after.status === 'succeeded' && after.leaseToken === body.leaseToken && after.runId) return c.json({ runId: after.runId, job: jobView(after) }, 200);
      throw staleLease(id);
    }
    return c.json({ runId, job: jobView(after) }, 200);
  })
  .openapi(fail, async (c) => {
    const { id } = c.req.valid('param');
    const body = c.req.valid('json');
    const db = c.var.db;
    const job = await db.query.jobs.findFirst({ where: eq(jobs.id, id) });
    if (!job) throw notFound('job');
    if (!holds(job, body.leaseToken, holderOf(c))) throw staleLease(id);
    if (job.status !== 'running') {
      // Idempotent: the same lease reporting the same failure again sees the recorded outcome.
      if ((job.status === 'failed' || job.status === 'queued') && job.error === body.error) return c.json(jobView(job), 200);
      throw staleLease(id);
    }
    const retry = body.retryable && job.attempts < job.maxAttempts;
    const now = nowIso();
    const [row] = await db
      .update(jobs)
      .set(
        retry
          ? { status: 'queued', error: body.error, errorCode: body.code ?? null, leaseExpiresAt: null, runnerId: null, updatedAt: now }
          : { status: 'failed', error: body.error, errorCode: body.code ?? null, leaseExpiresAt: null, finishedAt: now, updatedAt: now },
      )
      .where(and(eq(jobs.id, id), eq(jobs.leaseToken, body.leaseToken), eq(jobs.status, 'running')))
      .returning();
    if (!row) throw staleLease(id);
    return c.json(jobView(row), 200);
  });
