/**
 * Issue 6's bar for the committed demo model: it behaves like a language model, so pruning and
 * evaluation numbers on it mean something. Runs the real engine (onnxruntime) on demo/model.
 */
import { copyFile, mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildDemonstrations, tokenizeCalibration } from '@polyprune/gpu-runner/calibrate/text';
import { collectStats } from '@polyprune/gpu-runner/calibrate/stats';
import { corpusChrf } from '@polyprune/gpu-runner/evaluate/chrf';
import { evaluateSuite, openEvalModel } from '@polyprune/gpu-runner/evaluate/index';
import { writePrunedModel } from '@polyprune/gpu-runner/onnx/apply-mask';
import { loadModel, type OnnxModel } from '@polyprune/gpu-runner/onnx/read';
import { findPrunableLinears } from '@polyprune/gpu-runner/onnx/structure';
import { selectMask } from '@polyprune/gpu-runner/prune/masks';
import { computeScores, type ScoreInputs } from '@polyprune/gpu-runner/prune/scores';
import { canonicalWeight } from '@polyprune/gpu-runner/prune/policy';
import { loadTokenizer } from '@polyprune/gpu-runner/tokenize/index';
import type { ActivationStats, LayerMask, PrunableLinear } from '@polyprune/gpu-runner/types';

const repo = path.resolve(import.meta.dirname, '../..');
const modelDir = path.join(repo, 'demo/model');
const data = path.join(repo, 'demo/data');
const langs = ['en', 'fr', 'de', 'es', 'ru'];
const lines = async (f: string) => (await readFile(path.join(data, f), 'utf8')).split('\n').filter((l) => l.trim());
const jsonl = async (f: string) => (await lines(f)).map((l) => JSON.parse(l));

let tmp: string;
let model: OnnxModel;
let linears: PrunableLinear[];

async function pruned(name: string, inputs: (l: PrunableLinear) => ScoreInputs): Promise<string> {
  const masks: LayerMask[] = [];
  for (const l of linears) {
    const w = await canonicalWeight(model, l);
    masks.push(selectMask(l.id, computeScores(w, inputs(l)), { dIn: l.dIn, dOut: l.dOut }, { pattern: { kind: 'unstructured', sparsity: 0.5 } }));
  }
  const dir = path.join(tmp, name);
  await mkdir(dir, { recursive: true });
  await writePrunedModel(model, linears, masks, path.join(dir, 'model.onnx'));
  for (const f of ['config.json', 'tokenizer.json', 'tokenizer_config.json']) await copyFile(path.join(modelDir, f), path.join(dir, f));
  return dir;
}

/** Token-weighted perplexity over every language's held-out text. */
async function perplexity(dir: string): Promise<number> {
  const m = await openEvalModel(dir, { device: 'cpu' });
  let nll = 0;
  let tokens = 0;
  for (const lang of langs) {
    const r = await evaluateSuite(
      m,
      (await lines(`mono.${lang}.txt`)).map((text) => ({ text })),
      'ppl',
      lang,
    );
    const n = r.n;
    nll += Math.log(r.metrics.perplexity!) * n;
    tokens += n;
  }
  return Math.exp(nll / tokens);
}

beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'pp-demo-'));
  model = await loadModel(path.join(modelDir, 'model.onnx'));
  linears = findPrunableLinears(model).linears;
});
afterAll(async () => {
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

describe('demo model', () => {
  it('is an XGLM-shaped export whose every block is found', () => {
    expect(findPrunableLinears(model).family).toBe('xglm');
    expect(linears.map((l) => l.role).sort()).toEqual(
      Array.from({ length: 4 }, () => ['fc1', 'fc2', 'k', 'o', 'q', 'v'])
        .flat()
        .sort(),
    );
  });

  it('beats chance (1/3) on every language’s multiple-choice suite', async () => {
    const m = await openEvalModel(modelDir, { device: 'cpu' });
    for (const lang of langs) {
      const r = await evaluateSuite(m, await jsonl(`suite.mc.${lang}.jsonl`), 'mc', lang);
      expect(r.metrics.accuracy, lang).toBeGreaterThan(0.45);
    }
  });

  it('translates few-shot well above copying the source or saying nothing', async () => {
    const m = await openEvalModel(modelDir, { device: 'cpu' });
    let model = 0;
    let copy = 0;
    const pairs = ['fr', 'de', 'es', 'ru'];
    for (const src of pairs) {
      const rows = (await jsonl(`suite.mt.${src}-en.jsonl`)).slice(0, 12) as { src: string; tgt: string }[];
      const shots = (await lines(`corpus.${src}-en.tsv`)).slice(0, 4).map((l) => ({ src: l.split('\t')[0]!, tgt: l.split('\t')[1]! }));
      const r = await evaluateSuite(m, rows, 'mt', src, { shots, maxNewTokens: 24 });
      model += r.metrics.chrf!;
      copy += corpusChrf(
        rows.map((x) => x.src),
        rows.map((x) => x.tgt),
      );
      expect(
        corpusChrf(
          rows.map(() => ''),
          rows.map((x) => x.tgt),
        ),
      ).toBe(0);
    }
    expect(model / pairs.length).toBeGreaterThan(copy / pairs.length + 3);
  });

  it('keeps perplexity clearly lower with Wanda at 50% than with magnitude at 50%', async () => {
    const tok = await loadTokenizer(modelDir);
    const pairs = (await lines('corpus.fr-en.tsv')).map((l) => ({ src: l.split('\t')[0]!, tgt: l.split('\t')[1]! }));
    const texts = buildDemonstrations({ pairs, srcLang: 'fr', tgtLang: 'en' }, 'mt', { shots: 4, samples: 32, eosToken: tok.eosToken });
    const calib = tokenizeCalibration(texts, tok, 128, { prefixIds: tok.prefixIds });
    const { stats } = await collectStats(model, linears, calib, { mode: 'oneshot', session: { device: 'cpu' } });
    const sq = (s: ActivationStats, id: string) => s.get(id)!.sqNorm;
    const dense = await perplexity(modelDir);
    const wanda = await perplexity(await pruned('wanda', (l) => ({ method: 'wanda', sqNorm: sq(stats, l.id) })));
    const magnitude = await perplexity(await pruned('magnitude', () => ({ method: 'magnitude' })));
    expect(wanda).toBeGreaterThan(dense);
    // "Clearly": magnitude pruning loses at least 15% more perplexity than Wanda does.
    expect(magnitude / wanda).toBeGreaterThan(1.15);
  });
});
