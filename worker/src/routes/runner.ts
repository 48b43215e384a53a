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
  jobInfo,
  leaseBody,
  leaseResponse,
  runnerQueue,
} from '@polyprune/shared/api/jobs';
import { limits } from '@polyprune/shared/api/limits';
import { artifactUploads, jobArtifacts, jobs } from '../db/schema';
import type { AppEnv } from '../env';
import { expectedSha, serveBlob } from '../lib/blobs';
import { storeStreamed } from '../lib/streamed-body';
import { newId, newSecret } from '../lib/crypto';
import { type Db, nowIso } from '../lib/db';
import { notFound } from '../lib/errors';
import { assemble, storePart } from '../lib/multipart';
import { ApiApp, err, json, jsonBody, raw, rawBody } from '../lib/openapi';
import { jobInputs } from '../jobs/inputs';
import { heldJob, holderOf, leasedJob, leaseOf, staleLease } from '../jobs/lease';
import { claimNext, type JobRow, jobView, requeueExpired } from '../jobs/store';
import { writeRun } from '../jobs/complete';
import { queueFigures } from '../jobs/queue';
import { comparableProblem, resolveAnalysisRuns } from '../jobs/analysis-runs';

/** Artifacts of one job; pruned models of large LMs need the multipart path of model uploads. */
const MAX_ARTIFACT = limits.singlePutBytes;

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
async function artifactUpload(c: Context<AppEnv>, jobId: string, name: string, uploadId: string) {
  const { token } = await leaseOf(c, jobId);
  const u = await c.var.db.query.artifactUploads.findFirst({ where: eq(artifactUploads.id, uploadId) });
  if (!u || u.jobId !== jobId || u.name !== name) throw notFound('upload');
  if (u.leaseToken !== token) throw staleLease(jobId);
  return { u, token };
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
      const job = await db.query.jobs.findFirst({ where: eq(jobs.id, id) });
      if (!job) throw notFound('job');
      if (job.spec.kind === 'analyze' && (await refuseAnalysis(db, job, job.spec, token))) continue;
      const located = await jobInputs(db, job);
      // Pinned for the lease (jobs.leaseInputs): what a download serves is what this answer lists.
      await db
        .update(jobs)
        .set({ leaseInputs: located })
        .where(and(eq(jobs.id, id), eq(jobs.leaseToken, token)));
      const inputs = located.map((l) => l.input);
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
    const { job } = await leaseOf(c, id);
    // The list given at lease time (older leases, from before it was kept, recompute it).
    const found = (job.leaseInputs ?? (await jobInputs(db, job, name))).find((l) => l.input.name === name);
    if (!found) throw notFound(`input "${name}"`);
    return serveBlob(c.env.BLOBS, found.r2Key, c.req.header('range'), name, found.input.sha256);
  })
  .openapi(putArtifact, async (c) => {
    const { id, name } = c.req.valid('param');
    const db = c.var.db;
    const { token } = await leaseOf(c, id);
    const expected = expectedSha(c.req.header('x-content-sha256'));
    const blob = await storeStreamed(c.env.BLOBS, c.req.raw, MAX_ARTIFACT, expected);
    await recordArtifact(db, id, name, blob, token, holderOf(c));
    return c.json({ name, sha256: blob.sha256, size: blob.size }, 201);
  })
  // Large artifacts (a pruned model of a real LM) go through R2 multipart, like model uploads.
  .openapi(startUpload, async (c) => {
    const { id, name } = c.req.valid('param');
    const db = c.var.db;
    const { token } = await leaseOf(c, id);
    const uploadId = newId('aup');
    const r2Key = `artifact-uploads/${uploadId}`;
    const mp = await c.env.BLOBS.createMultipartUpload(r2Key);
    await db.insert(artifactUploads).values({ id: uploadId, jobId: id, name, r2UploadId: mp.uploadId, r2Key, leaseToken: token, createdAt: nowIso() });
    return c.json({ uploadId }, 201);
  })
  .openapi(putPart, async (c) => {
    const { id, name, uploadId, n } = c.req.valid('param');
    const db = c.var.db;
    const { u } = await artifactUpload(c, id, name, uploadId);
    return c.json(await storePart(c.env.BLOBS, db, { id: u.id, r2Key: u.r2Key, r2UploadId: u.r2UploadId }, n, c.req.raw), 200);
  })
  .openapi(completeUpload, async (c) => {
    const { id, name, uploadId } = c.req.valid('param');
    const db = c.var.db;
    const { u, token } = await artifactUpload(c, id, name, uploadId);
    const expected = expectedSha(c.req.header('x-content-sha256'));
    const done = await assemble(c.env.BLOBS, db, { id: u.id, r2Key: u.r2Key, r2UploadId: u.r2UploadId }, expected, () =>
      db.delete(artifactUploads).where(eq(artifactUploads.id, uploadId)),
    );
    await recordArtifact(db, id, name, done, token, holderOf(c));
    await done.cleanup();
    return c.json({ name, sha256: done.sha256, size: done.size }, 201);
  })
  .openapi(complete, async (c) => {
    const { id } = c.req.valid('param');
    const body = c.req.valid('json');
    const db = c.var.db;
    const job = await heldJob(db, id, body.leaseToken, holderOf(c));
    // The same lease completing twice (a retried request) gets the first answer.
    if (job.status === 'succeeded' && job.runId) return c.json({ runId: job.runId, job: jobView(job) }, 200);
    if (job.status !== 'running') throw staleLease(id);
    const runId = await writeRun(c.env, db, job, body.leaseToken, body.result, newId('run'));
    const after = await db.query.jobs.findFirst({ where: eq(jobs.id, id) });
    if (!after) throw notFound('job');
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
    const job = await heldJob(db, id, body.leaseToken, holderOf(c));
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
