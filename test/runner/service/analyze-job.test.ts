/**
 * The job handlers end to end on real models and real onnxruntime: two prune jobs calibrated on
 * different pairs, then the analyze job over their masks.bin and lmf.json, checked against a plain
 * computation on the unpacked masks; and a graph whose residual stream stays fused, whose run says
 * why it has no LMF report.
 */
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { maskAnalysis } from '@polyprune/shared/api/analysis';
import type { LmfReport } from '@polyprune/gpu-runner/analyze/lmf';
import { onnx } from '@polyprune/gpu-runner/onnx/proto';
import { unpackMasks } from '@polyprune/gpu-runner/prune/pack';
import { runPipeline } from '@polyprune/gpu-runner/service/pipeline';
import type { RunResult } from '@polyprune/gpu-runner/service/protocol';
import { type LocalInput, localContext } from './local-context';

const root = path.resolve(import.meta.dirname, '../../..');
const XGLM = path.join(root, 'test/fixtures/models/xglm');
let tmp: string;

beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'pp-analyze-job-'));
  for (const pair of ['fr-en', 'de-en']) {
    const tsv = await readFile(path.join(root, `demo/data/corpus.${pair}.tsv`), 'utf8');
    const rows = tsv
      .split('\n')
      .filter((l) => l.includes('\t'))
      .slice(0, 60)
      .map((l) => JSON.stringify({ src: l.split('\t')[0], tgt: l.split('\t')[1] }));
    await writeFile(path.join(tmp, `corpus.${pair}.jsonl`), `${rows.join('\n')}\n`);
  }
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

function modelInputs(dir: string, graph: string, family: string): LocalInput[] {
  return ['tokenizer.json', 'config.json', graph].map((name) => ({
    name,
    role: 'model',
    file: path.join(dir, name),
    meta: name === graph ? { graph: true, family, externalData: [] } : {},
  }));
}

async function prune(name: string, model: LocalInput[], spec: Record<string, unknown>, pair?: string) {
  const inputs = [...model];
  if (pair) {
    const [src, tgt] = pair.split('-');
    inputs.push({ name: 'corpus.jsonl', role: 'corpus', file: path.join(tmp, `corpus.${pair}.jsonl`), meta: { corpusId: `cor_${pair}`, src, tgt } });
  }
  const job = localContext({ kind: 'prune', modelId: 'mdl_x', suites: [], ...spec }, inputs, path.join(tmp, name));
  const result = await runPipeline(job.ctx);
  return { result, uploads: job.uploads, logs: job.logs };
}

const wanda = (pair: string) => ({
  method: 'wanda',
  sparsity: 0.5,
  mode: 'oneshot',
  calibration: { corpusId: `cor_${pair}`, dataType: 'mt', shots: 2, samples: 4, maxLength: 32 },
});

describe('analyze job over two prune jobs of the xglm fixture', () => {
  let fr: Awaited<ReturnType<typeof prune>>;
  let de: Awaited<ReturnType<typeof prune>>;
  let analysis: { result: RunResult; uploads: Map<string, Uint8Array> };

  beforeAll(async () => {
    const model = modelInputs(XGLM, 'model.onnx', 'xglm');
    fr = await prune('fr', model, wanda('fr-en'), 'fr-en');
    de = await prune('de', model, wanda('de-en'), 'de-en');
    const dir = path.join(tmp, 'analysis');
    await mkdir(dir, { recursive: true });
    const inputs: LocalInput[] = [];
    for (const [runId, label, r] of [
      ['run_fr', 'mt:fr-en', fr],
      ['run_de', 'mt:de-en', de],
    ] as const) {
      for (const art of ['masks.bin', 'lmf.json']) {
        const file = path.join(dir, `${runId}-${art}`);
        await writeFile(file, r.uploads.get(art)!);
        inputs.push({
          name: `${art === 'masks.bin' ? 'masks' : 'lmf'}-${runId}.${art.split('.')[1]}`,
          role: art === 'masks.bin' ? 'masks' : 'lmf',
          file,
          meta: { runId, label, variant: `wanda 50% ${label} oneshot`, modelSha256: null },
        });
      }
    }
    const job = localContext({ kind: 'analyze', modelId: 'mdl_x', runs: ['run_fr', 'run_de'] }, inputs, path.join(tmp, 'analyze'));
    analysis = { result: await runPipeline(job.ctx), uploads: job.uploads };
  });

  it('prune runs record their LMF report', () => {
    for (const r of [fr, de]) {
      expect(r.result.extra.lmf).toMatchObject({ status: 'available', k: expect.any(Number), blocks: 2, dim: 32 });
      expect(r.result.artifacts).toContain('lmf.json');
    }
    expect(fr.result.extra.lmf).toMatchObject({ pair: 'fr-en' });
  });

  it('gives the overlap of a plain computation on the unpacked masks', () => {
    const a = maskAnalysis.parse(JSON.parse(new TextDecoder().decode(analysis.uploads.get('analysis.json')!)));
    expect(analysis.result.artifacts).toEqual(['analysis.json']);
    expect(analysis.result.extra.analysis).toMatchObject({ runs: a.runs, matrices: a.matrices, layers: a.layers.length });
    const mf = unpackMasks(fr.uploads.get('masks.bin')!).masks;
    const md = new Map(unpackMasks(de.uploads.get('masks.bin')!).masks.map((m) => [m.id, m]));
    let both = 0;
    let either = 0;
    let rows = 0;
    let identical = 0;
    for (const m of mf) {
      const n = md.get(m.id)!;
      for (let o = 0; o < m.dOut; o++) {
        let same = true;
        for (let i = 0; i < m.dIn; i++) {
          const ka = m.keep[i * m.dOut + o]!;
          const kb = n.keep[i * m.dOut + o]!;
          if (!ka && !kb) both++;
          if (!ka || !kb) either++;
          if (ka !== kb) same = false;
        }
        rows++;
        if (same) identical++;
      }
    }
    expect(a.matrices.jaccard[0]![1]).toBeCloseTo(both / either, 12);
    expect(a.matrices.rowsIdentical[0]![1]).toBeCloseTo(identical / rows, 12);
    // Both masks drop ⌊dIn/2⌋ of every row: chance is 1/3 up to the rounding of odd widths.
    expect(a.matrices.jaccardChance[0]![1]).toBeCloseTo(1 / 3, 2);
    // Two calibration pairs of one model agree far more than chance, and less than fully.
    expect(a.matrices.jaccard[0]![1]).toBeGreaterThan(1 / 3);
    expect(a.matrices.jaccard[0]![1]).toBeLessThan(1);

    const lf = JSON.parse(new TextDecoder().decode(fr.uploads.get('lmf.json')!)) as LmfReport;
    const ld = JSON.parse(new TextDecoder().decode(de.uploads.get('lmf.json')!)) as LmfReport;
    expect(a.lmf!.labels).toEqual(['fr-en', 'de-en']);
    for (let b = 0; b < 2; b++) {
      const x = lf.pairs[0]!.translation[b]!.top;
      const y = ld.pairs[0]!.translation[b]!.top;
      expect(a.lmf!.blocks[b]!.translation[0]![1]).toBeCloseTo(x.filter((d) => y.includes(d)).length / new Set([...x, ...y]).size, 12);
    }
    // q/k/v/fc1 read the 32-dimensional residual stream and get an LMF set; o and fc2 do not.
    for (const l of a.layers) expect(l.lmfBlock !== null).toBe(['q', 'k', 'v', 'fc1'].includes(l.role!));
    expect(a.matrices.lmfShare[0]![1]).toBeGreaterThan(0);
  });

  it('refuses fewer than two runs', async () => {
    const job = localContext({ kind: 'analyze', modelId: 'mdl_x', runs: ['a', 'b'] }, [], path.join(tmp, 'none'));
    await expect(runPipeline(job.ctx)).rejects.toThrow(/at least two runs' masks; the lease lists 0/);
  });
});

describe('runs without an LMF report say why', () => {
  it('a residual stream behind fused add + norm nodes whose statistics are used', async () => {
    // The ORT-fused GPT-2 export with each SkipLayerNormalization's mean output used by the graph:
    // such a node cannot be split into Add + norm, so no block ends at a tappable Add.
    const src = path.join(root, 'test/fixtures/real/ort-fused-gpt2');
    const dir = path.join(tmp, 'fused');
    await mkdir(dir, { recursive: true });
    const proto = onnx.ModelProto.decode(await readFile(path.join(src, 'model.onnx')));
    for (const node of proto.graph!.node ?? []) {
      if (node.opType !== 'SkipLayerNormalization') continue;
      const outs = [...(node.output ?? [])];
      while (outs.length < 2) outs.push('');
      outs[1] = `${node.name}/mean`;
      node.output = outs;
      proto.graph!.output!.push(onnx.ValueInfoProto.create({ name: outs[1], type: { tensorType: { elemType: onnx.TensorProto.DataType.FLOAT } } }));
    }
    await writeFile(path.join(dir, 'model.onnx'), onnx.ModelProto.encode(proto).finish());
    for (const f of ['tokenizer.json', 'config.json']) await writeFile(path.join(dir, f), await readFile(path.join(src, f)));
    const r = await prune('fused-run', modelInputs(dir, 'model.onnx', 'gpt2'), wanda('fr-en'), 'fr-en');
    expect(r.result.extra.lmf).toEqual({
      status: 'unavailable',
      reason: expect.stringMatching(/fused residual-add \+ norm node\(s\) \(SkipLayerNormalization\)/),
    });
    expect(r.result.artifacts).not.toContain('lmf.json');
    expect(r.result.artifacts).toContain('masks.bin');
    expect(r.logs.join('\n')).toMatch(/no LMF report: the residual stream runs through 4 fused/);
  });

  it('a method that calibrates on no text', async () => {
    const r = await prune('magnitude', modelInputs(XGLM, 'model.onnx', 'xglm'), { method: 'magnitude', sparsity: 0.5 });
    expect(r.result.extra.lmf).toEqual({ status: 'not-applicable', reason: expect.stringMatching(/method magnitude uses no calibration text/) });
  });
});
