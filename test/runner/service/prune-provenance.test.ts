/**
 * What a prune job records about how it calibrated and evaluated (extra.calibration,
 * extra.evaluationSetup, extra.seeds), on a real optimum export that takes attention_mask and
 * position_ids, run end to end by the real handler; and statistics of another feeds version are
 * recomputed, not reused.
 */
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pruneJobSpec } from '@polyprune/shared/api/jobs';
import { CALIBRATION_STATS_VERSION, calibrationRecord, evaluationSetup, runSeeds } from '@polyprune/shared/api/run-provenance';
import { decodeStats, encodeStats } from '@polyprune/gpu-runner/calibrate/stats-file';
import { runPruneJob } from '@polyprune/gpu-runner/service/prune-job';
import { loadTokenizer } from '@polyprune/gpu-runner/tokenize/index';
import { maxRelDiff } from '../helpers/tiny';
import { type LocalInput, localContext } from './local-context';

const root = path.resolve(import.meta.dirname, '../../..');
const GPT2 = path.join(root, 'test/fixtures/real/optimum-gpt2');
const MAX_LENGTH = 120;
const SHOTS = 2;
let tmp: string;
let pairs: Record<string, Array<{ src: string; tgt: string }>>;

beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'pp-provenance-'));
  pairs = {};
  for (const pair of ['fr-en', 'de-en']) {
    const tsv = await readFile(path.join(root, `demo/data/corpus.${pair}.tsv`), 'utf8');
    pairs[pair] = tsv
      .split('\n')
      .filter((l) => l.includes('\t'))
      .slice(0, 40)
      .map((l) => ({ src: l.split('\t')[0]!, tgt: l.split('\t')[1]! }));
    await writeFile(path.join(tmp, `corpus.${pair}.jsonl`), `${pairs[pair]!.map((r) => JSON.stringify(r)).join('\n')}\n`);
  }
  const mc = (await readFile(path.join(root, 'demo/data/suite.mc.fr.jsonl'), 'utf8')).split('\n').filter(Boolean).slice(0, 6);
  await writeFile(path.join(tmp, 'suite.mc.jsonl'), `${mc.join('\n')}\n`);
  const mt = (await readFile(path.join(root, 'demo/data/suite.mt.fr-en.jsonl'), 'utf8')).split('\n').filter(Boolean).slice(0, 5);
  await writeFile(path.join(tmp, 'suite.mt.jsonl'), `${mt.join('\n')}\n`);
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

async function inputs(extra: LocalInput[] = []): Promise<LocalInput[]> {
  const files = await readdir(GPT2);
  const model: LocalInput[] = files.map((name) => ({
    name,
    role: 'model',
    file: path.join(GPT2, name),
    meta: name === 'model.onnx' ? { graph: true, family: 'gpt2', externalData: [] } : {},
  }));
  return [
    ...model,
    { name: 'corpus.jsonl', role: 'corpus', file: path.join(tmp, 'corpus.fr-en.jsonl'), meta: { corpusId: 'cor_fr', src: 'fr', tgt: 'en' } },
    ...extra,
  ];
}

const suiteInputs = (): LocalInput[] => [
  { name: 'suite.mc.jsonl', role: 'suite', file: path.join(tmp, 'suite.mc.jsonl'), meta: { suiteId: 'ste_mc', format: 'mc', lang: 'fr' } },
  { name: 'suite.mt.jsonl', role: 'suite', file: path.join(tmp, 'suite.mt.jsonl'), meta: { suiteId: 'ste_mt', format: 'mt', lang: 'fr' } },
];

async function prune(name: string, spec: Record<string, unknown>, list: LocalInput[]) {
  const job = localContext(
    { kind: 'prune', modelId: 'mdl_x', suites: [], method: 'wanda', sparsity: 0.5, mode: 'oneshot', ...spec },
    list,
    path.join(tmp, name),
  );
  const result = await runPruneJob(job.ctx, pruneJobSpec.parse(job.ctx.spec));
  return { result, uploads: job.uploads, logs: job.logs };
}

const calibration = (extra: Record<string, unknown> = {}) => ({
  corpusId: 'cor_fr',
  dataType: 'mt',
  shots: SHOTS,
  samples: 6,
  maxLength: MAX_LENGTH,
  ...extra,
});

/** Token lengths of the job's demonstrations, written out here: sample k = pairs 3k, 3k+1 (one skipped). */
async function demoLengths(corpus: Array<{ src: string; tgt: string }>, src: string, samples: number): Promise<number[]> {
  const tok = await loadTokenizer(GPT2);
  return Array.from({ length: samples }, (_, k) => {
    let text = '';
    for (let s = 0; s < SHOTS; s++) {
      const p = corpus[k * (SHOTS + 1) + s]!;
      text += `${src}: ${p.src}</s>English: ${p.tgt}</s>`;
    }
    return tok.prefixIds.length + tok.encode(text).length;
  });
}

describe('prune job provenance on optimum-gpt2 (attention_mask and position_ids inputs)', () => {
  it('reference mode: a mask of ones, positions 0…T−1, pads counted; the cut samples, evaluation batching and every seed', async () => {
    const suites = suiteInputs();
    const { result, uploads } = await prune(
      'reference',
      { calibration: calibration({ dataType: 'mt-contrast', contrastCorpusId: 'cor_de' }), suites: ['ste_mc', 'ste_mt'], limit: 4, limitSeed: 7 },
      await inputs([
        { name: 'contrast.jsonl', role: 'contrast', file: path.join(tmp, 'corpus.de-en.jsonl'), meta: { corpusId: 'cor_de', src: 'de', tgt: 'en' } },
        ...suites,
      ]),
    );
    const cal = calibrationRecord.parse(result.extra.calibration);
    expect(cal).toMatchObject({
      statsVersion: CALIBRATION_STATS_VERSION,
      maskPadding: false,
      padding: 'right',
      attentionMask: 'ones',
      positionIds: 'arange',
      maskFed: false,
      padsInStatistics: true,
    });
    expect(cal.note).toBeUndefined();
    const lengths = await demoLengths(pairs['fr-en']!, 'French', 6);
    const cut = lengths.filter((n) => n > MAX_LENGTH);
    // the fixture's byte-level tokenizer makes some demonstrations longer than MAX_LENGTH, not all
    expect(cut.length).toBeGreaterThan(0);
    expect(cut.length).toBeLessThan(6);
    expect(cal.truncated).toEqual({ samples: cut.length, tokenLengths: cut });
    const contrastLengths = (await demoLengths(pairs['de-en']!, 'German', 6)).filter((n) => n > MAX_LENGTH);
    expect(cal.contrast?.truncated).toEqual({ samples: contrastLengths.length, tokenLengths: contrastLengths });

    const setup = evaluationSetup.parse(result.extra.evaluationSetup);
    expect(setup).toMatchObject({ padding: 'right', order: 'length-sorted', maxBatchSize: { scoring: 64, decoding: 32 } });
    expect(setup.maxBatchTokens).toBeGreaterThan(0);
    expect(setup.maxBatchTokens).toBeLessThanOrEqual(4096);
    // its head is gathered: whole-sequence passes are bounded by head rows under the plain token budget
    expect(setup.gatheredHead?.maxBatchTokens).toBe(4096);
    expect(setup.gatheredHead!.maxHeadRows).toBeGreaterThanOrEqual(setup.maxBatchTokens);
    expect(runSeeds.parse(result.extra.seeds)).toEqual({
      rowLimit: { rows: 4, seed: 7 },
      bootstrap: { seed: 0, resamples: 1000 },
      metricIntervals: { seed: 0, resamples: 1000 },
    });
    const summaries = result.extra.evaluation as Array<{ suiteId: string; passes: { batches?: number; steps?: number } }>;
    expect(summaries.map((s) => s.suiteId).sort()).toEqual(['ste_mc', 'ste_mt']);
    for (const s of summaries) expect((s.passes.batches ?? s.passes.steps)!).toBeGreaterThan(0);

    const stats = decodeStats(uploads.get('stats.bin')!);
    expect(stats.meta).toMatchObject({ statsVersion: CALIBRATION_STATS_VERSION, maskPadding: false });
    expect(decodeStats(uploads.get('contrast-stats.bin')!).meta).toMatchObject({ statsVersion: CALIBRATION_STATS_VERSION, role: 'contrast' });
    // every position of every sample counts
    for (const s of stats.stats.values()) expect(s.tokens).toBe(6 * MAX_LENGTH);
  });

  it('maskPadding true: the padding mask and positions from it, pads dropped; other statistics than the reference mode', async () => {
    const clean = await prune('clean', { calibration: calibration({ maskPadding: true }) }, await inputs());
    const reference = await prune('reference-mt', { calibration: calibration() }, await inputs());
    expect(calibrationRecord.parse(clean.result.extra.calibration)).toMatchObject({
      maskPadding: true,
      attentionMask: 'padding',
      positionIds: 'from-padding',
      maskFed: true,
      padsInStatistics: false,
    });
    const real = (await demoLengths(pairs['fr-en']!, 'French', 6)).reduce((s, n) => s + Math.min(n, MAX_LENGTH), 0);
    const a = decodeStats(clean.uploads.get('stats.bin')!).stats;
    const b = decodeStats(reference.uploads.get('stats.bin')!).stats;
    for (const [id, s] of a) {
      expect(s.tokens).toBe(real);
      expect(maxRelDiff(s.sqNorm, b.get(id)!.sqNorm), id).toBeGreaterThan(1e-3);
    }
    // no suites: nothing sampled
    expect(clean.result.extra.seeds).toEqual({});
    expect(clean.result.extra.evaluationSetup).toBeUndefined();
  });

  it('reuses offered statistics of this feeds version only', async () => {
    const first = await prune('first', { calibration: calibration() }, await inputs());
    const current = path.join(tmp, 'prior-current.bin');
    await writeFile(current, first.uploads.get('stats.bin')!);
    const decoded = decodeStats(first.uploads.get('stats.bin')!);
    const { statsVersion: _, ...older } = decoded.meta;
    const stale = path.join(tmp, 'prior-stale.bin');
    await writeFile(stale, encodeStats(decoded.stats, older));
    const offer = (file: string): LocalInput => ({ name: 'prior-stats.bin', role: 'stats', file, meta: { runId: 'run_prior', artifact: 'stats.bin' } });

    const reused = await prune('reused', { calibration: calibration(), sparsity: 0.6 }, await inputs([offer(current)]));
    expect(reused.result.extra.statsReusedFrom).toBe('run_prior');
    expect(reused.result.extra.calibrationRuns).toBeUndefined();

    const recomputed = await prune('recomputed', { calibration: calibration(), sparsity: 0.6 }, await inputs([offer(stale)]));
    expect(recomputed.result.extra.statsReusedFrom).toBeUndefined();
    expect(recomputed.result.extra.calibrationRuns).toBeGreaterThan(0);
    expect(recomputed.logs.join('\n')).toMatch(
      new RegExp(`not reusing the statistics of run run_prior: calibration feeds version 1, this runner's is ${CALIBRATION_STATS_VERSION}`),
    );
  });

  it('method random records its seed and how each layer derives its own', async () => {
    const { result } = await prune('random', { method: 'random', seed: 42 }, await inputs());
    expect(runSeeds.parse(result.extra.seeds)).toEqual({ randomMasks: { seed: 42, perLayer: expect.stringContaining('(seed + 7919·i) mod 2^31') } });
  });
});
