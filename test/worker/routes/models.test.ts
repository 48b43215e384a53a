import { env } from 'cloudflare:workers';
import { beforeAll, describe, expect, it } from 'vitest';
import { call, makeToken, sha256 } from '../helpers';
import { graph, model, tensor } from '../onnx-writer';

/** A body of unknown length (a Blob's own stream has one, and is sent with a Content-Length). */
const chunked = (bytes: Uint8Array) => new Blob([bytes]).stream().pipeThrough(new TransformStream());

let writer: string;
beforeAll(async () => {
  writer = await makeToken('model-owner', ['write']);
});

async function newModel(visibility = 'private') {
  const r = await call('POST', '/v1/models', { token: writer, json: { name: 'tiny-xglm', family: 'xglm', license: 'mit', visibility } });
  expect(r.status).toBe(201);
  return r.body.id as string;
}

function pseudoRandomBytes(n: number, seed: number): Uint8Array {
  const out = new Uint8Array(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

describe('model files', () => {
  it('round-trips a file with its server-side hash and reports completeness', async () => {
    const id = await newModel();
    // A valid graph (ONNX files are scanned at upload) around 4000 bytes of inline weights.
    const onnx = model(graph({ initializers: [tensor('w', { dims: [1000], raw: pseudoRandomBytes(4000, 7) })] }));
    const put = await call('PUT', `/v1/models/${id}/files/model.onnx`, { token: writer, body: onnx, headers: { 'x-content-sha256': await sha256(onnx) } });
    expect(put.status).toBe(201);
    expect(put.body).toMatchObject({ name: 'model.onnx', size: onnx.byteLength, sha256: await sha256(onnx) });
    expect((await call('GET', `/v1/models/${id}`, { token: writer })).body.complete).toBe(false);

    const tok = new TextEncoder().encode('{"model":{}}');
    expect((await call('PUT', `/v1/models/${id}/files/tokenizer.json`, { token: writer, body: tok })).status).toBe(201);
    const m = await call('GET', `/v1/models/${id}`, { token: writer });
    expect(m.body.complete).toBe(true);
    expect(m.body.files.map((f: { name: string }) => f.name)).toEqual(['model.onnx', 'tokenizer.json']);

    const got = await call('GET', `/v1/models/${id}/files/model.onnx`, { token: writer });
    expect(got.status).toBe(200);
    expect(got.bytes).toEqual(onnx);
    const range = await call('GET', `/v1/models/${id}/files/model.onnx`, { token: writer, headers: { range: 'bytes=100-199' } });
    expect(range.status).toBe(206);
    expect(range.headers.get('content-range')).toBe(`bytes 100-199/${onnx.byteLength}`);
    expect(range.bytes).toEqual(onnx.subarray(100, 200));
    // Streamed to its own upload key (never buffered, never copied): no temporary object is left beside it.
    const kept = (await env.BLOBS.list({ prefix: 'uploads/put-' })).objects.filter((o) => o.size === onnx.byteLength);
    expect(kept.length).toBeGreaterThanOrEqual(1);
  });

  it('refuses a hash mismatch with 422 and keeps nothing', async () => {
    const id = await newModel();
    const bytes = pseudoRandomBytes(1000, 3);
    const r = await call('PUT', `/v1/models/${id}/files/config.json`, { token: writer, body: bytes, headers: { 'x-content-sha256': 'a'.repeat(64) } });
    expect(r.status).toBe(422);
    expect(r.body.error.code).toBe('hash_mismatch');
    expect((await call('GET', `/v1/models/${id}`, { token: writer })).body.files).toEqual([]);
    expect(await env.BLOBS.head(`sha256/${await sha256(bytes)}`)).toBeNull();
  });

  it('rejects file names with paths and empty bodies', async () => {
    const id = await newModel();
    expect((await call('PUT', `/v1/models/${id}/files/..%2Fetc`, { token: writer, body: 'x' })).status).toBe(400);
    expect((await call('PUT', `/v1/models/${id}/files/model.onnx`, { token: writer, body: '' })).status).toBe(400);
  });

  it('reassembles a multipart upload byte-exact and checks its hash', async () => {
    const id = await newModel();
    const partSize = 5 * 1024 * 1024; // R2's minimum for every part but the last
    const whole = pseudoRandomBytes(partSize * 2 + 12345, 11);
    const start = await call('POST', `/v1/models/${id}/files/model.onnx.data/uploads`, { token: writer });
    expect(start.status).toBe(201);
    const uploadId = start.body.uploadId;
    // Parts sent out of order: the server assembles by part number.
    for (const n of [2, 1, 3]) {
      const body = whole.subarray((n - 1) * partSize, Math.min(n * partSize, whole.length));
      const r = await call('PUT', `/v1/models/${id}/files/model.onnx.data/uploads/${uploadId}/parts/${n}`, { token: writer, body });
      expect(r.status).toBe(200);
    }
    const done = await call('POST', `/v1/models/${id}/files/model.onnx.data/uploads/${uploadId}/complete`, {
      token: writer,
      json: { sha256: await sha256(whole) },
    });
    expect(done.status).toBe(201);
    expect(done.body).toMatchObject({ size: whole.length, sha256: await sha256(whole) });
    const got = await call('GET', `/v1/models/${id}/files/model.onnx.data`, { token: writer });
    expect(got.bytes.length).toBe(whole.length);
    expect(await sha256(got.bytes)).toBe(await sha256(whole));
  });

  it('a multipart upload with a wrong hash or a missing part keeps nothing', async () => {
    const id = await newModel();
    const start = await call('POST', `/v1/models/${id}/files/big.bin/uploads`, { token: writer });
    const uploadId = start.body.uploadId;
    await call('PUT', `/v1/models/${id}/files/big.bin/uploads/${uploadId}/parts/2`, { token: writer, body: 'tail' });
    const missing = await call('POST', `/v1/models/${id}/files/big.bin/uploads/${uploadId}/complete`, { token: writer });
    expect(missing.status).toBe(409);
    expect(missing.body.error.code).toBe('missing_part');
    await call('PUT', `/v1/models/${id}/files/big.bin/uploads/${uploadId}/parts/1`, { token: writer, body: pseudoRandomBytes(5 * 1024 * 1024, 5) });
    const abort = await call('DELETE', `/v1/models/${id}/files/big.bin/uploads/${uploadId}`, { token: writer });
    expect(abort.status).toBe(204);
    expect((await call('GET', `/v1/models/${id}`, { token: writer })).body.files).toEqual([]);
    expect((await call('POST', `/v1/models/${id}/files/big.bin/uploads/${uploadId}/complete`, { token: writer })).status).toBe(404);
  });

  it('checks a part against its X-Content-SHA256 as it streams and records the declared hash of the whole unread', async () => {
    const id = await newModel();
    const uploadId = (await call('POST', `/v1/models/${id}/files/big.bin/uploads`, { token: writer })).body.uploadId;
    const part = pseudoRandomBytes(5 * 1024 * 1024 + 7, 6);
    const at = `/v1/models/${id}/files/big.bin/uploads/${uploadId}`;
    const bad = await call('PUT', `${at}/parts/1`, { token: writer, body: part, headers: { 'x-content-sha256': 'c'.repeat(64) } });
    expect(bad.status).toBe(422);
    expect(bad.body.error).toMatchObject({ code: 'hash_mismatch', details: { expected: 'c'.repeat(64), actual: await sha256(part) } });
    // the refused part was not recorded
    expect((await call('POST', `${at}/complete`, { token: writer })).body.error.code).toBe('no_parts');
    const good = await call('PUT', `${at}/parts/1`, { token: writer, body: part, headers: { 'x-content-sha256': await sha256(part) } });
    expect(good.body).toEqual({ partNumber: 1, size: part.length, sha256: await sha256(part) });
    // A declared hash is recorded as declared (the runner verifies it when it downloads); the object
    // stays under the upload's own key, never at the content address the declaration names.
    const declared = 'b'.repeat(64);
    const done = await call('POST', `${at}/complete`, { token: writer, json: { sha256: declared } });
    expect(done.status).toBe(201);
    expect(done.body).toMatchObject({ size: part.length, sha256: declared });
    expect(await env.BLOBS.head(`sha256/${declared}`)).toBeNull();
    const got = await call('GET', `/v1/models/${id}/files/big.bin`, { token: writer });
    expect(await sha256(got.bytes)).toBe(await sha256(part));
    expect(got.headers.get('x-content-sha256')).toBe(declared);
  });

  it('a part without Content-Length is refused with 411 (R2 stores parts of known length)', async () => {
    const id = await newModel();
    const uploadId = (await call('POST', `/v1/models/${id}/files/big.bin/uploads`, { token: writer })).body.uploadId;
    const body = chunked(pseudoRandomBytes(1000, 2));
    const r = await call('PUT', `/v1/models/${id}/files/big.bin/uploads/${uploadId}/parts/1`, { token: writer, body });
    expect(r.status).toBe(411);
    expect(r.body.error.code).toBe('length_required');
  });

  it('stores a chunked PUT (no Content-Length) streamed in parts, under its content address', async () => {
    const id = await newModel();
    const bytes = pseudoRandomBytes(11 * 1024 * 1024 + 3, 8);
    const r = await call('PUT', `/v1/models/${id}/files/big.bin`, { token: writer, body: chunked(bytes) });
    expect(r.status).toBe(201);
    expect(r.body).toMatchObject({ size: bytes.length, sha256: await sha256(bytes) });
    expect((await env.BLOBS.head(`sha256/${await sha256(bytes)}`))?.size).toBe(bytes.length);
    expect(await sha256((await call('GET', `/v1/models/${id}/files/big.bin`, { token: writer })).bytes)).toBe(await sha256(bytes));
    const wrong = await call('PUT', `/v1/models/${id}/files/other.bin`, {
      token: writer,
      body: chunked(bytes),
      headers: { 'x-content-sha256': 'd'.repeat(64) },
    });
    expect(wrong.status).toBe(422);
    expect(wrong.body.error.code).toBe('hash_mismatch');
  });

  it('a refused graph leaves an object that another file names, even one it wrote itself', async () => {
    const bytes = new TextEncoder().encode('a fine data file, but not an ONNX graph');
    const key = `sha256/${await sha256(bytes)}`;
    const other = await newModel();
    expect((await call('PUT', `/v1/models/${other}/files/weights.bin`, { token: writer, body: chunked(bytes) })).status).toBe(201);
    expect(await env.DB.prepare('SELECT r2_key FROM model_files WHERE model_id = ?').bind(other).first('r2_key')).toBe(key);
    const id = await newModel();
    const refuse = async (body: Uint8Array) => {
      const r = await call('PUT', `/v1/models/${id}/files/model.onnx`, { token: writer, body: chunked(body) });
      expect(r.status).toBe(422);
      expect(r.body.error.code).toBe('invalid_onnx');
    };
    await refuse(bytes);
    expect(await env.BLOBS.head(key)).not.toBeNull();
    // Two uploads of these bytes at once: the refused one looked for the address before the other
    // stored there, so it wrote the object (its own, as far as it knows) that the other's row names.
    await env.BLOBS.delete(key);
    await refuse(bytes);
    expect(await env.BLOBS.head(key)).not.toBeNull();
    expect((await call('GET', `/v1/models/${other}/files/weights.bin`, { token: writer })).bytes).toEqual(bytes);
    // What no row names still goes with its refusal.
    const alone = new TextEncoder().encode('refused, and named by no row');
    await refuse(alone);
    expect(await env.BLOBS.head(`sha256/${await sha256(alone)}`)).toBeNull();
  });

  it('validates model creation', async () => {
    const r = await call('POST', '/v1/models', { token: writer, json: { name: 'x', family: 'transformer' } });
    expect(r.status).toBe(400);
    expect(r.body.error.message).toContain('family');
  });

  it('paginates lists with a cursor', async () => {
    const pager = await makeToken('pager', ['write']);
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push((await call('POST', '/v1/models', { token: pager, json: { name: `m${i}`, family: 'gpt2' } })).body.id);
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page: any = await call('GET', `/v1/models?owner=pager&limit=2${cursor ? `&cursor=${cursor}` : ''}`, { token: pager });
      expect(page.body.items.length).toBeLessThanOrEqual(2);
      seen.push(...page.body.items.map((m: { id: string }) => m.id));
      cursor = page.body.nextCursor;
    } while (cursor);
    expect(seen).toEqual([...ids].reverse());
  });
});
