import { createRoute } from '@hono/zod-openapi';
import { and, desc, eq, inArray, isNotNull, max, count } from 'drizzle-orm';
import { jobs, models, runs } from '../db/schema';
import { canRead, hasScope, visibleTo } from '../lib/auth';
import { ApiApp, html } from '../lib/openapi';
import { FrontDoor } from '../pages/front-door';

const RECENT = 10;

const home = createRoute({
  operationId: 'frontDoor',
  method: 'get',
  path: '/',
  summary: 'HTML front page: what polyprune is, the signed-in owner’s models, recent runs and sweeps, boards, the API',
  tags: ['meta'],
  responses: { 200: html('HTML') },
});

export const frontDoorPages = new ApiApp().openapi(home, async (c) => {
  const db = c.var.db;
  const p = c.get('principal');
  const reader = p && hasScope(p, 'read') ? p : null;
  // Signed in: the owner's models (an admin's too are their own); signed out: the public ones.
  const modelRows = await db
    .select({ id: models.id, name: models.name, family: models.family, visibility: models.visibility })
    .from(models)
    .where(reader ? eq(models.owner, reader.owner) : eq(models.visibility, 'public'))
    .orderBy(desc(models.id))
    .limit(50);
  const runRows = await db
    .select({ id: runs.id, kind: runs.kind, variant: runs.variant, modelId: runs.modelId, createdAt: runs.createdAt })
    .from(runs)
    .where(visibleTo(p, runs))
    .orderBy(desc(runs.id))
    .limit(RECENT);
  const sweepRows = await db
    .select({ id: jobs.sweepId, modelId: max(jobs.modelId), jobs: count(), createdAt: max(jobs.createdAt) })
    .from(jobs)
    .where(and(isNotNull(jobs.sweepId), visibleTo(p, jobs)))
    .groupBy(jobs.sweepId)
    .orderBy(desc(max(jobs.createdAt)))
    .limit(RECENT);
  const modelIds = [...new Set(runRows.map((r) => r.modelId))];
  const named = modelIds.length ? await db.query.models.findMany({ where: inArray(models.id, modelIds) }) : [];
  const names = new Map(named.filter((m) => canRead(p, m)).map((m) => [m.id, m.name]));
  return c.html(
    <FrontDoor
      who={p ? { owner: p.owner, via: p.via ?? 'token' } : null}
      models={modelRows}
      runs={runRows.map((r) => ({ ...r, modelName: names.get(r.modelId) ?? null }))}
      sweeps={sweepRows.map((s) => ({ id: s.id!, modelId: s.modelId ?? '', jobs: s.jobs, createdAt: s.createdAt ?? '' }))}
    />,
    200,
  );
});
