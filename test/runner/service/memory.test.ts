/**
 * The memory limit and the memory a job needs: sizes as configured, the limit detected from a
 * cgroup, the batch size kept within the limit, and a model that cannot fit refused before any
 * onnxruntime session is opened, with both figures in the message.
 */
import { memoryReleaseWarnings } from '@polyprune/gpu-runner/service/memory-release';
import { pruneJobSpec } from '@polyprune/shared/api/jobs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chooseBatchSize } from '@polyprune/gpu-runner/calibrate/batches';
import { detectMemoryLimit, memoryNeed, parseBytes, sparsegptHessianBytes } from '@polyprune/gpu-runner/model/memory';
import { UnsupportedModel } from '@polyprune/gpu-runner/model/preflight';
import { EnvError, readRunnerEnv } from '@polyprune/gpu-runner/service/env';
import { runPruneJob } from '@polyprune/gpu-runner/service/prune-job';
import { checkJobMemory, jobMemoryNeed } from '@polyprune/gpu-runner/service/memory-check';
import { findPrunableLinears } from '@polyprune/gpu-runner/onnx/structure';
import { tiny } from '../helpers/tiny';
import { type LocalInput, localContext } from './local-context';

const root = path.resolve(import.meta.dirname, '../../..');
const XGLM = path.join(root, 'test/fixtures/models/xglm');
const GiB = 2 ** 30;
const MiB = 2 ** 20;

describe('memory limit configuration', () => {
  it('parses sizes in binary units and plain bytes', () => {
    expect(parseBytes('8G')).toBe(8 * GiB);
    expect(parseBytes('512MiB')).toBe(512 * MiB);
    expect(parseBytes('1.5g')).toBe(1.5 * GiB);
    expect(parseBytes('1048576')).toBe(MiB);
    expect(parseBytes('lots')).toBeUndefined();
    expect(parseBytes('-1G')).toBeUndefined();
  });

  it('reads POLYPRUNE_MEMORY_LIMIT, and names the variable when it is not a size', () => {
    const base = { POLYPRUNE_API: 'http://x', POLYPRUNE_RUNNER_TOKEN: 't' };
    expect(readRunnerEnv({ ...base, POLYPRUNE_MEMORY_LIMIT: '3G' }).memoryLimit).toEqual({ bytes: 3 * GiB, source: 'POLYPRUNE_MEMORY_LIMIT' });
    expect(() => readRunnerEnv({ ...base, POLYPRUNE_MEMORY_LIMIT: 'plenty' })).toThrow(EnvError);
    expect(() => readRunnerEnv({ ...base, POLYPRUNE_MEMORY_LIMIT: 'plenty' })).toThrow(/POLYPRUNE_MEMORY_LIMIT/);
    expect(readRunnerEnv(base).memoryLimit.bytes).toBeLessThanOrEqual(os.totalmem());
    // fp16 weights on CPU: polyprune's handling unless POLYPRUNE_CPU_FP16=0 (onnxruntime's, for comparisons).
    expect(readRunnerEnv(base).cpuFp16).toBe(true);
    expect(readRunnerEnv({ ...base, POLYPRUNE_CPU_FP16: '0' }).cpuFp16).toBe(false);
  });

  it('takes a container limit from the cgroup (v2, then v1), and physical memory when there is none', () => {
    const files = (m: Record<string, string>) => (f: string) => {
      if (!(f in m)) throw new Error('ENOENT');
      return m[f]!;
    };
    expect(detectMemoryLimit(files({ '/sys/fs/cgroup/memory.max': `${2 * GiB}\n` }))).toEqual({
      bytes: 2 * GiB,
      source: 'cgroup limit (/sys/fs/cgroup/memory.max)',
    });
    expect(detectMemoryLimit(files({ '/sys/fs/cgroup/memory.max': 'max\n' }))).toEqual({ bytes: os.totalmem(), source: 'physical memory' });
    expect(detectMemoryLimit(files({ '/sys/fs/cgroup/memory/memory.limit_in_bytes': `${GiB}` })).bytes).toBe(GiB);
    expect(detectMemoryLimit(files({ '/sys/fs/cgroup/memory/memory.limit_in_bytes': '9223372036854771712' })).source).toBe('physical memory');
    expect(detectMemoryLimit(files({})).source).toBe('physical memory');
  });
});

describe('memory need and batch size', () => {
  it('adds onnxruntime copies by device and dtype to the weights and one sample', () => {
    const w = GiB;
    const one = 10 * MiB;
    expect(memoryNeed({ weightBytes: w, fp16: false, device: 'cpu', prepack: true, activationBytes: one }).bytes).toBe(w + w + one);
    expect(memoryNeed({ weightBytes: w, fp16: false, device: 'cpu', prepack: false, activationBytes: one }).bytes).toBe(w + one);
    expect(memoryNeed({ weightBytes: w, fp16: true, device: 'cpu', prepack: true, activationBytes: one }).bytes).toBe(2 * w + one);
    expect(memoryNeed({ weightBytes: w, fp16: true, device: 'cuda', prepack: true, activationBytes: one }).bytes).toBe(w + one);
  });

  it('fp16 on CPU: pruning alone holds the fp16 weights and one cast weight or block; evaluation the folded fp32 copy', () => {
    const { model } = tiny({ family: 'llama', dtype: 'float16', blocks: 2 });
    const linears = findPrunableLinears(model).linears;
    const cpu = { device: 'cpu' as const };
    const prune = jobMemoryNeed(cpu, model, linears, 8, 'wanda', 'none');
    const evaluate = jobMemoryNeed(cpu, model, linears, 8, 'wanda', 'fold');
    const castEvaluate = jobMemoryNeed(cpu, model, linears, 8, 'wanda', 'per-run');
    // Independently: fp16 bytes of every float initializer; fp32 bytes of the largest block's
    // linears and of the largest weight a MatMul reads (the untied head here).
    const elems = (name: string) => (model.initializers.get(name)!.dims ?? []).reduce((a: number, b) => a * Number(b), 1);
    const weights = [...model.initializers.values()].filter((t) => t.dataType === 10).reduce((n, t) => n + elems(t.name!) * 2, 0);
    const block = (b: number) => linears.filter((l) => l.block === b).reduce((n, l) => n + l.dIn * l.dOut * 4, 0);
    const head = model.proto.graph!.node!.find((n) => n.name === '/lm_head/MatMul')!.input![1]!;
    const cast = Math.max(block(0), block(1), elems(head) * 4);
    const activations = evaluate.parts.find((p) => p.what.startsWith('activations'))!.bytes;
    expect(prune.bytes).toBe(weights + cast + activations);
    expect(castEvaluate.bytes).toBe(prune.bytes);
    expect(evaluate.bytes).toBe(2 * weights + activations);
    // The check keeps onnxruntime's copy for evaluation where it fits, casts per run where only that
    // fits, and refuses below, with the smaller need.
    const logs: string[] = [];
    const at = (bytes: number) => ({ ...cpu, memoryLimit: { bytes, source: 'POLYPRUNE_MEMORY_LIMIT' }, log: (m: string) => logs.push(m) });
    expect(checkJobMemory(at(evaluate.bytes), 'x', model, linears, 8, 'wanda', true)).toBe('fold');
    expect(checkJobMemory(at(evaluate.bytes - 1), 'x', model, linears, 8, 'wanda', true)).toBe('per-run');
    expect(logs.at(-1)).toMatch(/evaluation casts the fp16 weights on every run \(slower\): onnxruntime's fp32 copy would need/);
    expect(checkJobMemory(at(prune.bytes), 'x', model, linears, 8, 'wanda', false)).toBe('none');
    expect(() => checkJobMemory(at(prune.bytes - 1), 'x', model, linears, 8, 'wanda', true)).toThrow(
      /fp32 casts of the fp16 weights, one weight or block at a time/,
    );
    // fp32 weights: no choice to make.
    const f32 = tiny({ family: 'llama', blocks: 2 }).model;
    expect(checkJobMemory(at(GiB), 'x', f32, findPrunableLinears(f32).linears, 8, 'wanda', true)).toBe('fold');
    expect(memoryNeed({ weightBytes: GiB, fp16: true, device: 'cpu', prepack: false, activationBytes: 5, fp16CastBytes: 7 }).bytes).toBe(GiB + 12);
    expect(memoryNeed({ weightBytes: GiB, fp16: true, device: 'cuda', prepack: false, activationBytes: 5, fp16CastBytes: 7 }).bytes).toBe(GiB + 5);
  });

  it("counts one block's SparseGPT Hessians (d_in² float64 per distinct input) and the factorisation's working matrices", () => {
    // LLaMA-7B-like block: q/k/v/gate/up read 4096-wide tensors (two distinct), o reads 4096, down 11008.
    const block = (b: number) => [
      ...['q', 'k', 'v'].map(() => ({ block: b, inputName: `b${b}.attn_in`, dIn: 4096 })),
      { block: b, inputName: `b${b}.o_in`, dIn: 4096 },
      ...['gate', 'up'].map(() => ({ block: b, inputName: `b${b}.mlp_in`, dIn: 4096 })),
      { block: b, inputName: `b${b}.down_in`, dIn: 11008 },
    ];
    const one = 3 * 4096 ** 2 * 8 + 11008 ** 2 * 8;
    expect(sparsegptHessianBytes([...block(0), ...block(1)])).toBe(one + 4 * 11008 ** 2 * 8);
    const need = memoryNeed({ weightBytes: 1e9, fp16: false, device: 'cpu', prepack: false, activationBytes: 5, hessianBytes: 7 });
    expect(need.bytes).toBe(1e9 + 5 + 7);
    expect(need.parts.at(-1)?.what).toMatch(/Hessians/);
  });

  it('keeps the activation budget within the limit, whatever memory is free', () => {
    const x = { weightBytes: GiB, seqLen: 128, capturedWidth: 8192, hidden: 1024, samples: 64, freeBytes: 64 * GiB };
    const free = chooseBatchSize(x);
    const limited = chooseBatchSize({ ...x, limitBytes: 2.5 * GiB });
    // budget = min(half of min(free, limit) − weights, max(256 MiB, weights / 3))
    expect(free.budgetBytes).toBe(GiB / 3);
    expect(limited.budgetBytes).toBe(0.25 * GiB);
    expect(limited.batchSize).toBe(Math.floor((0.25 * GiB) / limited.perSampleBytes));
    expect(limited.batchSize).toBeLessThan(free.batchSize);
  });
});

describe('a prune job whose model cannot fit', () => {
  let tmp: string;
  beforeAll(async () => {
    tmp = await mkdtemp(path.join(os.tmpdir(), 'pp-memory-'));
    const tsv = await readFile(path.join(root, 'demo/data/corpus.fr-en.tsv'), 'utf8');
    const rows = tsv
      .split('\n')
      .filter((l) => l.includes('\t'))
      .slice(0, 20)
      .map((l) => JSON.stringify({ src: l.split('\t')[0], tgt: l.split('\t')[1] }));
    await writeFile(path.join(tmp, 'corpus.jsonl'), `${rows.join('\n')}\n`);
  });
  afterAll(async () => {
    await rm(tmp, { recursive: true, force: true });
  });

  const job = (name: string, limitBytes: number) => {
    const inputs: LocalInput[] = ['tokenizer.json', 'config.json', 'model.onnx'].map((f) => ({
      name: f,
      role: 'model',
      file: path.join(XGLM, f),
      meta: f === 'model.onnx' ? { graph: true, family: 'xglm', externalData: [] } : {},
    }));
    inputs.push({ name: 'corpus.jsonl', role: 'corpus', file: path.join(tmp, 'corpus.jsonl'), meta: { corpusId: 'cor_x', src: 'fr', tgt: 'en' } });
    const spec = {
      kind: 'prune',
      modelId: 'mdl_x',
      suites: [],
      method: 'wanda',
      sparsity: 0.5,
      mode: 'oneshot',
      calibration: { corpusId: 'cor_x', dataType: 'mt', shots: 1, samples: 4, maxLength: 32 },
    };
    const local = localContext(spec, inputs, path.join(tmp, name));
    local.ctx.memoryLimit = { bytes: limitBytes, source: 'POLYPRUNE_MEMORY_LIMIT' };
    const steps: string[] = [];
    local.ctx.step = async (step, fn) => {
      steps.push(step);
      return fn();
    };
    return { ...local, steps };
  };

  it('is refused at preflight, stating what it needs and the limit', async () => {
    const j = job('tiny', 64 * 1024);
    const err = await runPruneJob(j.ctx, pruneJobSpec.parse(j.ctx.spec)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UnsupportedModel);
    const msg = (err as Error).message;
    expect(msg).toMatch(/^pruning model\.onnx needs at least \d+\.\d\d GiB of memory \(weights /);
    expect(msg).toMatch(/but this runner may use 0\.00 GiB \(POLYPRUNE_MEMORY_LIMIT\)/);
    // Nothing after preflight ran: no session was opened.
    expect(j.steps).toEqual(['download', 'preflight']);
    expect(j.logs.join('\n')).not.toMatch(/calibrat/);
  });

  it('runs when the limit allows it, and logs the figures', async () => {
    const j = job('roomy', 4 * GiB);
    const r = await runPruneJob(j.ctx, pruneJobSpec.parse(j.ctx.spec));
    expect(r.overallSparsity).toBeCloseTo(0.5, 2);
    expect(j.logs.join('\n')).toMatch(/memory: needs at least \d+\.\d\d GiB of 4\.00 GiB \(POLYPRUNE_MEMORY_LIMIT\)/);
    expect(j.steps).toContain('calibrate');
  });
});

describe('memory given back between steps', () => {
  it('names what the process was started without', () => {
    const warnings = memoryReleaseWarnings({}, 'linux');
    expect(warnings.some((w) => /MALLOC_MMAP_THRESHOLD_ is not set \(use 1048576\)/.test(w))).toBe(true);
    expect(memoryReleaseWarnings({ MALLOC_MMAP_THRESHOLD_: '1048576' }, 'linux').some((w) => w.includes('MALLOC'))).toBe(false);
    // glibc's variable means nothing elsewhere
    expect(memoryReleaseWarnings({}, 'darwin').some((w) => w.includes('MALLOC'))).toBe(false);
    // vitest runs without --expose-gc
    expect(warnings.some((w) => w.includes('--expose-gc'))).toBe(typeof (globalThis as { gc?: unknown }).gc !== 'function');
  });
});
