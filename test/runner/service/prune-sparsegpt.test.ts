/**
 * A SparseGPT prune job end to end through the real handler, on real optimum layouts (fp32 GPT-2,
 * fp16 BLOOM): the pruned model holds the UPDATED kept weights in the uploaded names, dtype and
 * layout, zeros exactly where masks.bin says, and the run records its options.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pruneJobSpec } from '@polyprune/shared/api/jobs';
import { discoverStructure } from '@polyprune/gpu-runner/model/preflight';
import { DataType } from '@polyprune/gpu-runner/onnx/proto';
import { loadModel } from '@polyprune/gpu-runner/onnx/read';
import { unpackMasks } from '@polyprune/gpu-runner/prune/pack';
import { canonicalWeight } from '@polyprune/gpu-runner/prune/policy';
import { runPruneJob } from '@polyprune/gpu-runner/service/prune-job';
import { type LocalInput, localContext } from './local-context';

const root = path.resolve(import.meta.dirname, '../../..');
let tmp: string;

beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'pp-sparsegpt-'));
  const tsv = await readFile(path.join(root, 'demo/data/corpus.fr-en.tsv'), 'utf8');
  const rows = tsv
    .split('\n')
    .filter((l) => l.includes('\t'))
    .slice(0, 30)
    .map((l) => JSON.stringify({ src: l.split('\t')[0]!, tgt: l.split('\t')[1]! }));
  await writeFile(path.join(tmp, 'corpus.jsonl'), `${rows.join('\n')}\n`);
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

const cases = [
  { dir: 'optimum-gpt2', graph: 'model.onnx', family: 'gpt2', dtype: DataType.FLOAT, spec: { mode: 'sequential', pattern: 'unstructured', sparsity: 0.5 } },
  {
    dir: 'optimum-bloom-fp16',
    graph: 'model_fp16.onnx',
    family: 'bloom',
    dtype: DataType.FLOAT16,
    spec: { mode: 'oneshot', pattern: '2:4', sparsity: 0.5, blocksize: 16 },
  },
];

describe('sparsegpt prune job', () => {
  for (const c of cases) {
    it(`${c.dir} (${c.spec.mode}, ${c.spec.pattern}): updated kept weights, zeros where masks.bin prunes`, async () => {
      const src = path.join(root, 'test/fixtures/real', c.dir);
      const files = ['config.json', 'tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json', 'generation_config.json', c.graph];
      const inputs: LocalInput[] = [
        ...files.map((name) => ({
          name,
          role: 'model' as const,
          file: path.join(src, name),
          meta: name === c.graph ? { graph: true, family: c.family, externalData: [] } : {},
        })),
        { name: 'corpus.jsonl', role: 'corpus', file: path.join(tmp, 'corpus.jsonl'), meta: { corpusId: 'cor_fr', src: 'fr', tgt: 'en' } },
      ];
      const spec = {
        kind: 'prune',
        modelId: 'mdl_x',
        suites: [],
        method: 'sparsegpt',
        calibration: { corpusId: 'cor_fr', shots: 1, samples: 4, maxLength: 32 },
        ...c.spec,
      };
      const dir = path.join(tmp, c.dir);
      const job = localContext(spec, inputs, dir);
      const result = await runPruneJob(job.ctx, pruneJobSpec.parse(job.ctx.spec));
      expect(result.extra.sparsegpt).toMatchObject({ percdamp: 0.01, blocksize: c.spec.blocksize ?? 128, prunen: c.spec.pattern === '2:4' ? 2 : 0 });
      expect(job.uploads.has('stats.bin')).toBe(false);
      const { masks } = unpackMasks(job.uploads.get('masks.bin')!);

      const dense = await loadModel(path.join(src, c.graph));
      const pruned = await loadModel(path.join(dir, 'pruned', c.graph));
      const { linears } = discoverStructure(dense, c.graph, c.family).structure;
      expect(masks.map((m) => m.id)).toEqual(linears.map((l) => l.id));
      let changed = 0;
      let kept = 0;
      for (const l of linears) {
        expect(pruned.initializers.get(l.weightName)?.dataType).toBe(c.dtype);
        const before = await canonicalWeight(dense, l);
        const after = await canonicalWeight(pruned, l);
        const keep = masks.find((m) => m.id === l.id)!.keep;
        let zeros = 0;
        for (let k = 0; k < keep.length; k++) {
          if (!keep[k]) {
            expect(after.data[k]).toBe(0);
            zeros++;
          } else {
            kept++;
            if (Math.abs(after.data[k]! - before.data[k]!) > 1e-3 * Math.abs(before.data[k]!)) changed++;
          }
        }
        if (c.spec.pattern === '2:4') expect(zeros).toBe(keep.length / 2);
        else expect(zeros / keep.length).toBeGreaterThanOrEqual(0.5);
      }
      // OBS updates move most kept weights (a mask-only writer would leave every one as it was).
      expect(changed / kept).toBeGreaterThan(0.5);
      expect(result.overallSparsity).toBeGreaterThanOrEqual(0.5);
    });
  }
});
