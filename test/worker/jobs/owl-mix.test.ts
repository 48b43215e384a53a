/**
 * OWL layerwise sparsity and calibration mixes on the API side: what is refused (naming the field),
 * how variants and pairs are named, what the lease hands the runner, and which earlier statistics
 * a job may reuse.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import type { z } from 'zod';
import type { JobInfo, RunInfo, sweepInfo } from '@polyprune/shared/api/jobs';
import { CALIBRATION_STATS_VERSION } from '@polyprune/shared/api/run-provenance';
import { mixPair, mixWeights } from '@polyprune/worker/jobs/calibration-mix';
import { call, type ErrorBody, sha256 } from '../helpers';
import { leaseJob, makeWorld, pruneSpec, type World } from '../fixtures';

let w: World;
beforeAll(async () => {
  w = await makeWorld('owl-mix-owner');
});

const owl = (extra: Record<string, unknown> = {}) => ({ layerSparsity: { kind: 'owl', m: 5, lambda: 0.08 }, ...extra });
const mix = (w: World, weights: [number, number] = [1, 1], extra: Record<string, unknown> = {}) => ({
  calibration: {
    corpora: [
      { corpusId: w.corpusFr, weight: weights[0] },
      { corpusId: w.corpusDe, weight: weights[1] },
    ],
    ...extra,
  },
});

/** Runs a job through lease → complete with the given artifacts; returns its run. */
async function finish(
  world: World,
  spec: Record<string, unknown>,
  artifacts: Record<string, Uint8Array> = {},
  extra: Record<string, unknown> = {},
): Promise<RunInfo> {
  const created = await call<JobInfo>('POST', '/v1/jobs', { token: world.writer, json: spec });
  expect(created.status, JSON.stringify(created.body)).toBe(201);
  const l = await leaseJob(world.runner, created.body.id);
  for (const [name, body] of Object.entries(artifacts)) {
    await call('PUT', `/v1/runner/jobs/${created.body.id}/artifacts/${name}`, { token: world.runner, body, headers: { 'x-lease-token': l.leaseToken } });
  }
  const done = await call<{ runId: string }>('POST', `/v1/runner/jobs/${created.body.id}/complete`, {
    token: world.runner,
    json: {
      leaseToken: l.leaseToken,
      result: { artifacts: Object.keys(artifacts), extra: { calibration: { statsVersion: CALIBRATION_STATS_VERSION }, ...extra } },
    },
  });
  expect(done.status, JSON.stringify(done.body)).toBe(200);
  return (await call<RunInfo>('GET', `/v1/runs/${done.body.runId}`, { token: world.writer })).body;
}

describe('refused layerSparsity and mixes name the field', () => {
  const cases: [string, (w: World) => Record<string, unknown>, number, string, string][] = [
    ['owl with random', (w) => pruneSpec(w, owl({ method: 'random' })), 400, 'invalid_request', 'layerSparsity'],
    ['an unknown kind', (w) => pruneSpec(w, { layerSparsity: { kind: 'dlp' } }), 400, 'invalid_request', 'layerSparsity.kind'],
    ['lambda ≥ sparsity', (w) => pruneSpec(w, { sparsity: 0.3, layerSparsity: { kind: 'owl', lambda: 0.3 } }), 400, 'invalid_request', 'layerSparsity.lambda'],
    [
      'sparsity + lambda ≥ 1',
      (w) => pruneSpec(w, { sparsity: 0.9, layerSparsity: { kind: 'owl', lambda: 0.1 } }),
      400,
      'invalid_request',
      'layerSparsity.lambda',
    ],
    ['owl with 2:4', (w) => pruneSpec(w, owl({ pattern: '2:4' })), 400, 'invalid_request', 'layerSparsity'],
    ['a weight of 0', (w) => pruneSpec(w, mix(w, [1, 0])), 400, 'invalid_request', 'calibration.corpora.1.weight'],
    ['a negative weight', (w) => pruneSpec(w, mix(w, [-1, 1])), 400, 'invalid_request', 'calibration.corpora.0.weight'],
    ['corpusId and corpora', (w) => pruneSpec(w, mix(w, [1, 1], { corpusId: w.corpusFr })), 400, 'invalid_request', 'calibration.corpusId'],
    ['neither corpusId nor corpora', (w) => pruneSpec(w, { calibration: { dataType: 'mt' } }), 400, 'invalid_request', 'calibration.corpusId'],
    [
      'a mix with mt-contrast',
      (w) => pruneSpec(w, mix(w, [1, 1], { dataType: 'mt-contrast', contrastCorpusId: w.corpusDe })),
      400,
      'invalid_request',
      'calibration.corpora',
    ],
    [
      'a corpus twice in a mix',
      (w) => pruneSpec(w, { calibration: { corpora: [{ corpusId: w.corpusFr }, { corpusId: w.corpusFr }] } }),
      400,
      'invalid_request',
      'calibration.corpora',
    ],
    ['magnitude+owl without calibration', (w) => ({ kind: 'prune', modelId: w.model, method: 'magnitude', ...owl() }), 422, 'calibration_required', ''],
    [
      'an unknown corpus in a mix',
      (w) => pruneSpec(w, { calibration: { corpora: [{ corpusId: w.corpusFr }, { corpusId: 'cor_nope' }] } }),
      422,
      'unknown_corpus',
      '',
    ],
  ];
  for (const [name, body, status, code, field] of cases) {
    it(`${name} → ${status} ${code}`, async () => {
      const r = await call<ErrorBody>('POST', '/v1/jobs', { token: w.writer, json: body(w) });
      expect(r.status).toBe(status);
      expect(r.body.error.code).toBe(code);
      if (field) {
        expect(r.body.error.message).toContain(field);
        expect((r.body.error.details as { path: string }[]).map((d) => d.path)).toContain(field);
      }
    });
  }
});

describe('variants and pairs', () => {
  it('labels mixes by their sources before a shared target, and weights relative to the smallest', () => {
    expect(
      mixPair([
        { src: 'fr', tgt: 'en' },
        { src: 'sw', tgt: 'en' },
        { src: 'zh', tgt: 'en' },
      ]),
    ).toBe('fr+sw+zh-en');
    expect(
      mixPair([
        { src: 'fr', tgt: 'en' },
        { src: 'en', tgt: 'de' },
      ]),
    ).toBe('fr-en+en-de');
    expect(
      mixWeights([
        { corpusId: 'a', weight: 1 },
        { corpusId: 'b', weight: 1 },
      ]),
    ).toBeNull();
    expect(
      mixWeights([
        { corpusId: 'a', weight: 4 },
        { corpusId: 'b', weight: 2 },
        { corpusId: 'c', weight: 3 },
      ]),
    ).toBe('2:1:1.5');
  });

  it('names OWL and the mix on the job and the run (the variant keys the leaderboard row)', async () => {
    const job = await call<JobInfo>('POST', '/v1/jobs', { token: w.writer, json: pruneSpec(w, mix(w)) });
    expect(job.status).toBe(201);
    expect(job.body.pair).toBe('fr+de-en');
    expect((await finish(w, pruneSpec(w, owl()))).variant).toBe('wanda+owl 50% mt:fr-en');
    expect((await finish(w, pruneSpec(w, owl({ layerSparsity: { kind: 'owl', m: 7, lambda: 0.1 } })))).variant).toBe('wanda+owl(M=7,λ=0.1) 50% mt:fr-en');
    expect((await finish(w, pruneSpec(w, owl({ method: 'magnitude', sparsity: 0.6 })))).variant).toBe('magnitude+owl 60% mt:fr-en');
    expect((await finish(w, pruneSpec(w, mix(w)))).variant).toBe('wanda 50% mt:fr+de-en');
    const weighted = await finish(w, pruneSpec(w, { ...mix(w, [3, 1], { dataType: 'mono' }), mode: 'oneshot' }));
    expect(weighted.variant).toBe('wanda 50% mono:fr+de-en(3:1) oneshot');
    // magnitude without OWL still ignores the corpus
    expect((await finish(w, pruneSpec(w, { method: 'magnitude' }))).variant).toBe('magnitude 50%');
  });

  it("the run page lists each block's outlier ratio, target and reached sparsity", async () => {
    const block = (b: number, pct: number, sparsity: number) => ({
      block: b,
      outliers: Math.round(pct * 10),
      weights: 1000,
      meanScore: 0.1,
      outlierPct: pct,
      sparsity,
      achieved: sparsity - 0.001,
    });
    const extra = { layerSparsity: { kind: 'owl', m: 5, lambda: 0.08, sparsity: 0.5, blocks: [block(0, 1.5, 0.54), block(1, 4.3, 0.46)] } };
    const run = await finish(w, pruneSpec(w, owl()), {}, extra);
    const page = await call('GET', `/runs/${run.id}`, { token: w.writer });
    expect(page.status).toBe(200);
    const html = String(page.body);
    expect(html).toContain('Layerwise sparsity (OWL)');
    expect(html).toMatch(/<td>0<\/td><td>1\.500<\/td><td>0\.5400<\/td><td>0\.5390<\/td>/);
    expect(html).toMatch(/<td>1<\/td><td>4\.300<\/td><td>0\.4600<\/td><td>0\.4590<\/td>/);
    const plain = await call('GET', `/runs/${(await finish(w, pruneSpec(w))).id}`, { token: w.writer });
    expect(String(plain.body)).not.toContain('Layerwise sparsity');
  });

  it('a sweep takes a mix as one pair entry, and OWL in its base for every method', async () => {
    const r = await call<z.infer<typeof sweepInfo>>('POST', '/v1/sweeps', {
      token: w.writer,
      json: {
        modelId: w.model,
        pairs: [{ corpusId: w.corpusFr }, { corpora: [{ corpusId: w.corpusFr }, { corpusId: w.corpusDe, weight: 2 }] }],
        sparsities: [0.5],
        methods: [{ method: 'wanda' }, { method: 'magnitude' }],
        base: { layerSparsity: { kind: 'owl' } },
        includeDense: false,
      },
    });
    expect(r.status, JSON.stringify(r.body)).toBe(201);
    const got = r.body.jobs.map((j) => [j.spec.kind === 'prune' ? j.spec.method : '', j.pair]);
    // magnitude+owl calibrates, so it is kept once per pair
    expect(got).toEqual([
      ['wanda', 'fr-en'],
      ['magnitude', 'fr-en'],
      ['wanda', 'fr+de-en'],
      ['magnitude', 'fr+de-en'],
    ]);
    const bad = await call<ErrorBody>('POST', '/v1/sweeps', {
      token: w.writer,
      json: { modelId: w.model, pairs: [{ corpusId: w.corpusFr, corpora: [{ corpusId: w.corpusDe }] }], sparsities: [0.5], methods: [{ method: 'wanda' }] },
    });
    expect(bad.status).toBe(400);
    expect(bad.body.error.message).toContain('pairs.0.corpusId');
  });
});

describe('lease inputs and statistics reuse', () => {
  it('hands the runner every corpus of a mix, in order, with its weight', async () => {
    const id = (await call<JobInfo>('POST', '/v1/jobs', { token: w.writer, json: pruneSpec(w, mix(w, [2, 1])) })).body.id;
    const l = await leaseJob(w.runner, id);
    const corpora = l.inputs.filter((i) => i.role === 'corpus');
    expect(corpora.map((c) => [c.name, c.meta])).toEqual([
      ['corpus-0.jsonl', { corpusId: w.corpusFr, src: 'fr', tgt: 'en', index: 0, weight: 2 }],
      ['corpus-1.jsonl', { corpusId: w.corpusDe, src: 'de', tgt: 'en', index: 1, weight: 1 }],
    ]);
    for (const c of corpora) {
      const got = await call('GET', `/v1/runner/jobs/${id}/inputs/${c.name}`, { token: w.runner, headers: { 'x-lease-token': l.leaseToken } });
      expect(got.status).toBe(200);
      expect(await sha256(got.bytes)).toBe(c.sha256);
    }
    await call('POST', `/v1/runner/jobs/${id}/fail`, { token: w.runner, json: { leaseToken: l.leaseToken, error: 'test done' } });
  });

  it('reuses oneshot statistics across OWL settings, and a mix only under the same corpora and weights', async () => {
    const ws = await makeWorld('owl-mix-stats');
    const offered = async (spec: Record<string, unknown>) => {
      const id = (await call<JobInfo>('POST', '/v1/jobs', { token: ws.writer, json: spec })).body.id;
      const l = await leaseJob(ws.runner, id);
      await call('POST', `/v1/runner/jobs/${id}/fail`, { token: ws.runner, json: { leaseToken: l.leaseToken, error: 'test done' } });
      return l.inputs.filter((i) => i.role === 'stats').map((i) => i.meta.runId);
    };
    const single = await finish(ws, pruneSpec(ws, { mode: 'oneshot' }), { 'stats.bin': new Uint8Array([1]) });
    expect(await offered(pruneSpec(ws, owl({ mode: 'oneshot', sparsity: 0.6 })))).toEqual([single.id]);
    expect(await offered(pruneSpec(ws, owl({ mode: 'oneshot', layerSparsity: { kind: 'owl', m: 3, lambda: 0.2 } })))).toEqual([single.id]);
    // magnitude+owl reads dense statistics whatever its mode
    expect(await offered(pruneSpec(ws, owl({ method: 'magnitude' })))).toEqual([single.id]);
    // sequential wanda+owl prunes while it calibrates: nothing to reuse
    expect(await offered(pruneSpec(ws, owl()))).toEqual([]);
    // a mix of one corpus draws what the single corpus draws
    expect(await offered(pruneSpec(ws, { mode: 'oneshot', calibration: { corpora: [{ corpusId: ws.corpusFr, weight: 3 }] } }))).toEqual([single.id]);
    expect(await offered(pruneSpec(ws, { ...mix(ws), mode: 'oneshot' }))).toEqual([]);

    const mixed = await finish(ws, pruneSpec(ws, { ...mix(ws, [2, 1]), mode: 'oneshot' }), { 'stats.bin': new Uint8Array([2]) });
    expect(await offered(pruneSpec(ws, owl({ ...mix(ws, [2, 1]), mode: 'oneshot', sparsity: 0.7 })))).toEqual([mixed.id]);
    expect(await offered(pruneSpec(ws, { ...mix(ws, [1, 2]), mode: 'oneshot' }))).toEqual([]);
    expect(await offered(pruneSpec(ws, { ...mix(ws, [1, 1]), mode: 'oneshot' }))).toEqual([]);
    expect(await offered(pruneSpec(ws, { ...mix(ws, [2, 1], { samples: 50 }), mode: 'oneshot' }))).toEqual([]);
  });
});
