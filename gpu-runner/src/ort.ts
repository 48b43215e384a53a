/**
 * The only module that imports onnxruntime-node. Chooses the CUDA execution provider when the
 * installed binaries carry it and falls back to CPU with a logged reason.
 */
import { existsSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import { halvesOf } from './onnx/fp16.js';

export { ort };
export type Session = ort.InferenceSession;
export type Tensor = ort.Tensor;

export type Device = 'cuda' | 'cpu';

export interface SessionOptions {
  /** Preferred device; "auto" tries CUDA first. */
  device?: Device | 'auto';
  /** Directory holding external-data files the graph references (defaults to the model's dir). */
  externalDataDir?: string;
  intraOpThreads?: number;
  /** onnxruntime's CPU memory arena (off by default: lower peak memory). */
  cpuArena?: boolean;
  log?: (msg: string) => void;
}

let cudaUnavailableReason: string | undefined = cudaProviderMissing();

/**
 * The CUDA execution provider ships as a separate shared library that onnxruntime-node's install
 * script downloads; without it, asking for CUDA only makes the runtime print an error. Checking
 * for the file first keeps CPU-only installs quiet.
 */
function cudaProviderMissing(): string | undefined {
  if (process.platform !== 'linux' && process.platform !== 'win32') return `no CUDA execution provider on ${process.platform}`;
  try {
    const bin = path.join(path.dirname(createRequire(import.meta.url).resolve('onnxruntime-node')), '..', 'bin');
    const lib = process.platform === 'win32' ? 'onnxruntime_providers_cuda.dll' : 'libonnxruntime_providers_cuda.so';
    for (const napi of readdirSync(bin)) {
      if (existsSync(path.join(bin, napi, process.platform, process.arch, lib))) return undefined;
    }
    return 'onnxruntime-node is installed without its CUDA execution provider (install without ONNXRUNTIME_NODE_INSTALL=skip on a GPU host)';
  } catch {
    return undefined; // unknown layout: let the runtime decide
  }
}

/** Whether this process can use CUDA (decided once, on the first session that asks for it). */
export function cudaStatus(): { available: boolean; reason?: string } {
  return cudaUnavailableReason === undefined ? { available: true } : { available: false, reason: cudaUnavailableReason };
}

/**
 * Process-wide session defaults, set once by the runner service from its environment.
 * prepack (off unless POLYPRUNE_PREPACK=1): onnxruntime's CPU MatMul can repack every constant
 * weight into its own layout, a second copy (≈ 1 × the model, anonymous memory) next to the
 * memory-mapped external data. On XGLM-564M it bought no measurable speed (calibration 5.6–7.6 s vs
 * 5.8–6.1 s, three evaluation passes 7.8–8.3 s vs 6.9–8.7 s, interleaved) and cost 2.5 s per session.
 */
const defaults: { prepack: boolean } = { prepack: false };
export function configureSessions(d: Partial<typeof defaults>): void {
  Object.assign(defaults, d);
}
export function sessionDefaults(): Readonly<typeof defaults> {
  return defaults;
}

function baseOptions(opts: SessionOptions): ort.InferenceSession.SessionOptions {
  // The CPU arena keeps freed activation buffers for reuse; with weights already resident that
  // pushes peak memory while pruning from ~1.5x to ~2x the model (bench/calibration.ts), for no
  // measurable speed-up here.
  const o: ort.InferenceSession.SessionOptions = { graphOptimizationLevel: 'all', enableCpuMemArena: opts.cpuArena ?? false };
  if (opts.intraOpThreads) o.intraOpNumThreads = opts.intraOpThreads;
  if (!defaults.prepack) o.extra = { session: { disable_prepacking: '1' } };
  return o;
}

/**
 * Create a session from a path or bytes. With device "auto" (default) CUDA is tried first; a
 * failure is logged once and every later session goes straight to CPU.
 */
export async function createSession(model: string | Uint8Array, opts: SessionOptions = {}): Promise<{ session: Session; device: Device }> {
  const want = opts.device ?? 'auto';
  const log = opts.log ?? (() => {});
  const tryCuda = want === 'cuda' || (want === 'auto' && cudaUnavailableReason === undefined);
  if (want === 'cuda' && cudaUnavailableReason) throw new Error(`CUDA execution provider requested but unavailable: ${cudaUnavailableReason}`);
  if (tryCuda) {
    try {
      const session = await open(model, { ...baseOptions(opts), executionProviders: ['cuda'] });
      return { session, device: 'cuda' };
    } catch (err) {
      cudaUnavailableReason = err instanceof Error ? err.message.split('\n')[0] : String(err);
      if (want === 'cuda') throw new Error(`CUDA execution provider requested but unavailable: ${cudaUnavailableReason}`);
    }
  }
  if (want === 'auto' && !fallbackLogged) {
    fallbackLogged = true;
    log(`using the CPU execution provider: ${cudaUnavailableReason}`);
  }
  const session = await open(model, { ...baseOptions(opts), executionProviders: ['cpu'] });
  return { session, device: 'cpu' };
}

let fallbackLogged = false;

function open(model: string | Uint8Array, o: ort.InferenceSession.SessionOptions): Promise<Session> {
  // Two calls because create's overloads take a path or bytes, not their union.
  return typeof model === 'string' ? ort.InferenceSession.create(model, o) : ort.InferenceSession.create(model, o);
}

export function int64Tensor(data: BigInt64Array, dims: number[]): Tensor {
  return new ort.Tensor('int64', data, dims);
}

export function float32Tensor(data: Float32Array, dims: number[]): Tensor {
  return new ort.Tensor('float32', data, dims);
}

/** An integer token tensor in the element type the graph declares (int32 for ORT-optimized exports). */
export function intTensor(type: 'int64' | 'int32', data: BigInt64Array, dims: number[]): Tensor {
  return type === 'int64'
    ? new ort.Tensor('int64', data, dims)
    : new ort.Tensor(
        'int32',
        Int32Array.from(data, (v) => Number(v)),
        dims,
      );
}

/**
 * An fp16 tensor over raw halves, sharing their memory (writing to `halves` changes what the next
 * run sees). Where the runtime has a native Float16Array, onnxruntime-common turns Uint16Array
 * data into one, and onnxruntime-node 1.30's binding reads a Float16Array feed as 0 bytes ("not
 * enough space: expected N, got 0"); the tensor's `data` stays the halves, so every Node feeds
 * the same bytes. The only way fp16 tensors are made here.
 */
export function float16Tensor(halves: Uint16Array, dims: readonly number[]): Tensor {
  const t = new ort.Tensor('float16', halves, dims);
  if (!(t.data instanceof Uint16Array)) Object.defineProperty(t, 'data', { value: halves, enumerable: true });
  return t;
}

/**
 * A tensor onnxruntime handed over, ready to be fed to a run: fp16 outputs (a native Float16Array
 * on Node 24+) re-wrapped over their halves without a copy; anything else as it is.
 */
export function feedable(t: Tensor): Tensor {
  if (t.type !== 'float16' || t.data instanceof Uint16Array) return t;
  return float16Tensor(halvesOf(t.data), t.dims);
}

/** A float tensor of zeros (a cache of past length 0 has no elements at all). */
export function zeroTensor(type: 'float32' | 'float16', dims: number[]): Tensor {
  const n = dims.reduce((a, b) => a * b, 1);
  return type === 'float32' ? float32Tensor(new Float32Array(n), dims) : float16Tensor(new Uint16Array(n), dims);
}
