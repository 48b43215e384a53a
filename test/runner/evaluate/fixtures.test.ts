/**
 * The same checks on the torch-exported fixture models (GPT-2, BLOOM, XGLM, LLaMA, …) with their own
 * tokenizers: real export structure, real position handling (XGLM derives positions from pad ids,
 * BLOOM uses ALiBi from the attention mask). Skipped, with the reason, when the fixtures are absent.
 */
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { evaluateSuite, openEvalModel } from '@polyprune/gpu-runner/evaluate/index';
import type { McPrediction } from '@polyprune/gpu-runner/evaluate/multipleChoice';
import type { TextScore } from '@polyprune/gpu-runner/evaluate/perplexity';
import { greedyDecode } from '@polyprune/gpu-runner/evaluate/translate';
import { xnliRows } from './helpers.js';
import { plainArgmax, plainLogits, plainTokenLogProbs } from './plain.js';

const root = path.resolve(import.meta.dirname, '../../fixtures/models');
// Every committed fixture folder; a missing model.onnx fails its tests (never skips them).
const families = readdirSync(root, { withFileTypes: true })
  .filter((d) => d.isDirectory())
  .map((d) => d.name);

describe('fixture models', () => {
  it('are all there', () => {
    expect(families.length).toBeGreaterThan(0);
    for (const f of families) expect(existsSync(path.join(root, f, 'model.onnx')), `${f}/model.onnx`).toBe(true);
  });
  describe.each(families)('%s', (family) => {
    it('harness and paper scores equal the plain computation at any batch size', async () => {
      const model = await openEvalModel(path.join(root, family), { device: 'cpu', intraOpThreads: 1 });
      const tok = model.tokenizer;
      const rows = xnliRows.slice(0, 4);
      for (const scoring of ['harness', 'paper'] as const) {
        const results = [];
        for (const maxBatchSize of [1, 5, 64]) results.push(await evaluateSuite(model, rows, 'xnli', 'en', { scoring, maxBatchSize }));
        for (let i = 0; i < rows.length; i++) {
          const r = rows[i]!;
          const context = `${r.premise} , right?`;
          const want: number[] = [];
          for (const w of ['Yes', 'Also', 'No']) {
            const ids = tok.encode(`${context} ${w} , ${r.hypothesis}`);
            const lp = await plainTokenLogProbs(model.session, ids);
            const from = scoring === 'paper' ? 1 : tok.encode(context).length;
            const s = lp.slice(from).reduce((a, b) => a + b, 0);
            want.push(scoring === 'paper' ? s / (ids.length - 1) : s);
          }
          for (const res of results) {
            (res.predictions as McPrediction[])[i]!.scores.forEach((s, c) => expect(Math.abs(s - want[c]!)).toBeLessThan(1e-5));
          }
        }
      }
    });

    it('windowed perplexity and greedy decoding equal the plain computations', async () => {
      const full = await openEvalModel(path.join(root, family), { device: 'cpu', intraOpThreads: 1 });
      const model = { ...full, contextLength: 24 };
      const tok = model.tokenizer;
      const text = 'The museum is closed on Mondays, but the garden stays open all week long.';
      const ids = tok.encode(text);
      expect(ids.length).toBeGreaterThan(24);
      const r = await evaluateSuite(model, [{ text }], 'ppl', 'en', { stride: 10 });
      let nll = 0;
      let scored = 1;
      for (let begin = 0; scored < ids.length; begin += 10) {
        const end = Math.min(begin + 24, ids.length);
        const lp = await plainTokenLogProbs(model.session, ids.slice(begin, end));
        for (let p = scored; p < end; p++) nll -= lp[p - begin]!;
        scored = end;
      }
      expect(Math.abs((r.predictions as TextScore[])[0]!.nll - nll)).toBeLessThan(1e-5);

      const prompts = ['French: Il pleut.', 'English: It rains'].map((s) => Int32Array.from(tok.encode(s)));
      const { outputs } = await greedyDecode(full, prompts, { maxNewTokens: 6, maxBatchSize: 2 });
      for (let i = 0; i < prompts.length; i++) {
        const out: number[] = [];
        for (let k = 0; k < 6; k++) {
          const logits = await plainLogits(model.session, [...prompts[i]!, ...out]);
          const t = plainArgmax(logits[logits.length - 1]!);
          if (t === tok.eosId) break;
          out.push(t);
        }
        expect(Array.from(outputs[i]!)).toEqual(out);
      }
    });
  });
});
