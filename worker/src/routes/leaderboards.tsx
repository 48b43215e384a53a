import { and, desc, eq } from 'drizzle-orm';
import { Hono, type Context } from 'hono';
import { defaultMetric, type LeaderboardQuery, leaderboardQuery, lowerIsBetter, sparsityQuery } from '../../../shared/src/api/leaderboards';
import { models, runs, scores } from '../db/schema';
import type { AppEnv } from '../env';
import { assertReadable, type Principal, visibleTo } from '../lib/auth';
import { createDb, type Db } from '../lib/db';
import { parseQuery } from '../lib/validate';
import { type BoardOptions, buildLeaderboard, companionMetrics } from '../leaderboard/aggregate';
import { leaderboardCsv, leaderboardLatex } from '../leaderboard/export';
import { loadLeaderboard, loadScores } from '../leaderboard/query';
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

export const leaderboardRoutes = new Hono<AppEnv>()
  .get('/', async (c) => {
    const q = parseQuery(c, leaderboardQuery);
    const db = createDb(c.env.DB);
    const p = c.get('principal');
    if (q.model) await readableModel(db, p, q.model);
    const board = await loadLeaderboard(db, p, boardOptions(q, q.format ?? null));
    const as = exportFormat(c, q.as);
    if (as === 'csv') return c.body(leaderboardCsv(board), 200, { 'content-type': 'text/csv; charset=utf-8' });
    if (as === 'latex') return c.body(leaderboardLatex(board), 200, { 'content-type': 'application/x-latex; charset=utf-8' });
    return c.json(board);
  })
  .get('/sparsity', async (c) => {
    const q = parseQuery(c, sparsityQuery);
    const db = createDb(c.env.DB);
    const p = c.get('principal');
    await readableModel(db, p, q.model);
    const metric = q.metric ?? defaultMetric(q.format);
    const records = await loadScores(db, p, {
      model: q.model,
      format: q.format ?? null,
      suite: q.suite,
      scoring: q.scoring,
      metrics: [metric, `${metric}_delta_p`],
    });
    return c.json(buildSparsityView(records, { ...q, format: q.format ?? null, metric }));
  })
  .get('/methods', async (c) => {
    const q = parseQuery(c, leaderboardQuery.omit({ as: true, sort: true, order: true }));
    const db = createDb(c.env.DB);
    const p = c.get('principal');
    if (q.model) await readableModel(db, p, q.model);
    const metric = q.metric ?? defaultMetric(q.format);
    const records = await loadScores(db, p, { model: q.model ?? null, format: q.format ?? null, suite: q.suite, scoring: q.scoring, metrics: [metric] });
    return c.json(buildMethodSummary(records, { ...q, model: q.model ?? null, format: q.format ?? null, metric }));
  });

/** Server-rendered pages: no front-end build, work without JavaScript. */
export const leaderboardPages = new Hono<AppEnv>()
  .get('/', async (c) => {
    const q = parseQuery(c, leaderboardQuery.omit({ model: true }));
    const db = createDb(c.env.DB);
    const p = c.get('principal');
    const formats = await formatsOf(db, p, null);
    const format = q.format ?? formats[0] ?? null;
    const o = boardOptions(q, format);
    const board = await loadLeaderboard(db, p, o);
    const filters = { format, lang: q.lang?.join(','), sparsity: q.sparsity, scoring: q.scoring, metric: o.metric, suite: q.suite };
    return c.html(<AcrossModelsPage board={board} formats={formats} filters={filters} />);
  })
  .get('/:model', async (c) => {
    const q = parseQuery(c, leaderboardQuery.omit({ model: true }));
    const db = createDb(c.env.DB);
    const p = c.get('principal');
    const model = await readableModel(db, p, c.req.param('model'));
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
    const board = buildLeaderboard(records, o);
    const sparsity = buildSparsityView(records, { ...o, model: model.id });
    const methods = buildMethodSummary(records, { ...o, model: model.id });
    const variants = (
      await db
        .selectDistinct({ v: scores.variant })
        .from(scores)
        .where(and(eq(scores.modelId, model.id), visibleTo(p, scores)))
    )
      .map((r) => r.v)
      .sort();
    const analyses = await db
      .select({ id: runs.id, variant: runs.variant, createdAt: runs.createdAt })
      .from(runs)
      .where(and(eq(runs.modelId, model.id), eq(runs.kind, 'analyze'), visibleTo(p, runs)))
      .orderBy(desc(runs.id))
      .limit(20);
    return c.html(
      <LeaderboardPage board={board} modelName={model.name} formats={formats} variants={variants} sparsity={sparsity} methods={methods} analyses={analyses} />,
    );
  });
