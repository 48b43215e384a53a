import { and, eq, inArray } from 'drizzle-orm';
import { createRoute, z } from '@hono/zod-openapi';
import { idParam, page, paginationQuery } from '@polyprune/shared/api/common';
import {
  completeUploadBody,
  createModelBody,
  modelFile,
  modelFileName,
  type ModelInfo,
  modelInfo,
  multipartUpload,
  patchModelBody,
} from '@polyprune/shared/api/models';
import { type GraphInfo, isGraphName, WITH_PAST_ONLY } from '@polyprune/shared/model-files';
import { limits } from '@polyprune/shared/api/limits';
import { modelFiles, models, uploadParts, uploads } from '../db/schema';
import { assertReadable, assertWritable, requireScope } from '../lib/auth';
import { expectedSha, serveBlob } from '../lib/blobs';
import { blobReferenced } from '../lib/blob-references';
import { storeStreamed } from '../lib/streamed-body';
import { newId } from '../lib/crypto';
import { assemble, storePart } from '../lib/multipart';
import { type Db, nowIso } from '../lib/db';
import { ApiError, notFound } from '../lib/errors';
import { nextCursor, type Page, pageQueries } from '../lib/pagination';
import { ApiApp, err, json, jsonBody, raw, rawBody, streamedJson } from '../lib/openapi';
import { versionedAnswer } from '../lib/versioned-cache';
import { loadModelStatus, modelStatus } from '../ingest/model-status';
import { type ByteSource, InvalidOnnx, r2Source, scanOnnx } from '../ingest/onnx-refs';

/** One request body on Workers is capped at 100 MB; larger files go through multipart. */
export const MAX_SINGLE_PUT = limits.singlePutBytes;

type ModelRow = typeof models.$inferSelect;
type FileRow = typeof modelFiles.$inferSelect;

export async function loadModelView(db: Db, m: ModelRow): Promise<ModelInfo> {
  return modelView(m, await loadModelStatus(db, m));
}

function modelView(m: ModelRow, st: ReturnType<typeof modelStatus> & { files: FileRow[] }): ModelInfo {
  const files = st.files.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return {
    id: m.id,
    owner: m.owner,
    name: m.name,
    family: m.family,
    license: m.license,
    visibility: m.visibility,
    files: files.map((f) => ({ name: f.name, size: f.size, sha256: f.sha256, createdAt: f.createdAt })),
    graph: st.graph,
    missing: st.missing,
    hints: st.hints,
    problems: st.problems,
    complete: st.complete,
    createdAt: m.createdAt,
  };
}

const fileParams = z.object({ id: z.string().max(64), name: modelFileName });
const uploadParams = fileParams.extend({ uploadId: z.string().max(64) });
const partParams = uploadParams.extend({ n: z.coerce.number().int().min(1).max(10_000) });

async function findModel(db: Db, id: string) {
  return db.query.models.findFirst({ where: eq(models.id, id) });
}

async function recordFile(db: Db, modelId: string, name: string, sha256: string, size: number, r2Key: string, graphInfo: GraphInfo | null) {
  const row = { modelId, name, sha256, size, r2Key, graphInfo, createdAt: nowIso() };
  await db
    .insert(modelFiles)
    .values(row)
    .onConflictDoUpdate({ target: [modelFiles.modelId, modelFiles.name], set: { sha256, size, r2Key, graphInfo, createdAt: row.createdAt } });
  return row;
}

/** Scans an uploaded *.onnx file for what it refers to; anything unreadable is refused with the reason. */
async function scanGraph(name: string, src: ByteSource): Promise<GraphInfo> {
  try {
    return await scanOnnx(src);
  } catch (err) {
    if (err instanceof InvalidOnnx) throw new ApiError(422, 'invalid_onnx', `${name} is not an ONNX model: ${err.message}`);
    throw err;
  }
}

async function findUpload(db: Db, modelId: string, name: string, uploadId: string) {
  const u = await db.query.uploads.findFirst({ where: eq(uploads.id, uploadId) });
  if (!u || u.modelId !== modelId || u.fileName !== name) throw notFound('upload');
  return u;
}

const tags = ['models'];
const hashOrOnnx = 'hash_mismatch, or invalid_onnx: a *.onnx file that is not an ONNX model';
const partStored = json('part stored', z.object({ partNumber: z.number(), size: z.number(), sha256: z.string() }));

const create = createRoute({
  operationId: 'createModel',
  method: 'post',
  path: '/',
  summary: 'Register a model',
  tags,
  'x-scope': 'write',
  request: { body: jsonBody(createModelBody) },
  responses: { 201: json('created', modelInfo) },
});
const list = createRoute({
  operationId: 'listModels',
  method: 'get',
  path: '/',
  summary: 'List visible models',
  tags,
  request: { query: paginationQuery.extend({ owner: z.string().max(64).optional() }) },
  responses: { 200: json('page', page(modelInfo)) },
});
const get = createRoute({
  operationId: 'getModel',
  method: 'get',
  path: '/{id}',
  summary: 'A model with its files and completeness',
  tags,
  request: { params: idParam },
  responses: { 200: json('model', modelInfo), 404: err('unknown or not visible') },
});
const patch = createRoute({
  operationId: 'updateModel',
  method: 'patch',
  path: '/{id}',
  summary: 'Change visibility, license or the graph file (among uploaded *.onnx)',
  tags,
  'x-scope': 'write',
  request: { params: idParam, body: jsonBody(patchModelBody) },
  responses: { 200: json('model', modelInfo), 422: err('graph: unknown_file (not uploaded) or unusable_graph') },
});
const putFile = createRoute({
  operationId: 'uploadModelFile',
  method: 'put',
  path: '/{id}/files/{name}',
  summary: `Upload a file (≤ ${limits.singlePutBytes / 1048576} MB; X-Content-SHA256 optional); a *.onnx file is scanned for its external data and ops`,
  tags,
  'x-scope': 'write',
  request: { params: fileParams, body: rawBody() },
  responses: { 201: json('stored', modelFile), 413: err('too large: use multipart'), 422: err(hashOrOnnx) },
});
const getFile = createRoute({
  operationId: 'downloadModelFile',
  method: 'get',
  path: '/{id}/files/{name}',
  summary: 'Download a file (Range supported)',
  tags,
  request: { params: fileParams },
  responses: { 200: raw(), 206: raw() },
});
const startUpload = createRoute({
  operationId: 'startModelFileUpload',
  method: 'post',
  path: '/{id}/files/{name}/uploads',
  summary: 'Start a multipart upload',
  tags,
  'x-scope': 'write',
  request: { params: fileParams },
  responses: { 201: json('started', multipartUpload) },
});
const putPart = createRoute({
  operationId: 'uploadModelFilePart',
  method: 'put',
  path: '/{id}/files/{name}/uploads/{uploadId}/parts/{n}',
  summary: 'Upload part n (1-based; every part but the last ≥ 5 MiB)',
  tags,
  'x-scope': 'write',
  request: { params: partParams, body: rawBody() },
  responses: { 200: partStored },
});
const completeUpload = createRoute({
  operationId: 'completeModelFileUpload',
  method: 'post',
  path: '/{id}/files/{name}/uploads/{uploadId}/complete',
  summary: 'Assemble the parts, hash server-side',
  tags,
  'x-scope': 'write',
  request: { params: uploadParams, body: jsonBody(completeUploadBody.optional(), false) },
  responses: { 201: json('stored', modelFile), 409: err('missing parts'), 422: err(hashOrOnnx) },
});
const abortUpload = createRoute({
  operationId: 'abortModelFileUpload',
  method: 'delete',
  path: '/{id}/files/{name}/uploads/{uploadId}',
  summary: 'Abort a multipart upload',
  tags,
  'x-scope': 'write',
  request: { params: uploadParams },
  responses: { 204: { description: 'aborted' } },
});

export const modelRoutes = new ApiApp()
  .openapi(create, async (c) => {
    const p = requireScope(c.get('principal'), 'write');
    const body = c.req.valid('json');
    const db = c.var.db;
    const row: ModelRow = {
      id: newId('mdl'),
      owner: p.owner,
      name: body.name,
      family: body.family,
      license: body.license ?? null,
      visibility: body.visibility,
      graph: null,
      createdAt: nowIso(),
    };
    await db.insert(models).values(row);
    return c.json(await loadModelView(db, row), 201);
  })
  .openapi(list, async (c) => {
    const q = c.req.valid('query');
    const p = c.get('principal');
    const db = c.var.db;
    const res = await versionedAnswer(c, db, {
      route: 'models',
      keys: ['models'],
      query: q,
      build: async () => {
        // The page and the files of its models in one D1 round trip (a batch; the files query
        // selects the page's ids itself), not one query per model nor two round trips.
        const pq = pageQueries(db, models, q, [q.owner ? eq(models.owner, q.owner) : undefined], p);
        const [rows, files] = await db.batch([pq.rows, db.select().from(modelFiles).where(inArray(modelFiles.modelId, pq.ids))]);
        const page = nextCursor(rows as ModelRow[], q.limit);
        const items = page.items.map((m) => {
          const own = files.filter((f) => f.modelId === m.id);
          return modelView(m, { ...modelStatus(m, own), files: own });
        });
        return { body: JSON.stringify({ items, nextCursor: page.nextCursor }), contentType: 'application/json' };
      },
    });
    return streamedJson<Page<ModelInfo>>(res);
  })
  .openapi(get, async (c) => {
    const db = c.var.db;
    const m = assertReadable(c.get('principal'), await findModel(db, c.req.valid('param').id), 'model');
    return c.json(await loadModelView(db, m), 200);
  })
  .openapi(patch, async (c) => {
    const db = c.var.db;
    const m = assertWritable(c.get('principal'), await findModel(db, c.req.valid('param').id), 'model');
    const body = c.req.valid('json');
    if (body.graph) {
      const f = await db.query.modelFiles.findFirst({ where: and(eq(modelFiles.modelId, m.id), eq(modelFiles.name, body.graph)) });
      if (!f) throw new ApiError(422, 'unknown_file', `${body.graph} is not uploaded to model ${m.id}: upload it first, then choose it as the graph`);
      if (body.graph === WITH_PAST_ONLY)
        throw new ApiError(422, 'unusable_graph', `${WITH_PAST_ONLY} cannot run the first step (it needs a past key/value cache)`);
    }
    const next = { ...m, ...Object.fromEntries(Object.entries(body).filter(([, v]) => v !== undefined)) } as ModelRow;
    await db.update(models).set({ visibility: next.visibility, license: next.license, graph: next.graph }).where(eq(models.id, m.id));
    return c.json(await loadModelView(db, next), 200);
  })
  .openapi(putFile, async (c) => {
    const { id, name } = c.req.valid('param');
    const db = c.var.db;
    const m = assertWritable(c.get('principal'), await findModel(db, id), 'model');
    const expected = expectedSha(c.req.header('x-content-sha256'));
    const blob = await storeStreamed(c.env.BLOBS, c.req.raw, MAX_SINGLE_PUT, expected, `file "${name}" is empty`);
    let graphInfo: GraphInfo | null = null;
    if (isGraphName(name)) {
      // Read back in ~1 MiB ranges, as for an assembled upload: the file is never held whole.
      graphInfo = await scanGraph(name, r2Source(c.env.BLOBS, blob.key, blob.size)).catch(async (err) => {
        // Only an object this request wrote may go, and only while no row names it: at a content
        // address, another upload of the same bytes may have recorded its file on it meanwhile.
        if (blob.created && !(await blobReferenced(db, blob.key))) await c.env.BLOBS.delete(blob.key);
        throw err;
      });
    }
    const f = await recordFile(db, m.id, name, blob.sha256, blob.size, blob.key, graphInfo);
    return c.json({ name, size: f.size, sha256: blob.sha256, createdAt: f.createdAt }, 201);
  })
  .openapi(getFile, async (c) => {
    const { id, name } = c.req.valid('param');
    const db = c.var.db;
    const m = assertReadable(c.get('principal'), await findModel(db, id), 'model');
    const f = await db.query.modelFiles.findFirst({ where: and(eq(modelFiles.modelId, m.id), eq(modelFiles.name, name)) });
    if (!f) throw notFound(`file "${name}"`);
    return serveBlob(c.env.BLOBS, f.r2Key, c.req.header('range'), name, f.sha256);
  })
  .openapi(startUpload, async (c) => {
    const { id, name } = c.req.valid('param');
    const db = c.var.db;
    const m = assertWritable(c.get('principal'), await findModel(db, id), 'model');
    const uploadId = newId('upl');
    const r2Key = `uploads/${uploadId}`;
    const mp = await c.env.BLOBS.createMultipartUpload(r2Key);
    await db.insert(uploads).values({ id: uploadId, r2UploadId: mp.uploadId, r2Key, modelId: m.id, fileName: name, owner: m.owner, createdAt: nowIso() });
    return c.json({ uploadId, modelId: m.id, fileName: name, parts: [] }, 201);
  })
  .openapi(putPart, async (c) => {
    const { id, name, uploadId, n } = c.req.valid('param');
    const db = c.var.db;
    assertWritable(c.get('principal'), await findModel(db, id), 'model');
    const u = await findUpload(db, id, name, uploadId);
    return c.json(await storePart(c.env.BLOBS, db, { id: uploadId, r2Key: u.r2Key, r2UploadId: u.r2UploadId }, n, c.req.raw), 200);
  })
  .openapi(completeUpload, async (c) => {
    const { id, name, uploadId } = c.req.valid('param');
    const db = c.var.db;
    const m = assertWritable(c.get('principal'), await findModel(db, id), 'model');
    const u = await findUpload(db, id, name, uploadId);
    const body = c.req.valid('json');
    const expected = expectedSha(c.req.header('x-content-sha256')) ?? body?.sha256;
    const done = await assemble(c.env.BLOBS, db, { id: uploadId, r2Key: u.r2Key, r2UploadId: u.r2UploadId }, expected, () =>
      db.delete(uploads).where(eq(uploads.id, uploadId)),
    );
    let graphInfo: GraphInfo | null = null;
    if (isGraphName(name)) {
      // Range reads in ~1 MiB windows: an assembled graph may hold GBs of inline weights, never read here.
      graphInfo = await scanGraph(name, r2Source(c.env.BLOBS, done.key, done.size)).catch(async (err) => {
        // Keep a content-addressed blob (other files may share it); drop this upload's own object.
        if (done.key === u.r2Key) await c.env.BLOBS.delete(done.key);
        await done.cleanup();
        throw err;
      });
    }
    const f = await recordFile(db, m.id, name, done.sha256, done.size, done.key, graphInfo);
    await done.cleanup();
    return c.json({ name, size: done.size, sha256: done.sha256, createdAt: f.createdAt }, 201);
  })
  .openapi(abortUpload, async (c) => {
    const { id, name, uploadId } = c.req.valid('param');
    const db = c.var.db;
    assertWritable(c.get('principal'), await findModel(db, id), 'model');
    const u = await findUpload(db, id, name, uploadId);
    await c.env.BLOBS.resumeMultipartUpload(u.r2Key, u.r2UploadId)
      .abort()
      .catch(() => undefined);
    await db.batch([db.delete(uploadParts).where(eq(uploadParts.uploadId, uploadId)), db.delete(uploads).where(eq(uploads.id, uploadId))]);
    return c.body(null, 204);
  });
