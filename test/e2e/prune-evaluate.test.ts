/**
 * The whole service end to end: a prune job and evaluate jobs through the HTTP API, run by a real
 * runner process against a real `wrangler dev`, then the run, its artifacts and the leaderboard.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeStats } from '@polyprune/gpu-runner/calibrate/stats-file';
import { unpackMasks } from '@polyprune/gpu-runner/prune/pack';
import { decodeSamples } from '@polyprune/gpu-runner/service/samples';
import { modelDir, pruneSpec, seed, type Seeded, startTestStack, type TestStack, waitJob } from './helpers';

describe('prune + evaluate through the API', () => {
  let t: TestStack;
  let s: Seeded;

  beforeAll(async () => {
    t = await startTestStack();
    s = await seed(t.api);
  });
  afterAll(async () => {
    await t?.close();
  });

  it('prunes to the requested sparsity, stores the artifacts and ranks the variant against dense', async () => {
    const dense = await t.api.createJob({ kind: 'evaluate', modelId: s.modelId, suites: s.suites.map((x) => x.id) });
    const prune = await t.api.createJob(pruneSpec(s));
    expect(prune.status).toBe('queued');

    const denseDone = await waitJob(t.api, dense.id, (j) => j.status !== 'queued' && j.status !== 'running');
    expect(denseDone.status, denseDone.error ?? '').toBe('succeeded');
    const done = await waitJob(t.api, prune.id, (j) => j.status !== 'queued' && j.status !== 'running');
    expect(done.status, done.error ?? '').toBe('succeeded');
    expect(done.attempts).toBe(1);
    expect(done.progress?.stage).toBe('done');

    const run = await t.api.getRun(done.runId!);
    expect(run.jobId).toBe(prune.id);
    expect(run.overallSparsity).toBeCloseTo(0.5, 6);
    expect(run.layers.length).toBeGreaterThan(0);
    for (const l of run.layers) expect(l.sparsity).toBeCloseTo(Math.floor(l.dIn * 0.5) / l.dIn, 9);
    const names = run.artifacts.map((a) => a.name);
    expect(names).toEqual(expect.arrayContaining(['masks.bin', 'stats.bin', 'lmf.json', 'model.onnx']));

    // The mask artifact itself, unpacked: every output neuron lost exactly ⌊dIn·p⌋ weights.
    const { masks } = unpackMasks(await t.api.runArtifact(run.id, 'masks.bin'));
    expect(masks.map((m) => m.id).sort()).toEqual(run.layers.map((l) => l.id).sort());
    let pruned = 0;
    let total = 0;
    for (const m of masks) {
      for (let o = 0; o < m.dOut; o++) {
        let dropped = 0;
        for (let i = 0; i < m.dIn; i++) if (m.keep[i * m.dOut + o] === 0) dropped++;
        expect(dropped).toBe(Math.floor(m.dIn * 0.5));
      }
      for (const k of m.keep) if (k === 0) pruned++;
      total += m.keep.length;
    }
    expect(pruned / total).toBeCloseTo(run.overallSparsity!, 9);

    // One score per (suite, scoring, metric), for both languages.
    const acc = run.scores.filter((x) => x.metric === 'acc');
    expect(acc.map((x) => x.lang).sort()).toEqual(['en', 'fr']);
    for (const x of acc) {
      expect(x.value).toBeGreaterThanOrEqual(0);
      expect(x.value).toBeLessThanOrEqual(1);
      expect(x.n).toBe(12);
    }

    // Evaluating the pruned run again (rebuilt from masks.bin) gives the same accuracies.
    const again = await t.api.createJob({ kind: 'evaluate', modelId: s.modelId, runId: run.id, suites: s.suites.map((x) => x.id) });
    const againDone = await waitJob(t.api, again.id, (j) => j.status !== 'queued' && j.status !== 'running');
    expect(againDone.status, againDone.error ?? '').toBe('succeeded');
    const rerun = await t.api.getRun(againDone.runId!);
    expect(rerun.overallSparsity).toBeCloseTo(run.overallSparsity!, 9);
    for (const x of acc) {
      const y = rerun.scores.find((r) => r.suiteId === x.suiteId && r.metric === 'acc')!;
      expect(y.value).toBeCloseTo(x.value, 9);
    }

    const board = await t.api.leaderboard({ model: s.modelId, format: 'mc', metric: 'acc' });
    expect(board.languages.sort()).toEqual(['en', 'fr']);
    const denseRow = board.rows.find((r) => r.variant === 'dense');
    const wandaRow = board.rows.find((r) => r.method === 'wanda');
    expect(denseRow).toBeDefined();
    expect(wandaRow).toBeDefined();
    expect(wandaRow!.sparsity).toBe(0.5);
    expect(wandaRow!.calibration).toBe('mt:fr-en');
    const frAcc = acc.find((x) => x.lang === 'fr')!;
    // Cells are keyed by column (suite, rows, template language): one column per suite here.
    const columnOf = (suiteId: string) => {
      const cols = board.columns.filter((c) => c.suiteId === suiteId);
      expect(cols).toHaveLength(1);
      return cols[0]!.key;
    };
    expect(wandaRow!.cells[columnOf(frAcc.suiteId)]!.value).toBeCloseTo(frAcc.value, 9);
    expect(wandaRow!.deltaVsDense).toBeCloseTo(wandaRow!.mean! - denseRow!.mean!, 9);

    // The runner bootstrapped the pruned model against dense on the same rows: its Δ is exactly
    // the difference of the two runs' accuracies, and the p-values reach the leaderboard.
    const denseRun = await t.api.getRun(denseRow!.runId);
    for (const x of acc) {
      const delta = run.scores.find((r) => r.suiteId === x.suiteId && r.metric === 'acc_delta')!;
      const denseAcc = denseRun.scores.find((r) => r.suiteId === x.suiteId && r.metric === 'acc')!;
      expect(delta.value).toBeCloseTo(x.value - denseAcc.value, 9);
      const p = run.scores.find((r) => r.suiteId === x.suiteId && r.metric === 'acc_delta_p')!.value;
      expect(p).toBeGreaterThan(0);
      expect(p).toBeLessThanOrEqual(1);
      expect(wandaRow!.cells[columnOf(x.suiteId)]!.p).toBe(p);
    }

    // The dense run kept its per-row results; accuracy recomputed from them is the reported one.
    expect(denseRun.artifacts.map((a) => a.name)).toContain('samples.jsonl.gz');
    const { header, rows } = decodeSamples(await t.api.runArtifact(denseRun.id, 'samples.jsonl.gz'));
    expect(header.dense).toBe(true);
    for (const x of acc) {
      const r = rows.get(`${x.suiteId}/paper`)!;
      expect(r).toHaveLength(12);
      for (const p of r) expect(p.logLikelihoods!.length).toBe(p.tokens!.length);
      const denseAcc = denseRun.scores.find((q) => q.suiteId === x.suiteId && q.metric === 'acc')!.value;
      expect(r.filter((p) => p.correct).length / r.length).toBeCloseTo(denseAcc, 12);
    }
    // The evaluation of the pruned run bootstrapped against stored dense rows, scoring dense not once,
    // and got the prune job's figures exactly.
    expect(rerun.extra.bootstrapDense).toEqual({ reused: acc.length, scored: 0 });
    for (const x of acc) {
      const p = (r: typeof run) => r.scores.find((q) => q.suiteId === x.suiteId && q.metric === 'acc_delta_p')!.value;
      expect(p(rerun)).toBe(p(run));
    }

    const page = await fetch(t.api.leaderboardPageUrl(s.modelId), { headers: { authorization: `Bearer ${t.stack.adminToken}` } });
    expect(page.status).toBe(200);
    expect(await page.text()).toContain(wandaRow!.variant);
  });

  it('reuses oneshot statistics for a new sparsity: same stats, no forward pass, nested masks', async () => {
    const first = await t.api.createJob(pruneSpec(s, { mode: 'oneshot', sparsity: 0.4 }));
    const a = await waitJob(t.api, first.id, (j) => j.status !== 'queued' && j.status !== 'running');
    expect(a.status, a.error ?? '').toBe('succeeded');
    const second = await t.api.createJob(pruneSpec(s, { mode: 'oneshot', sparsity: 0.6 }));
    const b = await waitJob(t.api, second.id, (j) => j.status !== 'queued' && j.status !== 'running');
    expect(b.status, b.error ?? '').toBe('succeeded');
    const [ra, rb] = [await t.api.getRun(a.runId!), await t.api.getRun(b.runId!)];
    expect(rb.extra.statsReusedFrom).toBe(ra.id);
    expect(rb.extra.calibrationRuns).toBeUndefined();
    const sa = decodeStats(await t.api.runArtifact(ra.id, 'stats.bin')).stats;
    const sb = decodeStats(await t.api.runArtifact(rb.id, 'stats.bin')).stats;
    expect([...sb.keys()]).toEqual([...sa.keys()]);
    for (const [id, l] of sa) expect(Array.from(sb.get(id)!.sqNorm)).toEqual(Array.from(l.sqNorm));
    // Same scores, higher sparsity: every weight pruned at 40% is pruned at 60% too.
    const ma = unpackMasks(await t.api.runArtifact(ra.id, 'masks.bin')).masks;
    const mb = new Map(unpackMasks(await t.api.runArtifact(rb.id, 'masks.bin')).masks.map((m) => [m.id, m]));
    for (const m of ma) {
      const keepB = mb.get(m.id)!.keep;
      for (let i = 0; i < m.keep.length; i++) if (m.keep[i] === 0) expect(keepB[i]).toBe(0);
    }
  });

  it('uploads a model file in multipart parts and stores the same bytes', async () => {
    const m = modelDir();
    const file = path.join(m.dir, 'model.onnx');
    const bytes = await readFile(file);
    const model = await t.api.createModel({ name: 'multipart', family: m.family });
    // Limits lowered so that a small file takes the path a >90 MB file takes; R2 parts are >= 5 MiB.
    const parts: number[] = [];
    const partSize = 5 * 1024 * 1024;
    const up = await t.api.uploadModelFile(model.id, file, { singleLimit: 1024, partSize, onBytes: (d) => parts.push(d) });
    expect(up.sha256).toBe(createHash('sha256').update(bytes).digest('hex'));
    expect(up.size).toBe(bytes.length);
    expect(parts).toHaveLength(Math.ceil(bytes.length / partSize));
    const stored = (await t.api.getModel(model.id)).files.find((f) => f.name === 'model.onnx');
    expect(stored?.sha256).toBe(up.sha256);
  });
});
