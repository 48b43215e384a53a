import { and, desc, eq, lt } from 'drizzle-orm';
import { Hono } from 'hono';
import { z } from 'zod';
import { paginationQuery } from '../../../shared/src/api/common';
import { bcp47Tag } from '../../../shared/src/api/corpora';
import { suiteFormat, type SuiteInfo, suiteUploadQuery } from '../../../shared/src/api/suites';
import type { SuiteFormat } from '../../../shared/src/suites';
import { suites } from '../db/schema';
import type { AppEnv } from '../env';
import { assertReadable, requireScope, visibleTo } from '../lib/auth';
import { putBlob, serveBlob } from '../lib/blobs';
import { Problems, streamLines } from '../ingest/lines';
import { newId, sha256Hex } from '../lib/crypto';
import { enforceLinePolicy, MAX_DATASET_BYTES } from '../lib/datasets';
import { createDb, nowIso } from '../lib/db';
import { nextCursor } from '../lib/pagination';
import { parseQuery } from '../lib/validate';
import { toJsonl } from '../ingest/corpus';
import { parseSuite } from '../ingest/suite';

type Row = typeof suites.$inferSelect;
const view = (r: Row): SuiteInfo => ({
  id: r.id,
  owner: r.owner,
  name: r.name,
  format: r.format,
  lang: r.lang,
  visibility: r.visibility as SuiteInfo['visibility'],
  sha256: r.sha256,
  size: r.size,
  stats: r.stats as SuiteInfo['stats'],
  ...(r.skippedLines ? { skippedLines: r.skippedLines as SuiteInfo['skippedLines'] } : {}),
  createdAt: r.createdAt,
});

export const suiteRoutes = new Hono<AppEnv>()
  .post('/', async (c) => {
    const p = requireScope(c.get('principal'), 'write');
    const q = parseQuery(c, suiteUploadQuery);
    const problems = new Problems(q.onError);
    const parsed = await parseSuite(streamLines(c.req.raw, MAX_DATASET_BYTES), q.format as SuiteFormat, problems);
    enforceLinePolicy(problems, parsed.rows.length, parsed.stoppedAt, `${q.format} rows`);
    const data = toJsonl(parsed.rows);
    const sha = await sha256Hex(data);
    const key = await putBlob(c.env.BLOBS, sha, data, 'application/x-ndjson');
    const row: Row = {
      id: newId('sui'),
      owner: p.owner,
      name: q.name ?? `${q.format}-${q.lang}`,
      format: q.format,
      lang: q.lang,
      visibility: q.visibility,
      sha256: sha,
      size: data.byteLength,
      r2Key: key,
      stats: { lines: parsed.lines, rowsKept: parsed.rows.length, duplicates: parsed.duplicates, skipped: problems.byReason },
      skippedLines: problems.listed.length ? problems.listed : null,
      createdAt: nowIso(),
    };
    await createDb(c.env.DB).insert(suites).values(row);
    return c.json(view(row), 201);
  })
  .get('/', async (c) => {
    const q = parseQuery(c, paginationQuery.extend({ format: suiteFormat.optional(), lang: bcp47Tag.optional(), owner: z.string().max(64).optional() }));
    const p = c.get('principal');
    const visible = visibleTo(p, suites);
    const rows = await createDb(c.env.DB)
      .select()
      .from(suites)
      .where(
        and(
          visible,
          q.format ? eq(suites.format, q.format) : undefined,
          q.lang ? eq(suites.lang, q.lang) : undefined,
          q.owner ? eq(suites.owner, q.owner) : undefined,
          q.cursor ? lt(suites.id, q.cursor) : undefined,
        ),
      )
      .orderBy(desc(suites.id))
      .limit(q.limit + 1);
    const page = nextCursor(rows, q.limit);
    return c.json({ items: page.items.map(view), nextCursor: page.nextCursor });
  })
  .get('/:id', async (c) => {
    const row = await createDb(c.env.DB).query.suites.findFirst({ where: eq(suites.id, c.req.param('id')) });
    return c.json(view(assertReadable(c.get('principal'), row, 'suite')));
  })
  .get('/:id/data', async (c) => {
    const row = await createDb(c.env.DB).query.suites.findFirst({ where: eq(suites.id, c.req.param('id')) });
    const r = assertReadable(c.get('principal'), row, 'suite');
    return serveBlob(c.env.BLOBS, r.r2Key, c.req.header('range'), `${r.id}.jsonl`, r.sha256);
  });
