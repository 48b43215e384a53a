import { Hono } from 'hono';
import type { AppEnv } from '../env';
import { jobView, sweepJobs } from '../jobs/store';
import { createDb } from '../lib/db';
import { SweepPage } from '../pages/sweep';

/** Server-rendered page of a sweep: its jobs, their runs, and the analyses it queued. */
export const sweepPages = new Hono<AppEnv>().get('/:id', async (c) => {
  const db = createDb(c.env.DB);
  const id = c.req.param('id');
  const rows = await sweepJobs(db, c.get('principal'), id);
  // Each job's calibration pair was resolved when the job was validated.
  const pairs: Record<string, string> = {};
  for (const r of rows) if (r.corpusPair) pairs[r.id] = r.corpusPair;
  return c.html(<SweepPage sweepId={id} jobs={rows.map(jobView)} pairs={pairs} />);
});
