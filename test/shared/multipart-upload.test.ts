/**
 * The shared upload (CLI model files, runner artifacts) against a real loopback server that plays
 * the API's upload routes: what goes over the wire, part by part, and what the hash header says.
 */
import { createHash } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ApiRequestError, Http } from '@polyprune/shared/http';
import { uploadBlob } from '@polyprune/shared/multipart-upload';
import { json, startServer, type TestServer } from '../helpers/server';

let srv: TestServer;
let tmp: string;
beforeAll(async () => {
  srv = await startServer();
  tmp = await mkdtemp(path.join(os.tmpdir(), 'pp-upload-'));
});
afterAll(async () => {
  await srv.close();
  await rm(tmp, { recursive: true, force: true });
});
afterEach(() => {
  srv.requests.length = 0;
});

const http = () => new Http({ baseUrl: srv.url, retry: { retries: 3, baseMs: 5, maxMs: 20 } });
const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
const bytesOf = (n: number, k: number) => Uint8Array.from({ length: n }, (_, i) => (i * k + 13) % 251);

/** The API's upload routes in miniature: parts stored by number, assembled on complete, hashed like the worker. */
function playUploads(o: { failPart?: { n: number; status: number; times: number }; partDelayMs?: number } = {}) {
  const parts = new Map<number, Buffer>();
  let failures = 0;
  const seen = { inFlight: 0, most: 0 };
  srv.handle((req, res, body) => {
    const url = req.url!;
    if (req.method === 'PUT' && url === '/f') return json(res, 201, { name: 'f', size: body.length, sha256: sha(body) });
    if (req.method === 'POST' && url === '/f/uploads') return json(res, 201, { uploadId: 'up 1' });
    const part = /^\/f\/uploads\/up%201\/parts\/(\d+)$/.exec(url);
    if (req.method === 'PUT' && part) {
      const n = Number(part[1]);
      if (o.failPart?.n === n && failures < o.failPart.times) {
        failures++;
        return json(res, o.failPart.status, { error: { code: 'invalid_request', message: `part ${n} refused` } });
      }
      parts.set(n, body);
      seen.inFlight++;
      seen.most = Math.max(seen.most, seen.inFlight);
      setTimeout(() => {
        seen.inFlight--;
        json(res, 200, { partNumber: n, size: body.length, sha256: sha(body) });
      }, o.partDelayMs ?? 0);
      return;
    }
    if (req.method === 'POST' && url === '/f/uploads/up%201/complete') {
      const whole = Buffer.concat([...parts.keys()].sort((a, b) => a - b).map((n) => parts.get(n)!));
      return json(res, 201, { name: 'f', size: whole.length, sha256: sha(whole) });
    }
    if (req.method === 'DELETE' && url === '/f/uploads/up%201') return res.writeHead(204).end();
    json(res, 404, { error: { code: 'not_found', message: url } });
  });
  return seen;
}

describe('uploadBlob', () => {
  it('sends a blob under the limit in one PUT with its sha256 in X-Content-SHA256', async () => {
    playUploads();
    const bytes = bytesOf(5000, 7);
    const seen: Array<[number, number]> = [];
    const info = await uploadBlob(http(), bytes, { path: '/f', singleLimit: 5000, headers: { 'x-lease-token': 'lt' }, onBytes: (d, t) => seen.push([d, t]) });
    expect(info).toEqual({ name: 'f', size: 5000, sha256: sha(bytes) });
    expect(srv.requests).toHaveLength(1);
    const put = srv.requests[0]!;
    expect(put).toMatchObject({ method: 'PUT', url: '/f' });
    expect(put.headers['x-content-sha256']).toBe(sha(bytes));
    expect(put.headers['x-lease-token']).toBe('lt');
    expect(seen).toEqual([[5000, 5000]]);
  });

  it('sends a file over the limit in equal parts and announces the hash of the whole on complete', async () => {
    playUploads();
    const bytes = bytesOf(10_000 + 1234, 31);
    const file = path.join(tmp, 'big.bin');
    await writeFile(file, bytes);
    const seen: number[] = [];
    const info = await uploadBlob(
      http(),
      { path: file },
      { path: '/f', singleLimit: 4096, partSize: 2500, headers: { 'x-lease-token': 'lt' }, onBytes: (d) => seen.push(d) },
    );
    expect(info).toEqual({ name: 'f', size: bytes.length, sha256: sha(bytes) });
    const reqs = srv.requests.map((r) => `${r.method} ${r.url}`);
    // Parts go in parallel, so they may arrive in any order; the first and last requests are fixed.
    expect(reqs[0]).toBe('POST /f/uploads');
    expect(reqs.slice(1, 6).sort()).toEqual([1, 2, 3, 4, 5].map((n) => `PUT /f/uploads/up%201/parts/${n}`));
    expect(reqs[6]).toBe('POST /f/uploads/up%201/complete');
    const partReqs = srv.requests.slice(1, 6).sort((a, b) => a.url.localeCompare(b.url));
    expect(partReqs.map((r) => r.body.length)).toEqual([2500, 2500, 2500, 2500, 1234]);
    // Each part carries its own hash (the worker checks it as the part streams in).
    partReqs.forEach((r, i) => {
      expect(Buffer.compare(r.body, Buffer.from(bytes.subarray(i * 2500, (i + 1) * 2500)))).toBe(0);
      expect(r.headers['x-content-sha256']).toBe(sha(r.body));
      // Sent as a stream, yet framed by length: the API refuses a part without one (411).
      expect(r.headers['content-length']).toBe(String(r.body.length));
      expect(r.headers['transfer-encoding']).toBeUndefined();
    });
    expect(srv.requests.at(-1)!.headers['x-content-sha256']).toBe(sha(bytes));
    for (const r of srv.requests) expect(r.headers['x-lease-token']).toBe('lt');
    // Bytes done grow with each part acknowledged, whichever finishes first.
    expect(seen).toHaveLength(5);
    expect(seen.at(-1)).toBe(11_234);
    expect([...seen].sort((a, b) => a - b)).toEqual(seen);
  });

  it('sends a file made of ranges of others: their bytes in order, parts cut across the ranges, one PUT when small', async () => {
    const a = bytesOf(6000, 7);
    const b = bytesOf(4000, 19);
    await writeFile(path.join(tmp, 'a.bin'), a);
    await writeFile(path.join(tmp, 'b.bin'), b);
    const ranges = [
      { path: path.join(tmp, 'a.bin'), offset: 100, length: 3000 },
      { path: path.join(tmp, 'b.bin'), offset: 0, length: 0 },
      { path: path.join(tmp, 'b.bin'), offset: 50, length: 2050 },
      { path: path.join(tmp, 'a.bin'), offset: 0, length: 10 },
      { path: path.join(tmp, 'b.bin'), offset: 3999, length: 1 },
    ];
    const whole = Buffer.concat([a.subarray(100, 3100), b.subarray(50, 2100), a.subarray(0, 10), b.subarray(3999)]);
    playUploads();
    const info = await uploadBlob(http(), { ranges }, { path: '/f', singleLimit: 100, partSize: 1000 });
    expect(info).toEqual({ name: 'f', size: whole.length, sha256: sha(whole) });
    const parts = srv.requests.filter((r) => r.url.includes('/parts/')).sort((x, y) => Number(x.url.split('/').at(-1)) - Number(y.url.split('/').at(-1)));
    expect(Buffer.concat(parts.map((r) => r.body)).equals(whole)).toBe(true);
    expect(parts.map((r) => r.body.length)).toEqual([1000, 1000, 1000, 1000, 1000, 61]);
    srv.requests.length = 0;
    await uploadBlob(http(), { ranges }, { path: '/f', singleLimit: 10_000 });
    expect(srv.requests).toHaveLength(1);
    expect(srv.requests[0]!.body.equals(whole)).toBe(true);
  });

  it('a range past the end of its file is an error, not a short upload', async () => {
    await writeFile(path.join(tmp, 'short.bin'), bytesOf(500, 3));
    playUploads();
    const ranges = [{ path: path.join(tmp, 'short.bin'), offset: 400, length: 200 }];
    await expect(uploadBlob(http(), { ranges }, { path: '/f', singleLimit: 10_000 })).rejects.toThrow(/short\.bin ends before byte 600/);
    await expect(uploadBlob(http(), { ranges: [...ranges, ...ranges] }, { path: '/f', singleLimit: 100, partSize: 150 })).rejects.toThrow(/ends before/);
  });

  it('keeps `parallel` parts in flight at once, no more', async () => {
    const seen = playUploads({ partDelayMs: 60 });
    const bytes = bytesOf(10 * 1000, 17);
    const info = await uploadBlob(http(), bytes, { path: '/f', singleLimit: 100, partSize: 1000, parallel: 3 });
    expect(info).toMatchObject({ size: bytes.length, sha256: sha(bytes) });
    expect(seen.most).toBe(3);
    const one = playUploads({ partDelayMs: 5 });
    await uploadBlob(http(), bytes, { path: '/f', singleLimit: 100, partSize: 1000, parallel: 1 });
    expect(one.most).toBe(1);
  });

  it('sends no empty last part when the size is a multiple of the part size', async () => {
    playUploads();
    const bytes = bytesOf(6000, 3);
    await uploadBlob(http(), bytes, { path: '/f', singleLimit: 100, partSize: 3000 });
    expect(srv.requests.filter((r) => r.url.includes('/parts/')).map((r) => r.body.length)).toEqual([3000, 3000]);
    expect(srv.requests.at(-1)!.headers['x-content-sha256']).toBe(sha(bytes));
  });

  it('retries a part the server fails with 503, with the same bytes, and hashes it once', async () => {
    playUploads({ failPart: { n: 2, status: 503, times: 2 } });
    const bytes = bytesOf(7000, 11);
    const info = await uploadBlob(http(), bytes, { path: '/f', singleLimit: 100, partSize: 3000 });
    expect(info).toMatchObject({ size: 7000, sha256: sha(bytes) });
    const part2 = srv.requests.filter((r) => r.url.endsWith('/parts/2'));
    expect(part2).toHaveLength(3);
    for (const r of part2) expect(Buffer.compare(r.body, Buffer.from(bytes.subarray(3000, 6000)))).toBe(0);
  });

  it('aborts an abortable upload when a part is refused, and leaves others to the cron', async () => {
    playUploads({ failPart: { n: 1, status: 400, times: 99 } });
    const bytes = bytesOf(7000, 5);
    const err = await uploadBlob(http(), bytes, { path: '/f', singleLimit: 100, partSize: 3000, abortable: true, parallel: 1 }).catch((e) => e);
    expect(err).toBeInstanceOf(ApiRequestError);
    expect((err as ApiRequestError).code).toBe('invalid_request');
    expect(srv.requests.map((r) => r.method)).toEqual(['POST', 'PUT', 'DELETE']);
    srv.requests.length = 0;
    await expect(uploadBlob(http(), bytes, { path: '/f', singleLimit: 100, partSize: 3000, parallel: 1 })).rejects.toBeInstanceOf(ApiRequestError);
    expect(srv.requests.map((r) => r.method)).toEqual(['POST', 'PUT']);
    // In parallel, the parts already sent settle before the one DELETE.
    srv.requests.length = 0;
    const again = await uploadBlob(http(), bytes, { path: '/f', singleLimit: 100, partSize: 3000, abortable: true }).catch((e) => e);
    expect(again).toBeInstanceOf(ApiRequestError);
    expect(srv.requests.at(-1)!.method).toBe('DELETE');
    expect(srv.requests.filter((r) => r.method === 'DELETE')).toHaveLength(1);
  });
});
