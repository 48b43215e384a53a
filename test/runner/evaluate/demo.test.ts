/**
 * End-to-end cross-check on the trained demo model against numbers its trainer computed with an
 * independent torch implementation (scripts/demo-model/train.py, recorded in demo/model/config.json
 * under polyprune_training): held-out perplexity per language (each line after a leading </s>, its
 * closing </s> included) and 4-shot X→En chrF (mean sentence chrF of the first 8 suite pairs, shots =
 * the first 4 training pairs, 24 new tokens). Skipped when the demo model or its report is absent.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { evaluateSuite, openEvalModel } from '@polyprune/gpu-runner/evaluate/index';
import type { TranslationPrediction } from '@polyprune/gpu-runner/evaluate/translate';

const repo = path.resolve(import.meta.dirname, '../../..');
const modelDir = path.join(repo, 'demo/model');
const data = path.join(repo, 'demo/data');
const configFile = path.join(modelDir, 'config.json');
// demo/model is committed with its trainer's report: missing, the tests below fail (never skip).
const report = existsSync(configFile)
  ? (JSON.parse(readFileSync(configFile, 'utf8')).polyprune_training as
      | { heldout_ppl: Record<string, number>; chrf_4shot: Record<string, { model: number; n: number }> }
      | undefined)
  : undefined;

const lines = (f: string) =>
  readFileSync(path.join(data, f), 'utf8')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l);

describe('demo model vs its trainer', () => {
  it('has its committed model and training report', () => {
    expect(existsSync(path.join(modelDir, 'model.onnx')), 'demo/model/model.onnx').toBe(true);
    expect(report, 'polyprune_training in demo/model/config.json').toBeDefined();
  });

  it('held-out perplexity per language matches the torch computation', async () => {
    const model = await openEvalModel(modelDir, { device: 'cpu', intraOpThreads: 1 });
    for (const [lang, want] of Object.entries(report!.heldout_ppl)) {
      if (lang === 'all') continue;
      // "</s>" in the text is the tokenizer's EOS token: the trainer scores it too
      const rows = lines(`mono.${lang}.txt`).map((t) => ({ text: `${t}</s>` }));
      const r = await evaluateSuite(model, rows, 'ppl', lang, { bosId: model.tokenizer.eosId });
      expect(Math.abs(r.metrics.perplexity! - want)).toBeLessThanOrEqual(0.005 + 1e-9);
    }
  });

  it('4-shot translation chrF matches the torch greedy decoding', async () => {
    const model = await openEvalModel(modelDir, { device: 'cpu', intraOpThreads: 1 });
    for (const [pair, want] of Object.entries(report!.chrf_4shot)) {
      const src = pair.split('-')[0]!;
      const shots = lines(`corpus.${pair}.tsv`)
        .slice(0, 4)
        .map((l) => {
          const [s, t] = l.split('\t');
          return { src: s!, tgt: t! };
        });
      const rows = lines(`suite.mt.${pair}.jsonl`)
        .slice(0, want.n)
        .map((l) => JSON.parse(l) as { src: string; tgt: string });
      const r = await evaluateSuite(model, rows, 'mt', src, { shots, maxNewTokens: 24 });
      const mean = (r.predictions as TranslationPrediction[]).reduce((s, p) => s + p.chrf, 0) / rows.length;
      expect(Math.abs(mean - want.model)).toBeLessThanOrEqual(0.05 + 1e-9);
    }
  });
});
