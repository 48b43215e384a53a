import { and, desc, eq } from 'drizzle-orm';
import { createRoute, z } from '@hono/zod-openapi';
import type { Context } from 'hono';
import {
  defaultMetric,
  type Leaderboard,
  leaderboard,
  type LeaderboardQuery,
  leaderboardQuery,
  lowerIsBetter,
  type MethodSummary,
  methodSummary,
  methodsQuery,
  sparsityQuery,
  type SparsityView,
  sparsityView,
} from '@polyprune/shared/api/leaderboards';
import { models, runs, scores } from '../db/schema';
import { assertReadable, type Principal, visibleTo } from '../lib/auth';
import type { Db } from '../lib/db';
import { ApiApp, html, json, streamedJson } from '../lib/openapi';
import { boardVersionKeys, versionedAnswer } from '../lib/versioned-cache';
import { type BoardOptions, buildLeaderboard, companionMetrics } from '../leaderboard/aggregate';
import { leaderboardCsv, leaderboardLatex } from '../leaderboard/export';
import { loadLeaderboard, loadScores } from '../leaderboard/query';
import { withRankcNote } from '../leaderboard/rankc-note';
import { buildMethodSummary, buildSparsityView } from '../leaderboard/views';
import { AcrossModelsPage, LeaderboardPage } from '../pages/leaderboard';

/** The query with its defaults resolved: the format's own metric, and "better first" for it. */
function boardOptions(q: LeaderboardQuery, format: string | null): BoardOptions & { suite?: string } {
  const metric = q.metric ?? defaultMetric(format);
  return { ...q, model: q.model ?? null, format, metric, order: q.order ?? (lowerIsBetter(metric) ? 'asc' : 'desc') };
}

async function readableModel(db: Db, p: Principal | null, id: string) {
  return assertReadable(p, await db.query.models.findFirst({ where: eq(models.id, id) }), 'model');
}

async function formatsOf(db: Db, p: Principal | null, model: string | null): Promise<string[]> {
  const rows = await db
    .selectDistinct({ f: scores.format })
    .from(scores)
    .where(and(model ? eq(scores.modelId, model) : undefined, visibleTo(p, scores)));
  return rows.map((r) => r.f).sort();
}

/** `?as=` wins over the Accept header; JSON unless either asks for CSV or LaTeX. */
function exportFormat(c: Context, as: LeaderboardQuery['as']): 'json' | 'csv' | 'latex' {
  if (as) return as;
  const accept = c.req.header('accept') ?? '';
  if (accept.includes('text/csv')) return 'csv';
  if (accept.includes('application/x-latex') || accept.includes('text/x-tex')) return 'latex';
  return 'json';
}

const tags = ['leaderboards'];
const pageQuery = leaderboardQuery.omit({ model: true });

const board = createRoute({
  operationId: 'getLeaderboard',
  method: 'get',
  path: '/',
  summary:
    'Variants × suites: each cell with n, 95% interval, Δ vs dense on the same suite rows and p-value; without `model`, every visible model ranked together. `as=csv|latex` (or Accept: text/csv) exports it',
  tags,
  request: { query: leaderboardQuery },
  responses: {
    200: {
      description: 'leaderboard (or CSV / LaTeX)',
      content: { 'application/json': { schema: leaderboard }, 'text/csv': { schema: z.string() }, 'application/x-latex': { schema: z.string() } },
    },
  },
});
const sparsity = createRoute({
  operationId: 'getSparsityView',
  method: 'get',
  path: '/sparsity',
  summary: 'Metric vs sparsity per method, calibration and suite of one model (the paper figures), with dense per suite',
  tags,
  request: { query: sparsityQuery },
  responses: { 200: json('series', sparsityView) },
});
const methods = createRoute({
  operationId: 'getMethodSummary',
  method: 'get',
  path: '/methods',
  summary:
    'Δ vs dense per method over language pairs (own pair vs other languages) and method-vs-method contrasts, with t-intervals and exact sign-flip p-values over pairs',
  tags,
  request: { query: methodsQuery },
  responses: { 200: json('method summary', methodSummary) },
});
const acrossModelsPage = createRoute({
  operationId: 'leaderboardPage',
  method: 'get',
  path: '/',
  summary: 'HTML leaderboard across models with filters (format, language, sparsity, scoring, metric)',
  tags,
  request: { query: pageQuery },
  responses: { 200: html('HTML') },
});
const modelPage = createRoute({
  operationId: 'modelLeaderboardPage',
  method: 'get',
  path: '/{model}',
  summary: 'HTML leaderboard page of one model: table, per-suite chart, metric vs sparsity, method summary',
  tags,
  request: { params: z.object({ model: z.string().min(1).max(64) }), query: pageQuery },
  responses: { 200: html('HTML') },
});

export const leaderboardRoutes = new ApiApp()
  .openapi(board, async (c) => {
    const q = c.req.valid('query');
    const db = c.var.db;
    const p = c.get('principal');
    const o = boardOptions(q, q.format ?? null);
    const as = exportFormat(c, q.as);
    const res = await versionedAnswer(c, db, {
      route: 'board',
      keys: boardVersionKeys(q.model ?? null),
      query: { ...q, as },
      build: async () => {
        const board = await withRankcNote(db, p, o, await loadLeaderboard(db, p, o));
        // The scores query only returns rows of models the caller may read: the model check (404 for
        // an unknown or hidden model) costs a second D1 round trip only when the board is empty.
        if (q.model && board.rows.length === 0) await readableModel(db, p, q.model);
        if (as === 'csv') return { body: leaderboardCsv(board), contentType: 'text/csv; charset=utf-8' };
        if (as === 'latex') return { body: leaderboardLatex(board), contentType: 'application/x-latex; charset=utf-8' };
        return { body: JSON.stringify(board), contentType: 'application/json' };
      },
    });
    return streamedJson<Leaderboard>(res);
  })
  .openapi(sparsity, async (c) => {
    const q = c.req.valid('query');
    const db = c.var.db;
    const p = c.get('principal');
    const res = await versionedAnswer(c, db, {
      route: 'sparsity',
      keys: boardVersionKeys(q.model),
      query: q,
      build: async () => {
        await readableModel(db, p, q.model);
        const metric = q.metric ?? defaultMetric(q.format);
        const records = await loadScores(db, p, {
          model: q.model,
          format: q.format ?? null,
          suite: q.suite,
          scoring: q.scoring,
          metrics: [metric, `${metric}_delta_p`],
        });
        return { body: JSON.stringify(buildSparsityView(records, { ...q, format: q.format ?? null, metric })), contentType: 'application/json' };
      },
    });
    return streamedJson<SparsityView>(res);
  })
  .openapi(methods, async (c) => {
    const q = c.req.valid('query');
    const db = c.var.db;
    const p = c.get('principal');
    const res = await versionedAnswer(c, db, {
      route: 'methods',
      keys: boardVersionKeys(q.model ?? null),
      query: q,
      build: async () => {
        if (q.model) await readableModel(db, p, q.model);
        const metric = q.metric ?? defaultMetric(q.format);
        const records = await loadScores(db, p, { model: q.model ?? null, format: q.format ?? null, suite: q.suite, scoring: q.scoring, metrics: [metric] });
        const summary = buildMethodSummary(records, { ...q, model: q.model ?? null, format: q.format ?? null, metric });
        return { body: JSON.stringify(summary), contentType: 'application/json' };
      },
    });
    return streamedJson<MethodSummary>(res);
  });

/** Server-rendered pages: no front-end build, work without JavaScript. */
export const leaderboardPages = new ApiApp()
  .openapi(acrossModelsPage, async (c) => {
    const q = c.req.valid('query');
    const db = c.var.db;
    const p = c.get('principal');
    const formats = await formatsOf(db, p, null);
    const format = q.format ?? formats[0] ?? null;
    const o = boardOptions(q, format);
    const board = await withRankcNote(db, p, o, await loadLeaderboard(db, p, o));
    const filters = { format, lang: q.lang?.join(','), sparsity: q.sparsity, scoring: q.scoring, metric: o.metric, suite: q.suite };
    return c.html(<AcrossModelsPage board={board} formats={formats} filters={filters} />);
  })
  .openapi(modelPage, async (c) => {
    const q = c.req.valid('query');
    const db = c.var.db;
    const p = c.get('principal');
    const model = await readableModel(db, p, c.req.valid('param').model);
    const formats = await formatsOf(db, p, model.id);
    const format = q.format ?? formats[0] ?? null;
    const o = { ...boardOptions(q, format), model: model.id };
    const records = await loadScores(db, p, {
      model: model.id,
      format,
      suite: q.suite,
      scoring: q.scoring,
      metrics: [o.metric, ...companionMetrics(o.metric)],
    });
    const board = await withRankcNote(db, p, o, buildLeaderboard(records, o));
    const sparsity = buildSparsityView(records, { ...o, model: model.id });
    const methods = buildMethodSummary(records, { ...o, model: model.id });
    const series = await db
      .selectDistinct({ method: scores.method, pattern: scores.pattern, calibration: scores.calibration })
      .from(scores)
      .where(and(eq(scores.modelId, model.id), visibleTo(p, scores)));
    const analyses = await db
      .select({ id: runs.id, variant: runs.variant, createdAt: runs.createdAt })
      .from(runs)
      .where(and(eq(runs.modelId, model.id), eq(runs.kind, 'analyze'), visibleTo(p, runs)))
      .orderBy(desc(runs.id))
      .limit(20);
    return c.html(
      <LeaderboardPage board={board} modelName={model.name} formats={formats} series={series} sparsity={sparsity} methods={methods} analyses={analyses} />,
    );
  });
