import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { IntegrityError, LeaseLostError, RunnerClient } from '@polyprune/gpu-runner/service/client';
import { ApiRequestError, backoffDelay, UnreachableError } from '@polyprune/shared/http';
import { leasedJob } from '../../helpers/jobs';
import { deadUrl, json, startServer, type TestServer } from '../../helpers/server';

const job = leasedJob({ kind: 'prune', modelId: 'mdl_1' });
const lease = { job, leaseToken: 'lt', leaseExpiresAt: '2026-01-01T00:02:00Z', inputs: [] };
const fast = { retries: 4, baseMs: 10, maxMs: 40 };

let srv: TestServer;
let tmp: string;
beforeAll(async () => {
  srv = await startServer();
  tmp = await mkdtemp(path.join(os.tmpdir(), 'pp-client-'));
});
afterAll(async () => {
  await srv.close();
  await rm(tmp, { recursive: true, force: true });
});
afterEach(() => {
  srv.requests.length = 0;
});

const client = (retry = fast) => new RunnerClient({ baseUrl: srv.url, token: 'tok', retry });

describe('backoff', () => {
  it('doubles up to the cap, with jitter in the upper half of each step', () => {
    const policy = { retries: 10, baseMs: 100, maxMs: 1000 };
    expect(backoffDelay(policy, 1, () => 0)).toBe(50);
    expect(backoffDelay(policy, 1, () => 1)).toBe(100);
    expect(backoffDelay(policy, 3, () => 1)).toBe(400);
    expect(backoffDelay(policy, 9, () => 1)).toBe(1000);
    expect(backoffDelay(policy, 9, () => 0)).toBe(500);
  });
});

describe('RunnerClient retries', () => {
  it('retries 5xx with growing delays and then returns the answer', async () => {
    let n = 0;
    srv.handle((_q, res) => (++n <= 2 ? json(res, 503, { error: { code: 'unavailable', message: 'busy' } }) : json(res, 200, lease)));
    const retries: number[] = [];
    const c = new RunnerClient({ baseUrl: srv.url, token: 'tok', retry: fast, onRetry: (r) => retries.push(r.delayMs) });
    const got = await c.lease('r1');
    expect(got?.leaseToken).toBe('lt');
    expect(srv.requests).toHaveLength(3);
    expect(srv.requests[0]!.headers.authorization).toBe('Bearer tok');
    expect(JSON.parse(srv.requests[0]!.body.toString())).toEqual({ runnerId: 'r1' });
    expect(retries).toHaveLength(2);
    expect(retries[0]).toBeGreaterThanOrEqual(5);
    expect(retries[0]).toBeLessThanOrEqual(10);
    expect(retries[1]).toBeGreaterThanOrEqual(10);
    expect(retries[1]).toBeLessThanOrEqual(20);
  });

  it('retries a connection the server drops', async () => {
    let n = 0;
    srv.handle((req, res) => (++n === 1 ? req.socket.destroy() : json(res, 200, lease)));
    expect((await client().lease('r1'))?.job.id).toBe('job_1');
    expect(n).toBe(2);
  });

  it('answers null for an empty queue (204)', async () => {
    srv.handle((_q, res) => res.writeHead(204).end());
    expect(await client().lease('r1')).toBeNull();
  });

  it('turns 409 on a leased call into LeaseLostError without retrying', async () => {
    srv.handle((_q, res) => json(res, 409, { error: { code: 'lease_lost', message: 'gone' } }));
    const err = await client()
      .heartbeat('job_1', 'lt', { stage: 'calibrate', done: 1, total: 2 })
      .catch((e) => e);
    expect(err).toBeInstanceOf(LeaseLostError);
    expect(err.jobId).toBe('job_1');
    expect(srv.requests).toHaveLength(1);
    expect(JSON.parse(srv.requests[0]!.body.toString())).toEqual({ leaseToken: 'lt', progress: { stage: 'calibrate', done: 1, total: 2 } });
  });

  it('does not retry other 4xx and keeps the error code', async () => {
    srv.handle((_q, res) => json(res, 422, { error: { code: 'unknown_artifact', message: 'nope' } }));
    const err = await client()
      .complete('job_1', 'lt', { overallSparsity: null, layers: [], scores: [], artifacts: ['x'], timings: {}, extra: {} })
      .catch((e) => e);
    expect(err).toBeInstanceOf(ApiRequestError);
    expect(err.code).toBe('unknown_artifact');
    expect(srv.requests).toHaveLength(1);
  });

  it('a 409 other than lease_lost is an ApiRequestError, not a lost lease; an unknown code becomes http_<status>', async () => {
    srv.handle((_q, res) => json(res, 409, { error: { code: 'no_parts', message: 'upload has no parts yet' } }));
    const err = await client()
      .fail('job_1', 'lt', 'boom', false, 'out_of_memory')
      .then(
        () => null,
        (e: ApiRequestError) => e,
      );
    expect(err).toBeInstanceOf(ApiRequestError);
    expect(err).not.toBeInstanceOf(LeaseLostError);
    expect(err?.code).toBe('no_parts');
    expect(JSON.parse(srv.requests[0]!.body.toString())).toEqual({ leaseToken: 'lt', error: 'boom', code: 'out_of_memory', retryable: false });
    srv.handle((_q, res) => json(res, 422, { error: { code: 'from_the_future', message: 'new' } }));
    const odd = await client()
      .complete('job_1', 'lt', { overallSparsity: null, layers: [], scores: [], artifacts: [], timings: {}, extra: {} })
      .catch((e) => e);
    expect(odd.code).toBe('http_422');
    expect(odd.message).toContain('from_the_future: new');
  });

  it('gives up after the configured retries when nothing listens', async () => {
    const c = new RunnerClient({ baseUrl: await deadUrl(), token: 't', retry: { retries: 2, baseMs: 5, maxMs: 10 } });
    const err = await c.lease('r1').catch((e) => e);
    expect(err).toBeInstanceOf(UnreachableError);
    expect(err.attempts).toBe(3);
  });
});

describe('RunnerClient downloads and uploads', () => {
  const blob = Buffer.from(Array.from({ length: 200_000 }, (_, i) => (i * 7919) % 251));
  const sha = createHash('sha256').update(blob).digest('hex');

  it('resumes a dropped download with a Range request and verifies the hash', async () => {
    let first = true;
    srv.handle((req, res) => {
      const range = /bytes=(\d+)-/.exec(req.headers.range ?? '');
      if (range) {
        const from = Number(range[1]);
        res
          .writeHead(206, { 'content-length': blob.length - from, 'content-range': `bytes ${from}-${blob.length - 1}/${blob.length}` })
          .end(blob.subarray(from));
        return;
      }
      res.writeHead(200, { 'content-length': blob.length });
      if (first) {
        first = false;
        // Half the body, then the connection dies.
        res.write(blob.subarray(0, 100_000), () => setTimeout(() => req.socket.destroy(), 20));
        return;
      }
      res.end(blob);
    });
    const dest = path.join(tmp, 'input.bin');
    const got = await client().downloadInput('job_1', 'lt', 'model.onnx', dest, { sha256: sha, size: blob.length });
    expect(got).toEqual({ sha256: sha, size: blob.length });
    expect(Buffer.compare(await readFile(dest), blob)).toBe(0);
    expect(srv.requests[0]!.headers['x-lease-token']).toBe('lt');
    expect(srv.requests[0]!.url).toBe('/v1/runner/jobs/job_1/inputs/model.onnx');
    const ranged = srv.requests.filter((r) => r.headers.range);
    expect(ranged.length).toBeGreaterThanOrEqual(1);
  });

  it('fetches a range whose connection drops again from the bytes on disk, never past them', async () => {
    const MiB = 1024 * 1024;
    const big = Buffer.from(Array.from({ length: 3 * MiB + 5 }, (_, i) => (i * 7919 + 11) % 251));
    const bigSha = createHash('sha256').update(big).digest('hex');
    const chunk = 2 * MiB + 1;
    let dropped = false;
    srv.handle((req, res) => {
      const [from, to] = /bytes=(\d+)-(\d+)/
        .exec(req.headers.range ?? '')!
        .slice(1)
        .map(Number) as [number, number];
      res.writeHead(206, { 'content-length': to - from + 1, 'content-range': `bytes ${from}-${to}/${big.length}` });
      if (from === 0 && !dropped) {
        dropped = true;
        // 1.5 MiB of the first range (more than one 1 MiB write of the client), then the connection dies.
        res.write(big.subarray(0, 1.5 * MiB), () => setTimeout(() => req.socket.destroy(), 100));
        return;
      }
      res.end(big.subarray(from, to + 1));
    });
    const dest = path.join(tmp, 'ranged.bin');
    const c = new RunnerClient({ baseUrl: srv.url, token: 'tok', retry: fast, parallelDownloadBytes: 1, downloadChunkBytes: chunk });
    expect(await c.download('/blob', dest, { sha256: bigSha, size: big.length })).toEqual({ sha256: bigSha, size: big.length });
    expect(Buffer.compare(await readFile(dest), big)).toBe(0);
    const ranges = srv.requests.map((r) => r.headers.range!);
    expect(ranges).toContain(`bytes=${chunk}-${big.length - 1}`);
    // The first range again, from what reached the file: at most what was sent, and to the range's end.
    const again = ranges.filter((r) => r !== `bytes=${chunk}-${big.length - 1}`).slice(1);
    expect(again).toHaveLength(1);
    const resumedAt = Number(/bytes=(\d+)-/.exec(again[0]!)![1]);
    expect(resumedAt).toBeLessThanOrEqual(1.5 * MiB);
    expect(again[0]).toBe(`bytes=${resumedAt}-${chunk - 1}`);
  });

  it('removes a download whose hash differs and says so', async () => {
    srv.handle((_q, res) => res.writeHead(200, { 'content-length': blob.length }).end(blob));
    const dest = path.join(tmp, 'bad.bin');
    const err = await client()
      .downloadInput('job_1', 'lt', 'x', dest, { sha256: '0'.repeat(64) })
      .catch((e) => e);
    expect(err).toBeInstanceOf(IntegrityError);
    await expect(stat(dest)).rejects.toThrow();
  });

  it('uploads an artifact with its sha256 and the lease token', async () => {
    srv.handle((_q, res, body) => json(res, 201, { name: 'masks.bin', sha256: createHash('sha256').update(body).digest('hex'), size: body.length }));
    const info = await client().uploadArtifact('job_1', 'lt', 'masks.bin', new Uint8Array(blob));
    expect(info).toEqual({ name: 'masks.bin', sha256: sha, size: blob.length });
    const req = srv.requests[0]!;
    expect(req.method).toBe('PUT');
    expect(req.headers['x-lease-token']).toBe('lt');
    expect(req.headers['x-content-sha256']).toBe(sha);
  });
});
