import { createHash } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, stat, utimes, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { InputCache } from '@polyprune/gpu-runner/service/cache';
import { RunnerClient } from '@polyprune/gpu-runner/service/client';
import { startServer, type TestServer } from '../../helpers/server';

const blobs = new Map<string, Buffer>();
const put = (text: string) => {
  const b = Buffer.from(text.repeat(1000));
  const sha = createHash('sha256').update(b).digest('hex');
  blobs.set(sha, b);
  return { sha, size: b.length, bytes: b };
};

let srv: TestServer;
let tmp: string;
let client: RunnerClient;
beforeAll(async () => {
  srv = await startServer();
  // Serves /blob/<sha>; /lie/<sha> answers with other bytes.
  srv.handle((req, res) => {
    const [, kind, sha] = req.url!.split('/');
    const b = kind === 'lie' ? Buffer.from('not what you asked for') : blobs.get(sha!);
    if (!b) return res.writeHead(404).end();
    // A little latency so that concurrent requests overlap.
    setTimeout(() => res.writeHead(200, { 'content-length': b.length }).end(b), 30);
  });
  client = new RunnerClient({ baseUrl: srv.url, retry: { retries: 1, baseMs: 5, maxMs: 5 } });
});
afterAll(async () => {
  await srv.close();
});
let dir: string;
afterEach(async () => {
  srv.requests.length = 0;
  if (dir) await rm(dir, { recursive: true, force: true });
});
const fresh = async (maxBytes = 0) => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'pp-cache-'));
  tmp = dir;
  return new InputCache(dir, maxBytes);
};
const fetchFrom = (kind: string, sha: string) => (tmpPath: string) => client.download(`/${kind}/${sha}`, tmpPath);

describe('InputCache', () => {
  it('downloads a content once and serves later jobs from disk', async () => {
    const cache = await fresh();
    const a = put('alpha');
    const first = await cache.get(a.sha, a.size, fetchFrom('blob', a.sha));
    const second = await cache.get(a.sha, a.size, fetchFrom('blob', a.sha));
    expect(first.hit).toBe(false);
    expect(second.hit).toBe(true);
    expect(second.path).toBe(first.path);
    expect(Buffer.compare(await readFile(second.path), a.bytes)).toBe(0);
    expect(srv.requests).toHaveLength(1);
  });

  it('shares one download between concurrent requests for the same content', async () => {
    const cache = await fresh();
    const a = put('beta');
    const all = await Promise.all([1, 2, 3].map(() => cache.get(a.sha, a.size, fetchFrom('blob', a.sha))));
    expect(new Set(all.map((e) => e.path)).size).toBe(1);
    expect(srv.requests).toHaveLength(1);
  });

  it('admits nothing whose hash is wrong and leaves no temp file behind', async () => {
    const cache = await fresh();
    const a = put('gamma');
    await expect(cache.get(a.sha, undefined, fetchFrom('lie', a.sha))).rejects.toThrow(/hashes to/);
    expect(await cache.has(a.sha)).toBe(false);
    expect(await readdir(cache.dir)).toEqual([]);
  });

  it('refetches an entry whose size is not the announced one', async () => {
    const cache = await fresh();
    const a = put('delta');
    await cache.get(a.sha, a.size, fetchFrom('blob', a.sha));
    await writeFile(cache.pathOf(a.sha), 'truncated');
    const e = await cache.get(a.sha, a.size, fetchFrom('blob', a.sha));
    expect(e.hit).toBe(false);
    expect((await stat(e.path)).size).toBe(a.size);
  });

  it('places an entry under the name a job expects', async () => {
    const cache = await fresh();
    const a = put('epsilon');
    await cache.get(a.sha, a.size, fetchFrom('blob', a.sha));
    const dest = path.join(tmp, 'job', 'model', 'model.onnx');
    await cache.materialize(a.sha, dest);
    expect(Buffer.compare(await readFile(dest), a.bytes)).toBe(0);
  });

  it('evicts least recently used entries beyond its budget', async () => {
    const a = put('zeta');
    const b = put('eta');
    const c = put('theta');
    const cache = await fresh(b.size + c.size + 10);
    await cache.get(a.sha, a.size, fetchFrom('blob', a.sha));
    await cache.get(b.sha, b.size, fetchFrom('blob', b.sha));
    const old = new Date(Date.now() - 60_000);
    await utimes(cache.pathOf(a.sha), old, old);
    await cache.get(c.sha, c.size, fetchFrom('blob', c.sha));
    expect(await cache.has(a.sha)).toBe(false);
    expect(await cache.has(b.sha)).toBe(true);
    expect(await cache.has(c.sha)).toBe(true);
  });

  it('sweeps temp files of interrupted downloads', async () => {
    const cache = await fresh();
    const a = put('iota');
    await cache.get(a.sha, a.size, fetchFrom('blob', a.sha));
    const stale = path.join(cache.dir, '.tmp-dead');
    await writeFile(stale, 'x');
    const old = new Date(Date.now() - 2 * 3600_000);
    await utimes(stale, old, old);
    expect(await cache.sweepTemp()).toBe(1);
    expect(await readdir(cache.dir)).toEqual([a.sha]);
  });
});
