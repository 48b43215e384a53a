/**
 * An evaluate job on the demo model with an mt suite reports corpus BLEU next to chrF (value and
 * bootstrap interval, sacreBLEU's signature in extra.evaluation) and keeps each row's BLEU statistics
 * in samples.jsonl.gz; a later bootstrap against dense samples stored before BLEU existed (no
 * statistics) still gets its bleu_delta rows.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bleuStats, corpusBleu } from '@polyprune/gpu-runner/evaluate/bleu';
import { runEvaluateJob } from '@polyprune/gpu-runner/service/evaluate-job';
import { decodeSamples } from '@polyprune/gpu-runner/service/samples';
import { evaluateSuites } from '@polyprune/gpu-runner/service/suites';
import type { EvaluateJobSpec } from '@polyprune/shared/api/jobs';
import type { TranslationPrediction } from '@polyprune/gpu-runner/evaluate/translate';
import { type LocalInput, localContext } from './local-context';

const root = path.resolve(import.meta.dirname, '../../..');
const demo = path.join(root, 'demo/model');
const SUITE = 'ste_mtfr';

describe('evaluate job on the demo model with an mt suite', () => {
  let tmp: string;
  let inputs: LocalInput[];
  beforeAll(async () => {
    tmp = await mkdtemp(path.join(os.tmpdir(), 'pp-bleu-'));
    // 4 shots (the suite's first rows) and 6 rows to translate
    const rows = (await readFile(path.join(root, 'demo/data/suite.mt.fr-en.jsonl'), 'utf8')).split('\n').slice(0, 10);
    await writeFile(path.join(tmp, 'suite.jsonl'), `${rows.join('\n')}\n`);
    inputs = ['tokenizer.json', 'config.json', 'model.onnx'].map((f) => ({
      name: f,
      role: 'model',
      file: path.join(demo, f),
      meta: f === 'model.onnx' ? { graph: true, family: 'xglm', externalData: [] } : {},
    }));
    inputs.push({ name: 'suite.jsonl', role: 'suite', file: path.join(tmp, 'suite.jsonl'), meta: { suiteId: SUITE, format: 'mt', lang: 'fr' } });
  });
  afterAll(async () => {
    await rm(tmp, { recursive: true, force: true });
  });

  let samples: Uint8Array;

  it('reports bleu, its interval and signature, and keeps the statistics per row', async () => {
    const spec = { kind: 'evaluate', modelId: 'mdl_demo', suites: [SUITE] };
    const job = localContext(spec, inputs, path.join(tmp, 'dense'));
    const result = await runEvaluateJob(job.ctx, job.ctx.spec as EvaluateJobSpec);
    const value = (m: string) => result.scores.find((s) => s.suiteId === SUITE && s.metric === m)?.value;
    expect(result.scores.map((s) => s.metric)).toEqual(['chrf', 'chrf_lo', 'chrf_hi', 'bleu', 'bleu_lo', 'bleu_hi']);

    samples = job.uploads.get('samples.jsonl.gz')!;
    const rows = decodeSamples(samples).text.get(SUITE) as TranslationPrediction[];
    expect(rows).toHaveLength(6);
    const hyps = rows.map((r) => r.hypothesis);
    const refs = rows.map((r) => r.reference);
    expect(rows.map((r) => r.bleuStats)).toEqual(hyps.map((h, i) => bleuStats(h, refs[i]!)));
    // the tiny demo model gets some n-grams right (BLEU ≈ 2.7 here): a value that can be wrong
    expect(value('bleu')).toBeGreaterThan(1);
    expect(value('bleu')).toBe(corpusBleu(hyps, refs));
    expect(value('bleu_lo')).toBeLessThan(value('bleu')!);
    expect(value('bleu_hi')).toBeGreaterThan(value('bleu')!);

    const [summary] = result.extra.evaluation as Array<{ metrics: Record<string, number>; signatures?: Record<string, string> }>;
    expect(summary!.metrics.bleu).toBe(value('bleu'));
    expect(summary!.signatures).toEqual({
      bleu: 'nrefs:1|case:mixed|eff:no|tok:13a|smooth:exp|version:2.6.0',
      chrf: 'nrefs:1|case:mixed|eff:yes|nc:6|nw:0|space:no|version:2.6.0',
    });
  });

  it('bootstraps BLEU against dense samples stored without BLEU statistics', async () => {
    // the file as it was written before BLEU: the same rows without bleu and bleuStats
    const lines = gunzipSync(samples).toString('utf8').split('\n').filter(Boolean);
    const old = lines.map((l, i) => {
      if (i === 0) return l;
      const { bleu: _b, bleuStats: _s, ...row } = JSON.parse(l) as Record<string, unknown>;
      return JSON.stringify(row);
    });
    expect(old.slice(1).every((l) => !l.includes('bleuStats'))).toBe(true);
    await writeFile(path.join(tmp, 'dense-samples.jsonl.gz'), gzipSync(`${old.join('\n')}\n`));
    const withDense = [...inputs, { name: 'dense-samples.jsonl.gz', role: 'dense-samples', file: path.join(tmp, 'dense-samples.jsonl.gz'), meta: {} }];
    const job = localContext({ kind: 'evaluate', modelId: 'mdl_demo', suites: [SUITE], runId: 'run_x' }, withDense, path.join(tmp, 'pruned'));
    // the "pruned" model is the dense one itself: same greedy translations, so every Δ is 0
    const run = await evaluateSuites(job.ctx, demo, { scoring: ['paper'], templateLang: 'en', device: 'cpu', denseDir: demo, graphFile: 'model.onnx' });
    expect(run.denseReused).toBe(1);
    expect(run.denseScored).toBe(0);
    expect(run.bootstrapSkipped).toEqual([]);
    const value = (m: string) => run.scores.find((s) => s.metric === m)?.value;
    expect(run.scores.map((s) => s.metric).filter((m) => m.includes('_delta'))).toEqual([
      'chrf_delta',
      'chrf_delta_lo',
      'chrf_delta_hi',
      'chrf_delta_p',
      'bleu_delta',
      'bleu_delta_lo',
      'bleu_delta_hi',
      'bleu_delta_p',
    ]);
    expect(value('bleu_delta')).toBe(0);
    expect(value('bleu_delta_lo')).toBe(0);
    expect(value('bleu_delta_hi')).toBe(0);
    expect(value('bleu_delta_p')).toBe(1);
  });
});
