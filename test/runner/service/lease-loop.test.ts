/**
 * The lease loop against a real loopback HTTP server that plays the API's runner protocol:
 * what gets reported (complete / fail / nothing) for each way a job can end.
 */
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { UnsupportedModel } from '@polyprune/gpu-runner/model/preflight';
import { IntegrityError, RunnerClient } from '@polyprune/gpu-runner/service/client';
import type { RunResult } from '@polyprune/gpu-runner/service/protocol';
import { failureCode, type JobHandler, RetryableError, Runner, ShutdownError } from '@polyprune/gpu-runner/service/lease-loop';
import { leasedJob } from '../../helpers/jobs';
import { json, startServer, type TestServer } from '../../helpers/server';

const job = leasedJob({ kind: 'evaluate', modelId: 'mdl_1', suites: ['s1'] });
const result: RunResult = { overallSparsity: null, layers: [], scores: [], artifacts: [], timings: {}, extra: {} };

let srv: TestServer;
let tmp: string;
/** Set per test: whether heartbeats answer 409. */
let leaseLost = false;
let leased = false;
/** Set per test: the job's inputs as leased, and the bytes the server holds for each. */
let inputs: Array<{ name: string; role: string; sha256: string; size: number; meta: Record<string, unknown> }> = [];
let stored = new Map<string, Buffer>();

beforeAll(async () => {
  srv = await startServer();
  tmp = await mkdtemp(path.join(os.tmpdir(), 'pp-loop-'));
  srv.handle((req, res) => {
    const url = req.url!;
    if (url === '/v1/runner/lease') {
      if (leased) return res.writeHead(204).end();
      leased = true;
      // A 1.5 s lease: heartbeats every 500 ms.
      return json(res, 200, { job, leaseToken: 'lt', leaseExpiresAt: new Date(Date.now() + 1500).toISOString(), inputs });
    }
    const input = /\/inputs\/([^/]+)$/.exec(url);
    if (input && stored.has(decodeURIComponent(input[1]!))) {
      const bytes = stored.get(decodeURIComponent(input[1]!))!;
      const range = /^bytes=(\d+)-(\d*)$/.exec(String(req.headers.range ?? ''));
      if (!range) return res.writeHead(200, { 'content-length': bytes.length }).end(bytes);
      const from = Number(range[1]);
      const to = range[2] ? Number(range[2]) : bytes.length - 1;
      res.writeHead(206, { 'content-length': to - from + 1, 'content-range': `bytes ${from}-${to}/${bytes.length}` });
      return res.end(bytes.subarray(from, to + 1));
    }
    if (url.endsWith('/heartbeat'))
      return leaseLost ? json(res, 409, { error: { code: 'lease_lost', message: 'canceled' } }) : json(res, 200, { leaseExpiresAt: new Date().toISOString() });
    if (url.endsWith('/complete')) return json(res, 200, { runId: 'run_1' });
    if (url.endsWith('/fail')) return json(res, 200, job);
    res.writeHead(404).end();
  });
});
afterAll(async () => {
  await srv.close();
  await rm(tmp, { recursive: true, force: true });
});
afterEach(() => {
  srv.requests.length = 0;
  leaseLost = false;
  leased = false;
  inputs = [];
  stored = new Map();
});

function runner(handler: JobHandler, o: { parallelDownloadBytes?: number; downloadChunkBytes?: number } = {}) {
  const client = new RunnerClient({ baseUrl: srv.url, token: 't', retry: { retries: 1, baseMs: 5, maxMs: 5 }, ...o });
  return new Runner({ client, handler, workdir: tmp, runnerId: 'r', device: 'cpu', pollMs: 20, maxJobs: 1, log: () => {} });
}
const calls = (suffix: string) => srv.requests.filter((r) => r.url.endsWith(suffix)).map((r) => JSON.parse(r.body.toString()));
/** Resolves at the first request the server receives with this suffix whose body passes `pred`. */
function received(suffix: string, pred: (body: { progress?: { stage?: string } }) => boolean = () => true): Promise<void> {
  return new Promise((resolve) => {
    const check = () => {
      if (srv.requests.some((r) => r.url.endsWith(suffix) && pred(JSON.parse(r.body.toString() || '{}')))) resolve();
      else setImmediate(check);
    };
    check();
  });
}
const aborted = (signal: AbortSignal) => new Promise<void>((r) => (signal.aborted ? r() : signal.addEventListener('abort', () => r(), { once: true })));

describe('failureCode', () => {
  it('names the reason of a failure report by the error type', () => {
    expect(failureCode(new ShutdownError())).toBe('shutting_down');
    expect(failureCode(new UnsupportedModel('no graph'))).toBe('unsupported_model');
    expect(failureCode(new IntegrityError('a', 'b', 'model.onnx'))).toBe('input_mismatch');
    expect(failureCode(new RangeError('Array buffer allocation failed'))).toBe('out_of_memory');
    expect(failureCode(new Error('anything else'))).toBe('internal');
    expect(failureCode('not even an Error')).toBe('internal');
  });
});

describe('Runner', () => {
  // The sha256 of a multipart upload is its uploader's word; the runner checks it as it downloads.
  for (const [how, o] of [
    ['in one stream', {}],
    ['in parallel ranges', { parallelDownloadBytes: 1000, downloadChunkBytes: 777 }],
  ] as const) {
    it(`fails the job as corrupt_input when an input's stored bytes do not match its recorded sha256 (${how})`, async () => {
      const bytes = Buffer.from(Uint8Array.from({ length: 5000 }, (_, i) => (i * 7 + 3) % 251));
      const actual = createHash('sha256').update(bytes).digest('hex');
      const recorded = createHash('sha256').update('the bytes the uploader meant').digest('hex');
      inputs = [{ name: 'model.onnx.data', role: 'model', sha256: recorded, size: bytes.length, meta: {} }];
      stored.set('model.onnx.data', bytes);
      let reached = false;
      await runner(async (ctx) => {
        await ctx.input('model.onnx.data');
        reached = true;
        return result;
      }, o).run();
      expect(reached).toBe(false);
      expect(calls('/complete')).toEqual([]);
      const [fail] = calls('/fail');
      expect(fail).toMatchObject({ leaseToken: 'lt', code: 'corrupt_input', retryable: false });
      expect(fail.error).toContain('input "model.onnx.data" is corrupt');
      expect(fail.error).toContain(`hash to ${actual}`);
      expect(fail.error).toContain(`recorded with sha256 ${recorded}`);
      // Downloaded twice (a transfer error would not repeat the same hash), and nothing cached under the recorded hash.
      const fetched = srv.requests.filter((r) => r.url.endsWith('/inputs/model.onnx.data'));
      expect(fetched).toHaveLength(how === 'in one stream' ? 2 : 2 * Math.ceil(bytes.length / 777));
      await expect(stat(path.join(tmp, 'cache', 'sha256', recorded))).rejects.toThrow();
    });
  }

  it('downloads a large input in parallel ranges, byte-exact, and verifies it', async () => {
    const bytes = Buffer.from(Uint8Array.from({ length: 10_000 }, (_, i) => (i * 13 + 5) % 251));
    const sha = createHash('sha256').update(bytes).digest('hex');
    inputs = [{ name: 'model.onnx', role: 'model', sha256: sha, size: bytes.length, meta: {} }];
    stored.set('model.onnx', bytes);
    let got: Buffer | undefined;
    await runner(
      async (ctx) => {
        got = await readFile(await ctx.input('model.onnx'));
        return result;
      },
      { parallelDownloadBytes: 1000, downloadChunkBytes: 1500 },
    ).run();
    expect(calls('/fail')).toEqual([]);
    expect(Buffer.compare(got!, bytes)).toBe(0);
    const ranges = srv.requests.filter((r) => r.url.endsWith('/inputs/model.onnx')).map((r) => r.headers.range);
    expect(ranges.sort()).toEqual([0, 1500, 3000, 4500, 6000, 7500, 9000].map((s) => `bytes=${s}-${Math.min(s + 1499, 9999)}`).sort());
  });

  it('reports the handler result with complete, and progress with heartbeats', async () => {
    await runner(async (ctx) => {
      ctx.progress('evaluate', 1, 2);
      // A new stage is reported at once, not at the next timer beat.
      await received('/heartbeat', (b) => b.progress?.stage === 'evaluate');
      return result;
    }).run();
    expect(calls('/complete')).toEqual([{ leaseToken: 'lt', result }]);
    expect(calls('/fail')).toEqual([]);
    expect(calls('/heartbeat').some((b) => b.progress?.stage === 'evaluate' && b.progress.done === 1)).toBe(true);
  });

  it('a stage told while a heartbeat is in flight is sent right after it, not at the next timer beat', async () => {
    const client = new RunnerClient({ baseUrl: srv.url, token: 't', retry: { retries: 1, baseMs: 5, maxMs: 5 } });
    const handler: JobHandler = async (ctx) => {
      ctx.progress('first', 0, 1);
      // The 'first' beat is still in flight: the step's beat must not be dropped.
      await ctx.step('second', async () => {
        const timeout = new Promise<never>((_, reject) => setTimeout(() => reject(new Error('no heartbeat for stage second')), 3000));
        await Promise.race([received('/heartbeat', (b) => b.progress?.stage === 'second'), timeout]);
      });
      return result;
    };
    // Timer beats a minute apart: only the stage changes send anything during this job.
    await new Runner({ client, handler, workdir: tmp, runnerId: 'r', device: 'cpu', pollMs: 20, maxJobs: 1, heartbeatMs: 60_000, log: () => {} }).run();
    // The follow-up beat carries the latest progress: 'first' may be skipped, 'second' may not.
    expect(calls('/heartbeat').map((b) => b.progress?.stage)).toContain('second');
    expect(calls('/complete')).toHaveLength(1);
  });

  it('fails a job whose handler throws; retryable only for retryable errors', async () => {
    await runner(async () => {
      throw new Error('model.onnx has no logits output');
    }).run();
    expect(calls('/fail')).toEqual([{ leaseToken: 'lt', error: 'model.onnx has no logits output', code: 'internal', retryable: false }]);
    srv.requests.length = 0;
    leased = false;
    await runner(async () => {
      throw new RetryableError('disk full');
    }).run();
    expect(calls('/fail')).toEqual([{ leaseToken: 'lt', error: 'RetryableError: disk full', code: 'internal', retryable: true }]);
    expect(calls('/complete')).toEqual([]);
  });

  it('never reports a malformed (partial) result as complete', async () => {
    await runner(async () => ({ ...result, overallSparsity: 7 }) as RunResult).run();
    expect(calls('/complete')).toEqual([]);
    expect(calls('/fail')).toHaveLength(1);
  });

  it('stops a job at its next progress report once the lease is lost, and reports nothing', async () => {
    let reached = 0;
    leaseLost = true;
    await runner(async (ctx) => {
      for (let i = 0; i < 100; i++) {
        ctx.progress('calibrate', i, 100);
        reached = i;
        // The new stage's heartbeat answers 409: the lease is lost, and the next report throws.
        if (i === 0) await aborted(ctx.signal);
      }
      return result;
    }).run();
    expect(reached).toBe(0);
    expect(calls('/complete')).toEqual([]);
    expect(calls('/fail')).toEqual([]);
  });

  it('on stop finishes the current step, then hands the job back as retryable', async () => {
    const steps: string[] = [];
    const r = runner(async (ctx) => {
      await ctx.step('calibrate', async () => {
        r.requestStop();
        await Promise.resolve();
        steps.push('calibrate');
      });
      await ctx.step('evaluate', async () => steps.push('evaluate'));
      return result;
    });
    await r.run();
    expect(steps).toEqual(['calibrate']);
    const fails = calls('/fail');
    expect(fails).toHaveLength(1);
    expect(fails[0].retryable).toBe(true);
    expect(fails[0].error).toMatch(/shutting down/);
  });
});
