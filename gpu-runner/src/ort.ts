/**
 * The only module that imports onnxruntime-node. Chooses the execution provider: CUDA when the
 * installed binaries carry it, else WebGPU (Dawn over Vulkan, built into onnxruntime-node's Linux
 * binary) when the machine has an adapter, else CPU, with a logged reason.
 */
import { existsSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import { halvesOf } from './onnx/fp16.js';
import { type Placement, placementProfile } from './placement.js';
import { type AdapterProbe, describeAdapter, probeWebGpuAdapter, type WebGpuAdapter } from './webgpu-adapter.js';

export { ort };
export type Session = ort.InferenceSession;
export type Tensor = ort.Tensor;

export type Device = 'cuda' | 'webgpu' | 'cpu';
export type DeviceChoice = Device | 'auto';

export interface SessionOptions {
  /** Preferred device; "auto" tries CUDA, then WebGPU, then CPU. Unset: the process default (configureSessions). */
  device?: DeviceChoice;
  /** On WebGPU: nodes kept on CPU (those reading a weight larger than the adapter's largest buffer). */
  cpuNodes?: readonly string[];
  /** Directory holding external-data files the graph references (defaults to the model's dir). */
  externalDataDir?: string;
  intraOpThreads?: number;
  /** onnxruntime's CPU memory arena (off by default: lower peak memory). */
  cpuArena?: boolean;
  /**
   * fp16 weights that MatMul/Gemm read, on CPU (no fp16 kernels there): "fold" (onnxruntime's way:
   * an fp32 copy of each made at session start and held) or "per-run" (cast just before each node
   * on every run, one copy at a time; onnx/cpu-fp16.ts). Applied by openSession; default "fold".
   */
  fp16Weights?: 'fold' | 'per-run';
  /** onnxruntime's log level for this session (0 verbose … 4 fatal); its default (2, warnings) when unset. */
  logSeverityLevel?: 0 | 1 | 2 | 3 | 4;
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
 * memory-mapped external data. device: what a session that names none (or "auto") asks for; the
 * runner sets POLYPRUNE_DEVICE here, the webgpu test project sets "webgpu". On XGLM-564M it bought no measurable speed (calibration 5.6–7.6 s vs
 * 5.8–6.1 s, three evaluation passes 7.8–8.3 s vs 6.9–8.7 s, interleaved) and cost 2.5 s per session.
 */
/* cpuFp16 (on unless a benchmark or test compares with onnxruntime's own handling): fp16 weights on
 * CPU are fed widened once per block in sequential calibration and cast per run where a session asks
 * for it (fp16Weights), instead of an fp32 copy folded into every session (onnx/cpu-fp16.ts).
 */
const defaults: { prepack: boolean; device: DeviceChoice; cpuFp16: boolean } = { prepack: false, device: 'auto', cpuFp16: true };
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
  if (opts.logSeverityLevel !== undefined) o.logSeverityLevel = opts.logSeverityLevel;
  if (!defaults.prepack) o.extra = { session: { disable_prepacking: '1' } };
  return o;
}

/**
 * Create a session from a path or bytes on the device asked for (the process default when unset).
 * With "auto", CUDA is tried first and WebGPU next; a failure is logged once and later sessions skip
 * that provider.
 */
export async function createSession(model: string | Uint8Array, opts: SessionOptions = {}): Promise<{ session: Session; device: Device }> {
  const want = opts.device === undefined || opts.device === 'auto' ? defaults.device : opts.device;
  const log = opts.log ?? (() => {});
  const tryCuda = want === 'cuda' || (want === 'auto' && cudaUnavailableReason === undefined);
  if (want === 'cuda' && cudaUnavailableReason) throw new Error(`CUDA execution provider requested but unavailable: ${cudaUnavailableReason}`);
  if (tryCuda) {
    try {
      const session = await open(model, { ...baseOptions(opts), executionProviders: ['cuda'] });
      return noteUse({ session, device: 'cuda' });
    } catch (err) {
      cudaUnavailableReason = err instanceof Error ? err.message.split('\n')[0] : String(err);
      if (want === 'cuda') throw new Error(`CUDA execution provider requested but unavailable: ${cudaUnavailableReason}`);
    }
  }
  if (want === 'webgpu' || (want === 'auto' && webgpuFailure === undefined)) {
    const probe = await probeWebGpuAdapter();
    if (!probe.available) {
      webgpuFailure = probe.reason;
      if (want === 'webgpu') throw new Error(`WebGPU execution provider requested but unavailable: ${probe.reason}`);
    } else if (want === 'auto' && probe.adapter.fallback) {
      webgpuFailure = softwareOnly(probe.adapter);
    } else {
      try {
        return noteUse({ session: await openWebGpu(model, opts, probe.adapter, log), device: 'webgpu' });
      } catch (err) {
        const reason = err instanceof Error ? err.message.split('\n')[0]! : String(err);
        if (want === 'webgpu') throw new Error(`WebGPU execution provider failed: ${reason}`);
        webgpuFailure = reason;
      }
    }
  }
  if (want === 'auto' && !fallbackLogged) {
    fallbackLogged = true;
    log(`using the CPU execution provider: CUDA: ${cudaUnavailableReason}; WebGPU: ${webgpuFailure}`);
  }
  const session = await open(model, { ...baseOptions(opts), executionProviders: ['cpu'] });
  return noteUse({ session, device: 'cpu' });
}

let fallbackLogged = false;
let webgpuFailure: string | undefined;

/**
 * "auto" passes over a software adapter (Mesa's lavapipe): it runs the same kernels on the CPU,
 * slower than onnxruntime's own CPU provider. It is used only when asked for by name.
 */
function softwareOnly(a: WebGpuAdapter): string {
  return `the only WebGPU adapter is a software one (${a.vendor} ${a.device}); set the device to webgpu to use it anyway`;
}

/**
 * A WebGPU session whose first run is profiled: onnxruntime reports which provider ran each node
 * only there (or in verbose logs on stderr, which JavaScript cannot read), so the first run's
 * profile is counted and deleted, and profiling stops.
 */
async function openWebGpu(model: string | Uint8Array, opts: SessionOptions, adapter: WebGpuAdapter, log: (m: string) => void): Promise<Session> {
  const profile = placementProfile();
  const ep = { name: 'webgpu', ...(opts.cpuNodes?.length ? { forceCpuNodeNames: [...opts.cpuNodes] } : {}) } as ort.InferenceSession.ExecutionProviderConfig;
  const session = await open(model, { ...baseOptions(opts), executionProviders: [ep], enableProfiling: true, profileFilePrefix: profile.prefix });
  let profiled = false;
  const finish = () => {
    if (profiled) return;
    profiled = true;
    session.endProfiling();
    const counted = profile.read();
    if (!counted) return;
    const p: Placement = opts.cpuNodes?.length ? { ...counted, forcedCpu: opts.cpuNodes.length } : counted;
    recordPlacement(p);
    if (!placementLogged) {
      placementLogged = true;
      log(`WebGPU on ${describeAdapter(adapter)}: ${placementLine(p)}`);
    }
  };
  const run = session.run.bind(session);
  const release = session.release.bind(session);
  session.run = (async (...args: Parameters<typeof run>) => {
    const out = await run(...args);
    finish();
    return out;
  }) as typeof session.run;
  session.release = async () => {
    finish();
    await release();
  };
  return session;
}

let placementLogged = false;

export function placementLine(p: Placement): string {
  const byOther = Object.entries(p.nodes)
    .filter(([k]) => k !== 'webgpu')
    .map(([k, n]) => `${n} on ${k}`);
  return `${p.nodes.webgpu ?? 0} of ${p.total} nodes on webgpu${byOther.length ? `, ${byOther.join(', ')} (as onnxruntime assigns them)` : ''}${p.forcedCpu ? `; ${p.forcedCpu} of them kept there by the device cut (onnx/device-cut.ts)` : ''}`;
}

/** What the sessions since the last resetDeviceUse() ran on: recorded as a run's `extra.device`. */
export interface DeviceUse {
  /** providers sessions opened on, in order of first use */
  providers: Device[];
  /** why an "auto" runner did not use CUDA or WebGPU */
  fallback?: { cuda?: string; webgpu?: string };
  webgpu?: {
    adapter: Omit<WebGpuAdapter, 'maxBufferSize' | 'maxStorageBufferBindingSize' | 'shaderF16'>;
    limits: Pick<WebGpuAdapter, 'maxBufferSize' | 'maxStorageBufferBindingSize'>;
    shaderF16: boolean;
    /** where the adapter figures come from (onnxruntime-node exposes none) */
    adapterSource: string;
    /** node placement of the largest graph profiled (its first run) */
    placement?: Placement;
  };
}

let used: Device[] = [];
let largestPlacement: Placement | undefined;

function noteUse<T extends { device: Device }>(x: T): T {
  if (!used.includes(x.device)) used.push(x.device);
  return x;
}

function recordPlacement(p: Placement): void {
  if (!largestPlacement || p.total >= largestPlacement.total) largestPlacement = p;
}

export function resetDeviceUse(): void {
  used = [];
  largestPlacement = undefined;
}

export async function deviceUse(): Promise<DeviceUse> {
  const out: DeviceUse = { providers: [...used] };
  const fallback = {
    ...(cudaUnavailableReason && defaults.device === 'auto' ? { cuda: cudaUnavailableReason } : {}),
    ...(webgpuFailure ? { webgpu: webgpuFailure } : {}),
  };
  if (Object.keys(fallback).length && !used.includes('cuda')) out.fallback = fallback;
  if (used.includes('webgpu')) {
    const probe = await probeWebGpuAdapter();
    if (probe.available) out.webgpu = webgpuFacts(probe.adapter, largestPlacement);
  }
  return out;
}

function webgpuFacts(a: WebGpuAdapter, placement?: Placement): NonNullable<DeviceUse['webgpu']> {
  const { maxBufferSize, maxStorageBufferBindingSize, shaderF16, ...adapter } = a;
  return {
    adapter,
    limits: { maxBufferSize, maxStorageBufferBindingSize },
    shaderF16,
    adapterSource: "Dawn's Node binding (npm webgpu), asked in a child process; onnxruntime-node exposes no adapter information",
    ...(placement ? { placement } : {}),
  };
}

/**
 * The device a choice resolves to on this machine, without opening a session (for the runner's
 * start line and the memory check). CUDA's presence is judged by its provider library.
 */
export async function resolveDevice(asked?: DeviceChoice): Promise<{ device: Device; webgpu?: AdapterProbe; reason?: string }> {
  const choice = asked === undefined || asked === 'auto' ? defaults.device : asked;
  if (choice === 'cpu' || choice === 'cuda') return { device: choice };
  if (choice === 'auto' && cudaUnavailableReason === undefined) return { device: 'cuda' };
  const webgpu = await probeWebGpuAdapter();
  if (choice === 'webgpu') return { device: 'webgpu', webgpu };
  const why = webgpuFailure ?? (!webgpu.available ? webgpu.reason : webgpu.adapter.fallback ? softwareOnly(webgpu.adapter) : undefined);
  if (why === undefined) return { device: 'webgpu', webgpu };
  return { device: 'cpu', webgpu, reason: `CUDA: ${cudaUnavailableReason}; WebGPU: ${why}` };
}

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
