import { eq, inArray } from 'drizzle-orm';
import { createRoute, z } from '@hono/zod-openapi';
import { type MaskAnalysis, maskAnalysis } from '@polyprune/shared/api/analysis';
import { idParam, page } from '@polyprune/shared/api/common';
import { artifactName, listRunsQuery, type RunInfo, runInfo } from '@polyprune/shared/api/jobs';
import { runs, scores } from '../db/schema';
import { runArtifactRow } from '../jobs/run-artifact';
import { assertReadable } from '../lib/auth';
import { serveBlob } from '../lib/blobs';
import type { Db } from '../lib/db';
import { ApiError, notFound } from '../lib/errors';
import { nextCursor, type Page, pageQueries } from '../lib/pagination';
import { ApiApp, err, json, raw, streamedJson } from '../lib/openapi';
import { versionedAnswer } from '../lib/versioned-cache';

type RunRow = typeof runs.$inferSelect;

type ScoreRow = typeof scores.$inferSelect;

export async function runView(db: Db, r: RunRow): Promise<RunInfo> {
  return runInfoOf(r, await db.select().from(scores).where(eq(scores.runId, r.id)));
}

function runInfoOf(r: RunRow, rows: ScoreRow[]): RunInfo {
  return {
    id: r.id,
    jobId: r.jobId,
    owner: r.owner,
    kind: r.kind,
    visibility: r.visibility,
    modelId: r.modelId,
    modelSha256: r.modelSha256,
    corpusSha256: r.corpusSha256,
    variant: r.variant,
    config: r.config,
    codeVersion: r.codeVersion,
    overallSparsity: r.overallSparsity,
    layers: r.layers as RunInfo['layers'],
    scores: rows.map((s) => ({
      suiteId: s.suiteId,
      format: s.format,
      lang: s.lang,
      scoring: s.scoring as 'paper' | 'harness',
      metric: s.metric,
      value: s.value,
      n: s.n,
      ...(s.templateLang ? { templateLang: s.templateLang } : {}),
      subset: s.subset,
      seed: s.seed,
      limit: s.rowLimit,
      limitSeed: s.limitSeed,
    })),
    artifacts: r.artifacts as RunInfo['artifacts'],
    timings: r.timings as RunInfo['timings'],
    extra: r.extra as RunInfo['extra'],
    createdAt: r.createdAt,
  };
}

const tags = ['runs'];

const list = createRoute({
  operationId: 'listRuns',
  method: 'get',
  path: '/',
  summary: 'List runs (?model=&kind=)',
  tags,
  request: { query: listRunsQuery },
  responses: { 200: json('page', page(runInfo)) },
});
const get = createRoute({
  operationId: 'getRun',
  method: 'get',
  path: '/{id}',
  summary: 'Configuration, hashes, per-layer sparsity, scores, artifacts',
  tags,
  request: { params: idParam },
  responses: { 200: json('run', runInfo) },
});
const artifact = createRoute({
  operationId: 'downloadRunArtifact',
  method: 'get',
  path: '/{id}/artifacts/{name}',
  summary: 'Download an artifact (masks.bin format: docs/mask-format.md)',
  tags,
  request: { params: z.object({ id: z.string().max(64), name: artifactName }) },
  responses: { 200: raw() },
});
// The whole analysis of an analyze run (the record keeps its summary in extra.analysis).
const analysis = createRoute({
  operationId: 'getRunAnalysis',
  method: 'get',
  path: '/{id}/analysis',
  summary: 'The mask analysis of an analyze run (matrices, per layer, LMF overlap across pairs)',
  tags,
  request: { params: idParam },
  responses: { 200: json('analysis', maskAnalysis), 404: err('unknown run, or not an analysis') },
});

export const runRoutes = new ApiApp()
  .openapi(list, async (c) => {
    const q = c.req.valid('query');
    const db = c.var.db;
    const res = await versionedAnswer(c, db, {
      route: 'runs',
      keys: ['runs'],
      query: q,
      build: async () => {
        // The page and the scores of its runs in one D1 round trip, not one query per run.
        const where = [q.model ? eq(runs.modelId, q.model) : undefined, q.kind ? eq(runs.kind, q.kind) : undefined];
        const pq = pageQueries(db, runs, q, where, c.get('principal'));
        const [rows, scored] = await db.batch([pq.rows, db.select().from(scores).where(inArray(scores.runId, pq.ids))]);
        const page = nextCursor(rows as RunRow[], q.limit);
        const byRun = new Map<string, ScoreRow[]>();
        for (const s of scored) {
          const list = byRun.get(s.runId);
          if (list) list.push(s);
          else byRun.set(s.runId, [s]);
        }
        const items = page.items.map((r) => runInfoOf(r, byRun.get(r.id) ?? []));
        return { body: JSON.stringify({ items, nextCursor: page.nextCursor }), contentType: 'application/json' };
      },
    });
    return streamedJson<Page<RunInfo>>(res);
  })
  .openapi(get, async (c) => {
    const db = c.var.db;
    const r = assertReadable(c.get('principal'), await db.query.runs.findFirst({ where: eq(runs.id, c.req.valid('param').id) }), 'run');
    return c.json(await runView(db, r), 200);
  })
  .openapi(artifact, async (c) => {
    const { id, name } = c.req.valid('param');
    const db = c.var.db;
    const r = assertReadable(c.get('principal'), await db.query.runs.findFirst({ where: eq(runs.id, id) }), 'run');
    const a = await runArtifactRow(db, r, name);
    if (!a) throw notFound(`artifact "${name}"`);
    return serveBlob(c.env.BLOBS, a.r2Key, c.req.header('range'), name, a.sha256);
  })
  .openapi(analysis, async (c) => {
    const { id } = c.req.valid('param');
    const db = c.var.db;
    const r = assertReadable(c.get('principal'), await db.query.runs.findFirst({ where: eq(runs.id, id) }), 'run');
    if (r.kind !== 'analyze') throw new ApiError(404, 'not_found', `run ${r.id} is a ${r.kind} run, not an analysis (analyses: GET /v1/runs?kind=analyze)`);
    const a = await runArtifactRow(db, r, 'analysis.json');
    const obj = a ? await c.env.BLOBS.get(a.r2Key) : null;
    if (!a || !obj) throw notFound(`analysis of run ${r.id}`);
    return streamedJson<MaskAnalysis>(new Response(obj.body, { headers: { 'content-type': 'application/json; charset=utf-8', etag: `"${a.sha256}"` } }));
  });
