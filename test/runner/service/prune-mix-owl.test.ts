/**
 * A prune job calibrated on a two-corpus mix with OWL, run end to end by the real handler on the
 * demo model: the statistics it uploads are those of the mix's samples written out here (allocation,
 * each corpus's first windows, round robin), the run lists each block's outlier ratio and sparsity,
 * and its masks reach those sparsities.
 */
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pruneJobSpec } from '@polyprune/shared/api/jobs';
import { calibrationRecord } from '@polyprune/shared/api/run-provenance';
import { collectStats } from '@polyprune/gpu-runner/calibrate/stats';
import { decodeStats } from '@polyprune/gpu-runner/calibrate/stats-file';
import { tokenizeCalibration } from '@polyprune/gpu-runner/calibrate/text';
import { loadModel } from '@polyprune/gpu-runner/onnx/read';
import { findPrunableLinears } from '@polyprune/gpu-runner/onnx/structure';
import { unpackMasks } from '@polyprune/gpu-runner/prune/pack';
import { runPruneJob } from '@polyprune/gpu-runner/service/prune-job';
import { loadTokenizer } from '@polyprune/gpu-runner/tokenize/index';
import { maxRelDiff } from '../helpers/tiny';
import { type LocalInput, localContext } from './local-context';

const root = path.resolve(import.meta.dirname, '../../..');
const DEMO = path.join(root, 'demo/model');
const SHOTS = 2;
const SAMPLES = 5;
const MAX_LENGTH = 64;
let tmp: string;
const pairs: Record<string, Array<{ src: string; tgt: string }>> = {};

beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'pp-mix-owl-'));
  for (const pair of ['fr-en', 'de-en']) {
    const tsv = await readFile(path.join(root, `demo/data/corpus.${pair}.tsv`), 'utf8');
    pairs[pair] = tsv
      .split('\n')
      .filter((l) => l.includes('\t'))
      .slice(0, 30)
      .map((l) => ({ src: l.split('\t')[0]!, tgt: l.split('\t')[1]! }));
    await writeFile(path.join(tmp, `corpus.${pair}.jsonl`), `${pairs[pair]!.map((r) => JSON.stringify(r)).join('\n')}\n`);
  }
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

async function inputs(): Promise<LocalInput[]> {
  const model: LocalInput[] = (await readdir(DEMO)).map((name) => ({
    name,
    role: 'model',
    file: path.join(DEMO, name),
    meta: name === 'model.onnx' ? { graph: true, externalData: [] } : {},
  }));
  // as the lease lists a mix: corpus-{index}.jsonl with index and weight
  return [
    ...model,
    {
      name: 'corpus-1.jsonl',
      role: 'corpus',
      file: path.join(tmp, 'corpus.de-en.jsonl'),
      meta: { corpusId: 'cor_de', src: 'de', tgt: 'en', index: 1, weight: 1 },
    },
    {
      name: 'corpus-0.jsonl',
      role: 'corpus',
      file: path.join(tmp, 'corpus.fr-en.jsonl'),
      meta: { corpusId: 'cor_fr', src: 'fr', tgt: 'en', index: 0, weight: 2 },
    },
  ];
}

/** Sample j of a corpus: pairs j·3, j·3 + 1 as "{Lang}: src</s>English: tgt</s>" (text.ts's windows). */
function sample(corpus: Array<{ src: string; tgt: string }>, lang: string, j: number, eos: string): string {
  let text = '';
  for (let s = 0; s < SHOTS; s++) {
    const p = corpus[j * (SHOTS + 1) + s]!;
    text += `${lang}: ${p.src}${eos}English: ${p.tgt}${eos}`;
  }
  return text;
}

describe('prune job on a two-corpus mix with OWL (demo model)', () => {
  it('calibrates on the mix as written out by hand and prunes each block at its OWL sparsity', async () => {
    const spec = {
      kind: 'prune',
      modelId: 'mdl_demo',
      suites: [],
      method: 'wanda',
      sparsity: 0.5,
      mode: 'oneshot',
      layerSparsity: { kind: 'owl', m: 3, lambda: 0.1 },
      calibration: {
        corpora: [
          { corpusId: 'cor_fr', weight: 2 },
          { corpusId: 'cor_de', weight: 1 },
        ],
        shots: SHOTS,
        samples: SAMPLES,
        maxLength: MAX_LENGTH,
      },
    };
    const job = localContext(spec, await inputs(), path.join(tmp, 'job'));
    const result = await runPruneJob(job.ctx, pruneJobSpec.parse(job.ctx.spec));

    // 5 × (2, 1)/3 = 3.33, 1.67 → 3 + 1, the one left to the larger remainder (de): fr 3, de 2
    const cal = calibrationRecord.parse(result.extra.calibration);
    expect(cal.pair).toBe('fr-en+de-en');
    expect(cal.corpusPairs).toBe(60);
    expect(cal.mix).toEqual([
      { corpusId: 'cor_fr', pair: 'fr-en', weight: 2, samples: 3, corpusPairs: 30, wrapped: false },
      { corpusId: 'cor_de', pair: 'de-en', weight: 1, samples: 2, corpusPairs: 30, wrapped: false },
    ]);

    // the statistics are those of fr0, de0, fr1, de1, fr2
    const tok = await loadTokenizer(DEMO);
    const eos = tok.eosToken;
    const fr = pairs['fr-en']!;
    const de = pairs['de-en']!;
    const texts = [
      sample(fr, 'French', 0, eos),
      sample(de, 'German', 0, eos),
      sample(fr, 'French', 1, eos),
      sample(de, 'German', 1, eos),
      sample(fr, 'French', 2, eos),
    ];
    const model = await loadModel(path.join(DEMO, 'model.onnx'));
    const linears = findPrunableLinears(model).linears;
    const batch = tokenizeCalibration(texts, tok, MAX_LENGTH, { prefixIds: tok.prefixIds ?? [] });
    const want = await collectStats(model, linears, batch, { mode: 'oneshot', maskPadding: false, session: { device: 'cpu' } });
    const got = decodeStats(job.uploads.get('stats.bin')!).stats;
    expect([...got.keys()].sort()).toEqual([...want.stats.keys()].sort());
    for (const [id, s] of want.stats) expect(maxRelDiff(got.get(id)!.sqNorm, s.sqNorm), id).toBeLessThan(1e-5);
    // a different interleaving or allocation would give other statistics (order matters per sample only through content)
    const frOnly = tokenizeCalibration(
      [0, 1, 2, 3, 4].map((j) => sample(fr, 'French', j, eos)),
      tok,
      MAX_LENGTH,
      { prefixIds: tok.prefixIds ?? [] },
    );
    const other = await collectStats(model, linears, frOnly, { mode: 'oneshot', maskPadding: false, session: { device: 'cpu' } });
    const first = linears[0]!.id;
    expect(maxRelDiff(got.get(first)!.sqNorm, other.stats.get(first)!.sqNorm)).toBeGreaterThan(1e-3);

    // each block's outlier ratio and sparsity, and the sparsity its masks reached
    const owl = result.extra.layerSparsity as {
      kind: string;
      m: number;
      lambda: number;
      blocks: Array<{ block: number; outlierPct: number; sparsity: number; achieved: number }>;
    };
    expect(owl).toMatchObject({ kind: 'owl', m: 3, lambda: 0.1, sparsity: 0.5 });
    const blocks = [...new Set(linears.map((l) => l.block))];
    expect(owl.blocks.map((b) => b.block).sort()).toEqual(blocks.sort());
    expect(owl.blocks.reduce((a, b) => a + b.sparsity, 0) / owl.blocks.length).toBeCloseTo(0.5, 12);
    expect(Math.max(...owl.blocks.map((b) => b.sparsity)) - Math.min(...owl.blocks.map((b) => b.sparsity))).toBeCloseTo(0.2, 12);
    const masks = unpackMasks(job.uploads.get('masks.bin')!).masks;
    for (const b of owl.blocks) {
      const ls = linears.filter((l) => l.block === b.block);
      const total = ls.reduce((n, l) => n + l.dIn * l.dOut, 0);
      const wantPruned = ls.reduce((n, l) => n + Math.floor(l.dIn * b.sparsity) * l.dOut, 0);
      let pruned = 0;
      for (const l of ls) pruned += masks.find((m) => m.id === l.id)!.keep.reduce((n, v) => n + (v === 0 ? 1 : 0), 0);
      expect(pruned).toBe(wantPruned);
      expect(b.achieved).toBeCloseTo(pruned / total, 12);
    }
    // the per-layer report follows the blocks
    for (const l of result.layers) {
      const lin = linears.find((x) => x.id === l.id)!;
      const b = owl.blocks.find((x) => x.block === lin.block)!;
      expect(l.sparsity).toBeCloseTo(Math.floor(lin.dIn * b.sparsity) / lin.dIn, 12);
    }
  });

  for (const [method, mode] of [
    ['magnitude', 'sequential'],
    ['wanda', 'sequential'],
    ['sparsegpt', 'sequential'],
  ] as const) {
    it(`${method} ${mode} with OWL: outlier ratios from a dense pass, each block pruned at its sparsity`, async () => {
      const spec = {
        kind: 'prune',
        modelId: 'mdl_demo',
        suites: [],
        method,
        mode,
        sparsity: 0.4,
        layerSparsity: { kind: 'owl' },
        calibration: { corpusId: 'cor_fr', shots: SHOTS, samples: 3, maxLength: MAX_LENGTH },
      };
      const list = (await inputs()).filter((i) => i.name !== 'corpus-1.jsonl');
      const job = localContext(spec, list, path.join(tmp, `${method}-${mode}`));
      const result = await runPruneJob(job.ctx, pruneJobSpec.parse(job.ctx.spec));
      const owl = result.extra.layerSparsity as { m: number; lambda: number; blocks: Array<{ block: number; sparsity: number; outlierPct: number }> };
      expect(owl).toMatchObject({ kind: 'owl', m: 5, lambda: 0.08 });
      // sequential wanda needs its dense pass on top of the sequential one; magnitude only the dense one
      expect(
        Object.keys(result.timings)
          .filter((t) => t.startsWith('calibrate'))
          .sort(),
      ).toEqual(method === 'magnitude' ? ['calibrate'] : ['calibrate', 'calibrate-owl']);
      const model = await loadModel(path.join(DEMO, 'model.onnx'));
      const linears = findPrunableLinears(model).linears;
      for (const l of result.layers) {
        const lin = linears.find((x) => x.id === l.id)!;
        const b = owl.blocks.find((x) => x.block === lin.block)!;
        // SparseGPT thresholds each block of columns as a whole (upstream): ⌊n·s⌋ + ties, not per row
        if (method === 'sparsegpt') expect(Math.abs(l.sparsity - b.sparsity)).toBeLessThan(2 / lin.dIn);
        else expect(l.sparsity).toBeCloseTo(Math.floor(lin.dIn * b.sparsity) / lin.dIn, 12);
      }
      expect(new Set(owl.blocks.map((b) => b.sparsity)).size).toBeGreaterThan(1);
    });
  }
});
