/**
 * The memory a job may use and the memory a model needs, checked before any session is opened:
 * a model that cannot fit is refused with both figures, instead of the runner being killed by the
 * kernel (or the container's OOM killer) halfway through a job.
 */
import { readFileSync } from 'node:fs';
import os from 'node:os';
import { UnsupportedModel } from './preflight.js';

export interface MemoryLimit {
  bytes: number;
  /** where the figure comes from, named in refusals */
  source: string;
}

const UNITS: Record<string, number> = { '': 1, k: 2 ** 10, m: 2 ** 20, g: 2 ** 30, t: 2 ** 40 };

/** "8G", "512MiB", "1.5g", "1073741824" → bytes (binary units); undefined when not a size. */
export function parseBytes(text: string): number | undefined {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(?:i?b)?\s*$/i.exec(text);
  if (!m) return undefined;
  return Math.floor(Number(m[1]) * UNITS[m[2]!.toLowerCase()]!);
}

/**
 * The cgroup's memory limit when the runner runs in a container that has one (v2, then v1), else
 * the machine's memory.
 */
export function detectMemoryLimit(read: (file: string) => string = (f) => readFileSync(f, 'utf8')): MemoryLimit {
  const total: MemoryLimit = { bytes: os.totalmem(), source: 'physical memory' };
  for (const file of ['/sys/fs/cgroup/memory.max', '/sys/fs/cgroup/memory/memory.limit_in_bytes']) {
    let text: string;
    try {
      text = read(file).trim();
    } catch {
      continue;
    }
    const bytes = Number(text);
    // "max" (v2) or a page-rounded 2^63 (v1) mean no limit.
    if (Number.isFinite(bytes) && bytes > 0 && bytes < total.bytes) return { bytes, source: `cgroup limit (${file})` };
    return total;
  }
  return total;
}

export interface MemoryNeedInput {
  /** bytes of the model's float weights as stored */
  weightBytes: number;
  fp16: boolean;
  device: 'cpu' | 'cuda' | 'webgpu';
  /** onnxruntime's CPU prepacking is on (POLYPRUNE_PREPACK) */
  prepack: boolean;
  /** activations of the smallest batch the job can run (one sample) */
  activationBytes: number;
  /** SparseGPT: one block's Hessians and the factorisation's working matrices (sparsegptHessianBytes) */
  hessianBytes?: number;
  /**
   * fp16 on CPU, for a job that opens no session folding an fp32 copy of the weights (pruning
   * without evaluation, or evaluation cast per run): the fp32 bytes held at once while a run casts
   * one weight or sequential calibration feeds one block widened (onnx/cpu-fp16.ts). Unset: the
   * folded copy, 2 × the weights.
   */
  fp16CastBytes?: number;
}

export interface MemoryNeed {
  bytes: number;
  parts: Array<{ what: string; bytes: number }>;
}

/**
 * A lower bound of the job's peak memory, from what bench/scale measured on CPU: the weights once
 * (memory-mapped; evaluation's LM head touches all of them), with POLYPRUNE_PREPACK=1 onnxruntime's
 * prepacked copy of fp32 weights, and for fp16 in an evaluation session the fp32 copy onnxruntime
 * folds in front of every MatMul instead of the fp16 bytes (it has no fp16 MatMul kernel there);
 * calibration keeps the fp16 weights and casts one weight or block at a time (`fp16CastBytes`).
 * On CUDA and WebGPU the weights live on the device (host memory holds them once, while they load).
 */
export function memoryNeed(x: MemoryNeedInput): MemoryNeed {
  const parts: MemoryNeed['parts'] = [{ what: 'weights', bytes: x.weightBytes }];
  // fp16 on CPU: onnxruntime folds every weight to fp32 at load and the fp16 pages are not touched
  // again, so the fp32 copy takes the weights' place (measured 2.1–2.2 × the fp16 file).
  if (x.device === 'cpu' && x.fp16 && x.fp16CastBytes !== undefined) {
    parts.push({ what: 'fp32 casts of the fp16 weights, one weight or block at a time (no fp16 MatMul on CPU)', bytes: x.fp16CastBytes });
  } else if (x.device === 'cpu' && x.fp16) parts[0] = { what: "onnxruntime's fp32 copy of the fp16 weights (no fp16 MatMul on CPU)", bytes: x.weightBytes * 2 };
  else if (x.device === 'cpu' && x.prepack) parts.push({ what: "onnxruntime's prepacked copy", bytes: x.weightBytes });
  parts.push({ what: 'activations of one sample', bytes: x.activationBytes });
  if (x.hessianBytes) parts.push({ what: "one block's SparseGPT Hessians and factorisation (float64)", bytes: x.hessianBytes });
  return { bytes: parts.reduce((s, p) => s + p.bytes, 0), parts };
}

const gib = (b: number) => `${(b / 2 ** 30).toFixed(2)} GiB`;

/** Refuses (UnsupportedModel) a job whose model needs more than the limit, stating both. */
export function assertFits(what: string, need: MemoryNeed, limit: MemoryLimit): void {
  if (need.bytes <= limit.bytes) return;
  const parts = need.parts.filter((p) => p.bytes > 0).map((p) => `${p.what} ${gib(p.bytes)}`);
  throw new UnsupportedModel(
    `${what} needs at least ${gib(need.bytes)} of memory (${parts.join(' + ')}) but this runner may use ${gib(limit.bytes)} (${limit.source}): run it on a runner with more memory${need.parts.some((p) => p.what.includes('prepacked')) ? ', or with POLYPRUNE_PREPACK=0 (no prepacked copy)' : ''}`,
  );
}

/**
 * SparseGPT holds one block's Hessians at a time: a d_in² float64 sum per distinct input tensor (q, k
 * and v share one), plus, while one linear is pruned, about four more d_in² float64 matrices (its
 * dampened copy, the reversed copy, the Cholesky factor and its inverse; linalg64.ts).
 */
export function sparsegptHessianBytes(linears: { block: number; inputName: string; dIn: number }[]): number {
  let worst = 0;
  let widest = 0;
  for (const b of new Set(linears.map((l) => l.block))) {
    const inputs = new Map(linears.filter((l) => l.block === b).map((l) => [l.inputName, l.dIn]));
    worst = Math.max(
      worst,
      [...inputs.values()].reduce((s, d) => s + d * d * 8, 0),
    );
  }
  for (const l of linears) widest = Math.max(widest, l.dIn);
  return worst + 4 * widest * widest * 8;
}
