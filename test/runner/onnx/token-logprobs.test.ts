/**
 * Log-probs of the scored tokens computed in the graph (onnx/token-logprobs.ts) equal a float64
 * log-softmax in JavaScript over the logits the same session returns, for several targets per row,
 * on the demo model and every scorable real export; scoring then fetches no logits at all, and where
 * the head cannot be gathered (a merged decoder's If) nothing is added and scoring reads logits.
 */
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { scoreRequests } from '@polyprune/gpu-runner/evaluate/batching';
import { forward } from '@polyprune/gpu-runner/evaluate/forward';
import { openEvalModel, type EvalModel } from '@polyprune/gpu-runner/evaluate/model';
import { LAYOUTS, REAL } from '../real-exports/layouts.js';

const repo = path.resolve(import.meta.dirname, '../../..');
const opts = { device: 'cpu' as const, intraOpThreads: 1 };

/** log softmax(row)[t] in float64, written out here rather than taken from the runner. */
function logSoftmax64(row: Float32Array, t: number): number {
  let max = -Infinity;
  for (const v of row) max = Math.max(max, v);
  let sum = 0;
  for (const v of row) sum += Math.exp(v - max);
  return row[t]! - max - Math.log(sum);
}

/** The output names each session run fetched. */
function watchFetches(m: EvalModel): string[] {
  const seen: string[] = [];
  const run = m.session.run.bind(m.session);
  m.session.run = (async (feeds: Parameters<typeof run>[0], fetches: string[]) => {
    seen.push(...fetches);
    return run(feeds, fetches);
  }) as typeof run;
  return seen;
}

const models = [
  { name: 'demo', dir: path.join(repo, 'demo/model'), graph: 'model.onnx', fp16: false, adds: true },
  ...LAYOUTS.filter((l) => l.scorable).map((l) => ({
    name: l.dir,
    dir: path.join(REAL, l.dir),
    graph: l.graph,
    fp16: l.fp16,
    adds: l.dir !== 'optimum-llama-merged',
  })),
];

describe.each(models)('$name: target log-probs in the graph', (m) => {
  it('equal a float64 log-softmax of the logits, k targets a row, and scoring fetches no logits', async () => {
    const model = await openEvalModel(m.dir, { ...opts, graphFile: m.graph });
    const plain = await openEvalModel(m.dir, { ...opts, graphFile: m.graph, tokenLogProbs: false });
    try {
      expect(model.io.tokenLogProbs !== undefined).toBe(m.adds);
      expect(plain.io.tokenLogProbs).toBeUndefined();
      if (m.adds) {
        const rows = ['The museum is closed on Mondays, right? Yes,', 'French: Le train arrive.'].map((t) => Int32Array.from(model.tokenizer.encode(t)));
        const vocab = model.tokenizer.vocabSize;
        // Row 0: steps 1 … end; row 1: steps 0 … 2. Targets: the next token, the last id, a repeat, one more.
        const steps: Array<[number, number]> = [
          [1, rows[0]!.length],
          [0, 3],
        ];
        const targetsOf = (b: number, s: number) => (b === 0 && s % 2 ? [rows[b]![s + 1] ?? 0, vocab - 1, 7, 7] : [rows[b]![s + 1] ?? 5]);
        const lp = await forward(model, rows, undefined, false, steps, targetsOf);
        const full = await forward(model, rows, undefined, false, steps);
        expect(lp.logits.length).toBe(0);
        const got = lp.tokenLogProbs!;
        expect(got.k).toBe(4);
        let worst = 0;
        let checked = 0;
        steps.forEach(([from, to], b) => {
          for (let s = from; s < to; s++) {
            const r = full.rowOf![b * full.runLength + s]!;
            expect(lp.rowOf![b * lp.runLength + s]).toBe(r);
            const want = targetsOf(b, s);
            const row = full.logits.subarray(r * full.vocab, (r + 1) * full.vocab);
            for (let j = 0; j < got.k; j++) {
              const t = got.targets[r * got.k + j]!;
              expect(want).toContain(t);
              worst = Math.max(worst, Math.abs(got.values[r * got.k + j]! - logSoftmax64(row, t)));
              checked++;
            }
          }
        });
        expect(checked).toBe((rows[0]!.length - 1 + 3) * 4);
        // fp16 graphs: onnxruntime's CPU head runs in float32 and the graph's widening Cast cancels the
        // rounding to fp16 (the logits output still gets it), so the log-probs are those of the
        // unrounded logits: within fp16 rounding of a logit (≈ 1e-3 at 1) of the returned ones.
        expect(worst).toBeLessThan(m.fp16 ? 2e-3 : 1e-5);
      }
      const fetched = watchFetches(model);
      const requests = ['Question: Where is the cat? Answer: In the garden.', 'Question: Where is the cat? Answer: No', 'English: The train.'].map((t, i) => ({
        tokens: Int32Array.from(model.tokenizer.encode(t)),
        scoreFrom: 1 + i,
        group: i < 2 ? 0 : 1,
      }));
      const a = await scoreRequests(model, requests, { maxBatchSize: 2 });
      const b = await scoreRequests(plain, requests, { maxBatchSize: 2 });
      expect(fetched.includes(model.io.logits!)).toBe(!m.adds);
      let worst = 0;
      b.logprobs.forEach((lp, i) => lp.forEach((v, k) => (worst = Math.max(worst, Math.abs(a.logprobs[i]![k]! - v)))));
      expect(worst).toBeLessThan(m.fp16 ? 2e-3 : 1e-5);
    } finally {
      await model.session.release();
      await plain.session.release();
    }
  });
});

describe('a gathered head', () => {
  it('bounds the positions through the head per pass by the logits budget, not the padded tokens', async () => {
    const dir = path.join(repo, 'demo/model');
    const model = await openEvalModel(dir, opts);
    const plain = await openEvalModel(dir, { ...opts, gatherHead: false });
    try {
      const rowsFed: number[] = [];
      const tokensFed: number[] = [];
      const run = model.session.run.bind(model.session);
      model.session.run = (async (feeds: Parameters<typeof run>[0], fetches: string[]) => {
        rowsFed.push(feeds.polyprune_logit_rows!.dims[1]!);
        tokensFed.push(feeds.input_ids!.dims[0]! * feeds.input_ids!.dims[1]!);
        return run(feeds, fetches);
      }) as typeof run;
      const texts = [
        'The museum is closed on Mondays, right? Yes, it opens every day.',
        'The museum is closed on Mondays, right? No, never.',
        'French: Le train arrive.',
      ];
      const requests = texts.map((t) => ({ tokens: Int32Array.from(model.tokenizer.encode(t)), scoreFrom: 1 }));
      const budget = 16;
      const maxLogitFloats = budget * model.tokenizer.vocabSize;
      const a = await scoreRequests(model, requests, { maxLogitFloats });
      const b = await scoreRequests(plain, requests, { maxLogitFloats });
      // each pass holds at most `budget` head rows (a sequence longer than that gets a pass of its own) …
      const longest = Math.max(...requests.map((r) => r.tokens.length - 1));
      for (const r of rowsFed) expect(r).toBeLessThanOrEqual(Math.max(budget, longest));
      // … while the padded tokens exceed it, which the plain head's batches may not (but for an over-long row)
      expect(Math.max(...tokensFed)).toBeGreaterThan(budget);
      expect(a.stats.batches).toBeLessThan(b.stats.batches);
      let worst = 0;
      b.logprobs.forEach((lp, i) => lp.forEach((v, k) => (worst = Math.max(worst, Math.abs(a.logprobs[i]![k]! - v)))));
      expect(worst).toBeLessThan(1e-5);
    } finally {
      await model.session.release();
      await plain.session.release();
    }
  });
});
