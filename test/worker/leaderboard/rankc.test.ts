/**
 * RankC on the worker: suites carry a task (the runner is told it with the upload subset), the board
 * shows `metric=rankc` cells with Δ vs dense like any metric (JSON, CSV, LaTeX, page, other views),
 * and its note says why a language-X cell has an accuracy but no RankC.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { call } from '../helpers';
import { completeWithScores, type Score, leaseJob, makeWorld, type World } from '../fixtures';

const complete = completeWithScores;

const xnli = (n: number, lang: string) =>
  Array.from({ length: n }, (_, i) => JSON.stringify({ premise: `p${i}-${lang}`, hypothesis: `h${i}-${lang}`, label: i % 3 })).join('\n');

async function upload(w: World, lang: string, query: string, rows = 6) {
  const r = await call('POST', `/v1/suites?format=xnli&lang=${lang}&visibility=public${query}`, { token: w.writer, body: xnli(rows, lang) });
  expect(r.status, JSON.stringify(r.body)).toBe(201);
  return r.body as { id: string; name: string; task: string; stats: { subset?: unknown } };
}

const row = (b: { rows: { variant: string }[] }, variant: string) => b.rows.find((x) => x.variant === variant) as any;
/** A column's key: the whole suite, template language not recorded (shared/src/cell-identity.ts). */
const col = (suiteId: string) => `${suiteId}:all:-`;

describe('suite tasks', () => {
  it('default to the suite name, are listed and filtered, and reach the runner with the upload subset', async () => {
    const w = await makeWorld('rankc-tasks', 'public');
    const plain = await upload(w, 'fr', '');
    expect(plain.task).toBe(plain.name);
    expect(plain.task).toBe('xnli-fr');
    const en = await upload(w, 'en', '&task=xnli.test&subset=4&seed=3');
    const de = await upload(w, 'de', '&name=xnli-de-test&task=xnli.test');
    expect([en.task, de.task]).toEqual(['xnli.test', 'xnli.test']);
    expect((await call('GET', `/v1/suites/${de.id}`)).body.task).toBe('xnli.test');
    const listed = (await call('GET', '/v1/suites?task=xnli.test&owner=rankc-tasks')).body.items.map((s: { id: string }) => s.id);
    expect(listed.sort()).toEqual([en.id, de.id].sort());
    // an empty task is refused, naming the parameter
    const bad = await call('POST', '/v1/suites?format=xnli&lang=fr&task=', { token: w.writer, body: xnli(2, 'fr') });
    expect(bad.status).toBe(400);
    expect(JSON.stringify(bad.body)).toContain('task');

    const job = (await call('POST', '/v1/jobs', { token: w.writer, json: { kind: 'evaluate', modelId: w.model, suites: [en.id, de.id, plain.id] } })).body;
    const { inputs } = await leaseJob(w.runner, job.id);
    const meta = Object.fromEntries(inputs.filter((i) => i.role === 'suite').map((i) => [i.meta.suiteId, i.meta]));
    expect(meta[en.id]).toMatchObject({ format: 'xnli', lang: 'en', task: 'xnli.test', subset: { n: 4, seed: 3, of: 6 } });
    expect(meta[de.id]).toMatchObject({ lang: 'de', task: 'xnli.test', subset: null });
    expect(meta[plain.id]).toMatchObject({ task: 'xnli-fr' });
  });
});

describe('the RankC board', () => {
  let w: World;
  let en: string;
  let fr: string;
  let sw: string;
  const N = 6;
  const sc = (suiteId: string, lang: string, metric: string, value: number): Score => ({
    suiteId,
    format: 'xnli',
    lang,
    scoring: 'paper',
    metric,
    value,
    n: N,
  });
  const swReason = 'not parallel to the English suite of task "xnli": 6 rows (no subset) there, 5 rows (no subset) here';

  beforeAll(async () => {
    w = await makeWorld('rankc-board', 'public');
    en = (await upload(w, 'en', '&task=xnli')).id;
    fr = (await upload(w, 'fr', '&task=xnli')).id;
    sw = (await upload(w, 'sw', '&task=xnli', 5)).id;
    const suites = [en, fr, sw];
    // What the runner reports: accuracies everywhere, RankC for fr only, and why not for sw.
    await complete(
      w,
      { kind: 'evaluate', modelId: w.model, suites, visibility: 'public' },
      [
        sc(en, 'en', 'acc', 0.7),
        sc(fr, 'fr', 'acc', 0.6),
        sc(sw, 'sw', 'acc', 0.4),
        sc(fr, 'fr', 'rankc', 0.62),
        sc(fr, 'fr', 'rankc_lo', 0.55),
        sc(fr, 'fr', 'rankc_hi', 0.69),
      ],
      { rankc: { pairs: [{ suiteId: fr, englishId: en }], absent: [{ suiteId: sw, reason: swReason }] } },
    );
    await complete(
      w,
      { kind: 'prune', modelId: w.model, method: 'magnitude', suites, visibility: 'public' },
      [
        sc(en, 'en', 'acc', 0.66),
        sc(fr, 'fr', 'acc', 0.55),
        sc(sw, 'sw', 'acc', 0.38),
        sc(fr, 'fr', 'rankc', 0.71),
        sc(fr, 'fr', 'rankc_delta', 0.09),
        sc(fr, 'fr', 'rankc_delta_lo', 0.02),
        sc(fr, 'fr', 'rankc_delta_hi', 0.16),
        sc(fr, 'fr', 'rankc_delta_p', 0.012),
        sc(fr, 'fr', 'rankc_asc', 0.5),
      ],
      { rankc: { pairs: [{ suiteId: fr, englishId: en }], absent: [{ suiteId: sw, reason: swReason }] } },
    );
    // A run from before RankC: accuracies only, nothing about RankC in its extra.
    await complete(w, { kind: 'prune', modelId: w.model, method: 'random', suites: [fr], visibility: 'public' }, [sc(fr, 'fr', 'acc', 0.34)]);
  });

  it('shows rankc per language-X suite with Δ vs dense, the runner’s interval and bootstrap, and says why cells are absent', async () => {
    const r = await call('GET', `/v1/leaderboards?model=${w.model}&format=xnli&metric=rankc`);
    expect(r.status).toBe(200);
    const b = r.body;
    expect(b.metric).toBe('rankc');
    expect(b.lowerIsBetter).toBe(false);
    expect(b.columns.map((c: { suiteId: string }) => c.suiteId)).toEqual([fr]);
    expect(b.columns[0].chance).toBeNull();
    const dense = row(b, 'dense');
    expect(dense.cells[col(fr)]).toMatchObject({ value: 0.62, n: N, lo: 0.55, hi: 0.69, delta: null });
    const mag = row(b, 'magnitude 50%');
    // Δ from the dense cell on the same suite; interval and p from the runner's paired bootstrap over items
    expect(mag.cells[col(fr)].delta).toBeCloseTo(0.71 - 0.62, 12);
    expect(mag.cells[col(fr)]).toMatchObject({ value: 0.71, deltaLo: 0.02, deltaHi: 0.16, p: 0.012, denseRunId: dense.cells[col(fr)].runId });
    expect(mag.deltaVsDense).toBeCloseTo(0.09, 12);
    expect(row(b, 'random 50%')).toBeUndefined();
    expect(b.note).toContain('RankC compares each item’s ranking of its candidates with the ranking of the parallel English suite scored in the same job');
    expect(b.note).toContain(`No RankC for 3 cells: xnli-fr (fr): scored before RankC existed (run the job again); xnli-sw (sw): ${swReason}.`);

    // the authors' code's order is a metric of its own
    const asc = (await call('GET', `/v1/leaderboards?model=${w.model}&format=xnli&metric=rankc_asc`)).body;
    expect(row(asc, 'magnitude 50%').cells[col(fr)].value).toBe(0.5);
    expect(row(asc, 'dense')).toBeUndefined();
    expect(asc.note).toContain('No RankC for 4 cells');

    // other metrics keep their own note (here: which columns the means cover), without RankC's
    const accNote = (await call('GET', `/v1/leaderboards?model=${w.model}&format=xnli&metric=acc`)).body.note as string;
    expect(accNote).toContain('means cover');
    expect(accNote).not.toContain('RankC');
    // filtered to a language with RankC everywhere but the pre-RankC run
    const onlyFr = (await call('GET', `/v1/leaderboards?model=${w.model}&format=xnli&metric=rankc&lang=fr&method=random`)).body;
    expect(onlyFr.note).toContain('No RankC for 1 cell: xnli-fr (fr): scored before RankC existed');
  });

  it('exports rankc as CSV and LaTeX, and renders it on the pages and the other views', async () => {
    const csv = await call('GET', `/v1/leaderboards?model=${w.model}&format=xnli&metric=rankc&as=csv`);
    expect(csv.headers.get('content-type')).toContain('text/csv');
    const lines = (csv.body as string).trim().split('\r\n');
    const header = lines[0]!.split(',');
    const records = lines.slice(1).map((l) => Object.fromEntries(l.split(',').map((v, i) => [header[i], v])));
    expect(records.map((x) => [x.variant, x.lang, x.metric, x.value, x.delta_vs_dense === '' ? '' : Number(x.delta_vs_dense).toFixed(2), x.p])).toEqual([
      ['dense', 'fr', 'rankc', '0.62', '', ''],
      ['magnitude 50%', 'fr', 'rankc', '0.71', '0.09', '0.012'],
    ]);
    const tex = (await call('GET', `/v1/leaderboards?model=${w.model}&format=xnli&metric=rankc&as=latex`)).body as string;
    expect(tex).toContain('metric rankc');
    expect(tex).toMatch(/^% RankC compares .* No RankC for 3 cells: /m);
    expect(tex).toContain('\\textbf{71.0}');

    const page = (await call('GET', `/leaderboards/${w.model}?format=xnli&metric=rankc`)).body as string;
    expect(page).toContain('metric <b>rankc</b>');
    expect(page).toContain('scored before RankC existed');
    const across = (await call('GET', '/leaderboards?format=xnli&metric=rankc')).body as string;
    expect(across).toContain('xnli-sw (sw)');

    const sparsity = (await call('GET', `/v1/leaderboards/sparsity?model=${w.model}&format=xnli&metric=rankc`)).body;
    expect(sparsity.dense[col(fr)].value).toBe(0.62);
    expect(sparsity.series).toHaveLength(1);
    expect(sparsity.series[0].points[0]).toMatchObject({ sparsity: 0.5, value: 0.71, p: 0.012 });
    expect(sparsity.series[0].points[0].delta).toBeCloseTo(0.09, 12);
    const methods = (await call('GET', `/v1/leaderboards/methods?model=${w.model}&format=xnli&metric=rankc`)).body;
    expect(methods.metric).toBe('rankc');
    expect(methods.methods.map((m: { method: string }) => m.method)).toEqual(['magnitude 50%']);
    expect(methods.methods[0].all.mean).toBeCloseTo(0.09, 12);
  });
});
