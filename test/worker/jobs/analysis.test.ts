/**
 * Analyze jobs in workerd with real D1/R2: what can be compared (refusals name the problem, nothing
 * is created), what the lease hands out, when a sweep's analysis becomes leasable, and how the
 * result is recorded, served and shown.
 */
import { env } from 'cloudflare:workers';
import { beforeAll, describe, expect, it } from 'vitest';
import type { z } from 'zod';
import { type MaskAnalysis, summarize } from '@polyprune/shared/api/analysis';
import type { createSweepBody } from '@polyprune/shared/api/jobs';
import { lease, leaseJob, lmfReport, makeWorld, pruneSpec, type World } from '../fixtures';
import { call, expectErrorShape, makeToken, sha256 } from '../helpers';
import { graph, model, tensor } from '../onnx-writer';

let w: World;
const LAYERS = [
  { id: 'block0.q', sparsity: 0.5, dIn: 4, dOut: 4 },
  { id: 'block0.fc2', sparsity: 0.5, dIn: 8, dOut: 4 },
];

async function drainQueue(runner = w.runner) {
  while ((await lease(runner, 'drain')).status === 200) {}
}

/** A finished prune run, reported through the runner protocol with the artifacts asked for. */
async function prunedRun(
  o: { extra?: Record<string, unknown>; layers?: typeof LAYERS; masks?: boolean; lmf?: boolean; spec?: Record<string, unknown>; world?: World } = {},
) {
  const world = o.world ?? w;
  const job = await call('POST', '/v1/jobs', { token: world.writer, json: pruneSpec(world, { suites: [], ...o.spec }) });
  expect(job.status, JSON.stringify(job.body)).toBe(201);
  return finish(world, job.body.id, o);
}

async function finish(world: World, jobId: string, o: { extra?: Record<string, unknown>; layers?: typeof LAYERS; masks?: boolean; lmf?: boolean } = {}) {
  const l = await leaseJob(world.runner, jobId);
  const headers = { 'x-lease-token': l.leaseToken };
  const artifacts: string[] = [];
  if (o.masks !== false) {
    await call('PUT', `/v1/runner/jobs/${jobId}/artifacts/masks.bin`, { token: world.runner, body: new Uint8Array([1, 2, 3, jobId.length]), headers });
    artifacts.push('masks.bin');
  }
  if (o.lmf) {
    await call('PUT', `/v1/runner/jobs/${jobId}/artifacts/lmf.json`, { token: world.runner, body: JSON.stringify(lmfReport()), headers });
    artifacts.push('lmf.json');
  }
  const done = await call('POST', `/v1/runner/jobs/${jobId}/complete`, {
    token: world.runner,
    json: { leaseToken: l.leaseToken, result: { overallSparsity: 0.5, layers: o.layers ?? LAYERS, artifacts, extra: o.extra ?? {} } },
  });
  expect(done.status, JSON.stringify(done.body)).toBe(200);
  return done.body.runId as string;
}

const figures = (jaccard: number) => ({
  prunedA: 8,
  prunedB: 8,
  both: 4,
  either: 12,
  expectedBoth: 4,
  jaccard,
  jaccardChance: 1 / 3,
  rows: 4,
  rowsIdentical: 1,
  differing: 8,
  differingInLmf: null,
  expectedInLmf: null,
});

/** A small analysis of the contract's shape over the given runs (what a runner would upload). */
function analysisOf(runIds: string[]): MaskAnalysis {
  const n = runIds.length;
  const m = (diag: number | null, off: number | null) => runIds.map((_, i) => runIds.map((__, j) => (i === j ? diag : off)));
  const pairs = [];
  for (let a = 0; a < n; a++) for (let b = a + 1; b < n; b++) pairs.push({ a, b, overall: figures(0.4), layers: [figures(0.4)] });
  return {
    version: 1,
    kind: 'mask-overlap',
    modelSha256: null,
    runs: runIds.map((runId, i) => ({ runId, label: `run ${i}`, variant: 'wanda 50% mt:fr-en', lmfPair: null })),
    layers: [{ id: 'block0.q', block: 0, role: 'q', dIn: 4, dOut: 4, lmfBlock: null, lmfChannels: null }],
    pairs,
    matrices: { jaccard: m(1, 0.4), jaccardChance: m(null, 1 / 3), rowsIdentical: m(1, 0.25), lmfShare: m(null, null), lmfExpectedShare: m(null, null) },
    lmf: null,
    lmfNote: 'none of the compared runs has an LMF report',
  };
}

beforeAll(async () => {
  w = await makeWorld('analysis-owner', 'public');
});

describe('POST /v1/jobs kind analyze: refusals', () => {
  it('names what cannot be compared and creates nothing', async () => {
    const good = await prunedRun({ lmf: true });
    const good2 = await prunedRun();
    const noMasks = await prunedRun({ masks: false });
    const otherLayers = await prunedRun({ layers: [LAYERS[0]!] });
    const evalJob = await call('POST', '/v1/jobs', { token: w.writer, json: { kind: 'evaluate', modelId: w.model, suites: [w.suites.fr] } });
    const evalRun = await finish(w, evalJob.body.id, { masks: false, layers: [] });
    const stranger = await makeWorld('analysis-stranger');
    const privateRun = await prunedRun({ world: stranger });
    const before = (await env.DB.prepare("SELECT COUNT(*) AS n FROM jobs WHERE kind = 'analyze'").first<{ n: number }>())!.n;

    const post = (body: Record<string, unknown>) => call('POST', '/v1/jobs', { token: w.writer, json: { kind: 'analyze', modelId: w.model, ...body } });
    const cases: [Record<string, unknown>, number, string | RegExp][] = [
      [{ runs: [good] }, 400, /runs/],
      [{ runs: [good, good2], jobs: ['job_a', 'job_b'] }, 400, /either runs .* or jobs/],
      [{}, 400, /either runs/],
      [{ runs: [good, 'run_nope'] }, 422, 'unknown_run'],
      [{ runs: [good, privateRun] }, 422, 'unknown_run'],
      [{ runs: [good, good] }, 422, 'duplicate_reference'],
      [{ runs: [good, evalRun] }, 422, 'not_a_prune_run'],
      [{ runs: [good, noMasks] }, 422, 'no_masks'],
      [{ runs: [good, otherLayers] }, 422, 'different_layers'],
      [{ jobs: [evalJob.body.id, 'job_x'] }, 422, 'unknown_job'],
    ];
    for (const [body, status, what] of cases) {
      const r = await post(body);
      expect(r.status, JSON.stringify(body)).toBe(status);
      expectErrorShape(r);
      if (typeof what === 'string') expect(r.body.error.code).toBe(what);
      else expect(r.body.error.message).toMatch(what);
    }
    const evalJob2 = await call('POST', '/v1/jobs', { token: w.writer, json: { kind: 'evaluate', modelId: w.model, suites: [w.suites.fr] } });
    const notPrune = await post({ jobs: [evalJob.body.id, evalJob2.body.id] });
    expect(notPrune.body.error.code).toBe('not_a_prune_job');
    await drainQueue();

    // New graph bytes between two runs: their masks are of different models.
    const w2 = await makeWorld('analysis-bytes');
    const before2 = await prunedRun({ world: w2 });
    await call('PUT', `/v1/models/${w2.model}/files/model.onnx`, {
      token: w2.writer,
      body: model(graph({ initializers: [tensor('w', { raw: new Uint8Array(16).fill(7) })] })),
    });
    const after2 = await prunedRun({ world: w2 });
    const bytes = await call('POST', '/v1/jobs', { token: w2.writer, json: { kind: 'analyze', modelId: w2.model, runs: [before2, after2] } });
    expect(bytes.status).toBe(422);
    expect(bytes.body.error.code).toBe('different_model_bytes');
    expect(bytes.body.error.message).toContain(before2);
    expect(Object.keys(bytes.body.error.details.modelSha256).sort()).toEqual([before2, after2].sort());

    const after = (await env.DB.prepare("SELECT COUNT(*) AS n FROM jobs WHERE kind = 'analyze'").first<{ n: number }>())!.n;
    expect(after).toBe(before);
  });
});

describe('an analysis of named runs', () => {
  it('leases masks and LMF reports (no model), records the result once and serves it', async () => {
    await drainQueue();
    const a = await prunedRun({ lmf: true, extra: { lmf: { status: 'available', pair: 'fr-en', k: 2, blocks: 2, dim: 4 } } });
    const b = await prunedRun({ spec: { calibration: { corpusId: w.corpusDe } } });
    const created = await call('POST', '/v1/jobs', { token: w.writer, json: { kind: 'analyze', modelId: w.model, runs: [a, b], visibility: 'public' } });
    expect(created.status).toBe(201);
    expect(created.body.kind).toBe('analyze');
    const l = await leaseJob(w.runner, created.body.id);
    expect(l.inputs.map((i) => [i.name, i.role])).toEqual([
      [`masks-${a}.bin`, 'masks'],
      [`lmf-${a}.json`, 'lmf'],
      [`masks-${b}.bin`, 'masks'],
    ]);
    const masksA = l.inputs[0] as unknown as { meta: Record<string, unknown>; sha256: string };
    expect(masksA.meta).toMatchObject({ runId: a, label: 'mt:fr-en', variant: 'wanda 50% mt:fr-en' });
    expect((l.inputs[2] as unknown as { meta: { label: string } }).meta.label).toBe('mt:de-en');
    const got = await call('GET', `/v1/runner/jobs/${created.body.id}/inputs/masks-${a}.bin`, { token: w.runner, headers: { 'x-lease-token': l.leaseToken } });
    expect(await sha256(got.bytes)).toBe(masksA.sha256);

    const complete = (result: Record<string, unknown>) =>
      call('POST', `/v1/runner/jobs/${created.body.id}/complete`, { token: w.runner, json: { leaseToken: l.leaseToken, result } });
    const analysis = analysisOf([a, b]);
    const noArtifact = await complete({ extra: { analysis: summarize(analysis) } });
    expect(noArtifact.body.error.code).toBe('missing_artifact');
    const body = JSON.stringify(analysis);
    await call('PUT', `/v1/runner/jobs/${created.body.id}/artifacts/analysis.json`, { token: w.runner, body, headers: { 'x-lease-token': l.leaseToken } });
    const broken = await complete({ artifacts: ['analysis.json'], extra: { analysis: { ...summarize(analysis), matrices: 'none' } } });
    expect(broken.status).toBe(422);
    expect(broken.body.error.code).toBe('invalid_analysis');
    expect(broken.body.error.message).toMatch(/^extra\.analysis: matrices/);
    const wrongRuns = await complete({ artifacts: ['analysis.json'], extra: { analysis: summarize(analysisOf([a, 'run_other'])) } });
    expect(wrongRuns.body.error.code).toBe('analysis_runs_mismatch');
    const withScores = await complete({
      artifacts: ['analysis.json'],
      scores: [{ suiteId: w.suites.fr, format: 'xnli', lang: 'fr', scoring: 'paper', metric: 'acc', value: 1, n: 1 }],
      extra: { analysis: summarize(analysis) },
    });
    expect(withScores.body.error.code).toBe('unexpected_scores');
    expect((await env.DB.prepare('SELECT COUNT(*) AS n FROM runs WHERE job_id = ?').bind(created.body.id).first<{ n: number }>())!.n).toBe(0);

    const ok = await complete({ artifacts: ['analysis.json'], extra: { analysis: summarize(analysis) } });
    expect(ok.status).toBe(200);
    const run = await call('GET', `/v1/runs/${ok.body.runId}`);
    expect(run.body).toMatchObject({ kind: 'analyze', variant: 'analysis of 2 runs', overallSparsity: null, scores: [] });
    const pruneRun = await call('GET', `/v1/runs/${a}`, { token: w.writer });
    expect(run.body.modelSha256).toBe(pruneRun.body.modelSha256);
    expect(run.body.config).toMatchObject({ runs: [a, b], labels: ['run 0', 'run 1'] });
    expect(run.body.extra.analysis.matrices.jaccard[0][1]).toBe(0.4);

    const served = await call('GET', `/v1/runs/${ok.body.runId}/analysis`);
    expect(served.status).toBe(200);
    expect(served.body).toEqual(analysis);
    const notAnalysis = await call('GET', `/v1/runs/${a}/analysis`, { token: w.writer });
    expect(notAnalysis.status).toBe(404);
    expect(notAnalysis.body.error.message).toMatch(/not an analysis/);
    const listed = await call('GET', `/v1/runs?model=${w.model}&kind=analyze`);
    expect(listed.body.items.map((r: { id: string }) => r.id)).toEqual([ok.body.runId]);
    expect((await call('GET', '/v1/runs?kind=nonsense')).status).toBe(400);

    const page = await call('GET', `/runs/${ok.body.runId}`);
    expect(page.status).toBe(200);
    expect(page.body).toContain('id="mask-jaccard"');
    expect((page.body as string).match(/class="cell"/g)?.length).toBe(2 * 2 * 2); // two 2 × 2 heatmaps (Jaccard, rows)
    expect(page.body).toContain('none of the compared runs has an LMF report');
    const pairPage = await call('GET', `/runs/${ok.body.runId}?pair=0`);
    expect(pairPage.body).toContain('run 0 × run 1');
    const board = await call('GET', `/leaderboards/${w.model}`);
    expect(board.body).toContain(`/runs/${ok.body.runId}`);
  });

  it('shows a prune run’s LMF chart, or why it has none', async () => {
    await drainQueue();
    const withReport = await prunedRun({ lmf: true, extra: { lmf: { status: 'available', pair: 'fr-en', k: 2, blocks: 2, dim: 4 } } });
    const page = await call('GET', `/runs/${withReport}`, { token: w.writer });
    expect(page.body).toContain('id="lmf-chart"');
    // Two blocks, mt and mono: four bars; block 0's mt bar is the mean of its top magnitudes.
    expect((page.body as string).match(/class="bar (mt|mono)"/g)).toHaveLength(4);
    expect(page.body).toMatch(/class="bar mt" data-block="0" data-value="6.75"/);
    const reason = 'no LMF report: the residual stream runs through 2 fused residual-add + norm node(s) (SkipLayerNormalization)';
    const without = await prunedRun({ extra: { lmf: { status: 'unavailable', reason } } });
    const page2 = await call('GET', `/runs/${without}`, { token: w.writer });
    expect(page2.body).toContain('id="lmf-missing"');
    expect(page2.body).toContain(reason);
    expect((await call('GET', '/runs/run_nope')).status).toBe(404);
  });
});

type SweepBody = z.input<typeof createSweepBody>;
/** POST an analyzing sweep of the world's model, no dense job, calibrated on the fr and de corpora unless `body` names other pairs. */
function analyzingSweep(body: Pick<SweepBody, 'sparsities' | 'methods'> & Partial<SweepBody>) {
  return call('POST', '/v1/sweeps', {
    token: w.writer,
    json: { modelId: w.model, pairs: [{ corpusId: w.corpusFr }, { corpusId: w.corpusDe }], includeDense: false, analyze: true, ...body },
  });
}

describe('sweeps with analyze: true', () => {
  it('queue one analysis per method and sparsity, leased only once its prune jobs have ended', async () => {
    await drainQueue();
    const r = await analyzingSweep({
      sparsities: [0.5],
      methods: [{ method: 'wanda', dataType: 'mt' }, { method: 'wanda', dataType: 'mono' }, { method: 'magnitude' }],
      base: { visibility: 'public' },
    });
    expect(r.status).toBe(201);
    const jobs = r.body.jobs as {
      id: string;
      kind: string;
      spec: { method?: string; jobs?: string[]; visibility?: string; calibration?: { corpusId?: string; dataType?: string } };
    }[];
    const analyses = jobs.filter((j) => j.kind === 'analyze');
    const wanda = jobs.filter((j) => j.spec.method === 'wanda');
    expect(jobs).toHaveLength(4 + 1 + 1);
    expect(analyses).toHaveLength(1);
    // Magnitude has one job at 50%: nothing to compare it with.
    expect(analyses[0]!.spec.jobs!.sort()).toEqual(wanda.map((j) => j.id).sort());
    expect(analyses[0]!.spec.visibility).toBe('public');

    // Every prune job leased (running): the analysis waits.
    const leases = new Map<string, string>();
    for (let i = 0; i < 5; i++) {
      const l = await lease(w.runner);
      expect(l.body.job.kind).toBe('prune');
      leases.set(l.body.job.id, l.body.leaseToken);
    }
    expect((await lease(w.runner)).status).toBe(204);
    const sweepPage = await call('GET', `/sweeps/${r.body.sweepId}`);
    expect(sweepPage.body).toContain('mask analysis of 4 prune jobs');
    expect(sweepPage.body).toContain('waits for 4 prune jobs to end');

    // Three wanda jobs succeed, one fails; the analysis then compares the three runs.
    const [failed, ...ok] = wanda;
    for (const j of ok) {
      const token = leases.get(j.id)!;
      await call('PUT', `/v1/runner/jobs/${j.id}/artifacts/masks.bin`, {
        token: w.runner,
        body: new Uint8Array([9, j.id.length]),
        headers: { 'x-lease-token': token },
      });
      const done = await call('POST', `/v1/runner/jobs/${j.id}/complete`, {
        token: w.runner,
        json: { leaseToken: token, result: { overallSparsity: 0.5, layers: LAYERS, artifacts: ['masks.bin'] } },
      });
      expect(done.status).toBe(200);
    }
    expect((await lease(w.runner)).status).toBe(204);
    await call('POST', `/v1/runner/jobs/${failed!.id}/fail`, { token: w.runner, json: { leaseToken: leases.get(failed!.id), error: 'out of memory' } });
    const l = await lease(w.runner);
    expect(l.status).toBe(200);
    expect(l.body.job.id).toBe(analyses[0]!.id);
    expect(l.body.inputs.filter((i: { role: string }) => i.role === 'masks')).toHaveLength(3);
    expect(l.body.inputs.map((i: { meta: { label?: string } }) => i.meta.label).sort()).toEqual(
      ['mono:de-en', 'mono:fr-en', 'mt:de-en', 'mt:fr-en'].filter((x) => x !== labelOf(failed!, jobs)),
    );

    const listed = await call('GET', `/v1/sweeps/${r.body.sweepId}`);
    expect(listed.status).toBe(200);
    expect(listed.body.jobs).toHaveLength(6);
    expect((await call('GET', '/v1/sweeps/swp_none')).status).toBe(404);
  });

  it('fail an analysis at lease when fewer than two of its prune jobs produced runs', async () => {
    await drainQueue();
    const r = await analyzingSweep({ sparsities: [0.6], methods: [{ method: 'wanda' }] });
    const [first, second, analysis] = r.body.jobs as { id: string }[];
    // Both prune jobs running (in whichever order the queue hands them out), then one ends each way.
    const tokens = new Map<string, string>();
    for (let i = 0; i < 2; i++) {
      const l = await lease(w.runner);
      tokens.set(l.body.job.id, l.body.leaseToken);
    }
    const headers = { 'x-lease-token': tokens.get(first!.id)! };
    await call('PUT', `/v1/runner/jobs/${first!.id}/artifacts/masks.bin`, { token: w.runner, body: new Uint8Array([1]), headers });
    await call('POST', `/v1/runner/jobs/${first!.id}/complete`, {
      token: w.runner,
      json: { leaseToken: tokens.get(first!.id), result: { layers: LAYERS, artifacts: ['masks.bin'] } },
    });
    await call('POST', `/v1/runner/jobs/${second!.id}/fail`, {
      token: w.runner,
      json: { leaseToken: tokens.get(second!.id), error: 'model graph not understood' },
    });
    expect((await lease(w.runner)).status).toBe(204);
    const job = await call('GET', `/v1/jobs/${analysis!.id}`, { token: w.writer });
    expect(job.body.status).toBe('failed');
    expect(job.body.error).toMatch(/^nothing_to_compare: an analysis needs at least two finished prune runs; 1 found/);
    expect(job.body.error).toContain(`${second!.id} failed: model graph not understood`);
  });

  it('refuses analyze: true when no method and sparsity has two prune jobs', async () => {
    const r = await call('POST', '/v1/sweeps', {
      token: w.writer,
      json: { modelId: w.model, pairs: [{ corpusId: w.corpusFr }], sparsities: [0.5], methods: [{ method: 'wanda' }, { method: 'magnitude' }], analyze: true },
    });
    expect(r.status).toBe(422);
    expect(r.body.error.code).toBe('nothing_to_analyze');
    // 17 pairs × (mt, mono) = 34 masks of one method and sparsity: more than one analysis compares.
    const pairs = [];
    for (let i = 0; i < 17; i++) pairs.push({ corpusId: (await call('POST', '/v1/corpora?src=fr&tgt=en', { token: w.writer, body: `a${i}\tb\n` })).body.id });
    const big = await analyzingSweep({ pairs, sparsities: [0.5], methods: [{ method: 'wanda' }, { method: 'wanda', dataType: 'mono' }] });
    expect(big.status).toBe(422);
    expect(big.body.error).toMatchObject({
      code: 'analysis_too_large',
      message: expect.stringMatching(/compare 34 prune jobs of wanda at 0.5; .* at most 32/),
    });
  });

  it('keeps a private sweep private', async () => {
    const other = await makeToken('sweep-peeker', ['read']);
    const r = await analyzingSweep({ sparsities: [0.7], methods: [{ method: 'wanda' }] });
    expect((await call('GET', `/v1/sweeps/${r.body.sweepId}`, { token: other })).status).toBe(404);
    expect((await call('GET', `/sweeps/${r.body.sweepId}`, { token: other })).status).toBe(404);
    expect((await call('GET', `/v1/sweeps/${r.body.sweepId}`, { token: w.writer })).body.jobs).toHaveLength(3);
    await drainQueue();
  });
});

function labelOf(job: { id: string }, all: { id: string; spec: { calibration?: { corpusId?: string; dataType?: string } } }[]) {
  const s = all.find((j) => j.id === job.id)!.spec;
  return `${s.calibration!.dataType}:${s.calibration!.corpusId === w.corpusFr ? 'fr' : 'de'}-en`;
}
