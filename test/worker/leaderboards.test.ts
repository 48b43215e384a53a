import { beforeAll, describe, expect, it } from 'vitest';
import { call } from './helpers';
import { leaseJob, makeWorld, pruneSpec, type World } from './fixtures';

let pub: World;
let priv: World;

/** Per variant and language, the accuracy a runner reports. */
const seeded: Record<string, Record<'fr' | 'de' | 'en', number>> = {
  dense: { fr: 0.6, de: 0.55, en: 0.7 },
  'wanda 50% mt:fr-en': { fr: 0.58, de: 0.5, en: 0.66 },
  'magnitude 50%': { fr: 0.41, de: 0.39, en: 0.52 },
};

async function runJob(w: World, spec: unknown, values: Record<string, number>) {
  const job = (await call('POST', '/v1/jobs', { token: w.writer, json: spec })).body;
  const l = await leaseJob(w.runner, job.id);
  const scores = (['fr', 'de', 'en'] as const).flatMap((lang) => [
    { suiteId: w.suites[lang], format: 'xnli', lang, scoring: 'paper', metric: 'acc', value: values[lang], n: 100 },
    { suiteId: w.suites[lang], format: 'xnli', lang, scoring: 'harness', metric: 'acc', value: 1 - values[lang]!, n: 100 },
  ]);
  const r = await call('POST', `/v1/runner/jobs/${job.id}/complete`, { token: w.runner, json: { leaseToken: l.leaseToken, result: { scores } } });
  expect(r.status).toBe(200);
  return r.body.runId as string;
}

beforeAll(async () => {
  pub = await makeWorld('board-public', 'public');
  priv = await makeWorld('board-private');
  const suites = (w: World) => [w.suites.fr, w.suites.de, w.suites.en];
  await runJob(pub, { kind: 'evaluate', modelId: pub.model, suites: suites(pub), visibility: 'public' }, seeded.dense!);
  await runJob(pub, { ...pruneSpec(pub), visibility: 'public' }, seeded['wanda 50% mt:fr-en']!);
  await runJob(pub, { kind: 'prune', modelId: pub.model, method: 'magnitude', suites: suites(pub), visibility: 'public' }, seeded['magnitude 50%']!);
  // A private run on the same public model must not show to anonymous callers.
  const privRunnerSpec = { kind: 'prune', modelId: pub.model, method: 'random', suites: suites(pub), visibility: 'private' };
  await runJob(pub, privRunnerSpec, { fr: 0.34, de: 0.33, en: 0.35 });
});

describe('leaderboards', () => {
  it('aggregates per variant and language exactly as an independent computation', async () => {
    const r = await call('GET', `/v1/leaderboards?model=${pub.model}&format=xnli&scoring=paper&metric=acc`);
    expect(r.status).toBe(200);
    expect(r.body.languages).toEqual(['de', 'en', 'fr']);
    const denseMean = (0.6 + 0.55 + 0.7) / 3;
    for (const [variant, v] of Object.entries(seeded)) {
      const row = r.body.rows.find((x: { variant: string }) => x.variant === variant);
      expect(row, variant).toBeDefined();
      expect(row.scores).toEqual({ fr: v.fr, de: v.de, en: v.en });
      const mean = (v.fr + v.de + v.en) / 3;
      expect(row.mean).toBeCloseTo(mean, 12);
      expect(row.meanNonEnglish).toBeCloseTo((v.fr + v.de) / 2, 12);
      expect(row.deltaVsDense).toBeCloseTo(mean - denseMean, 12);
    }
    // Anonymous callers see public results only.
    expect(r.body.rows.map((x: { variant: string }) => x.variant)).not.toContain('random 50%');
    // Sorted by mean, best first.
    const means = r.body.rows.map((x: { mean: number }) => x.mean);
    expect(means).toEqual([...means].sort((a, b) => b - a));
  });

  it('shows the owner their private rows, and filters and sorts on request', async () => {
    const mine = await call('GET', `/v1/leaderboards?model=${pub.model}&format=xnli`, { token: pub.writer });
    expect(mine.body.rows.map((x: { variant: string }) => x.variant)).toContain('random 50%');
    const other = await call('GET', `/v1/leaderboards?model=${pub.model}&format=xnli`, { token: priv.writer });
    expect(other.body.rows.map((x: { variant: string }) => x.variant)).not.toContain('random 50%');
    const byFr = await call('GET', `/v1/leaderboards?model=${pub.model}&sort=fr&order=asc`);
    const fr = byFr.body.rows.map((x: { scores: { fr: number } }) => x.scores.fr);
    expect(fr).toEqual([...fr].sort((a, b) => a - b));
    const harness = await call('GET', `/v1/leaderboards?model=${pub.model}&scoring=harness`);
    expect(harness.body.rows.find((x: { variant: string }) => x.variant === 'dense').scores.fr).toBeCloseTo(0.4, 12);
    const onlyWanda = await call('GET', `/v1/leaderboards?model=${pub.model}&method=wanda`);
    expect(onlyWanda.body.rows.map((x: { variant: string }) => x.variant).sort()).toEqual(['dense', 'wanda 50% mt:fr-en']);
  });

  it('hides leaderboards of private models and validates the query', async () => {
    expect((await call('GET', `/v1/leaderboards?model=${priv.model}`)).status).toBe(404);
    expect((await call('GET', '/v1/leaderboards')).status).toBe(400);
    expect((await call('GET', `/v1/leaderboards?model=${pub.model}&scoring=vibes`)).status).toBe(400);
  });

  it('renders an HTML page with the table and an SVG chart', async () => {
    const r = await call('GET', `/leaderboards/${pub.model}`);
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toContain('text/html');
    const html = r.body as string;
    expect(html).toContain('<table id="leaderboard">');
    expect(html).toContain('wanda 50% mt:fr-en');
    expect((html.match(/<rect class="bar"/g) ?? []).length).toBe(9); // 3 public variants × 3 languages
    expect((await call('GET', '/leaderboards/mdl_nope')).status).toBe(404);
  });
});

describe('significance against dense', () => {
  it('attaches the bootstrap p-values a runner reported to the accuracy cells of its variant', async () => {
    const w = await makeWorld('board-sig', 'public');
    const job = (await call('POST', '/v1/jobs', { token: w.writer, json: { ...pruneSpec(w), visibility: 'public' } })).body;
    const l = await leaseJob(w.runner, job.id);
    const row = (lang: 'fr' | 'de', metric: string, value: number) => ({
      suiteId: w.suites[lang],
      format: 'xnli',
      lang,
      scoring: 'paper',
      metric,
      value,
      n: 100,
    });
    const scores = [row('fr', 'acc', 0.5), row('fr', 'acc_delta_p', 0.01), row('de', 'acc', 0.6), row('de', 'acc_delta_p', 0.4)];
    expect((await call('POST', `/v1/runner/jobs/${job.id}/complete`, { token: w.runner, json: { leaseToken: l.leaseToken, result: { scores } } })).status).toBe(
      200,
    );
    const board = await call('GET', `/v1/leaderboards?model=${w.model}&format=xnli`);
    expect(board.body.rows[0].pValues).toEqual({ fr: 0.01, de: 0.4 });
    expect((await call('GET', `/v1/leaderboards?model=${w.model}&format=xnli&metric=f1`)).body.rows).toEqual([]);
    const html = (await call('GET', `/leaderboards/${w.model}`)).body as string;
    expect(html).toMatch(/<td class="sig" title="paired bootstrap vs dense: p = 0.010">0.500\*<\/td>/);
    expect(html).toMatch(/<td class="" title="paired bootstrap vs dense: p = 0.400">0.600<\/td>/);
  });
});
