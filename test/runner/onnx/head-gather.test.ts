/**
 * The LM head computes only the positions a pass reads (onnx/head-gather.ts): scores and greedy
 * outputs equal those of the graph as exported, whose head runs on every position, on the demo
 * model and every scorable real export; and the logits a pass returns shrink to the rows scored.
 */
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { ScoreRequest } from '@polyprune/gpu-runner/evaluate/batch-plan';
import { scoreRequests } from '@polyprune/gpu-runner/evaluate/batching';
import { openEvalModel, type EvalModel } from '@polyprune/gpu-runner/evaluate/model';
import { greedyDecode } from '@polyprune/gpu-runner/evaluate/translate';
import { LAYOUTS, REAL } from '../real-exports/layouts.js';

const repo = path.resolve(import.meta.dirname, '../../..');
const opts = { device: 'cpu' as const, intraOpThreads: 1 };

/** XNLI-like choices: a shared context, short continuations; `harness` scores the continuation, `paper` the whole prompt. */
function requests(m: EvalModel, scoring: 'paper' | 'harness'): ScoreRequest[] {
  const contexts = ['The museum is closed on Mondays, right?', 'Question: Where is the cat? Answer:', 'French: Le train arrive.</s>English:'];
  const choices = [' Yes, it opens every day.', ' Also, in the garden.', ' No', ' The train arrives.'];
  const out: ScoreRequest[] = [];
  contexts.forEach((c, g) => {
    const ctx = m.tokenizer.encode(c);
    for (const ch of choices) {
      const tokens = Int32Array.from([...ctx, ...m.tokenizer.encode(ch)]);
      out.push({ tokens, scoreFrom: scoring === 'paper' ? 1 : ctx.length, group: g });
    }
  });
  return out;
}

/** Largest logits tensor (floats) any session run returned. */
function watchLogits(m: EvalModel): () => number {
  const run = m.session.run.bind(m.session);
  let largest = 0;
  m.session.run = (async (...args: Parameters<typeof run>) => {
    const out = await run(...args);
    if (out.logits) largest = Math.max(largest, out.logits.data.length);
    return out;
  }) as typeof run;
  return () => largest;
}

const models = [
  { name: 'demo', dir: path.join(repo, 'demo/model'), graph: 'model.onnx', fp16: false, gathers: true },
  ...LAYOUTS.filter((l) => l.scorable).map((l) => ({
    name: l.dir,
    dir: path.join(REAL, l.dir),
    graph: l.graph,
    fp16: l.fp16,
    // optimum's merged decoder computes its logits inside an If: left as it is
    gathers: l.dir !== 'optimum-llama-merged',
  })),
];

describe.each(models)('$name: the head on the scored positions only', (m) => {
  it('gives the same log-probs (paper and harness) and greedy tokens as the full head, from smaller logits', async () => {
    const gathered = await openEvalModel(m.dir, { ...opts, graphFile: m.graph });
    const full = await openEvalModel(m.dir, { ...opts, graphFile: m.graph, gatherHead: false });
    try {
      expect(full.io.logitRows).toBeUndefined();
      expect(gathered.io.logitRows !== undefined).toBe(m.gathers);
      const largestGathered = watchLogits(gathered);
      const largestFull = watchLogits(full);
      for (const scoring of ['paper', 'harness'] as const) {
        const a = await scoreRequests(gathered, requests(gathered, scoring), { maxBatchSize: 5 });
        const b = await scoreRequests(full, requests(full, scoring), { maxBatchSize: 5 });
        expect(a.stats).toEqual(b.stats);
        let worst = 0;
        b.logprobs.forEach((lp, i) => {
          expect(a.logprobs[i]!.length).toBe(lp.length);
          lp.forEach((v, k) => {
            worst = Math.max(worst, Math.abs(a.logprobs[i]![k]! - v));
          });
        });
        // float noise: fp32 heads agree to rounding; fp16 logits are rounded to 11 bits (≈ 4e-3 at 8)
        expect(worst, scoring).toBeLessThan(m.fp16 ? 1e-2 : 1e-5);
      }
      if (m.gathers) expect(largestGathered()).toBeLessThan(largestFull());
      const prompts = ['French: Le chat dort.</s>English:', 'German: Der Zug kommt.</s>English: The'].map((t) => Int32Array.from(full.tokenizer.encode(t)));
      const ga = await greedyDecode(gathered, prompts, { maxNewTokens: 5, stopIds: [-1] });
      const gb = await greedyDecode(full, prompts, { maxNewTokens: 5, stopIds: [-1] });
      expect(ga.outputs.map((o) => Array.from(o))).toEqual(gb.outputs.map((o) => Array.from(o)));
    } finally {
      await gathered.session.release();
      await full.session.release();
    }
  });
});
