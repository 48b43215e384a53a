/**
 * Multiple-choice scores equal an independent plain computation (one unpadded session run per prompt,
 * log-softmax in plain loops) for every graph shape, both scorings, any batch size, with and without
 * prefix sharing and dedupe.
 */
import { describe, expect, it } from 'vitest';
import { evaluateSuite, type SuiteResult } from '@polyprune/gpu-runner/evaluate/index';
import type { McPrediction } from '@polyprune/gpu-runner/evaluate/multipleChoice';
import type { ScoreStats } from '@polyprune/gpu-runner/evaluate/batching';
import { tinyEvalModel, variants, xnliRows } from './helpers.js';
import { plainTokenLogProbs } from './plain.js';
import { byteTokenizer } from '../helpers/tiny-lm.js';
import { TEST_DEVICE } from '../helpers/device.js';

const tok = byteTokenizer();
const bytes = (s: string) => new TextEncoder().encode(s).length;

interface PlainChoice {
  paper: number;
  harness: number;
  norm: number;
}

/** The reference: templates written out here, harness split at encode(context).length. */
async function plainXnli(session: Parameters<typeof plainTokenLogProbs>[0], premise: string, hypothesis: string): Promise<PlainChoice[]> {
  const context = `${premise} , right?`;
  const out: PlainChoice[] = [];
  for (const word of ['Yes', 'Also', 'No']) {
    const cont = ` ${word} , ${hypothesis}`;
    const ids = tok.encode(context + cont);
    const ctxLen = tok.encode(context).length;
    const lp = await plainTokenLogProbs(session, ids);
    let all = 0;
    for (let p = 1; p < ids.length; p++) all += lp[p]!;
    let c = 0;
    for (let p = ctxLen; p < ids.length; p++) c += lp[p]!;
    out.push({ paper: all / (ids.length - 1), harness: c, norm: c / bytes(cont) });
  }
  return out;
}

// WebGPU's kernels sum in another order per batch shape: scores move by ~1.4e-5 (lavapipe).
function expectClose(a: number[], b: number[], tol = TEST_DEVICE === 'cpu' ? 1e-5 : 5e-5) {
  expect(a.length).toBe(b.length);
  a.forEach((x, i) => expect(Math.abs(x - b[i]!)).toBeLessThan(tol));
}

describe.each(variants)('multiple choice on the %s graph', (variant) => {
  it('paper and harness scores equal the plain computation', async () => {
    const model = await tinyEvalModel(variant);
    const paper = await evaluateSuite(model, xnliRows, 'xnli', 'fr', { scoring: 'paper', maxBatchSize: 4 });
    const harness = await evaluateSuite(model, xnliRows, 'xnli', 'fr', { scoring: 'harness', maxBatchSize: 5 });
    expect(paper.scoring).toBe('paper');
    expect(harness.scoring).toBe('harness');
    expect(paper.n).toBe(xnliRows.length);
    for (let i = 0; i < xnliRows.length; i++) {
      const row = xnliRows[i]!;
      const ref = await plainXnli(model.session, row.premise, row.hypothesis);
      const pp = (paper.predictions as McPrediction[])[i]!;
      const hp = (harness.predictions as McPrediction[])[i]!;
      expectClose(
        pp.scores,
        ref.map((r) => r.paper),
      );
      expectClose(
        hp.scores,
        ref.map((r) => r.harness),
      );
      expectClose(
        hp.scoresNorm!,
        ref.map((r) => r.norm),
      );
      expect(pp.label).toBe(row.label);
      expect(pp.pred).toBe(ref.map((r) => r.paper).indexOf(Math.max(...ref.map((r) => r.paper))));
    }
    // the result is plain JSON
    expect(JSON.parse(JSON.stringify(harness))).toEqual(harness);
  });

  it('batch size, padding, dedupe and prefix sharing do not change any score', async () => {
    const model = await tinyEvalModel(variant);
    const runs: SuiteResult[] = [];
    for (const opts of [
      { maxBatchSize: 1, sharePrefix: false },
      { maxBatchSize: 2 },
      { maxBatchSize: 64 },
      { maxBatchSize: 64, maxBatchTokens: 150 },
      { maxBatchSize: 7, sharePrefix: false },
    ]) {
      for (const scoring of ['paper', 'harness'] as const) runs.push(await evaluateSuite(model, xnliRows, 'xnli', 'en', { scoring, ...opts }));
    }
    const base = runs.slice(0, 2);
    runs.forEach((r, k) => {
      const ref = base[k % 2]!;
      (r.predictions as McPrediction[]).forEach((p, i) => expectClose(p.scores, (ref.predictions as McPrediction[])[i]!.scores));
    });
  });

  it('reports the forward tokens it saved', async () => {
    const model = await tinyEvalModel(variant);
    const r = await evaluateSuite(model, xnliRows, 'xnli', 'en', { scoring: 'harness' });
    const s = r.stats as ScoreStats;
    expect(s.sequences).toBe(xnliRows.length * 3);
    // the duplicated row's three prompts run once, on every graph
    const dup = xnliRows[6]!;
    const dupTokens = ['Yes', 'Also', 'No'].reduce((n, w) => n + tok.encode(`${dup.premise} , right? ${w} , ${dup.hypothesis}`).length, 0);
    expect(s.dedupedSequences).toBe(3);
    if (variant.startsWith('pastKv')) {
      // every (unique) example's context runs once instead of three times
      const contexts = xnliRows.slice(0, 6).reduce((n, r) => n + tok.encode(`${r.premise} , right?`).length + 1, 0); // + the shared " "
      expect(s.sharedPrefixTokens).toBe(2 * contexts);
      expect(s.forwardTokens).toBe(s.naiveTokens - dupTokens - s.sharedPrefixTokens);
    } else {
      expect(s.sharedPrefixTokens).toBe(0);
      expect(s.forwardTokens).toBe(s.naiveTokens - dupTokens);
    }
    // paper scoring reads every position: without a KV cache, each distinct prefix goes through the head once
    const paper = (await evaluateSuite(model, xnliRows, 'xnli', 'en', { scoring: 'paper' })).stats as ScoreStats;
    const prompts = [
      ...new Set(xnliRows.flatMap((r) => ['Yes', 'Also', 'No'].map((w) => tok.encode(`${r.premise} , right? ${w} , ${r.hypothesis}`).join()))),
    ].map((p) => p.split(',').map(Number));
    const distinct = new Set(prompts.flatMap((t) => t.slice(1).map((_, p) => t.slice(0, p + 2).join())));
    const scored = prompts.reduce((n, t) => n + t.length - 1, 0);
    expect(paper.sharedPositions).toBe(variant.startsWith('pastKv') ? 0 : scored - distinct.size);
    if (!variant.startsWith('pastKv')) expect(paper.sharedPositions).toBeGreaterThan(scored / 4);
  });
});

describe('graph shapes agree', () => {
  it('plain, position_ids and KV graphs with the same weights give the same scores', async () => {
    const results: SuiteResult[] = [];
    for (const v of variants) results.push(await evaluateSuite(await tinyEvalModel(v), xnliRows, 'xnli', 'en', { scoring: 'harness' }));
    for (const r of results.slice(1)) {
      (r.predictions as McPrediction[]).forEach((p, i) => expectClose(p.scores, (results[0]!.predictions as McPrediction[])[i]!.scores));
    }
  });
});

describe('other formats', () => {
  it('MARC drops 3-star reviews, maps stars to labels and scores " negative"/" positive" after "It is"', async () => {
    const model = await tinyEvalModel('pastKv');
    const word = (i: number) => String.fromCharCode(97 + (i % 26));
    const long = Array.from({ length: 140 }, (_, i) => word(i)).join(' ');
    const rows = [
      { text: 'Terrible product, broke in a day.', stars: 1 },
      { text: 'Fine I guess.', stars: 3 },
      { text: long, stars: 5 },
      { text: 'Not great.', stars: 2 },
      { text: 'Love it!', stars: 4 },
    ];
    const r = await evaluateSuite(model, rows, 'marc', 'en', { scoring: 'harness' });
    expect(r.n).toBe(4);
    expect(r.metrics.dropped).toBe(1);
    const preds = r.predictions as McPrediction[];
    expect(preds.map((p) => p.index)).toEqual([0, 2, 3, 4]);
    expect(preds.map((p) => p.label)).toEqual([0, 1, 0, 1]);
    const truncated = Array.from({ length: 128 }, (_, i) => word(i)).join(' ');
    for (const [k, text] of [
      [0, rows[0]!.text],
      [1, truncated],
    ] as const) {
      const context = `${text} It is`;
      const want: number[] = [];
      for (const cont of [' negative', ' positive']) {
        const ids = tok.encode(context + cont);
        const lp = await plainTokenLogProbs(model.session, ids);
        want.push(lp.slice(tok.encode(context).length).reduce((a, b) => a + b, 0));
      }
      expectClose(preds[k]!.scores, want);
    }
  });

  it('PAWS-X has an empty context: the whole prompt is scored after the end-of-text token', async () => {
    const model = await tinyEvalModel('plain');
    const row = { sentence1: 'The sky is blue.', sentence2: 'Blue is the sky.', label: 1 };
    for (const scoring of ['paper', 'harness'] as const) {
      const r = await evaluateSuite(model, [row], 'pawsx', 'en', { scoring });
      const want: number[] = [];
      for (const w of ['No', 'Yes']) {
        const ids = [tok.eosId, ...tok.encode(`The sky is blue., right? ${w}, Blue is the sky.`)];
        const lp = (await plainTokenLogProbs(model.session, ids)).slice(1);
        const s = lp.reduce((a, b) => a + b, 0);
        want.push(scoring === 'paper' ? s / lp.length : s);
      }
      expectClose((r.predictions as McPrediction[])[0]!.scores, want);
    }
  });

  it('prompts longer than the context lose tokens on the left, as in the harness', async () => {
    const model = await tinyEvalModel('pastKv', {}, 40);
    const row = xnliRows[4]!; // its prompts are longer than 40 bytes
    const r = await evaluateSuite(model, [row], 'xnli', 'en', { scoring: 'harness' });
    const context = `${row.premise} , right?`;
    const want: number[] = [];
    for (const w of ['Yes', 'Also', 'No']) {
      const ids = tok.encode(`${context} ${w} , ${row.hypothesis}`);
      const ctxLen = tok.encode(context).length;
      const drop = ids.length - 40;
      const lp = await plainTokenLogProbs(model.session, ids.slice(drop));
      want.push(lp.slice(Math.max(1, ctxLen - drop)).reduce((a, b) => a + b, 0));
    }
    expectClose((r.predictions as McPrediction[])[0]!.scores, want);
  });

  it('rejects rows that do not match the format', async () => {
    const model = await tinyEvalModel('plain');
    await expect(evaluateSuite(model, [{ premise: 'x', label: 0 }], 'xnli', 'en')).rejects.toThrow(/xnli row 0 is invalid/);
  });
});
