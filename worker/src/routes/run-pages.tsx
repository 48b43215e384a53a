import { eq, inArray } from 'drizzle-orm';
import { createRoute, z } from '@hono/zod-openapi';
import { idParam } from '@polyprune/shared/api/common';
import { maskAnalysis } from '@polyprune/shared/api/analysis';
import { models, runs, suites } from '../db/schema';
import { runArtifactJson } from '../jobs/run-artifact';
import { assertReadable, canRead } from '../lib/auth';
import type { Db } from '../lib/db';
import { ApiApp, html } from '../lib/openapi';
import { asLmfReport } from '../pages/lmf';
import { RunPage } from '../pages/run';
import { runView } from './runs';

/** Server-rendered page of one run: the LMF chart of a prune run, the heatmaps of an analysis. */
const page = createRoute({
  operationId: 'runPage',
  method: 'get',
  path: '/{id}',
  summary: 'HTML page of a run: LMF chart (mt vs mono per block) or the analysis heatmaps',
  tags: ['runs'],
  request: { params: idParam, query: z.object({ pair: z.coerce.number().int().min(0).optional() }) },
  responses: { 200: html('HTML') },
});

export const runPages = new ApiApp().openapi(page, async (c) => {
  const q = c.req.valid('query');
  const db = c.var.db;
  const p = c.get('principal');
  const r = assertReadable(p, await db.query.runs.findFirst({ where: eq(runs.id, c.req.valid('param').id) }), 'run');
  const model = await db.query.models.findFirst({ where: eq(models.id, r.modelId) });
  const lmf = r.kind === 'prune' ? asLmfReport(await runArtifactJson(db, c.env.BLOBS, r, 'lmf.json')) : null;
  const parsed = r.kind === 'analyze' ? maskAnalysis.safeParse(await runArtifactJson(db, c.env.BLOBS, r, 'analysis.json')) : null;
  const analysis = parsed?.success ? parsed.data : null;
  const pair = analysis && q.pair !== undefined && q.pair < analysis.pairs.length ? q.pair : null;
  const run = await runView(db, r);
  const suiteNames = await suiteNamesOf(db, p, [...new Set(run.scores.map((s) => s.suiteId))]);
  return c.html(
    <RunPage run={run} modelName={model && canRead(p, model) ? model.name : null} lmf={lmf} analysis={analysis} pair={pair} suiteNames={suiteNames} />,
  );
});

/** Names of the suites the caller can read (the others stay ids). */
export async function suiteNamesOf(db: Db, p: Parameters<typeof canRead>[0], ids: string[]): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  // D1 binds at most 100 parameters a statement.
  for (let i = 0; i < ids.length; i += 90) {
    const rows = await db.query.suites.findMany({ where: inArray(suites.id, ids.slice(i, i + 90)) });
    for (const s of rows) if (canRead(p, s)) out[s.id] = s.name;
  }
  return out;
}
