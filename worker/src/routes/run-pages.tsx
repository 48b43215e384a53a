import { eq } from 'drizzle-orm';
import { Hono } from 'hono';
import { z } from 'zod';
import { maskAnalysis } from '../../../shared/src/api/analysis';
import { models, runs } from '../db/schema';
import type { AppEnv } from '../env';
import { runArtifactJson } from '../jobs/run-artifact';
import { assertReadable, canRead } from '../lib/auth';
import { createDb } from '../lib/db';
import { parseQuery } from '../lib/validate';
import { asLmfReport } from '../pages/lmf';
import { RunPage } from '../pages/run';
import { runView } from './runs';

/** Server-rendered page of one run: the LMF chart of a prune run, the heatmaps of an analysis. */
export const runPages = new Hono<AppEnv>().get('/:id', async (c) => {
  const q = parseQuery(c, z.object({ pair: z.coerce.number().int().min(0).optional() }));
  const db = createDb(c.env.DB);
  const p = c.get('principal');
  const r = assertReadable(p, await db.query.runs.findFirst({ where: eq(runs.id, c.req.param('id')) }), 'run');
  const model = await db.query.models.findFirst({ where: eq(models.id, r.modelId) });
  const lmf = r.kind === 'prune' ? asLmfReport(await runArtifactJson(db, c.env.BLOBS, r, 'lmf.json')) : null;
  const parsed = r.kind === 'analyze' ? maskAnalysis.safeParse(await runArtifactJson(db, c.env.BLOBS, r, 'analysis.json')) : null;
  const analysis = parsed?.success ? parsed.data : null;
  const pair = analysis && q.pair !== undefined && q.pair < analysis.pairs.length ? q.pair : null;
  return c.html(<RunPage run={await runView(db, r)} modelName={model && canRead(p, model) ? model.name : null} lmf={lmf} analysis={analysis} pair={pair} />);
});
