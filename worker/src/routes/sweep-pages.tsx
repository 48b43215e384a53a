import { inArray } from 'drizzle-orm';
import { Hono } from 'hono';
import type { PruneJobSpec } from '../../../shared/src/api/jobs';
import { corpora } from '../db/schema';
import type { AppEnv } from '../env';
import { jobView, sweepJobs } from '../jobs/store';
import { createDb } from '../lib/db';
import { SweepPage } from '../pages/sweep';

/** Server-rendered page of a sweep: its jobs, their runs, and the analyses it queued. */
export const sweepPages = new Hono<AppEnv>().get('/:id', async (c) => {
  const db = createDb(c.env.DB);
  const id = c.req.param('id');
  const rows = await sweepJobs(db, c.get('principal'), id);
  const corpusIds = [...new Set(rows.map((r) => (r.spec as unknown as PruneJobSpec).calibration?.corpusId).filter((x): x is string => !!x))];
  const found = corpusIds.length
    ? await db.select({ id: corpora.id, src: corpora.src, tgt: corpora.tgt }).from(corpora).where(inArray(corpora.id, corpusIds))
    : [];
  const pairs: Record<string, string> = {};
  for (const r of rows) {
    const c2 = found.find((x) => x.id === (r.spec as unknown as PruneJobSpec).calibration?.corpusId);
    if (c2) pairs[r.id] = `${c2.src}-${c2.tgt}`;
  }
  return c.html(<SweepPage sweepId={id} jobs={rows.map(jobView)} pairs={pairs} />);
});
