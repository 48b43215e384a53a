import { and, eq, inArray } from 'drizzle-orm';
import { createRoute } from '@hono/zod-openapi';
import { idParam, page } from '@polyprune/shared/api/common';
import {
  createJobBody,
  createSweepBody,
  type JobSpec,
  jobInfo,
  listJobsQuery,
  MAX_ANALYSIS_RUNS,
  type PruneJobSpec,
  sweepInfo,
} from '@polyprune/shared/api/jobs';
import { jobs } from '../db/schema';
import { assertReadable, assertWritable, type Principal, requireScope } from '../lib/auth';
import { newId, sha256Hex } from '../lib/crypto';
import { type Db, nowIso } from '../lib/db';
import { ApiError } from '../lib/errors';
import { listPage } from '../lib/pagination';
import { canonicalJson } from '../lib/canonical-json';
import { ApiApp, err, json, jsonBody } from '../lib/openapi';
import { parseWith, readJson } from '../lib/validate';
import { jobView, type JobRow, sweepJobs } from '../jobs/store';
import { type ResolvedSpec, validateSpec } from '../jobs/validate-spec';
import { variantOf } from '../jobs/variant';

function idempotencyKey(header: string | undefined): string | null {
  if (header === undefined) return null;
  const k = header.trim();
  if (k.length < 1 || k.length > 200) throw new ApiError(400, 'invalid_request', 'Idempotency-Key must be 1–200 characters');
  return k;
}

function newJobRow(p: Principal, { spec, corpus }: ResolvedSpec, max: number, extra: Partial<JobRow> = {}): JobRow {
  const now = nowIso();
  return {
    id: newId('job'),
    owner: p.owner,
    kind: spec.kind,
    status: 'queued',
    spec,
    modelId: spec.modelId,
    sweepId: null,
    corpusPair: corpus?.pair ?? null,
    corpusSha256: corpus?.sha256 ?? null,
    visibility: spec.visibility,
    idempotencyKey: null,
    idempotencySha: null,
    attempts: 0,
    maxAttempts: max,
    leaseToken: null,
    leaseHolder: null,
    leaseExpiresAt: null,
    runnerId: null,
    leaseDevice: null,
    leaseInputs: null,
    progressStage: null,
    progressDone: null,
    progressTotal: null,
    progressEtaSeconds: null,
    error: null,
    errorCode: null,
    runId: null,
    createdAt: now,
    startedAt: null,
    finishedAt: null,
    updatedAt: now,
    ...extra,
  };
}

async function findByKey(db: Db, owner: string, key: string) {
  return db.query.jobs.findFirst({ where: and(eq(jobs.owner, owner), eq(jobs.idempotencyKey, key)) });
}

/**
 * A retry with the same key and the same body (after key order and whitespace) replays the first
 * job; another body under a used key is a 422, as in the IETF Idempotency-Key draft.
 */
function replay(prior: JobRow, sha: string) {
  if (prior.idempotencySha !== null && prior.idempotencySha !== sha) {
    throw new ApiError(
      422,
      'idempotency_key_reused',
      `Idempotency-Key was first used with another request body (job ${prior.id}); use a new key for a new request`,
    );
  }
  return prior;
}

const tags = ['jobs'];

const create = createRoute({
  operationId: 'createJob',
  method: 'post',
  path: '/',
  summary: 'Create a prune, evaluate or analyze job (Idempotency-Key honoured); analyze compares the masks of finished prune runs',
  tags,
  'x-scope': 'write',
  // Read by the handler: a replay compares the raw body with the first request's before validating.
  'x-raw-body': true,
  request: { body: jsonBody(createJobBody) },
  responses: {
    201: json('queued', jobInfo),
    200: json('replay of an earlier request with the same Idempotency-Key', jobInfo),
    422: err(
      'idempotency_key_reused: the key was first sent with another body; or the spec refers to something missing, invisible or inconsistent; incomplete_model / unsupported_model name the files or ops and the fix; analyze: unknown_run, not_a_prune_run, different_model_bytes, different_layers, no_masks',
    ),
  },
});
const list = createRoute({
  operationId: 'listJobs',
  method: 'get',
  path: '/',
  summary: 'List jobs (?status=&model=&sweep=)',
  tags,
  request: { query: listJobsQuery },
  responses: { 200: json('page', page(jobInfo)) },
});
const get = createRoute({
  operationId: 'getJob',
  method: 'get',
  path: '/{id}',
  summary: 'Status, progress, attempts, timings, error',
  tags,
  request: { params: idParam },
  responses: { 200: json('job', jobInfo) },
});
const cancel = createRoute({
  operationId: 'cancelJob',
  method: 'post',
  path: '/{id}/cancel',
  summary: 'Cancel a queued or running job',
  tags,
  'x-scope': 'write',
  request: { params: idParam },
  responses: { 200: json('canceled', jobInfo), 409: err('already finished') },
});
const createSweep = createRoute({
  operationId: 'createSweep',
  method: 'post',
  path: '/',
  summary: 'Expand pairs × sparsities × methods into jobs (analyze: true adds one analyze job per method and sparsity)',
  tags,
  'x-scope': 'write',
  request: { body: jsonBody(createSweepBody) },
  responses: { 201: json('jobs', sweepInfo), 422: err('nothing_to_analyze, sweep_too_large, or a job refused') },
});
const getSweep = createRoute({
  operationId: 'getSweep',
  method: 'get',
  path: '/{id}',
  summary: 'The jobs of a sweep, its analyze jobs included',
  tags,
  request: { params: idParam },
  responses: { 200: json('sweep', sweepInfo), 404: err('no visible job of this sweep') },
});

export const jobRoutes = new ApiApp()
  .openapi(create, async (c) => {
    const p = requireScope(c.get('principal'), 'write');
    const key = idempotencyKey(c.req.header('idempotency-key'));
    const db = c.var.db;
    let value: unknown;
    let bodyError: unknown;
    try {
      value = await readJson(c);
    } catch (err) {
      // A body that is not JSON cannot be the body a used key was first sent with.
      if (!(err instanceof ApiError) || err.status !== 400) throw err;
      bodyError = err;
    }
    const sha = await sha256Hex(bodyError ? `invalid:${crypto.randomUUID()}` : canonicalJson(value));
    if (key) {
      const prior = await findByKey(db, p.owner, key);
      if (prior) return c.json(jobView(replay(prior, sha)), 200, { 'Idempotent-Replayed': 'true' });
    }
    if (bodyError) throw bodyError;
    const body = parseWith(createJobBody, value, 'body');
    const row = newJobRow(p, await validateSpec(db, p, body), c.var.config.maxAttempts, { idempotencyKey: key, idempotencySha: key ? sha : null });
    try {
      await db.insert(jobs).values(row);
    } catch (err) {
      // Two retries racing with one key: the unique index lets one insert win; answer with it.
      const winner = key ? await findByKey(db, p.owner, key) : undefined;
      if (winner) return c.json(jobView(replay(winner, sha)), 200, { 'Idempotent-Replayed': 'true' });
      throw err;
    }
    return c.json(jobView(row), 201);
  })
  .openapi(list, async (c) => {
    const q = c.req.valid('query');
    const page = await listPage(
      c.var.db,
      jobs,
      q,
      [q.status ? eq(jobs.status, q.status) : undefined, q.model ? eq(jobs.modelId, q.model) : undefined, q.sweep ? eq(jobs.sweepId, q.sweep) : undefined],
      c.get('principal'),
    );
    return c.json({ ...page, items: page.items.map(jobView) }, 200);
  })
  .openapi(get, async (c) => {
    const row = await c.var.db.query.jobs.findFirst({ where: eq(jobs.id, c.req.valid('param').id) });
    return c.json(jobView(assertReadable(c.get('principal'), row, 'job')), 200);
  })
  .openapi(cancel, async (c) => {
    const db = c.var.db;
    const row = assertWritable(c.get('principal'), await db.query.jobs.findFirst({ where: eq(jobs.id, c.req.valid('param').id) }), 'job');
    const now = nowIso();
    // Clearing the lease makes the runner's next heartbeat answer 409, so it stops at once.
    const [updated] = await db
      .update(jobs)
      .set({ status: 'canceled', leaseToken: null, leaseExpiresAt: null, finishedAt: now, updatedAt: now })
      .where(and(eq(jobs.id, row.id), inArray(jobs.status, ['queued', 'running'])))
      .returning();
    if (!updated) throw new ApiError(409, 'not_cancelable', `job ${row.id} is already ${row.status}`);
    return c.json(jobView(updated), 200);
  });

/** A grid of language pairs × sparsities × methods expanded into jobs, created in one batch. */
export const sweepRoutes = new ApiApp()
  .openapi(createSweep, async (c) => {
    const p = requireScope(c.get('principal'), 'write');
    const body = c.req.valid('json');
    const db = c.var.db;
    const sweepId = newId('swp');
    const specs: JobSpec[] = [];
    const base = body.base;
    if (body.includeDense && base.suites?.length) {
      specs.push(
        parseWith(
          createJobBody,
          {
            kind: 'evaluate',
            modelId: body.modelId,
            suites: base.suites,
            scoring: base.scoring,
            templateLang: base.templateLang,
            limit: base.limit,
            limitSeed: base.limitSeed,
            visibility: base.visibility,
          },
          'body',
        ),
      );
    }
    for (const pair of body.pairs) {
      for (const sparsity of body.sparsities) {
        for (const m of body.methods) {
          // OWL weighs blocks by Wanda scores of a calibration pass, whichever method prunes.
          const calibrated = m.method === 'wanda' || m.method === 'sparsegpt' || base.layerSparsity !== undefined;
          const spec: Record<string, unknown> = {
            ...base,
            kind: 'prune',
            modelId: body.modelId,
            method: m.method,
            dropTop: m.dropTop,
            sparsity,
            calibration: calibrated
              ? {
                  ...(base.calibration ?? {}),
                  ...(pair.corpora ? { corpora: pair.corpora } : { corpusId: pair.corpusId }),
                  dataType: m.dataType,
                  ...(m.dataType === 'mt-contrast' ? { contrastCorpusId: pair.contrastCorpusId } : {}),
                }
              : undefined,
          };
          // Magnitude and random ignore the pair, so they would repeat across pairs; keep one.
          if (!calibrated && specs.some((s) => s.kind === 'prune' && s.method === m.method && s.sparsity === sparsity && s.dropTop === m.dropTop)) continue;
          specs.push(parseWith(createJobBody, spec, 'body'));
        }
      }
    }
    const tooLarge = (n: number) => new ApiError(422, 'sweep_too_large', `the grid expands to ${n} jobs; at most 200 per sweep`);
    if (specs.length > 200) throw tooLarge(specs.length);
    const resolved: ResolvedSpec[] = [];
    for (const s of specs) resolved.push(await validateSpec(db, p, s));
    const rows = resolved.map((r) => newJobRow(p, r, c.var.config.maxAttempts, { sweepId }));
    if (body.analyze) rows.push(...analysisRows(p, rows, base.visibility, c.var.config.maxAttempts, sweepId));
    if (rows.length > 200) throw tooLarge(rows.length);
    await db.batch(rows.map((r) => db.insert(jobs).values(r)) as unknown as [never, ...never[]]);
    return c.json({ sweepId, jobs: rows.map(jobView) }, 201);
  })
  .openapi(getSweep, async (c) => {
    const { id } = c.req.valid('param');
    const rows = await sweepJobs(c.var.db, c.get('principal'), id);
    return c.json({ sweepId: id, jobs: rows.map(jobView) }, 200);
  });

/**
 * `analyze: true`: one analyze job per (method, sparsity, pattern) with two or more prune jobs —
 * e.g. every pair's mt and mono masks of wanda at 50%. Each waits for its prune jobs to end.
 */
function analysisRows(p: Principal, rows: JobRow[], visibility: PruneJobSpec['visibility'] | undefined, max: number, sweepId: string): JobRow[] {
  const groups = new Map<string, { spec: PruneJobSpec; rows: JobRow[] }>();
  for (const r of rows) {
    const s = r.spec;
    if (s.kind !== 'prune') continue;
    const key = JSON.stringify([variantOf(s, null).method, s.sparsity, s.pattern]);
    const g = groups.get(key) ?? { spec: s, rows: [] };
    g.rows.push(r);
    groups.set(key, g);
  }
  const big = [...groups.values()].find((g) => g.rows.length > MAX_ANALYSIS_RUNS);
  if (big) {
    const s = big.spec;
    throw new ApiError(
      422,
      'analysis_too_large',
      `analyze: true would compare ${big.rows.length} prune jobs of ${variantOf(s, null).method} at ${s.sparsity}; one analysis compares at most ${MAX_ANALYSIS_RUNS} (fewer pairs or data types per sweep)`,
    );
  }
  const out = [...groups.values()]
    .filter((g) => g.rows.length >= 2)
    .map(({ rows: g }) =>
      newJobRow(
        p,
        { spec: parseWith(createJobBody, { kind: 'analyze', modelId: g[0]!.modelId, jobs: g.map((r) => r.id), visibility }, 'body'), corpus: null },
        max,
        { sweepId },
      ),
    );
  if (!out.length) {
    throw new ApiError(
      422,
      'nothing_to_analyze',
      'analyze: true compares the masks of two or more prune jobs of the same method and sparsity; this grid has none (add a second pair, or wanda with mt and mono)',
    );
  }
  return out;
}
