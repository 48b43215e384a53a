import { createRoute } from '@hono/zod-openapi';
import { and, eq, inArray } from 'drizzle-orm';
import { defaultMetric } from '@polyprune/shared/api/leaderboards';
import { models, scores } from '../db/schema';
import { canRead, visibleTo } from '../lib/auth';
import { idParam } from '@polyprune/shared/api/common';
import { jobView, sweepJobs } from '../jobs/store';
import { ApiApp, html } from '../lib/openapi';
import { type JobScore, SweepPage } from '../pages/sweep';

/** Server-rendered page of a sweep: its jobs, their runs, and the analyses it queued. */
const page = createRoute({
  operationId: 'sweepPage',
  method: 'get',
  path: '/{id}',
  summary: 'HTML page of a sweep: its jobs, runs and analyses',
  tags: ['jobs'],
  request: { params: idParam },
  responses: { 200: html('HTML') },
});

export const sweepPages = new ApiApp().openapi(page, async (c) => {
  const db = c.var.db;
  const { id } = c.req.valid('param');
  const rows = await sweepJobs(db, c.get('principal'), id);
  // Each job's calibration pair was resolved when the job was validated.
  const pairs: Record<string, string> = {};
  for (const r of rows) if (r.corpusPair) pairs[r.id] = r.corpusPair;
  const p = c.get('principal');
  const modelId = rows[0]!.modelId;
  const model = await db.query.models.findFirst({ where: eq(models.id, modelId) });
  const runIds = rows.flatMap((r) => (r.runId ? [r.runId] : []));
  const byRun: Record<string, JobScore[]> = {};
  // D1 binds at most 100 parameters a statement.
  for (let i = 0; i < runIds.length; i += 90) {
    const found = await db
      .select({ runId: scores.runId, format: scores.format, lang: scores.lang, scoring: scores.scoring, metric: scores.metric, value: scores.value })
      .from(scores)
      .where(and(inArray(scores.runId, runIds.slice(i, i + 90)), visibleTo(p, scores)));
    for (const s of found) if (s.metric === defaultMetric(s.format)) byRun[s.runId] = [...(byRun[s.runId] ?? []), s];
  }
  return c.html(<SweepPage sweepId={id} jobs={rows.map(jobView)} pairs={pairs} modelName={model && canRead(p, model) ? model.name : null} scores={byRun} />);
});
