import { beforeAll, describe, expect, it } from 'vitest';
import { wilson } from '@polyprune/shared/stats';
import { call } from '../helpers';
import { completeWithScores, makeWorld, pruneSpec, type World } from '../fixtures';

let pub: World;
let priv: World;

/** Per variant and language, the accuracy a runner reports. */
const seeded: Record<string, Record<'fr' | 'de' | 'en', number>> = {
  dense: { fr: 0.6, de: 0.55, en: 0.7 },
  'wanda 50% mt:fr-en': { fr: 0.58, de: 0.5, en: 0.66 },
  'magnitude 50%': { fr: 0.41, de: 0.39, en: 0.52 },
};
const N = 100;

const complete = completeWithScores;

async function runJob(w: World, spec: unknown, values: Record<string, number>) {
  const scores = (['fr', 'de', 'en'] as const).flatMap((lang) => [
    { suiteId: w.suites[lang], format: 'xnli', lang, scoring: 'paper', metric: 'acc', value: values[lang]!, n: N },
    { suiteId: w.suites[lang], format: 'xnli', lang, scoring: 'harness', metric: 'acc', value: 1 - values[lang]!, n: N },
  ]);
  return complete(w, spec, scores);
}

async function suite(w: World, format: string, lang: string, body: string, name?: string) {
  const r = await call('POST', `/v1/suites?format=${format}&lang=${lang}&visibility=public${name ? `&name=${name}` : ''}`, { token: w.writer, body });
  expect(r.status, JSON.stringify(r.body)).toBe(201);
  return r.body.id as string;
}

const suitesOf = (w: World) => [w.suites.fr, w.suites.de, w.suites.en];
/** A column's key as the API states it: suite, rows evaluated (all, or limit@seed), template language (- for none). */
const all = (suiteId: string, templateLang = '-') => `${suiteId}:all:${templateLang}`;
const row = (b: { rows: { variant: string }[] }, variant: string) => b.rows.find((x) => x.variant === variant) as any;

beforeAll(async () => {
  pub = await makeWorld('board-public', 'public');
  priv = await makeWorld('board-private');
  await runJob(pub, { kind: 'evaluate', modelId: pub.model, suites: suitesOf(pub), visibility: 'public' }, seeded.dense!);
  await runJob(pub, { ...pruneSpec(pub), visibility: 'public' }, seeded['wanda 50% mt:fr-en']!);
  await runJob(pub, { kind: 'prune', modelId: pub.model, method: 'magnitude', suites: suitesOf(pub), visibility: 'public' }, seeded['magnitude 50%']!);
  // A private run on the same public model must not show to anonymous callers.
  await runJob(pub, { kind: 'prune', modelId: pub.model, method: 'random', suites: suitesOf(pub), visibility: 'private' }, { fr: 0.34, de: 0.33, en: 0.35 });
});

describe('leaderboards', () => {
  it('aggregates per variant and suite exactly as an independent computation, dense pinned, with n and intervals', async () => {
    const r = await call('GET', `/v1/leaderboards?model=${pub.model}&format=xnli&scoring=paper&metric=acc`);
    expect(r.status).toBe(200);
    expect(r.body.languages).toEqual(['de', 'en', 'fr']);
    expect(r.body.columns.map((c: { suiteId: string }) => c.suiteId)).toEqual([pub.suites.de, pub.suites.en, pub.suites.fr]);
    expect(r.body.columns.map((c: { key: string }) => c.key)).toEqual([all(pub.suites.de), all(pub.suites.en), all(pub.suites.fr)]);
    expect(r.body.columns[0]).toMatchObject({ limit: null, limitSeed: null, templateLang: null, n: N, nNote: null });
    // Every row has every column: the means cover all three.
    expect(r.body.meanColumns).toEqual(r.body.columns.map((c: { key: string }) => c.key));
    expect(r.body.columns[0].chance).toBeCloseTo(1 / 3, 12);
    const denseMean = (0.6 + 0.55 + 0.7) / 3;
    for (const [variant, v] of Object.entries(seeded)) {
      const x = row(r.body, variant);
      expect(x, variant).toBeDefined();
      for (const lang of ['fr', 'de', 'en'] as const) {
        const c = x.cells[all(pub.suites[lang])];
        expect(c.value).toBe(v[lang]);
        expect(c.n).toBe(N);
        // Wilson interval, computed here from its textbook formula
        const z = 1.959964;
        const p = v[lang];
        const centre = (p + (z * z) / (2 * N)) / (1 + (z * z) / N);
        const half = (z / (1 + (z * z) / N)) * Math.sqrt((p * (1 - p)) / N + (z * z) / (4 * N * N));
        expect(c.lo).toBeCloseTo(centre - half, 12);
        expect(c.hi).toBeCloseTo(centre + half, 12);
        expect(c.delta).toBeCloseTo(variant === 'dense' ? 0 : p - seeded.dense![lang], 12);
      }
      const mean = (v.fr + v.de + v.en) / 3;
      expect(x.mean).toBeCloseTo(mean, 12);
      expect(x.meanNonEnglish).toBeCloseTo((v.fr + v.de) / 2, 12);
      expect(x.covers).toEqual(r.body.meanColumns);
      if (variant === 'dense') expect(x.deltaVsDense).toBeNull();
      else expect(x.deltaVsDense).toBeCloseTo(mean - denseMean, 12);
      if (variant !== 'dense') expect(x.deltaCovers).toEqual(r.body.meanColumns);
    }
    expect(r.body.rows.map((x: { variant: string }) => x.variant)).not.toContain('random 50%');
    // Dense pinned on top, the rest by mean, best first.
    expect(r.body.rows[0].variant).toBe('dense');
    const means = r.body.rows.slice(1).map((x: { mean: number }) => x.mean);
    expect(means).toEqual([...means].sort((a, b) => b - a));
  });

  it('shows the owner their private rows, and filters and sorts on request', async () => {
    const mine = await call('GET', `/v1/leaderboards?model=${pub.model}&format=xnli`, { token: pub.writer });
    expect(mine.body.rows.map((x: { variant: string }) => x.variant)).toContain('random 50%');
    const other = await call('GET', `/v1/leaderboards?model=${pub.model}&format=xnli`, { token: priv.writer });
    expect(other.body.rows.map((x: { variant: string }) => x.variant)).not.toContain('random 50%');
    const byFr = await call('GET', `/v1/leaderboards?model=${pub.model}&format=xnli&sort=fr&order=asc`);
    const fr = byFr.body.rows.slice(1).map((x: { cells: Record<string, { value: number }> }) => x.cells[all(pub.suites.fr)]!.value);
    expect(fr).toEqual([...fr].sort((a, b) => a - b));
    const harness = await call('GET', `/v1/leaderboards?model=${pub.model}&format=xnli&scoring=harness`);
    expect(row(harness.body, 'dense').cells[all(pub.suites.fr)].value).toBeCloseTo(0.4, 12);
    const onlyWanda = await call('GET', `/v1/leaderboards?model=${pub.model}&format=xnli&method=wanda`);
    expect(onlyWanda.body.rows.map((x: { variant: string }) => x.variant).sort()).toEqual(['dense', 'wanda 50% mt:fr-en']);
    const onlyDe = await call('GET', `/v1/leaderboards?model=${pub.model}&format=xnli&lang=de`);
    expect(onlyDe.body.languages).toEqual(['de']);
    expect(row(onlyDe.body, 'magnitude 50%').mean).toBeCloseTo(0.39, 12);
  });

  it('hides leaderboards of private models and validates the query', async () => {
    expect((await call('GET', `/v1/leaderboards?model=${priv.model}`)).status).toBe(404);
    expect((await call('GET', `/v1/leaderboards?model=${pub.model}&scoring=vibes`)).status).toBe(400);
    expect((await call('GET', `/v1/leaderboards?model=${pub.model}&lang=fr;de`)).status).toBe(400);
    expect((await call('GET', `/v1/leaderboards?model=${pub.model}&as=pdf`)).status).toBe(400);
    expect((await call('GET', '/v1/leaderboards/sparsity')).status).toBe(400);
  });

  it('renders an HTML page with the table, n per cell, hover intervals and an SVG chart', async () => {
    const r = await call('GET', `/leaderboards/${pub.model}`);
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toContain('text/html');
    const html = r.body as string;
    expect(html).toContain('<table id="leaderboard">');
    expect(html).toContain('wanda 50% mt:fr-en');
    expect((html.match(/<rect class="bar"/g) ?? []).length).toBe(9); // 3 public variants × 3 suites
    expect((html.match(/<small class="n">n=100<\/small>/g) ?? []).length).toBe(9);
    expect(html).toContain('chance 33.3'); // accuracy in % for people
    expect(html).toMatch(/title="n = 100 · 95% interval \[\d\d\.\d, \d\d\.\d\] · Δ vs dense −2\.0/);
    expect((await call('GET', '/leaderboards/mdl_nope')).status).toBe(404);
  });
});

describe('Δ vs dense compares the same suite rows', () => {
  it('keeps Δ on the suite the pruned model was scored on after a later dense run on another split, and says when there is no dense', async () => {
    const w = await makeWorld('board-split', 'public');
    const test = await suite(w, 'xnli', 'fr', JSON.stringify({ premise: 'a', hypothesis: 'b', label: 1 }), 'xnli-fr-test');
    const val = await suite(w, 'xnli', 'fr', JSON.stringify({ premise: 'c', hypothesis: 'd', label: 2 }), 'xnli-fr-val');
    const sc = (suiteId: string, value: number, metric = 'acc', n = 200) => ({ suiteId, format: 'xnli', lang: 'fr', scoring: 'paper', metric, value, n });
    await complete(w, { kind: 'evaluate', modelId: w.model, suites: [test], visibility: 'public' }, [sc(test, 0.6)]);
    await complete(w, { ...pruneSpec(w), suites: [test], visibility: 'public' }, [sc(test, 0.55), sc(test, 0.02, 'acc_delta_p')]);
    // The later dense evaluation on the easier validation split must not become the pruned row's reference.
    await complete(w, { kind: 'evaluate', modelId: w.model, suites: [val], visibility: 'public' }, [sc(val, 0.4, 'acc', 50)]);
    // A pruned run on a suite without any dense result.
    const only = await suite(w, 'xnli', 'de', JSON.stringify({ premise: 'e', hypothesis: 'f', label: 0 }), 'xnli-de-test');
    await complete(w, { kind: 'prune', modelId: w.model, method: 'magnitude', suites: [only], visibility: 'public' }, [{ ...sc(only, 0.45), lang: 'de' }]);

    const b = (await call('GET', `/v1/leaderboards?model=${w.model}&format=xnli`)).body;
    expect(b.columns.map((c: { suite: string }) => c.suite)).toEqual(['xnli-de-test', 'xnli-fr-test', 'xnli-fr-val']);
    const wanda = row(b, 'wanda 50% mt:fr-en');
    expect(wanda.cells[all(test)].delta).toBeCloseTo(0.55 - 0.6, 12);
    expect(wanda.cells[all(test)].p).toBe(0.02);
    expect(wanda.cells[all(test)].denseRunId).toBe(row(b, 'dense').cells[all(test)].runId);
    // Δ compares wanda with dense on the column both have; no column is common to all three rows, so no means.
    expect(wanda.deltaVsDense).toBeCloseTo(-0.05, 12);
    expect(wanda.deltaCovers).toEqual([all(test)]);
    expect(b.meanColumns).toEqual([]);
    expect(wanda.mean).toBeNull();
    expect(b.note).toMatch(/no column is common to every row/);
    expect(wanda.cells[all(val)]).toBeUndefined();
    const dense = row(b, 'dense');
    expect(dense.cells[all(test)].value).toBe(0.6);
    expect(dense.cells[all(val)].value).toBe(0.4);
    expect(dense.cells[all(val)].n).toBe(50);

    const mag = row(b, 'magnitude 50%');
    expect(mag.cells[all(only)].delta).toBeNull();
    expect(mag.cells[all(only)].denseRunId).toBeNull();
    expect(mag.deltaVsDense).toBeNull();
    expect(mag.note).toMatch(/no dense/);
    const html = (await call('GET', `/leaderboards/${w.model}?format=xnli`)).body as string;
    expect(html).toContain('no dense run on these rows');
    expect(html).toContain('xnli-fr-val');

    // Restricting to one suite gives the same Δ.
    const one = (await call('GET', `/v1/leaderboards?model=${w.model}&suite=${test}`)).body;
    expect(row(one, 'wanda 50% mt:fr-en').deltaVsDense).toBeCloseTo(-0.05, 12);
    expect(row(one, 'wanda 50% mt:fr-en').mean).toBe(0.55);
    expect(row(one, 'dense').mean).toBe(0.6);
  });
});

describe('a cell is what was evaluated, never a mix', () => {
  type Acc = { value: number; n: number; delta?: [number, number, number, number] };
  /** A runner's score rows for one suite: acc with n, and its paired bootstrap vs dense (Δ, lo, hi, p) where given. */
  const accRows = (suiteId: string, lang: string, a: Acc) => [
    { suiteId, format: 'xnli', lang, scoring: 'paper', metric: 'acc', value: a.value, n: a.n },
    ...(a.delta
      ? (['acc_delta', 'acc_delta_lo', 'acc_delta_hi', 'acc_delta_p'] as const).map((metric, i) => ({
          suiteId,
          format: 'xnli',
          lang,
          scoring: 'paper',
          metric,
          value: a.delta![i]!,
          n: a.n,
        }))
      : []),
  ];
  const limited = (suiteId: string, limit: number, seed = 0) => `${suiteId}:${limit}@${seed}:-`;

  it('keeps a 24-row dense evaluation in its own column: the 48-row pruned cells keep Δ against dense on their own rows', async () => {
    const w = await makeWorld('board-limit', 'public');
    const { fr, de } = w.suites;
    const both = [fr, de];
    // 1. dense on every row (48), 2. wanda on every row with the runner's paired bootstrap on those rows,
    // 3. (newest) dense on a 24-row subset, as the `"limit": 24` example of docs/api.md does.
    const dense48 = await complete(w, { kind: 'evaluate', modelId: w.model, suites: both, visibility: 'public' }, [
      ...accRows(fr, 'fr', { value: 30 / 48, n: 48 }),
      ...accRows(de, 'de', { value: 24 / 48, n: 48 }),
    ]);
    const wanda48 = await complete(w, { ...pruneSpec(w), suites: both, visibility: 'public' }, [
      ...accRows(fr, 'fr', { value: 28 / 48, n: 48, delta: [-2 / 48, -5 / 48, 0, 0.36] }),
      ...accRows(de, 'de', { value: 22 / 48, n: 48, delta: [-2 / 48, -6 / 48, 2 / 48, 0.5] }),
    ]);
    const dense24 = await complete(w, { kind: 'evaluate', modelId: w.model, suites: both, limit: 24, visibility: 'public' }, [
      ...accRows(fr, 'fr', { value: 18 / 24, n: 24 }),
      ...accRows(de, 'de', { value: 12 / 24, n: 24 }),
    ]);

    const b = (await call('GET', `/v1/leaderboards?model=${w.model}&format=xnli`)).body;
    // Four columns: each suite on all its rows and on the 24-row subset; n is the rows scored in each.
    expect(b.columns.map((c: { key: string; n: number; limit: number | null; limitSeed: number | null }) => [c.key, c.n, c.limit, c.limitSeed])).toEqual([
      [all(de), 48, null, null],
      [limited(de, 24), 24, 24, 0],
      [all(fr), 48, null, null],
      [limited(fr, 24), 24, 24, 0],
    ]);
    const dense = row(b, 'dense');
    const wanda = row(b, 'wanda 50% mt:fr-en');
    // The newer 24-row dense run did not replace the 48-row dense cell.
    expect(dense.cells[all(fr)]).toMatchObject({ value: 30 / 48, n: 48, runId: dense48, limit: null, limitSeed: null });
    expect(dense.cells[limited(fr, 24)]).toMatchObject({ value: 18 / 24, n: 24, runId: dense24, limit: 24, limitSeed: 0 });
    expect(Object.keys(wanda.cells).sort()).toEqual([all(de), all(fr)].sort());
    // Δ against dense on the same 48 rows (not 28/48 − 18/24 = −16.7 points), inside the runner's own interval.
    const frCell = wanda.cells[all(fr)];
    expect(frCell.delta).toBeCloseTo(28 / 48 - 30 / 48, 12);
    expect(frCell.denseRunId).toBe(dense48);
    expect(frCell).toMatchObject({ n: 48, runId: wanda48, deltaLo: -5 / 48, deltaHi: 0, p: 0.36 });
    expect(frCell.deltaLo).toBeLessThanOrEqual(frCell.delta);
    expect(frCell.delta).toBeLessThanOrEqual(frCell.deltaHi);
    expect(wanda.cells[all(de)].delta).toBeCloseTo(22 / 48 - 24 / 48, 12);
    // Means cover the two columns every row has; the 24-row columns are outside them.
    expect(b.meanColumns).toEqual([all(de), all(fr)]);
    expect(dense.mean).toBeCloseTo((30 / 48 + 24 / 48) / 2, 12);
    expect(dense.covers).toEqual([all(de), all(fr)]);
    expect(wanda.mean).toBeCloseTo((28 / 48 + 22 / 48) / 2, 12);
    expect(wanda.deltaVsDense).toBeCloseTo(wanda.mean - dense.mean, 12);
    expect(wanda.deltaCovers).toEqual([all(de), all(fr)]);
    expect(wanda.note).toBeNull();
    expect(b.note).toMatch(/means cover the 2 of 4 columns every row has/);

    // The other views pair the same cells.
    const methods = (await call('GET', `/v1/leaderboards/methods?model=${w.model}&format=xnli`)).body;
    expect(methods.methods.find((m: { method: string }) => m.method === 'wanda mt 50%').all.mean).toBeCloseTo(-2 / 48, 12);
    const sv = (await call('GET', `/v1/leaderboards/sparsity?model=${w.model}&format=xnli`)).body;
    expect(sv.dense[all(fr)]).toMatchObject({ value: 30 / 48, n: 48 });
    expect(sv.dense[limited(fr, 24)]).toMatchObject({ value: 18 / 24, n: 24 });
    const frSeries = sv.series.find((x: { column: string }) => x.column === all(fr));
    expect(frSeries.points[0].delta).toBeCloseTo(-2 / 48, 12);
    expect(frSeries.points[0].p).toBe(0.36);
    expect(sv.series.some((x: { column: string }) => x.column.includes(':24@'))).toBe(false);

    // CSV: one line per cell, with its column's identity; the dense subset's lines are not in the means.
    const csv = ((await call('GET', `/v1/leaderboards?model=${w.model}&format=xnli&as=csv`)).body as string).trim().split('\r\n');
    const header = csv[0]!.split(',');
    const at = (name: string) => header.indexOf(name);
    const lines = csv.slice(1).map((l) => l.split(','));
    expect(lines).toHaveLength(6);
    const line = (variant: string, column: string) => lines.find((f) => f[at('variant')] === variant && f[at('column')] === column)!;
    expect(line('dense', limited(fr, 24))).toBeDefined();
    expect(Number(line('dense', limited(fr, 24))[at('n')])).toBe(24);
    expect(line('dense', limited(fr, 24))[at('limit')]).toBe('24');
    expect(line('dense', limited(fr, 24))[at('limit_seed')]).toBe('0');
    expect(line('dense', limited(fr, 24))[at('in_mean')]).toBe('0');
    expect(line('dense', all(fr))[at('limit')]).toBe('');
    expect(line('dense', all(fr))[at('in_mean')]).toBe('1');
    const wFr = line('wanda 50% mt:fr-en', all(fr));
    expect(Number(wFr[at('n')])).toBe(48);
    expect(Number(wFr[at('delta_vs_dense')])).toBeCloseTo(-2 / 48, 12);
    expect(wFr[at('dense_run_id')]).toBe(dense48);
    expect(wFr[at('in_delta')]).toBe('1');
    expect(lines.some((f) => f[at('variant')] !== 'dense' && f[at('column')]!.includes(':24@'))).toBe(false);

    // LaTeX: n per column is the rows scored in that column, the subset columns marked as outside the means.
    const tex = (await call('GET', `/v1/leaderboards?model=${w.model}&format=xnli&as=latex`)).body as string;
    const pct = (v: number) => (v * 100).toFixed(1);
    expect(tex).toContain('{\\scriptsize xnli-fr, n=48} & {\\scriptsize xnli-fr, n=24, 24 rows seed 0}$^\\dagger$');
    expect(tex).toContain(`dense & ${pct(24 / 48)} & ${pct(12 / 24)} & ${pct(30 / 48)} & ${pct(18 / 24)} & ${pct((30 / 48 + 24 / 48) / 2)} &  \\\\`);
    expect(tex).toContain(`wanda 50\\% mt:fr-en & ${pct(22 / 48)} & -- & ${pct(28 / 48)} & -- & ${pct((28 / 48 + 22 / 48) / 2)} & $-$${pct(2 / 48)} \\\\`);
    expect(tex).toContain('$^\\dagger$ not in the means: not every row has this column');

    // The page: a column per identity, its row limit in the header, and Δ on the 48 rows in the hover.
    const html = (await call('GET', `/leaderboards/${w.model}?format=xnli`)).body as string;
    expect(html.match(/<small class="rows">24 rows seed 0<\/small>/g)).toHaveLength(2);
    expect(html).toContain(`title="n = 48 · 95% interval`);
    expect(html).toMatch(/title="n = 48 · 95% interval \[[^\]]+\] · Δ vs dense −4\.2 \[−10\.4, 0\.0\] · paired bootstrap p = 0\.360"/);
    expect(html).not.toContain('−16.7');

    // 4. wanda again on a 24-row subset of another seed: another column, the runner's own Δ on those
    // rows only; dense's 24 rows of seed 0 are other rows and no reference.
    await complete(w, { ...pruneSpec(w), suites: both, limit: 24, limitSeed: 1, visibility: 'public' }, [
      ...accRows(fr, 'fr', { value: 12 / 24, n: 24, delta: [-2 / 24, -6 / 24, 2 / 24, 0.6] }),
      ...accRows(de, 'de', { value: 11 / 24, n: 24 }),
    ]);
    const b2 = (await call('GET', `/v1/leaderboards?model=${w.model}&format=xnli`)).body;
    const w2 = row(b2, 'wanda 50% mt:fr-en');
    expect(b2.columns).toHaveLength(6);
    expect(w2.cells[all(fr)]).toMatchObject({ value: 28 / 48, runId: wanda48 });
    expect(w2.cells[limited(fr, 24, 1)]).toMatchObject({ value: 12 / 24, n: 24, delta: -2 / 24, deltaLo: -6 / 24, p: 0.6, denseRunId: null });
    expect(w2.cells[limited(de, 24, 1)]).toMatchObject({ delta: null, denseRunId: null, p: null });
    expect(b2.meanColumns).toEqual([all(de), all(fr)]);
    expect(w2.mean).toBeCloseTo((28 / 48 + 22 / 48) / 2, 12);
    expect(w2.deltaCovers).toEqual([all(de), all(fr), limited(fr, 24, 1)]);
    expect(w2.deltaVsDense).toBeCloseTo((-2 / 48 - 2 / 48 - 2 / 24) / 3, 12);
    expect(w2.note).toMatch(/^Δ over the 3 of 4 columns with a dense result on the same rows/);
  });

  it('averages a row only over the columns every row has after a dense-only evaluation of one more suite', async () => {
    const w = await makeWorld('board-extra', 'public');
    const { fr, de } = w.suites;
    const sc = (suiteId: string, lang: string, value: number) => accRows(suiteId, lang, { value, n: 100 });
    await complete(w, { kind: 'evaluate', modelId: w.model, suites: [fr], visibility: 'public' }, sc(fr, 'fr', 0.6));
    await complete(w, { ...pruneSpec(w), suites: [fr], visibility: 'public' }, sc(fr, 'fr', 0.55));
    await complete(w, { kind: 'evaluate', modelId: w.model, suites: [de], visibility: 'public' }, sc(de, 'de', 0.4));

    const b = (await call('GET', `/v1/leaderboards?model=${w.model}&format=xnli`)).body;
    expect(b.columns.map((c: { key: string }) => c.key)).toEqual([all(de), all(fr)]);
    expect(b.meanColumns).toEqual([all(fr)]);
    const dense = row(b, 'dense');
    const wanda = row(b, 'wanda 50% mt:fr-en');
    expect(dense.cells[all(de)].value).toBe(0.4);
    // Not (0.6 + 0.4) / 2: the pruned row has no de cell.
    expect(dense.mean).toBe(0.6);
    expect(dense.meanNonEnglish).toBe(0.6);
    expect(dense.covers).toEqual([all(fr)]);
    expect(wanda.mean).toBe(0.55);
    expect(wanda.deltaVsDense).toBeCloseTo(0.55 - 0.6, 12);
    expect(wanda.deltaVsDense).toBeCloseTo(wanda.mean - dense.mean, 12);
    expect(b.note).toMatch(/means cover the 1 of 2 columns every row has: fr /);

    const csv = ((await call('GET', `/v1/leaderboards?model=${w.model}&format=xnli&as=csv`)).body as string).trim().split('\r\n');
    const header = csv[0]!.split(',');
    const inMean = Object.fromEntries(
      csv
        .slice(1)
        .map((l) => l.split(','))
        .map((f) => [`${f[header.indexOf('variant')]} ${f[header.indexOf('lang')]}`, f[header.indexOf('in_mean')]]),
    );
    expect(inMean).toEqual({ 'dense de': '0', 'dense fr': '1', 'wanda 50% mt:fr-en fr': '1' });
    const tex = (await call('GET', `/v1/leaderboards?model=${w.model}&format=xnli&as=latex`)).body as string;
    expect(tex).toContain('dense & 40.0 & 60.0 & 60.0 &  \\\\');
    expect(tex).toContain('wanda 50\\% mt:fr-en & -- & 55.0 & 55.0 & $-$5.0 \\\\');
    expect(tex).toContain('n=100}$^\\dagger$ & {\\scriptsize');
    const html = (await call('GET', `/leaderboards/${w.model}?format=xnli`)).body as string;
    expect(html.match(/<small class="out">not in the mean<\/small>/g)).toHaveLength(1);
    expect(html).toContain('<small class="covers">1 of 2 columns</small>');

    // Narrowed to the rows both have, the board is whole again.
    const fr1 = (await call('GET', `/v1/leaderboards?model=${w.model}&format=xnli&lang=fr`)).body;
    expect(fr1.meanColumns).toEqual([all(fr)]);
    expect(fr1.note).toBeNull();
  });
});

describe('formats', () => {
  let w: World;
  let ppl: string;
  let mt: string;
  let mc: string;
  beforeAll(async () => {
    w = await makeWorld('board-formats', 'public');
    ppl = await suite(w, 'ppl', 'fr', 'Un texte.\nUn autre.\n');
    mt = await suite(w, 'mt', 'fr', JSON.stringify({ src: 'Bonjour', tgt: 'Hello' }));
    mc = await suite(w, 'mc', 'fr', JSON.stringify({ context: 'c', choices: ['a', 'b', 'c', 'd'], label: 0 }));
    const s = (suiteId: string, format: string, metric: string, value: number) => ({ suiteId, format, lang: 'fr', scoring: 'paper', metric, value, n: 40 });
    const all = [w.suites.fr, ppl, mt, mc];
    await complete(w, { kind: 'evaluate', modelId: w.model, suites: all, visibility: 'public' }, [
      s(w.suites.fr, 'xnli', 'acc', 0.5),
      s(ppl, 'ppl', 'ppl', 20),
      s(ppl, 'ppl', 'ppl_lo', 18.5),
      s(ppl, 'ppl', 'ppl_hi', 21.7),
      s(mt, 'mt', 'chrf', 40),
      s(mt, 'mt', 'bleu', 22.5),
      s(mt, 'mt', 'bleu_lo', 19.25),
      s(mt, 'mt', 'bleu_hi', 25.75),
      s(mc, 'mc', 'acc', 0.3),
    ]);
    await complete(w, { ...pruneSpec(w), suites: all, visibility: 'public' }, [
      s(w.suites.fr, 'xnli', 'acc', 0.45),
      s(ppl, 'ppl', 'ppl', 25),
      // the runner's paired bootstraps of corpus perplexity and corpus chrF against dense on the same rows
      s(ppl, 'ppl', 'ppl_lo', 23),
      s(ppl, 'ppl', 'ppl_hi', 27.4),
      s(ppl, 'ppl', 'ppl_delta', 5),
      s(ppl, 'ppl', 'ppl_delta_lo', 3.9),
      s(ppl, 'ppl', 'ppl_delta_hi', 6.2),
      s(ppl, 'ppl', 'ppl_delta_p', 1 / 1001),
      s(mt, 'mt', 'chrf', 35),
      s(mt, 'mt', 'chrf_lo', 31),
      s(mt, 'mt', 'chrf_hi', 39),
      s(mt, 'mt', 'chrf_delta', -5),
      s(mt, 'mt', 'chrf_delta_lo', -9.5),
      s(mt, 'mt', 'chrf_delta_hi', 0.5),
      s(mt, 'mt', 'chrf_delta_p', 0.07),
      // and of corpus BLEU (sacreBLEU's 0–100 scale, as chrF)
      s(mt, 'mt', 'bleu', 18.25),
      s(mt, 'mt', 'bleu_lo', 15.5),
      s(mt, 'mt', 'bleu_hi', 21),
      s(mt, 'mt', 'bleu_delta', -4.25),
      s(mt, 'mt', 'bleu_delta_lo', -6.5),
      s(mt, 'mt', 'bleu_delta_hi', -1.75),
      s(mt, 'mt', 'bleu_delta_p', 0.004),
      s(mc, 'mc', 'acc', 0.28),
    ]);
  });

  it('serves metric=bleu on every view: JSON, sparsity, methods, CSV, LaTeX and page', async () => {
    const b = (await call('GET', `/v1/leaderboards?model=${w.model}&format=mt&metric=bleu`)).body;
    expect(b.metric).toBe('bleu');
    expect(b.lowerIsBetter).toBe(false);
    expect(b.columns.map((c: { suiteId: string }) => c.suiteId)).toEqual([mt]);
    expect(b.rows.map((r: { variant: string }) => r.variant)).toEqual(['dense', 'wanda 50% mt:fr-en']);
    expect(row(b, 'dense').cells[all(mt)]).toMatchObject({ value: 22.5, lo: 19.25, hi: 25.75, delta: null, p: null });
    // Δ is the difference of the cells (dense on the same suite); interval and p are the runner's bootstrap
    expect(row(b, 'wanda 50% mt:fr-en').cells[all(mt)]).toMatchObject({
      value: 18.25,
      lo: 15.5,
      hi: 21,
      delta: -4.25,
      deltaLo: -6.5,
      deltaHi: -1.75,
      p: 0.004,
    });
    expect(row(b, 'wanda 50% mt:fr-en').deltaVsDense).toBeCloseTo(-4.25, 12);
    // no BLEU cells where no run reported BLEU
    expect((await call('GET', `/v1/leaderboards?model=${w.model}&format=xnli&metric=bleu`)).body.rows).toEqual([]);

    const sv = (await call('GET', `/v1/leaderboards/sparsity?model=${w.model}&format=mt&metric=bleu`)).body;
    expect(sv.metric).toBe('bleu');
    expect(sv.dense[all(mt)]).toMatchObject({ value: 22.5 });
    expect(sv.series[0].points[0]).toMatchObject({ sparsity: 0.5, value: 18.25, delta: -4.25, p: 0.004 });
    const ms = (await call('GET', `/v1/leaderboards/methods?model=${w.model}&format=mt&metric=bleu`)).body;
    expect(ms.metric).toBe('bleu');
    expect(ms.methods[0].all.mean).toBeCloseTo(-4.25, 12);

    const csv = (await call('GET', `/v1/leaderboards?model=${w.model}&format=mt&metric=bleu&as=csv`)).body as string;
    const [head, ...lines] = csv.trim().split('\r\n');
    const at = (name: string) => head!.split(',').indexOf(name);
    const pruned = lines.map((l) => l.split(',')).find((f) => f[at('variant')] === 'wanda 50% mt:fr-en')!;
    expect(pruned[at('metric')]).toBe('bleu');
    expect(Number(pruned[at('value')])).toBe(18.25);
    expect(Number(pruned[at('p')])).toBe(0.004);
    // printed as it is stored (0–100), one decimal, like chrF; significant in bold
    const tex = (await call('GET', `/v1/leaderboards?model=${w.model}&format=mt&metric=bleu&as=latex`)).body as string;
    expect(tex).toContain('metric bleu');
    expect(tex).toMatch(/dense & 22\.5 /);
    expect(tex).toContain('\\textbf{18.3}');
    const html = (await call('GET', `/leaderboards/${w.model}?format=mt&metric=bleu`)).body as string;
    expect(html).toContain('metric <b>bleu</b>');
    expect(html).toMatch(/title="[^"]*95% interval \[15\.5, 21\.0\][^"]*paired bootstrap p = 0\.004">18\.3\*?<small/);
  });

  it('picks each format’s own metric and order when none is named', async () => {
    const p = (await call('GET', `/v1/leaderboards?model=${w.model}&format=ppl`)).body;
    expect(p.metric).toBe('ppl');
    expect(p.lowerIsBetter).toBe(true);
    expect(row(p, 'wanda 50% mt:fr-en').deltaVsDense).toBeCloseTo(5, 12);
    const m = (await call('GET', `/v1/leaderboards?model=${w.model}&format=mt`)).body;
    expect(m.metric).toBe('chrf');
    expect(row(m, 'dense').cells[all(mt)].value).toBe(40);
    expect(row(m, 'dense').cells[all(mt)].lo).toBeNull(); // no interval is invented for chrF
    // n of a translation suite counts the rows translated: its first rows are the prompt's demonstrations.
    expect(m.columns[0]).toMatchObject({ key: all(mt), n: 40, nNote: expect.stringMatching(/demonstrations/) });
    expect(p.columns[0].nNote).toBeNull();
    expect(row(p, 'dense').cells[all(ppl)]).toMatchObject({ value: 20, lo: 18.5, hi: 21.7, delta: null, p: null });
    expect(row(p, 'wanda 50% mt:fr-en').cells[all(ppl)]).toMatchObject({ value: 25, lo: 23, hi: 27.4, delta: 5, deltaLo: 3.9, deltaHi: 6.2, p: 1 / 1001 });
    expect(row(m, 'wanda 50% mt:fr-en').cells[all(mt)]).toMatchObject({ value: 35, lo: 31, hi: 39, delta: -5, deltaLo: -9.5, deltaHi: 0.5, p: 0.07 });
    const sv = (await call('GET', `/v1/leaderboards/sparsity?model=${w.model}&format=ppl`)).body;
    expect(sv.series[0].points[0]).toMatchObject({ sparsity: 0.5, value: 25, delta: 5, p: 1 / 1001 });
    const html = (await call('GET', `/leaderboards/${w.model}?format=ppl`)).body as string;
    expect(html).toContain('metric <b>ppl</b>');
    expect(html).toContain('href="?format=mt&amp;scoring=paper&amp;metric=chrf"');
    expect(html).toContain('href="?format=xnli&amp;scoring=paper&amp;metric=acc"');
    expect(html).toContain('<rect class="bar"');
    const mtHtml = (await call('GET', `/leaderboards/${w.model}?format=mt`)).body as string;
    expect(mtHtml).toContain('mt: n counts the rows translated: the first rows evaluated (up to 4) are the prompt’s demonstrations and are not scored.');
    expect(mtHtml).toContain('40.0<');
    expect(mtHtml).toMatch(/title="[^"]*95% interval \[31\.0, 39\.0\][^"]*paired bootstrap p = 0\.070">35\.0<small/);
    const pplHtml = html.match(/<td class="sig" title="[^"]*">25\.00\*<small/);
    expect(pplHtml, 'significant ppl cell marked').not.toBeNull();
  });

  it('never averages across formats in a query without format', async () => {
    const b = (await call('GET', `/v1/leaderboards?model=${w.model}`)).body;
    expect(b.metric).toBe('acc');
    expect(b.columns.map((c: { format: string }) => c.format).sort()).toEqual(['mc', 'xnli']);
    expect(row(b, 'dense').mean).toBeNull();
    expect(row(b, 'wanda 50% mt:fr-en').deltaVsDense).toBeNull();
    expect(b.note).toMatch(/formats mc, xnli/);
    expect(b.columns.find((c: { format: string }) => c.format === 'mc').chance).toBeNull();
  });
});

describe('across models', () => {
  it('ranks every visible (model, variant) of a format, language and sparsity', async () => {
    const a = await makeWorld('board-across-a', 'public');
    const b = await makeWorld('board-across-b', 'public');
    const hidden = await makeWorld('board-across-hidden');
    const sw = async (w: World) => suite(w, 'xnli', 'sw', JSON.stringify({ premise: 'p', hypothesis: 'h', label: 0 }));
    const put = async (w: World, suiteId: string, spec: Record<string, unknown>, value: number, vis = 'public') =>
      complete(w, { ...spec, suites: [suiteId], visibility: vis }, [{ suiteId, format: 'xnli', lang: 'sw', scoring: 'paper', metric: 'acc', value, n: 300 }]);
    // Models are ranked on the same rows: both evaluated on one public suite.
    const sa = await sw(a);
    const sb = sa;
    await put(a, sa, { kind: 'evaluate', modelId: a.model }, 0.52);
    await put(a, sa, { kind: 'prune', modelId: a.model, method: 'magnitude', sparsity: 0.5 }, 0.41);
    await put(a, sa, { kind: 'prune', modelId: a.model, method: 'magnitude', sparsity: 0.7 }, 0.35);
    await put(b, sb, { kind: 'evaluate', modelId: b.model }, 0.5);
    await put(b, sb, { kind: 'prune', modelId: b.model, method: 'magnitude', sparsity: 0.5 }, 0.47);
    const sh = await suite(hidden, 'xnli', 'sw', JSON.stringify({ premise: 'p', hypothesis: 'h', label: 0 }));
    await put(hidden, sh, { kind: 'prune', modelId: hidden.model, method: 'magnitude', sparsity: 0.5 }, 0.9, 'private');

    const r = await call('GET', '/v1/leaderboards?format=xnli&lang=sw&sparsity=0.5');
    expect(r.status).toBe(200);
    expect(r.body.model).toBeNull();
    const mine = r.body.rows.filter((x: { model: string }) => x.model === a.model || x.model === b.model);
    expect(r.body.rows.some((x: { model: string }) => x.model === hidden.model)).toBe(false);
    const pruned = mine.filter((x: { dense: boolean }) => !x.dense);
    expect(pruned.map((x: { modelName: string; variant: string }) => `${x.modelName} ${x.variant}`)).toEqual([
      'board-across-b-lm magnitude 50%',
      'board-across-a-lm magnitude 50%',
    ]);
    expect(r.body.meanColumns).toEqual([all(sa)]);
    expect(pruned[0].deltaVsDense).toBeCloseTo(0.47 - 0.5, 12);
    expect(pruned[1].deltaVsDense).toBeCloseTo(0.41 - 0.52, 12);
    expect(r.body.rows.slice(0, r.body.rows.filter((x: { dense: boolean }) => x.dense).length).every((x: { dense: boolean }) => x.dense)).toBe(true);

    const page = await call('GET', '/leaderboards?format=xnli&lang=sw&sparsity=0.5');
    expect(page.status).toBe(200);
    expect(page.body).toContain('board-across-b-lm');
    expect(page.body).toContain('<form id="filters"');

    // Across sparsities for model a: one series, points at 0.5 and 0.7, dense alongside.
    const sp = (await call('GET', `/v1/leaderboards/sparsity?model=${a.model}&format=xnli`)).body;
    expect(sp.metric).toBe('acc');
    expect(sp.dense[all(sa)].value).toBe(0.52);
    expect(sp.columns.map((c: { key: string }) => c.key)).toEqual([all(sa)]);
    expect(sp.series).toHaveLength(1);
    expect(sp.series[0].key).toBe('magnitude');
    expect(sp.series[0].column).toBe(all(sa));
    expect(sp.series[0].points.map((p: { sparsity: number; value: number; delta: number }) => [p.sparsity, p.value, Number(p.delta.toFixed(12))])).toEqual([
      [0.5, 0.41, Number((0.41 - 0.52).toFixed(12))],
      [0.7, 0.35, Number((0.35 - 0.52).toFixed(12))],
    ]);
    const html = (await call('GET', `/leaderboards/${a.model}`)).body as string;
    expect((html.match(/<polyline class="series"/g) ?? []).length).toBe(1);
  });
});

describe('exports', () => {
  it('gives the same query as CSV (one line per cell) and as a LaTeX table', async () => {
    const viaParam = await call('GET', `/v1/leaderboards?model=${pub.model}&format=xnli&as=csv`);
    expect(viaParam.status).toBe(200);
    expect(viaParam.headers.get('content-type')).toContain('text/csv');
    const viaAccept = await call('GET', `/v1/leaderboards?model=${pub.model}&format=xnli`, { headers: { accept: 'text/csv' } });
    expect(viaAccept.body).toBe(viaParam.body);
    const lines = (viaParam.body as string).trim().split('\r\n');
    const header = lines[0]!.split(',');
    expect(header).toContain('delta_vs_dense');
    expect(lines).toHaveLength(1 + 9);
    const at = (name: string) => header.indexOf(name);
    const magFr = lines.map((l) => l.split(',')).find((f) => f[at('variant')] === 'magnitude 50%' && f[at('lang')] === 'fr')!;
    expect(Number(magFr[at('value')])).toBe(0.41);
    expect(Number(magFr[at('n')])).toBe(N);
    expect(Number(magFr[at('delta_vs_dense')])).toBeCloseTo(0.41 - 0.6, 12);
    expect(Number(magFr[at('lo')])).toBeCloseTo(wilson(0.41, N)[0], 12);

    const tex = await call('GET', `/v1/leaderboards?model=${pub.model}&format=xnli&as=latex`);
    expect(tex.headers.get('content-type')).toContain('latex');
    const t = tex.body as string;
    expect(t).toContain('\\begin{tabular}{lrrrrr}');
    expect(t).toContain('magnitude 50\\% & 39.0 & 52.0 & 41.0 & 44.0 & $-$17.7 \\\\');
    expect(t.indexOf('dense &')).toBeLessThan(t.indexOf('magnitude'));
    expect(t).toContain('\\end{tabular}');
  });
});

describe('significance and method summary', () => {
  it('attaches the bootstrap a runner reported to the cells of its variant, and summarises methods over pairs', async () => {
    const w = await makeWorld('board-sig', 'public');
    const r = (lang: 'fr' | 'de', metric: string, value: number) => ({
      suiteId: w.suites[lang],
      format: 'xnli',
      lang,
      scoring: 'paper',
      metric,
      value,
      n: 100,
    });
    await complete(w, { ...pruneSpec(w), visibility: 'public' }, [
      r('fr', 'acc', 0.5),
      r('fr', 'acc_delta', -0.1),
      r('fr', 'acc_delta_lo', -0.18),
      r('fr', 'acc_delta_hi', -0.02),
      r('fr', 'acc_delta_p', 0.01),
      r('de', 'acc', 0.6),
      r('de', 'acc_delta_p', 0.4),
    ]);
    const board = (await call('GET', `/v1/leaderboards?model=${w.model}&format=xnli`)).body;
    const cells = board.rows[0].cells;
    expect(cells[all(w.suites.fr)]).toMatchObject({ p: 0.01, delta: -0.1, deltaLo: -0.18, deltaHi: -0.02, denseRunId: null });
    expect(cells[all(w.suites.de)]).toMatchObject({ p: 0.4, delta: null });
    expect((await call('GET', `/v1/leaderboards?model=${w.model}&format=xnli&metric=f1`)).body.rows).toEqual([]);
    const html = (await call('GET', `/leaderboards/${w.model}`)).body as string;
    expect(html).toMatch(/<td class="sig" title="[^"]*p = 0\.010">50\.0\*<small class="n">n=100<\/small><\/td>/);
    expect(html).toMatch(/<td class="" title="[^"]*no dense run on these rows · paired bootstrap p = 0\.400">60\.0<small/);

    // Method summary on the public world: Δ vs dense per method, own pair (fr for fr-en) vs others.
    const m = (await call('GET', `/v1/leaderboards/methods?model=${pub.model}&format=xnli`)).body;
    const wanda = m.methods.find((x: { method: string }) => x.method === 'wanda mt 50%');
    const d = (v: string, l: 'fr' | 'de' | 'en') => seeded[v]![l] - seeded.dense![l];
    // One calibration pair: its three cells share one pruned model, so they are one unit (n = 1, no interval).
    expect(wanda.all).toMatchObject({ n: 1, lo: null, hi: null, p: 1 });
    expect(wanda.all.mean).toBeCloseTo((d('wanda 50% mt:fr-en', 'fr') + d('wanda 50% mt:fr-en', 'de') + d('wanda 50% mt:fr-en', 'en')) / 3, 12);
    expect(wanda.ownPair).toMatchObject({ n: 1, lo: null, hi: null, p: 1 });
    expect(wanda.ownPair.mean).toBeCloseTo(d('wanda 50% mt:fr-en', 'fr'), 12);
    expect(wanda.otherLanguages.mean).toBeCloseTo((d('wanda 50% mt:fr-en', 'de') + d('wanda 50% mt:fr-en', 'en')) / 2, 12);
    // Magnitude has no calibration: its suites are the units. Δ = −0.16 (de), −0.18 (en), −0.19 (fr):
    // mean −0.176667, s = 0.015275, t(0.975, 2) = 4.302653 → ±0.037946; only the all-minus and
    // all-plus sign patterns reach |Σ| = 0.53 → exact p = 2/8, the smallest three units can give.
    const mag = m.methods.find((x: { method: string }) => x.method === 'magnitude 50%');
    expect(mag.ownPair).toBeNull();
    expect(mag.all.n).toBe(3);
    expect(mag.all.mean).toBeCloseTo(-0.176667, 6);
    expect(mag.all.lo).toBeCloseTo(-0.214613, 5);
    expect(mag.all.hi).toBeCloseTo(-0.138721, 5);
    expect(mag.all.p).toBe(0.25);
    const c = m.contrasts.find((x: { a: string; b: string }) => x.a === 'magnitude 50%' && x.b === 'wanda mt 50%');
    expect(c.delta).toMatchObject({ n: 1, lo: null, p: 1 });
    expect(c.delta.mean).toBeCloseTo((0.41 - 0.58 + 0.39 - 0.5 + 0.52 - 0.66) / 3, 12);
    const page = (await call('GET', `/leaderboards/${pub.model}?format=xnli`)).body as string;
    expect(page).toContain('magnitude 50% vs wanda mt 50%: Δ −14.0 n=1 (not significant, p = 1.000)');
    expect(page).toContain('<td>−17.7 [−21.5, −13.9] n=3</td>');
  });

  it('tests methods over calibration pairs, not over the correlated cells of one pair', async () => {
    const w = await makeWorld('board-pairs', 'public');
    await runJob(w, { kind: 'evaluate', modelId: w.model, suites: suitesOf(w), visibility: 'public' }, { fr: 0.6, de: 0.55, en: 0.7 });
    await runJob(w, { ...pruneSpec(w), visibility: 'public' }, { fr: 0.58, de: 0.5, en: 0.66 });
    await runJob(w, { ...pruneSpec(w, { calibration: { corpusId: w.corpusDe } }), visibility: 'public' }, { fr: 0.55, de: 0.54, en: 0.67 });
    const m = (await call('GET', `/v1/leaderboards/methods?model=${w.model}&format=xnli`)).body;
    const wanda = m.methods.find((x: { method: string }) => x.method === 'wanda mt 50%');
    // six cells, all negative, would give a sign-flip p of 2/64; the units are the two pairs:
    // fr-en (−0.02, −0.05, −0.04) → −0.036667, de-en (−0.05, −0.01, −0.03) → −0.03
    // mean −0.033333, s = 0.0066667/√2 = 0.0047140, s/√2 = 0.0033333, t(0.975, 1) = 12.7062 → ±0.042354; p = 2/4
    expect(wanda.all.n).toBe(2);
    expect(wanda.all.mean).toBeCloseTo(-0.033333, 6);
    expect(wanda.all.lo).toBeCloseTo(-0.075687, 5);
    expect(wanda.all.hi).toBeCloseTo(0.009021, 5);
    expect(wanda.all.p).toBe(0.5);
    // own language: fr for fr-en (−0.02), de for de-en (−0.01)
    expect(wanda.ownPair.n).toBe(2);
    expect(wanda.ownPair.mean).toBeCloseTo(-0.015, 12);
    expect(wanda.ownPair.hi - wanda.ownPair.mean).toBeCloseTo(12.7062 * 0.005, 4);
  });
});
