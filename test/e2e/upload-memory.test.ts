/**
 * Uploads stay within a Workers isolate's memory (128 MB): a body at each documented limit through
 * a real `wrangler dev`, with the Worker isolate's memory read through the devtools port while it
 * runs (scripts/lib/isolate-heap.ts). The budget is on the isolate, two ways:
 * - sampled: its live memory (heap + buffers, a collection before every reading) may rise less
 *   than 64 MiB above idle;
 * - capped: workerd runs with V8's old generation capped at idle + 64 MiB, so a synchronous stretch
 *   the sampler cannot see into (a JSON artifact parsed whole) that needs more crashes the process.
 * The workerd process's RSS gets a loose bound only: it also holds the local R2 and D1 simulators,
 * and on the first R2 upload of a process it grows +90 to +190 MiB once, as much for a trivial
 * Worker that hands the body straight to R2 (its isolate +0.3 MiB) as for ours (docs/transfer.md).
 * An over-limit body is refused (413) without being read.
 */
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RunnerClient } from '@polyprune/gpu-runner/service/client';
import { IsolateHeap, usedBytes } from '../../scripts/lib/isolate-heap';
import { MiB, type Measured, measure, workerdPids } from '../../scripts/lib/workerd-memory';
import { limits } from '@polyprune/shared/api/limits';
import { formDataBody } from '@polyprune/shared/form-data';
import { seed, type Seeded, startTestStack, type TestStack } from './helpers';

const BUDGET = 64 * MiB;
/** our isolate idles at ~8 MiB live: the cap leaves it the budget */
const HEAP_CAP_MIB = 8 + BUDGET / MiB;
/** workerd's whole process: the one-time growth above plus the simulators' share of each upload */
const RSS_BOUND = 4 * BUDGET;
const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

/** Incompressible bytes (a model file), quickly. */
function bytesOf(n: number): Buffer {
  const b = Buffer.allocUnsafe(n);
  let x = 0x9e3779b9;
  for (let i = 0; i + 4 <= n; i += 4) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    b.writeUInt32LE(x >>> 0, i);
  }
  return b;
}

/** Lines `line(i)` up to about `n` bytes. */
function linesOf(n: number, line: (i: number) => string): Buffer {
  const lines: string[] = [];
  let size = 0;
  for (let i = 0; size < n - 300; i++) {
    const l = line(i);
    lines.push(l);
    size += Buffer.byteLength(l);
  }
  return Buffer.from(lines.join(''));
}

const en = (i: number) => `The committee reviewed proposal number ${i} and found it sound in every respect.`;
const de = (i: number) => `Der Ausschuss prüfte den Vorschlag Nummer ${i} und fand ihn in jeder Hinsicht solide.`;
/** A TSV corpus of about `n` bytes: distinct, valid sentence pairs. */
const tsvOf = (n: number) => linesOf(n, (i) => `${en(i)}\t${de(i)}\n`);
/** A plain-text (ppl) suite of about `n` bytes: distinct passages. */
const pplOf = (n: number) => linesOf(n, (i) => `${de(i)} Wie schon die vorigen.\n`);

/**
 * A valid lmf.json of at most `n` bytes: a report with per-dimension magnitudes for a 2048-wide,
 * 32-block model, in as many language pairs as fit (what makes a real one large).
 */
function lmfReportOf(n: number): Buffer {
  const dim = 2048;
  const k = 16;
  const mags = Array.from({ length: dim }, (_, i) => Number((((i * 7919) % 100_003) / 1009.123).toFixed(10)));
  const block = (b: number) => ({
    block: b,
    tokens: 4000,
    top: Array.from({ length: k }, (_, i) => (i * 37 + b) % dim),
    topMagnitudes: Array.from({ length: k }, (_, i) => 90 - i),
    bottom: Array.from({ length: k }, (_, i) => (i * 53 + b + 1) % dim),
    bottomMagnitudes: Array.from({ length: k }, (_, i) => 0.01 * (i + 1)),
    magnitudes: mags,
  });
  const pair = (p: number) => ({
    pair: `l${p}-en`,
    translation: Array.from({ length: 32 }, (_, b) => block(b)),
    monolingual: Array.from({ length: 32 }, (_, b) => block(b)),
  });
  const report = (pairs: number) =>
    JSON.stringify({
      version: 1,
      magnitude: 'rms-over-tokens',
      k,
      blocks: 32,
      dim,
      pairs: Array.from({ length: pairs }, (_, p) => pair(p)),
      overlap: { labels: Array.from({ length: pairs }, (_, p) => `l${p}-en`), translation: [] },
    });
  const per = report(2).length - report(1).length;
  let pairs = Math.max(1, Math.floor((n - report(1).length) / per) + 1);
  let text = report(pairs);
  while (text.length > n && pairs > 1) text = report(--pairs);
  return Buffer.from(text);
}

describe('upload memory in workerd', () => {
  let t: TestStack;
  let s: Seeded;
  let pids: number[];
  let heap: IsolateHeap;
  let modelId: string;
  const send = (path: string, init: RequestInit) =>
    fetch(t.stack.url + path, { ...init, headers: { authorization: `Bearer ${t.stack.adminToken}`, ...init.headers } });
  beforeAll(async () => {
    // --expose-gc lets the test collect the isolate's garbage before each sample (IsolateHeap.collect).
    // The cap holds for every isolate of the process (the R2 and D1 simulators' too; they stream).
    t = await startTestStack({ runners: 0, workerdV8Flags: ['--expose-gc', `--max-old-space-size=${HEAP_CAP_MIB}`] });
    pids = workerdPids(t.stack.worker.child.pid!);
    expect(pids.length).toBeGreaterThan(0);
    heap = await IsolateHeap.connect(t.stack.worker.inspectorPort);
    const res = await send('/v1/models', {
      method: 'POST',
      body: JSON.stringify({ name: 'mem', family: 'gpt2' }),
      headers: { 'content-type': 'application/json' },
    });
    modelId = ((await res.json()) as { id: string }).id;
  }, 180_000);
  afterAll(async () => {
    heap?.close();
    await t?.close();
  });

  /** What wrangler printed last: a workerd out of heap says so there ("Fatal JavaScript out of memory", then a restart). */
  const wranglerSaid = () => `wrangler's output ends:\n${t.stack.worker.output().slice(-3000)}`;
  const run = async <T>(fn: () => Promise<T>) => {
    try {
      return await measure(pids, heap, fn, { live: true });
    } catch (err) {
      throw new Error(`${(err as Error).message}\n${wranglerSaid()}`);
    }
  };
  /** Prints the figures and holds them to the budget; first, so that a crash is named before a bad status. */
  const check = (what: string, m: Measured<unknown>) => {
    expect(m.isolate.error, `the devtools socket failed: workerd over its ${HEAP_CAP_MIB} MiB heap cap?\n${wranglerSaid()}`).toBeUndefined();
    const f = (b: number) => (b / MiB).toFixed(1);
    const live = m.isolate.live!;
    console.log(
      `${what}: isolate live +${f(live.above)} MiB above idle (${f(usedBytes(m.isolate.idle))} MiB; at the peak heap ${f(live.peak.used)}, buffers ${f(live.peak.backing)}), committed +${f(m.isolate.footprint.above)} MiB ` +
        `(${m.isolate.samples} samples); workerd RSS +${f(m.rss.above)} MiB above idle (${f(m.rss.idle)} MiB)`,
    );
    expect(m.isolate.samples).toBeGreaterThan(1);
    expect(live.above).toBeLessThan(BUDGET);
    expect(m.rss.above).toBeLessThan(RSS_BOUND);
  };

  // First: on a fresh workerd this pays the process's one-time R2 growth (in RSS, not in the isolate).
  it('a model file of the single-PUT limit streams to R2', async () => {
    const body = bytesOf(limits.singlePutBytes);
    const m = await run(() => send(`/v1/models/${modelId}/files/w.bin`, { method: 'PUT', body, headers: { 'x-content-sha256': sha(body) } }));
    check('model PUT 95 MiB', m);
    expect(m.result.status).toBe(201);
  }, 180_000);

  it('a model file of the single-PUT limit sent chunked goes on in 5 MiB parts', async () => {
    const bytes = bytesOf(limits.singlePutBytes);
    // no Content-Length: a stream body goes out chunked
    const body = new ReadableStream<Uint8Array>({
      start(ctl) {
        for (let at = 0; at < bytes.length; at += 4 * MiB) ctl.enqueue(bytes.subarray(at, at + 4 * MiB));
        ctl.close();
      },
    });
    const m = await run(() => send(`/v1/models/${modelId}/files/c.bin`, { method: 'PUT', body, duplex: 'half' } as RequestInit));
    check('model PUT 95 MiB, chunked', m);
    expect(m.result.status).toBe(201);
    expect(((await m.result.json()) as { sha256: string }).sha256).toBe(sha(bytes));
  }, 180_000);

  it('a multipart part of the part limit streams to R2', async () => {
    const start = await send(`/v1/models/${modelId}/files/p.bin/uploads`, { method: 'POST' });
    const { uploadId } = (await start.json()) as { uploadId: string };
    const body = bytesOf(limits.partBytes);
    const m = await run(() => send(`/v1/models/${modelId}/files/p.bin/uploads/${uploadId}/parts/1`, { method: 'PUT', body }));
    check('model part 100 MiB', m);
    expect(m.result.status).toBe(200);
    const done = await send(`/v1/models/${modelId}/files/p.bin/uploads/${uploadId}/complete`, { method: 'POST', headers: { 'x-content-sha256': sha(body) } });
    expect(done.status).toBe(201);
  }, 180_000);

  it('an over-limit body is refused by its Content-Length, unread', async () => {
    const body = bytesOf(limits.singlePutBytes + MiB);
    const m = await run(() => send(`/v1/models/${modelId}/files/big.bin`, { method: 'PUT', body }));
    check('model PUT over the limit (413)', m);
    expect(m.result.status).toBe(413);
    expect(((await m.result.json()) as { error: { code: string } }).error.code).toBe('payload_too_large');
    // Reading the 96 MiB body would add ≥ 96 MiB to the process; it also moves with workerd's own
    // collection (+0.3 to +33 MiB seen under load), so the budget, not a tighter bound.
    expect(m.rss.above).toBeLessThan(BUDGET);
  }, 180_000);

  it('a corpus of the dataset limit is validated as it streams', async () => {
    const body = tsvOf(limits.datasetBytes - 1024);
    const m = await run(() => send('/v1/corpora?src=eng_Latn&tgt=deu_Latn&format=tsv', { method: 'POST', body }));
    check(`corpus TSV ${(body.length / MiB).toFixed(0)} MiB`, m);
    expect(m.result.status).toBe(201);
  }, 180_000);

  it('a two-file corpus form of its limit is read whole and paired', async () => {
    // line i of each file is one pair: as many lines as fit the form
    const pairBytes = Buffer.byteLength(`${en(99_999)}\n${de(99_999)}\n`);
    const n = Math.floor((limits.twoFileFormBytes - 1024) / pairBytes);
    const file = (line: (i: number) => string) => Buffer.from(Array.from({ length: n }, (_, i) => `${line(i)}\n`).join(''));
    const form = formDataBody([
      { name: 'src', filename: 'src.txt', bytes: file(en) },
      { name: 'tgt', filename: 'tgt.txt', bytes: file(de) },
    ]);
    expect(form.body.length).toBeLessThanOrEqual(limits.twoFileFormBytes);
    expect(form.body.length).toBeGreaterThan(limits.twoFileFormBytes * 0.95);
    const m = await run(() =>
      send('/v1/corpora?src=eng_Latn&tgt=deu_Latn', { method: 'POST', body: form.body, headers: { 'content-type': form.contentType } }),
    );
    check(`corpus two-file form ${(form.body.length / MiB).toFixed(0)} MiB`, m);
    expect(m.result.status, await m.result.clone().text()).toBe(201);
  }, 180_000);

  it('a suite of the dataset limit is validated as it streams', async () => {
    const body = pplOf(limits.datasetBytes - 1024);
    const m = await run(() => send('/v1/suites?format=ppl&lang=de', { method: 'POST', body }));
    check(`suite ppl ${(body.length / MiB).toFixed(0)} MiB`, m);
    expect(m.result.status).toBe(201);
  }, 180_000);

  it('a suite of the dataset limit with a subset drawn holds only labels', async () => {
    const body = pplOf(limits.datasetBytes - 2048);
    const m = await run(() => send('/v1/suites?format=ppl&lang=de&subset=1000&seed=3', { method: 'POST', body }));
    check(`suite ppl ${(body.length / MiB).toFixed(0)} MiB, subset 1000`, m);
    expect(m.result.status).toBe(201);
    expect(((await m.result.json()) as { stats: { subset: { n: number } } }).stats.subset.n).toBe(1000);
  }, 180_000);

  it('a JSON artifact of its limit is checked whole at completion', async () => {
    s = await seed(t.api);
    const job = await t.api.createJob({ kind: 'evaluate', modelId: s.modelId, suites: [s.suites[0]!.id] });
    const client = new RunnerClient({ baseUrl: t.stack.url, token: t.stack.runnerToken });
    const lease = (await client.lease('memory-test'))!;
    expect(lease.job.id).toBe(job.id);
    const lmf = lmfReportOf(limits.jsonArtifactBytes);
    expect(lmf.length).toBeLessThanOrEqual(limits.jsonArtifactBytes);
    expect(lmf.length).toBeGreaterThan(limits.jsonArtifactBytes * 0.9);
    await client.uploadArtifact(job.id, lease.leaseToken, 'lmf.json', new Uint8Array(lmf));
    const m = await run(() =>
      client.complete(job.id, lease.leaseToken, { overallSparsity: null, layers: [], scores: [], artifacts: ['lmf.json'], timings: {}, extra: {} }),
    );
    check(`lmf.json ${(lmf.length / MiB).toFixed(1)} MiB at completion`, m);
    expect(m.result.runId).toBeTruthy();
  }, 180_000);
});
