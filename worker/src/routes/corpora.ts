import { eq } from 'drizzle-orm';
import { createRoute } from '@hono/zod-openapi';
import { z } from 'zod';
import { idParam, page, paginationQuery } from '@polyprune/shared/api/common';
import { type CorpusInfo, corpusInfo, corpusUploadQuery, languageCode, type OriginalPart, originalQuery } from '@polyprune/shared/api/corpora';
import { corpusBodies, datasetLimits } from '@polyprune/shared/api/dataset-docs';
import { limits } from '@polyprune/shared/api/limits';
import { corpora } from '../db/schema';
import { assertReadable, requireScope } from '../lib/auth';
import { blobKey, readBody, serveBlob } from '../lib/blobs';
import { bodyLineBatches, checkLength, Problems, streamBodyLines } from '../ingest/lines';
import { newId, sha256Hex } from '../lib/crypto';
import { holdBody, streamOf } from '../lib/held-body';
import { AcceptedUploads, uploadKey } from '../ingest/accepted-uploads';
import { canonicalFilter, enforceLinePolicy, linePolicy, MAX_DATASET_BYTES, spacesNotTabs, uploadLanguage } from '../lib/datasets';
import { ApiError } from '../lib/errors';
import { nowIso } from '../lib/db';
import { insertIfStored } from '../lib/insert-if-stored';
import { listPage } from '../lib/pagination';
import { ApiApp, datasetBody, err, json, raw } from '../lib/openapi';
import { type CorpusOptions, corpusStats, type ParsedCorpus, parseCorpus, parseParallel } from '../ingest/corpus';
import { JsonlOut } from '../ingest/jsonl-out';
import {
  bufferedOriginal,
  droppingOnFailure,
  formParts,
  type KeptOriginal,
  OriginalWriter,
  originalDataDoc,
  originalView,
  serveOriginal,
} from '../lib/originals';

type Row = typeof corpora.$inferSelect;
const view = (r: Row): CorpusInfo => ({
  id: r.id,
  owner: r.owner,
  name: r.name,
  src: r.src,
  tgt: r.tgt,
  visibility: r.visibility,
  sha256: r.sha256,
  size: r.size,
  stats: r.stats as CorpusInfo['stats'],
  ...(r.skippedLines ? { skippedLines: r.skippedLines as CorpusInfo['skippedLines'] } : {}),
  ...originalView(r),
  createdAt: r.createdAt,
});

type KeptUpload = KeptOriginal & { contentType: string | null; parts: OriginalPart[] | null };

/** How the upload's original bytes are stored once it is accepted. */
interface Original {
  /** where they would be stored while held whole (a single file under one part, or a form), nothing stored; else null */
  held(): Promise<KeptUpload | null>;
  keep(): Promise<KeptUpload>;
}

/** A single file as it arrives: held whole (a small one, hashed already) or streamed. */
type SingleFile = { bytes: Uint8Array; sha256: string } | { stream: ReadableStream<Uint8Array> | null };

const isForm = (req: Request) => (req.headers.get('content-type') ?? '').toLowerCase().startsWith('multipart/form-data');
const single = (k: KeptOriginal): KeptUpload => ({ ...k, contentType: null, parts: null });

/**
 * The body: one TSV/JSONL file, or a multipart form with two line-aligned files in parts `src` and
 * `tgt` (FLORES-200 style). Any other part is refused rather than ignored. A streamed file is kept
 * as it passes the parser (an OriginalWriter added to `writers`); a file held whole, or a form, which
 * is read whole, is kept from that buffer.
 */
async function readCorpusBody(
  bucket: R2Bucket,
  req: Request,
  file: SingleFile | null,
  parsed: { format?: 'tsv' | 'jsonl' },
  o: CorpusOptions,
  problems: Problems,
  writers: OriginalWriter[],
  out: JsonlOut,
): Promise<{ corpus: ParsedCorpus; original: Original }> {
  const format = { ...o, format: parsed.format };
  if (file && 'bytes' in file) {
    const corpus = await parseCorpus(bodyLineBatches(streamOf(file.bytes), MAX_DATASET_BYTES), format, problems, out);
    const buffered = bufferedOriginal(bucket, file.bytes, file.sha256);
    return { corpus, original: { held: async () => single(await buffered.held()), keep: async () => single(await buffered.keep()) } };
  }
  if (file) {
    checkLength(req, MAX_DATASET_BYTES);
    const writer = new OriginalWriter(bucket);
    writers.push(writer);
    const corpus = await parseCorpus(bodyLineBatches(file.stream, MAX_DATASET_BYTES, false, writer), format, problems, out);
    return {
      corpus,
      original: {
        held: async () => {
          const k = await writer.held();
          return k && single(k);
        },
        keep: async () => single(await writer.finish()),
      },
    };
  }
  // The form is read whole: the tgt part follows all of src, so pairing line i of each needs src held.
  // Its own, smaller limit keeps the body, its parsed parts and the pairs in flight in a Worker's memory.
  const type = req.headers.get('content-type') ?? '';
  const bytes = await readBody(req, limits.twoFileFormBytes);
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
  const corpus = await parseParallel(part('src'), part('tgt'), o, problems, out);
  // The form as sent (its boundary in contentType), from the buffer already read; each file hashed from the parsed form.
  const buffered = bufferedOriginal(bucket, bytes);
  let parts: Promise<OriginalPart[]> | undefined;
  const withParts = async (k: KeptOriginal) => {
    parts ??= formParts(form, ['src', 'tgt']);
    return { ...k, contentType: type, parts: await parts };
  };
  return { corpus, original: { held: async () => withParts(await buffered.held()), keep: async () => withParts(await buffered.keep()) } };
}

/** What a row holds from the parse of its file, the same for every upload of that file with the same options. */
interface Parsed {
  stats: Row['stats'];
  skippedLines: Row['skippedLines'];
  /** the normalised rows as stored */
  rows: KeptOriginal;
}

const accepted = new AcceptedUploads<Parsed>();

const tags = ['corpora'];

const upload = createRoute({
  operationId: 'uploadCorpus',
  method: 'post',
  path: '/',
  summary: 'Upload bilingual sentence pairs: TSV, JSONL (polyprune or hub rows), or two line-aligned files (multipart src, tgt)',
  description: datasetLimits,
  tags,
  'x-scope': 'write',
  // Streamed by the handler (c.req.raw), never read whole by the library: the document only shows the types.
  request: { query: corpusUploadQuery, body: datasetBody(corpusBodies) },
  responses: {
    201: json('stored', corpusInfo),
    400: err('invalid_multipart, unknown_part or missing_part (two-file upload)'),
    413: err('payload_too_large or too_many_lines'),
    422: err('invalid_lines, too_many_invalid_lines or no_valid_lines, with line numbers; unknown_language, line_count_mismatch or src_equals_tgt'),
  },
});
const list = createRoute({
  operationId: 'listCorpora',
  method: 'get',
  path: '/',
  summary: 'List visible corpora',
  tags,
  request: { query: paginationQuery.extend({ src: languageCode.optional(), tgt: languageCode.optional(), owner: z.string().max(64).optional() }) },
  responses: { 200: json('page', page(corpusInfo)) },
});
const get = createRoute({
  operationId: 'getCorpus',
  method: 'get',
  path: '/{id}',
  summary: 'Corpus stats, hash, owner',
  tags,
  request: { params: idParam },
  responses: { 200: json('corpus', corpusInfo) },
});
const data = createRoute({
  operationId: 'getCorpusData',
  method: 'get',
  path: '/{id}/data',
  summary: 'Stored JSONL {src, tgt}: the text as uploaded; ?original=true: the uploaded file itself',
  description: originalDataDoc('corpus'),
  tags,
  request: { params: idParam, query: originalQuery },
  responses: {
    200: raw('stored JSONL, one pair per line; with ?original=true the bytes as uploaded (a two-file upload: the multipart form as sent)'),
    206: raw('a byte range of it'),
    404: err('not_found; no_original: ?original=true on a corpus stored before uploaded files were kept'),
  },
});

export const corpusRoutes = new ApiApp()
  .openapi(upload, async (c) => {
    const p = requireScope(c.get('principal'), 'write');
    const q = c.req.valid('query');
    const src = uploadLanguage(q.src, 'src');
    const tgt = uploadLanguage(q.tgt, 'tgt');
    if (src.canonical === tgt.canonical) {
      throw new ApiError(422, 'src_equals_tgt', `src and tgt are the same language (${src.canonical}); a calibration corpus pairs two languages`);
    }
    const { policy, strict } = linePolicy(q.onError);
    const id = newId('cor');
    const rowOf = (parsed: Parsed, kept: KeptUpload): Row => ({
      id,
      owner: p.owner,
      name: q.name ?? `${src.canonical}-${tgt.canonical}`,
      src: src.canonical,
      tgt: tgt.canonical,
      visibility: q.visibility,
      sha256: parsed.rows.sha256,
      size: parsed.rows.size,
      r2Key: parsed.rows.key,
      stats: parsed.stats,
      skippedLines: parsed.skippedLines,
      originalSha256: kept.sha256,
      originalSize: kept.size,
      originalR2Key: kept.key,
      originalContentType: kept.contentType,
      originalParts: kept.parts,
      createdAt: nowIso(),
    });
    let file: SingleFile | null = null;
    let known: string | undefined;
    /** the objects a remembered parse named, when D1 showed them not referenced: no second look */
    let notStored: string | undefined;
    const objects = (r: Row) => `${r.r2Key} ${r.originalR2Key}`;
    if (!isForm(c.req.raw)) {
      const body = await holdBody(c.req.raw);
      if ('bytes' in body) {
        const sha256 = await sha256Hex(body.bytes);
        file = { bytes: body.bytes, sha256 };
        known = uploadKey(sha256, [src.given, src.canonical, src.script, tgt.given, tgt.canonical, tgt.script, policy, strict, q.format]);
        const parsed = accepted.get(known);
        if (parsed) {
          // The same file as an accepted one: no parse, and one D1 statement where its objects are stored.
          const again = rowOf(parsed, single({ sha256, size: body.bytes.byteLength, key: blobKey(sha256) }));
          if (await insertIfStored(c.var.db, again)) return c.json(view(again), 201);
          notStored = objects(again);
        }
      } else file = body;
    }
    const problems = new Problems(policy);
    // The normalised pairs go to R2 as they are validated; a refusal aborts both uploads.
    const out = new JsonlOut(c.env.BLOBS);
    const writers = [out.writer];
    const { row, inserted } = await droppingOnFailure(writers, async () => {
      const body = await readCorpusBody(c.env.BLOBS, c.req.raw, file, q, { strict, src: src.canonical, tgt: tgt.canonical }, problems, writers, out);
      const parsed = body.corpus;
      if (parsed.spacesNotTabs) throw spacesNotTabs(problems.total, parsed.stoppedAt);
      enforceLinePolicy(problems, parsed.kept.count, parsed.stoppedAt, 'sentence pairs');
      if (parsed.kept.identical === parsed.kept.count) {
        throw new ApiError(422, 'src_equals_tgt', `every pair has the same text on both sides (${parsed.kept.count} pairs); was one file uploaded twice?`);
      }
      const of = (rows: KeptOriginal): Parsed => ({
        stats: corpusStats(parsed, src, tgt),
        skippedLines: problems.listed.length ? problems.listed : null,
        rows,
      });
      // Blobs first, then the row: a failure in between leaves only unreferenced blobs, never a row
      // without data.
      const heldRows = await out.held();
      const heldOriginal = heldRows && (await body.original.held());
      if (heldRows && heldOriginal) {
        // A small upload, held whole. The same file uploaded again is one D1 statement: its objects
        // are there already. Otherwise both are stored side by side (they are in memory already).
        const again = rowOf(of(heldRows), heldOriginal);
        if (objects(again) !== notStored && (await insertIfStored(c.var.db, again))) return { row: again, inserted: true };
        const [stored, kept] = await Promise.all([out.finish(), body.original.keep()]);
        return { row: rowOf(of(stored), kept), inserted: false };
      }
      // One after the other: each completion may read its object back (to its content address), and
      // two at once would double what is in flight.
      const stored = await out.finish();
      const kept = await body.original.keep();
      return { row: rowOf(of(stored), kept), inserted: false };
    });
    if (!inserted) await c.var.db.insert(corpora).values(row);
    // Only once its row is in: what is remembered was accepted and stored.
    if (known) accepted.set(known, { stats: row.stats, skippedLines: row.skippedLines, rows: { sha256: row.sha256, size: row.size, key: row.r2Key } });
    return c.json(view(row), 201);
  })
  .openapi(list, async (c) => {
    const q = c.req.valid('query');
    const src = canonicalFilter(q.src);
    const tgt = canonicalFilter(q.tgt);
    const page = await listPage(
      c.var.db,
      corpora,
      q,
      [src ? eq(corpora.src, src) : undefined, tgt ? eq(corpora.tgt, tgt) : undefined, q.owner ? eq(corpora.owner, q.owner) : undefined],
      c.get('principal'),
    );
    return c.json({ ...page, items: page.items.map(view) }, 200);
  })
  .openapi(get, async (c) => {
    const row = await c.var.db.query.corpora.findFirst({ where: eq(corpora.id, c.req.valid('param').id) });
    return c.json(view(assertReadable(c.get('principal'), row, 'corpus')), 200);
  })
  .openapi(data, async (c) => {
    const row = await c.var.db.query.corpora.findFirst({ where: eq(corpora.id, c.req.valid('param').id) });
    const r = assertReadable(c.get('principal'), row, 'corpus');
    if (c.req.valid('query').original) {
      const stats = r.stats as CorpusInfo['stats'];
      return serveOriginal(
        c.env.BLOBS,
        r,
        'corpus',
        c.req.header('range'),
        stats.format === 'two-files' ? 'multipart' : stats.format === 'tsv' ? 'tsv' : 'jsonl',
      );
    }
    return serveBlob(c.env.BLOBS, r.r2Key, c.req.header('range'), `${r.id}.jsonl`, r.sha256);
  });
