import { eq, sql } from 'drizzle-orm';
import { createRoute } from '@hono/zod-openapi';
import { z } from 'zod';
import { idParam, page, paginationQuery } from '@polyprune/shared/api/common';
import { languageCode, originalQuery } from '@polyprune/shared/api/corpora';
import { datasetLimits, suiteBodies, suiteRowDocs } from '@polyprune/shared/api/dataset-docs';
import { suiteFormat, type SuiteInfo, suiteInfo, suiteUploadQuery } from '@polyprune/shared/api/suites';
import type { SuiteFormat } from '@polyprune/shared/suites';
import { suites } from '../db/schema';
import { assertReadable, requireScope } from '../lib/auth';
import { serveBlob } from '../lib/blobs';
import { Problems, streamLines } from '../ingest/lines';
import { newId } from '../lib/crypto';
import { canonicalFilter, enforceLinePolicy, linePolicy, MAX_DATASET_BYTES, uploadLanguage } from '../lib/datasets';
import { nowIso } from '../lib/db';
import { listPage } from '../lib/pagination';
import { ApiApp, datasetBody, err, json, raw } from '../lib/openapi';
import { JsonlOut } from '../ingest/jsonl-out';
import { readSuite } from '../ingest/suite';
import { droppingOnFailure, OriginalWriter, originalDataDoc, originalView, serveOriginal } from '../lib/originals';

type Row = typeof suites.$inferSelect;
const view = (r: Row): SuiteInfo => ({
  id: r.id,
  owner: r.owner,
  name: r.name,
  format: r.format,
  lang: r.lang,
  task: r.task ?? r.name,
  visibility: r.visibility,
  sha256: r.sha256,
  size: r.size,
  stats: r.stats as SuiteInfo['stats'],
  ...(r.skippedLines ? { skippedLines: r.skippedLines as SuiteInfo['skippedLines'] } : {}),
  ...originalView(r),
  createdAt: r.createdAt,
});

const tags = ['suites'];

const upload = createRoute({
  operationId: 'uploadSuite',
  method: 'post',
  path: '/',
  summary: 'Upload an evaluation suite in its published shape (JSONL, TSV, CSV; sniffed); the response says what was recognised',
  description: datasetLimits,
  tags,
  'x-scope': 'write',
  // Streamed by the handler (c.req.raw), never read whole by the library: the document only shows the types.
  request: { query: suiteUploadQuery, body: datasetBody(suiteBodies) },
  responses: {
    201: json('stored', suiteInfo),
    413: err('payload_too_large or too_many_lines'),
    422: err('invalid_lines, too_many_invalid_lines or no_valid_lines, with line numbers; unknown_language'),
  },
});
const list = createRoute({
  operationId: 'listSuites',
  method: 'get',
  path: '/',
  summary: 'List visible suites',
  tags,
  request: {
    query: paginationQuery.extend({
      format: suiteFormat.optional(),
      lang: languageCode.optional(),
      owner: z.string().max(64).optional(),
      task: z.string().max(200).optional(),
    }),
  },
  responses: { 200: json('page', page(suiteInfo)) },
});
const get = createRoute({
  operationId: 'getSuite',
  method: 'get',
  path: '/{id}',
  summary: 'Suite stats',
  tags,
  request: { params: idParam },
  responses: { 200: json('suite', suiteInfo) },
});
const data = createRoute({
  operationId: 'getSuiteData',
  method: 'get',
  path: '/{id}/data',
  summary: 'Stored JSONL rows (schemas SuiteRow…); ?original=true: the uploaded file itself',
  description: originalDataDoc('suite'),
  tags,
  request: { params: idParam, query: originalQuery },
  responses: {
    200: {
      description: "stored JSONL, one row per line (a SuiteRow… of the suite's format); with ?original=true the bytes as uploaded",
      content: {
        'application/x-ndjson': { schema: { description: 'each line one row', oneOf: suiteRowDocs.map((d) => ({ $ref: `#/components/schemas/${d.name}` })) } },
        'application/octet-stream': { schema: { type: 'string' as const, format: 'binary' } },
      },
    },
    206: raw('a byte range of it'),
    404: err('not_found; no_original: ?original=true on a suite stored before uploaded files were kept'),
  },
});

export const suiteRoutes = new ApiApp()
  .openapi(upload, async (c) => {
    const p = requireScope(c.get('principal'), 'write');
    const q = c.req.valid('query');
    const lang = uploadLanguage(q.lang, 'lang');
    const { policy, strict } = linePolicy(q.onError);
    const problems = new Problems(policy);
    // The file as uploaded goes to R2 while it is parsed (never held whole) and is kept once the suite is accepted.
    const writer = new OriginalWriter(c.env.BLOBS);
    // So do the normalised rows, as they are validated; a refusal aborts both uploads.
    const out = new JsonlOut(c.env.BLOBS);
    // with a subset, every row waits in R2 until the subset is drawn
    const scratch = q.subset !== undefined ? new JsonlOut(c.env.BLOBS, 'subset-rows') : null;
    const { parsed, stored, kept } = await droppingOnFailure([writer, out.writer, ...(scratch ? [scratch.writer] : [])], async () => {
      const options = { lang: lang.canonical, strict, dedupe: q.dedupe, ...(q.subset !== undefined ? { subset: { n: q.subset, seed: q.seed } } : {}) };
      const reading = await readSuite(streamLines(c.req.raw, MAX_DATASET_BYTES, false, writer), q.format as SuiteFormat, options, problems, out, scratch);
      enforceLinePolicy(problems, reading.rowsRead, reading.stoppedAt, `${q.format} rows`);
      // One after the other: each completion may read its object back, and the original's part buffer
      // is let go before a subset's pass over its scratch rows.
      const kept = await writer.finish();
      await reading.drawSubset(c.env.BLOBS);
      const stored = await out.finish();
      const parsed = reading.result();
      return { parsed, stored, kept };
    });
    const warning = parsed.script.warning('text', lang.canonical, lang.script);
    const stats: SuiteInfo['stats'] = {
      lines: parsed.lines,
      rowsKept: parsed.rowsKept,
      duplicates: parsed.duplicates,
      deduped: q.dedupe,
      placeholders: parsed.placeholders,
      skipped: problems.byReason,
      controlChars: parsed.control,
      recognised: parsed.recognised,
      langGiven: lang.given,
      ...(parsed.subset ? { subset: parsed.subset } : {}),
      warnings: warning ? [warning] : [],
    };
    const name = q.name ?? `${q.format}-${lang.canonical}`;
    const row: Row = {
      id: newId('sui'),
      owner: p.owner,
      name,
      format: q.format,
      lang: lang.canonical,
      task: q.task ?? name,
      visibility: q.visibility,
      sha256: stored.sha256,
      size: stored.size,
      r2Key: stored.key,
      stats,
      skippedLines: problems.listed.length ? problems.listed : null,
      originalSha256: kept.sha256,
      originalSize: kept.size,
      originalR2Key: kept.key,
      createdAt: nowIso(),
    };
    await c.var.db.insert(suites).values(row);
    return c.json(view(row), 201);
  })
  .openapi(list, async (c) => {
    const q = c.req.valid('query');
    const lang = canonicalFilter(q.lang);
    const page = await listPage(
      c.var.db,
      suites,
      q,
      [
        q.format ? eq(suites.format, q.format) : undefined,
        lang ? eq(suites.lang, lang) : undefined,
        q.owner ? eq(suites.owner, q.owner) : undefined,
        q.task ? sql`coalesce(${suites.task}, ${suites.name}) = ${q.task}` : undefined,
      ],
      c.get('principal'),
    );
    return c.json({ ...page, items: page.items.map(view) }, 200);
  })
  .openapi(get, async (c) => {
    const row = await c.var.db.query.suites.findFirst({ where: eq(suites.id, c.req.valid('param').id) });
    return c.json(view(assertReadable(c.get('principal'), row, 'suite')), 200);
  })
  .openapi(data, async (c) => {
    const row = await c.var.db.query.suites.findFirst({ where: eq(suites.id, c.req.valid('param').id) });
    const r = assertReadable(c.get('principal'), row, 'suite');
    if (c.req.valid('query').original) {
      const input = (r.stats as SuiteInfo['stats']).recognised.input;
      return serveOriginal(c.env.BLOBS, r, 'suite', c.req.header('range'), input === 'text' ? 'txt' : input);
    }
    return serveBlob(c.env.BLOBS, r.r2Key, c.req.header('range'), `${r.id}.jsonl`, r.sha256);
  });
