import { createRoute } from '@hono/zod-openapi';
import { idParam } from '../../../shared/src/api/common';
import { jobView, sweepJobs } from '../jobs/store';
import { createDb } from '../lib/db';
import { ApiApp, html } from '../lib/openapi';
import { SweepPage } from '../pages/sweep';

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
  const db = createDb(c.env.DB);
  const { id } = c.req.valid('param');
  const rows = await sweepJobs(db, c.get('principal'), id);
  // Each job's calibration pair was resolved when the job was validated.
  const pairs: Record<string, string> = {};
  for (const r of rows) if (r.corpusPair) pairs[r.id] = r.corpusPair;
  return c.html(<SweepPage sweepId={id} jobs={rows.map(jobView)} pairs={pairs} />);
});
