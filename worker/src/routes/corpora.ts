import { and, desc, eq, lt } from 'drizzle-orm';
import { Hono } from 'hono';
import { z } from 'zod';
import { paginationQuery } from '../../../shared/src/api/common';
import { bcp47Tag, type CorpusInfo, corpusUploadQuery } from '../../../shared/src/api/corpora';
import { corpora } from '../db/schema';
import type { AppEnv } from '../env';
import { assertReadable, requireScope, visibleTo } from '../lib/auth';
import { putBlob, serveBlob } from '../lib/blobs';
import { Problems, streamLines } from '../ingest/lines';
import { newId, sha256Hex } from '../lib/crypto';
import { enforceLinePolicy, MAX_DATASET_BYTES } from '../lib/datasets';
import { createDb, nowIso } from '../lib/db';
import { nextCursor } from '../lib/pagination';
import { parseQuery } from '../lib/validate';
import { corpusStats, parseCorpus, toJsonl } from '../ingest/corpus';

type Row = typeof corpora.$inferSelect;
const view = (r: Row): CorpusInfo => ({
  id: r.id,
  owner: r.owner,
  name: r.name,
  src: r.src,
  tgt: r.tgt,
  visibility: r.visibility as CorpusInfo['visibility'],
  sha256: r.sha256,
  size: r.size,
  stats: r.stats as CorpusInfo['stats'],
  ...(r.skippedLines ? { skippedLines: r.skippedLines as CorpusInfo['skippedLines'] } : {}),
  createdAt: r.createdAt,
});

export const corpusRoutes = new Hono<AppEnv>()
  .post('/', async (c) => {
    const p = requireScope(c.get('principal'), 'write');
    const q = parseQuery(c, corpusUploadQuery);
    const problems = new Problems(q.onError);
    const parsed = await parseCorpus(streamLines(c.req.raw, MAX_DATASET_BYTES), q.format, problems);
    enforceLinePolicy(problems, parsed.pairs.length, parsed.stoppedAt, 'sentence pairs');
    const data = toJsonl(parsed.pairs);
    const sha = await sha256Hex(data);
    // Blob first, then the row: a failure in between leaves only an unreferenced blob, never a row without data.
    const key = await putBlob(c.env.BLOBS, sha, data, 'application/x-ndjson');
    const row: Row = {
      id: newId('cor'),
      owner: p.owner,
      name: q.name ?? `${q.src}-${q.tgt}`,
      src: q.src,
      tgt: q.tgt,
      visibility: q.visibility,
      sha256: sha,
      size: data.byteLength,
      r2Key: key,
      stats: corpusStats(parsed),
      skippedLines: problems.listed.length ? problems.listed : null,
      createdAt: nowIso(),
    };
    await createDb(c.env.DB).insert(corpora).values(row);
    return c.json(view(row), 201);
  })
  .get('/', async (c) => {
    const q = parseQuery(c, paginationQuery.extend({ src: bcp47Tag.optional(), tgt: bcp47Tag.optional(), owner: z.string().max(64).optional() }));
    const p = c.get('principal');
    const visible = visibleTo(p, corpora);
    const rows = await createDb(c.env.DB)
      .select()
      .from(corpora)
      .where(
        and(
          visible,
          q.src ? eq(corpora.src, q.src) : undefined,
          q.tgt ? eq(corpora.tgt, q.tgt) : undefined,
          q.owner ? eq(corpora.owner, q.owner) : undefined,
          q.cursor ? lt(corpora.id, q.cursor) : undefined,
        ),
      )
      .orderBy(desc(corpora.id))
      .limit(q.limit + 1);
    const page = nextCursor(rows, q.limit);
    return c.json({ items: page.items.map(view), nextCursor: page.nextCursor });
  })
  .get('/:id', async (c) => {
    const row = await createDb(c.env.DB).query.corpora.findFirst({ where: eq(corpora.id, c.req.param('id')) });
    return c.json(view(assertReadable(c.get('principal'), row, 'corpus')));
  })
  .get('/:id/data', async (c) => {
    const row = await createDb(c.env.DB).query.corpora.findFirst({ where: eq(corpora.id, c.req.param('id')) });
    const r = assertReadable(c.get('principal'), row, 'corpus');
    return serveBlob(c.env.BLOBS, r.r2Key, c.req.header('range'), `${r.id}.jsonl`, r.sha256);
  });
