import { and, desc, eq, lt } from 'drizzle-orm';
import { Hono } from 'hono';
import { z } from 'zod';
import { paginationQuery } from '../../../shared/src/api/common';
import { type CorpusInfo, corpusUploadQuery, languageCode } from '../../../shared/src/api/corpora';
import { corpora } from '../db/schema';
import type { AppEnv } from '../env';
import { assertReadable, requireScope, visibleTo } from '../lib/auth';
import { putBlob, readBody, serveBlob } from '../lib/blobs';
import { Problems, streamBodyLines, streamLines } from '../ingest/lines';
import { newId, sha256Hex } from '../lib/crypto';
import { canonicalFilter, enforceLinePolicy, linePolicy, MAX_DATASET_BYTES, uploadLanguage } from '../lib/datasets';
import { ApiError } from '../lib/errors';
import { createDb, nowIso } from '../lib/db';
import { nextCursor } from '../lib/pagination';
import { parseQuery } from '../lib/validate';
import { type CorpusOptions, corpusStats, parseCorpus, parseParallel, toJsonl } from '../ingest/corpus';

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

/**
 * The body: one TSV/JSONL file, or a multipart form with two line-aligned files in parts `src` and
 * `tgt` (FLORES-200 style). Any other part is refused rather than ignored.
 */
async function readCorpusBody(req: Request, parsed: { format?: 'tsv' | 'jsonl' }, o: CorpusOptions, problems: Problems) {
  const type = req.headers.get('content-type') ?? '';
  if (!type.toLowerCase().startsWith('multipart/form-data')) return parseCorpus(streamLines(req, MAX_DATASET_BYTES), { ...o, format: parsed.format }, problems);
  // Two files of up to MAX_DATASET_BYTES each; the form is read whole (bounded) and each part streamed line by line.
  const bytes = await readBody(req, 2 * MAX_DATASET_BYTES);
  let form: FormData;
  try {
    form = await new Response(bytes, { headers: { 'content-type': type } }).formData();
  } catch (err) {
    throw new ApiError(400, 'invalid_multipart', `could not read the multipart body: ${(err as Error).message}`);
  }
  const unknown = [...form.keys()].filter((k) => k !== 'src' && k !== 'tgt');
  if (unknown.length) throw new ApiError(400, 'unknown_part', `unknown part "${unknown[0]}"; expected parts "src" and "tgt"`, { parts: unknown });
  const part = (name: 'src' | 'tgt') => {
    const v = form.get(name) as unknown;
    if (v === null) throw new ApiError(400, 'missing_part', `multipart body has no "${name}" part; send the two line-aligned files as parts "src" and "tgt"`);
    const blob = typeof v === 'string' ? new Blob([v]) : (v as Blob);
    return streamBodyLines(blob.stream(), MAX_DATASET_BYTES, true);
  };
  return parseParallel(part('src'), part('tgt'), o, problems);
}

export const corpusRoutes = new Hono<AppEnv>()
  .post('/', async (c) => {
    const p = requireScope(c.get('principal'), 'write');
    const q = parseQuery(c, corpusUploadQuery);
    const src = uploadLanguage(q.src, 'src');
    const tgt = uploadLanguage(q.tgt, 'tgt');
    if (src.canonical === tgt.canonical) {
      throw new ApiError(422, 'src_equals_tgt', `src and tgt are the same language (${src.canonical}); a calibration corpus pairs two languages`);
    }
    const { policy, strict } = linePolicy(q.onError);
    const problems = new Problems(policy);
    const parsed = await readCorpusBody(c.req.raw, q, { strict, src: src.canonical, tgt: tgt.canonical }, problems);
    enforceLinePolicy(problems, parsed.pairs.length, parsed.stoppedAt, 'sentence pairs');
    if (parsed.identical === parsed.pairs.length) {
      throw new ApiError(422, 'src_equals_tgt', `every pair has the same text on both sides (${parsed.pairs.length} pairs); was one file uploaded twice?`);
    }
    const data = toJsonl(parsed.pairs);
    const sha = await sha256Hex(data);
    // Blob first, then the row: a failure in between leaves only an unreferenced blob, never a row without data.
    const key = await putBlob(c.env.BLOBS, sha, data, 'application/x-ndjson');
    const row: Row = {
      id: newId('cor'),
      owner: p.owner,
      name: q.name ?? `${src.canonical}-${tgt.canonical}`,
      src: src.canonical,
      tgt: tgt.canonical,
      visibility: q.visibility,
      sha256: sha,
      size: data.byteLength,
      r2Key: key,
      stats: corpusStats(parsed, src, tgt),
      skippedLines: problems.listed.length ? problems.listed : null,
      createdAt: nowIso(),
    };
    await createDb(c.env.DB).insert(corpora).values(row);
    return c.json(view(row), 201);
  })
  .get('/', async (c) => {
    const q = parseQuery(c, paginationQuery.extend({ src: languageCode.optional(), tgt: languageCode.optional(), owner: z.string().max(64).optional() }));
    const src = canonicalFilter(q.src);
    const tgt = canonicalFilter(q.tgt);
    const p = c.get('principal');
    const visible = visibleTo(p, corpora);
    const rows = await createDb(c.env.DB)
      .select()
      .from(corpora)
      .where(
        and(
          visible,
          src ? eq(corpora.src, src) : undefined,
          tgt ? eq(corpora.tgt, tgt) : undefined,
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
