/**
 * RankC in a job: which suites are parallel (the plan), and a real evaluation of the demo model on
 * parallel English/French multiple-choice suites giving rankc rows equal to a direct computation from
 * the per-row samples the job stored — and none for suites that are not parallel, each with its reason.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { McPrediction } from '@polyprune/gpu-runner/evaluate/multipleChoice';
import { decodeSamples } from '@polyprune/gpu-runner/service/samples';
import { planRankc, type RankcSuite, rankcDeltaRows } from '@polyprune/gpu-runner/service/rankc';
import { evaluateSuites, type SuiteRun } from '@polyprune/gpu-runner/service/suites';
import { type LocalInput, localContext } from './local-context';

const root = path.resolve(import.meta.dirname, '../../..');
const demoModel = path.join(root, 'demo/model');

describe('which suites are parallel', () => {
  const s = (suiteId: string, lang: string, task: string, extra: Partial<RankcSuite> = {}): RankcSuite => ({
    suiteId,
    format: 'xnli',
    lang,
    task,
    rows: 100,
    subset: null,
    ...extra,
  });

  it('pairs each language-X multiple-choice suite with the English suite of its task that has the same rows', () => {
    const plan = planRankc([
      s('en', 'en', 'xnli'),
      s('fr', 'fr', 'xnli'),
      s('en-sub', 'en', 'xnli-sub', { subset: { n: 50, seed: 1, of: 100 }, rows: 50 }),
      s('de-sub', 'de', 'xnli-sub', { subset: { n: 50, seed: 1, of: 100 }, rows: 50 }),
      s('es-sub', 'es', 'xnli-sub', { subset: { n: 50, seed: 2, of: 100 }, rows: 50 }),
      s('ru', 'ru', 'xnli', { rows: 99 }),
      s('sw', 'sw', 'xnli-sw-only'),
      s('pa', 'fr', 'xnli', { format: 'pawsx' }),
      s('ppl', 'fr', 'xnli', { format: 'ppl' }),
      s('en-gb', 'en-GB', 'xnli'),
    ]);
    expect(plan.pairs).toEqual([
      { suiteId: 'fr', englishId: 'en' },
      { suiteId: 'de-sub', englishId: 'en-sub' },
    ]);
    const why = Object.fromEntries(plan.absent.map((a) => [a.suiteId, a.reason]));
    expect(Object.keys(why).sort()).toEqual(['es-sub', 'pa', 'ru', 'sw']);
    expect(why['es-sub']).toBe(
      'not parallel to the English suite en-sub of task "xnli-sub": 50 rows (subset n=50 seed=1 of 100) there, 50 rows (subset n=50 seed=2 of 100) here',
    );
    expect(why.ru).toBe('not parallel to the English suite en of task "xnli": 100 rows (no subset) there, 99 rows (no subset) here');
    expect(why.sw).toBe('no English suite of task "xnli-sw-only" in the job');
    expect(why.pa).toBe('the English suite en of task "xnli" is xnli, this one pawsx');
  });
});

describe('Δ RankC vs dense', () => {
  it('is the mean per-item difference on the same rows, with a bootstrap interval around it', () => {
    const base = { suiteId: 's', format: 'xnli', lang: 'fr', scoring: 'paper' as const, n: 6 };
    const pruned = { items: Float64Array.from([1, 0.2, 0.5, 1, 0.9, 0.1]), rows: [0, 1, 2, 3, 4, 5] };
    // dense rows in another order: pairing is by row, not by position
    const dense = { items: Float64Array.from([0.4, 1, 1, 0.3, 0.2, 1]), rows: [5, 0, 1, 2, 3, 4] };
    const rows = rankcDeltaRows(base, 'rankc', pruned, dense);
    const v = Object.fromEntries(rows.map((r) => [r.metric, r.value]));
    // per row: 1−1, 0.2−1, 0.5−0.3, 1−0.2, 0.9−1, 0.1−0.4 → (0 − 0.8 + 0.2 + 0.8 − 0.1 − 0.3) / 6 = −0.2 / 6
    expect(v.rankc_delta).toBeCloseTo(-0.2 / 6, 14);
    expect(v.rankc_delta_lo!).toBeLessThan(v.rankc_delta!);
    expect(v.rankc_delta_hi!).toBeGreaterThan(v.rankc_delta!);
    expect(v.rankc_delta_p!).toBeGreaterThan(0.05);
    expect(() => rankcDeltaRows(base, 'rankc', pruned, { items: dense.items.slice(1), rows: dense.rows.slice(1) })).toThrow(/5 items/);
  });
});

/**
 * The demo suites are multi-parallel (row i is the same held-out sentence in every language) but
 * shuffle their choices per language; putting each row's choices in the same roles — true ending,
 * the same words scrambled, the ending in another language — makes candidate c the same candidate
 * in every language.
 */
async function alignedDemoRows(lang: string, count: number): Promise<{ context: string; choices: string[]; label: number }[]> {
  const text = await readFile(path.join(root, `demo/data/suite.mc.${lang}.jsonl`), 'utf8');
  const bag = (s: string) =>
    s
      .toLowerCase()
      .replace(/[.,!?¡¿]/g, '')
      .split(/\s+/)
      .sort()
      .join(' ');
  const rows = text
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as { context: string; choices: string[]; label: number });
  return rows.slice(0, count).map((r) => {
    const truth = r.choices[r.label]!;
    const others = r.choices.filter((_, i) => i !== r.label);
    const scrambled = others.find((c) => bag(c) === bag(truth));
    if (!scrambled) throw new Error(`demo ${lang} row has no scrambled choice: ${JSON.stringify(r)}`);
    return { context: r.context, choices: [truth, scrambled, others.find((c) => c !== scrambled)!], label: 0 };
  });
}

/** RankC written out: sort, take top-j sets, count the common candidates (independent of the engine's code). */
function directRankc(en: number[], x: number[], descending: boolean): number {
  const K = en.length;
  const w = Array.from({ length: K }, (_, j) => Math.exp(K - 1 - j));
  const Z = w.reduce((a, b) => a + b, 0);
  const order = (s: number[]) => [...s.keys()].sort((a, b) => (descending ? s[b]! - s[a]! : s[a]! - s[b]!) || a - b);
  const [ra, rb] = [order(en), order(x)];
  let total = 0;
  for (let j = 1; j <= K; j++) {
    const top = new Set(ra.slice(0, j));
    total += (w[j - 1]! / Z) * (rb.slice(0, j).filter((c) => top.has(c)).length / j);
  }
  return total;
}

describe('RankC rows of a job on the demo model', () => {
  let tmp: string;
  let run: SuiteRun;
  let uploads: Map<string, Uint8Array>;
  const N = 12;

  beforeAll(async () => {
    tmp = await mkdtemp(path.join(os.tmpdir(), 'pp-rankc-'));
    const write = async (name: string, rows: unknown[]) => {
      const file = path.join(tmp, name);
      await writeFile(file, `${rows.map((r) => JSON.stringify(r)).join('\n')}\n`);
      return file;
    };
    const es = await alignedDemoRows('es', N);
    const suites: Array<{ id: string; lang: string; task: string; rows: unknown[] }> = [
      { id: 'sui_en', lang: 'en', task: 'demo-mc', rows: await alignedDemoRows('en', N) },
      { id: 'sui_fr', lang: 'fr', task: 'demo-mc', rows: await alignedDemoRows('fr', N) },
      // fewer rows: not parallel
      { id: 'sui_de', lang: 'de', task: 'demo-mc', rows: await alignedDemoRows('de', N - 2) },
      // a task without an English suite
      { id: 'sui_es', lang: 'es', task: 'demo-mc-es', rows: es },
      // the same count, but the true ending moved to the second choice: not the same items
      { id: 'sui_es2', lang: 'es', task: 'demo-mc', rows: es.map((r) => ({ ...r, choices: [r.choices[1], r.choices[0], r.choices[2]], label: 1 })) },
    ];
    const inputs: LocalInput[] = [];
    for (const s of suites)
      inputs.push({
        name: `suite-${s.id}.jsonl`,
        role: 'suite',
        file: await write(`${s.id}.jsonl`, s.rows),
        meta: { suiteId: s.id, format: 'mc', lang: s.lang, task: s.task },
      });
    const spec = { kind: 'evaluate', modelId: 'mdl_demo', suites: suites.map((s) => s.id), scoring: ['paper', 'harness'] };
    const local = localContext(spec, inputs, path.join(tmp, 'job'));
    uploads = local.uploads;
    // The demo model stands in for the pruned and the dense model: Δ must then be exactly 0.
    run = await evaluateSuites(local.ctx, demoModel, { scoring: ['paper', 'harness'], templateLang: 'en', device: 'cpu', denseDir: demoModel });
  });
  afterAll(async () => {
    await rm(tmp, { recursive: true, force: true });
  });

  const rowsOf = (suiteId: string, metric: string) => run.scores.filter((s) => s.suiteId === suiteId && s.metric === metric);

  it('reports rankc and rankc_asc for the parallel French suite, equal to RankC computed from the stored samples', () => {
    const { rows } = decodeSamples(uploads.get('samples.jsonl.gz')!);
    for (const scoring of ['paper', 'harness'] as const) {
      const en = rows.get(`sui_en/${scoring}`)!;
      const fr = rows.get(`sui_fr/${scoring}`)!;
      expect(fr.length).toBe(N);
      const byIndex = new Map(en.map((p: McPrediction) => [p.index, p]));
      for (const [metric, descending] of [
        ['rankc', true],
        ['rankc_asc', false],
      ] as const) {
        const want = fr.reduce((a, p) => a + directRankc(byIndex.get(p.index)!.scores, p.scores, descending), 0) / fr.length;
        const got = rowsOf('sui_fr', metric).filter((r) => r.scoring === scoring);
        expect(got, `${metric} ${scoring}`).toHaveLength(1);
        expect(got[0]!.value).toBeCloseTo(want, 12);
        // the same cell identity as the suite's accuracy row
        const acc = rowsOf('sui_fr', 'acc').find((r) => r.scoring === scoring)!;
        expect(got[0]!).toEqual({ ...acc, metric, value: got[0]!.value });
        expect(got[0]!).toMatchObject({ format: 'mc', lang: 'fr', n: N });
        const [lo] = rowsOf('sui_fr', `${metric}_lo`).filter((r) => r.scoring === scoring);
        const [hi] = rowsOf('sui_fr', `${metric}_hi`).filter((r) => r.scoring === scoring);
        expect(lo!.value).toBeLessThanOrEqual(want + 1e-12);
        expect(hi!.value).toBeGreaterThanOrEqual(want - 1e-12);
        // against itself as dense: every per-item difference is 0
        const delta = Object.fromEntries(
          run.scores.filter((r) => r.suiteId === 'sui_fr' && r.scoring === scoring && r.metric.startsWith(`${metric}_delta`)).map((r) => [r.metric, r.value]),
        );
        expect(delta).toEqual({ [`${metric}_delta`]: 0, [`${metric}_delta_lo`]: 0, [`${metric}_delta_hi`]: 0, [`${metric}_delta_p`]: 1 });
      }
    }
    // the demo model is not indifferent between languages: RankC is neither 0 nor 1
    const v = rowsOf('sui_fr', 'rankc')[0]!.value;
    expect(v).toBeGreaterThan(0);
    expect(v).toBeLessThan(1);
  });

  it('reports no RankC for English itself nor for the suites that are not parallel, and says why', () => {
    const rankcSuites = new Set(run.scores.filter((s) => s.metric.startsWith('rankc')).map((s) => s.suiteId));
    expect([...rankcSuites]).toEqual(['sui_fr']);
    expect(run.rankc.pairs).toEqual([{ suiteId: 'sui_fr', englishId: 'sui_en' }]);
    const why = Object.fromEntries(run.rankc.absent.map((a) => [a.suiteId, a.reason]));
    expect(why).toEqual({
      sui_de: 'not parallel to the English suite sui_en of task "demo-mc": 12 rows (no subset) there, 10 rows (no subset) here',
      sui_es: 'no English suite of task "demo-mc-es" in the job',
      sui_es2: 'not parallel to the English suite sui_en: row 0 has gold label 0 in English, 1 here: not the same items',
    });
    // every suite still has its accuracy
    for (const id of ['sui_en', 'sui_fr', 'sui_de', 'sui_es', 'sui_es2']) expect(rowsOf(id, 'acc')).toHaveLength(2);
  });
});
