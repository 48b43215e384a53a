import { beforeAll, describe, expect, it } from 'vitest';
import { makeWorld, leaseJob, pruneSpec, type World } from '../fixtures';
import { call } from '../helpers';

let w: World;
beforeAll(async () => {
  w = await makeWorld('dataset-jobs');
});

describe('JSON bodies are strict', () => {
  it('an unknown field is a 400 naming it, at the top level and nested', async () => {
    const cases: [string, unknown, string][] = [
      ['/v1/jobs', { kind: 'evaluate', modelId: 'm', suites: ['s'], rowLimit: 200 }, 'rowLimit'],
      ['/v1/jobs', { kind: 'prune', modelId: 'm', method: 'magnitude', calibration: { corpusId: 'c', sample: 5 } }, 'sample'],
      ['/v1/sweeps', { modelId: 'm', pairs: [{ corpusId: 'c', lang: 'fr' }], sparsities: [0.5], methods: [{ method: 'wanda' }] }, 'lang'],
      ['/v1/models', { name: 'x', family: 'xglm', licence: 'mit' }, 'licence'],
    ];
    for (const [path, json, field] of cases) {
      const r = await call('POST', path, { token: w.writer, json });
      expect(r.status, `${path} ${field}`).toBe(400);
      expect(r.body.error.message).toContain(`"${field}"`);
    }
  });

  it('an unknown explicit templateLang is a 400; "auto" and a localised language are accepted', async () => {
    const bad = await call('POST', '/v1/jobs', {
      token: w.writer,
      json: { kind: 'evaluate', modelId: w.model, suites: [w.suites.fr], templateLang: 'klingon' },
    });
    expect(bad.status).toBe(400);
    expect(bad.body.error.message).toContain('templateLang');
    for (const templateLang of ['auto', 'sw']) {
      const ok = await call('POST', '/v1/jobs', { token: w.writer, json: { kind: 'evaluate', modelId: w.model, suites: [w.suites.fr], templateLang } });
      expect(ok.status, templateLang).toBe(201);
      await call('POST', `/v1/jobs/${ok.body.id}/cancel`, { token: w.writer });
    }
  });
});

describe('subset, row limit and template language on every score', () => {
  it('a score records the suite subset (n, seed), the job row limit and the template language used', async () => {
    const rows = Array.from({ length: 6 }, (_, i) => JSON.stringify({ premise: `p${i}`, hypothesis: 'h', label: i % 2 })).join('\n');
    const suite = await call('POST', '/v1/suites?format=xnli&lang=fra_Latn&subset=4&seed=3', { token: w.writer, body: rows });
    expect(suite.body.stats.subset).toEqual({ n: 4, seed: 3, of: 6 });
    const job = await call('POST', '/v1/jobs', {
      token: w.writer,
      json: { kind: 'evaluate', modelId: w.model, suites: [suite.body.id, w.suites.de], templateLang: 'auto', limit: 2, limitSeed: 5 },
    });
    expect(job.status, JSON.stringify(job.body)).toBe(201);
    expect(job.body.spec).toMatchObject({ templateLang: 'auto', limit: 2, limitSeed: 5 });
    const l = await leaseJob(w.runner, job.body.id);
    const score = (suiteId: string, lang: string, templateLang: string) => ({
      suiteId,
      format: 'xnli',
      lang,
      scoring: 'paper',
      metric: 'acc',
      value: 0.5,
      n: 2,
      templateLang,
    });
    const done = await call('POST', `/v1/runner/jobs/${job.body.id}/complete`, {
      token: w.runner,
      json: { leaseToken: l.leaseToken, result: { scores: [score(suite.body.id, 'fr', 'fr'), score(w.suites.de, 'de', 'de')] } },
    });
    expect(done.status, JSON.stringify(done.body)).toBe(200);
    const run = await call('GET', `/v1/runs/${done.body.runId}`, { token: w.writer });
    const bySuite = Object.fromEntries(run.body.scores.map((s: { suiteId: string }) => [s.suiteId, s]));
    expect(bySuite[suite.body.id]).toMatchObject({ n: 2, subset: 4, seed: 3, limit: 2, limitSeed: 5, templateLang: 'fr' });
    expect(bySuite[w.suites.de]).toMatchObject({ n: 2, subset: null, seed: null, limit: 2, limitSeed: 5, templateLang: 'de' });
    const board = await call('GET', `/v1/leaderboards?model=${w.model}&format=xnli`, { token: w.writer });
    expect(board.status).toBe(200);
    const dense = board.body.rows.find((r: { runId: string }) => r.runId === done.body.runId);
    // Leaderboard cells are keyed by column: suite, rows evaluated (limit@seed) and template language.
    const fr = `${suite.body.id}:2@5:fr`;
    const de = `${w.suites.de}:2@5:de`;
    expect(dense.cells[fr]).toMatchObject({ n: 2, subset: 4, seed: 3, limit: 2, limitSeed: 5, templateLang: 'fr' });
    expect(dense.cells[de]).toMatchObject({ n: 2, subset: null, seed: null, limit: 2, limitSeed: 5, templateLang: 'de' });
    expect(board.body.columns.find((c: { key: string }) => c.key === fr)).toMatchObject({
      suiteId: suite.body.id,
      limit: 2,
      limitSeed: 5,
      templateLang: 'fr',
      subset: 4,
      seed: 3,
      n: 2,
    });
    // The page says the same on hover, and marks the subset suite's column header.
    const page = await call('GET', `/leaderboards/${w.model}?format=xnli`, { token: w.writer });
    expect(page.status, JSON.stringify(page.body)).toBe(200);
    const html = page.body as string;
    expect(html).toContain('title="n = 2 · subset 4 rows, seed 3 · row limit 2, seed 5 · template fr · ');
    expect(html).toContain('title="n = 2 · row limit 2, seed 5 · template de · ');
    expect(html).toContain(`<th title="suite ${suite.body.id}, format xnli, subset 4 rows, seed 3, row limit 2, seed 5, template fr">`);
    expect(html.match(/<small class="subset">subset 4 rows, seed 3<\/small>/g)).toHaveLength(1);
    expect(html.match(/<small class="rows">2 rows seed 5, template fr<\/small>/g)).toHaveLength(1);
  });
});

describe('dense rows offered to a paired bootstrap', () => {
  it('come only from a dense evaluation of the same rows: the same row limit and seed, or every row', async () => {
    const w = await makeWorld('dense-rows-limit');
    const suites = [w.suites.fr];
    const evaluate = await call('POST', '/v1/jobs', { token: w.writer, json: { kind: 'evaluate', modelId: w.model, suites, limit: 24 } });
    expect(evaluate.status, JSON.stringify(evaluate.body)).toBe(201);
    const l = await leaseJob(w.runner, evaluate.body.id);
    const put = await call('PUT', `/v1/runner/jobs/${evaluate.body.id}/artifacts/samples.jsonl.gz`, {
      token: w.runner,
      body: new Uint8Array([31, 139, 8, 0]),
      headers: { 'x-lease-token': l.leaseToken },
    });
    expect(put.status, JSON.stringify(put.body)).toBeLessThan(300);
    const done = await call('POST', `/v1/runner/jobs/${evaluate.body.id}/complete`, {
      token: w.runner,
      json: {
        leaseToken: l.leaseToken,
        result: {
          artifacts: ['samples.jsonl.gz'],
          scores: [{ suiteId: w.suites.fr, format: 'xnli', lang: 'fr', scoring: 'paper', metric: 'acc', value: 0.5, n: 24 }],
        },
      },
    });
    expect(done.status, JSON.stringify(done.body)).toBe(200);
    const denseInputs = async (rows: Record<string, number>) => {
      const job = await call('POST', '/v1/jobs', { token: w.writer, json: pruneSpec(w, { suites, ...rows }) });
      expect(job.status, JSON.stringify(job.body)).toBe(201);
      const lease = await leaseJob(w.runner, job.body.id);
      await call('POST', `/v1/jobs/${job.body.id}/cancel`, { token: w.writer });
      return lease.inputs.filter((i) => i.role === 'dense-samples').map((i) => i.meta.runId);
    };
    expect(await denseInputs({ limit: 24 })).toEqual([done.body.runId]);
    expect(await denseInputs({ limit: 24, limitSeed: 0 })).toEqual([done.body.runId]);
    // Other rows of the suite: the runner scores dense on its own rows instead.
    expect(await denseInputs({})).toEqual([]);
    expect(await denseInputs({ limit: 24, limitSeed: 1 })).toEqual([]);
    expect(await denseInputs({ limit: 12 })).toEqual([]);
  });
});
