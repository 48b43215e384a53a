import { and, desc, eq } from 'drizzle-orm';
import { Hono } from 'hono';
import { z } from 'zod';
import { leaderboardQuery } from '../../../shared/src/api/jobs';
import { models, runs, scores } from '../db/schema';
import type { AppEnv } from '../env';
import { assertReadable, visibleTo } from '../lib/auth';
import { createDb } from '../lib/db';
import { parseQuery } from '../lib/validate';
import { loadLeaderboard } from '../leaderboard/query';
import { LeaderboardPage } from '../pages/leaderboard';

/** Perplexity is better when lower; every other metric when higher. */
const defaultOrder = (metric: string) => (metric === 'ppl' ? 'asc' : 'desc');

export const leaderboardRoutes = new Hono<AppEnv>().get('/', async (c) => {
  const q = parseQuery(c, leaderboardQuery);
  const db = createDb(c.env.DB);
  assertReadable(c.get('principal'), await db.query.models.findFirst({ where: eq(models.id, q.model) }), 'model');
  const order = c.req.query('order') ? q.order : defaultOrder(q.metric);
  return c.json(await loadLeaderboard(db, c.get('principal'), { ...q, format: q.format ?? null, order }));
});

/** Server-rendered page: no front-end build, works without JavaScript. */
export const leaderboardPages = new Hono<AppEnv>().get('/:model', async (c) => {
  const q = parseQuery(c, leaderboardQuery.omit({ model: true }).extend({ format: z.string().max(32).optional() }));
  const db = createDb(c.env.DB);
  const p = c.get('principal');
  const model = assertReadable(p, await db.query.models.findFirst({ where: eq(models.id, c.req.param('model')) }), 'model');
  const formats = [
    ...new Set(
      (
        await db
          .selectDistinct({ f: scores.format })
          .from(scores)
          .where(and(eq(scores.modelId, model.id), visibleTo(p, scores)))
      ).map((r) => r.f),
    ),
  ].sort();
  const format = q.format ?? formats[0] ?? null;
  const order = c.req.query('order') ? q.order : defaultOrder(q.metric);
  const board = await loadLeaderboard(db, p, { ...q, model: model.id, format, order });
  const analyses = await db
    .select({ id: runs.id, variant: runs.variant, createdAt: runs.createdAt })
    .from(runs)
    .where(and(eq(runs.modelId, model.id), eq(runs.kind, 'analyze'), visibleTo(p, runs)))
    .orderBy(desc(runs.id))
    .limit(20);
  return c.html(<LeaderboardPage board={board} modelName={model.name} formats={formats} analyses={analyses} />);
});
