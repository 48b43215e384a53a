/** The only place the runner reads process.env. */
import os from 'node:os';
import path from 'node:path';
import { detectMemoryLimit, type MemoryLimit, parseBytes } from '../model/memory';

export interface RunnerEnv {
  /** Base URL of the API, e.g. http://127.0.0.1:8787 */
  api: string;
  token: string;
  /** Cache of inputs and per-job scratch space. */
  workdir: string;
  /** "auto": CUDA if its provider is installed, else a hardware WebGPU adapter, else CPU. */
  device: 'auto' | 'cuda' | 'webgpu' | 'cpu';
  runnerId: string;
  /** Seconds to wait between lease attempts when the queue is empty. */
  pollSeconds: number;
  /** Bytes of cached inputs to keep (0: unlimited). */
  cacheMaxBytes: number;
  /** Leave after this many jobs (0: never); tests and one-shot batch runs use it. */
  maxJobs: number;
  /**
   * Pause after every step, in ms. Only for fault tests: it makes "kill the runner mid-job" land
   * mid-job deterministically on models that finish in a second.
   */
  stepDelayMs: number;
  /** onnxruntime may keep prepacked copies of the weights (POLYPRUNE_PREPACK=1; default off) */
  prepack: boolean;
  /** fp16 weights on CPU cast per run or fed widened per block (POLYPRUNE_CPU_FP16, default 1; onnx/cpu-fp16.ts) */
  cpuFp16: boolean;
  /** What a job may use (POLYPRUNE_MEMORY_LIMIT, else the cgroup limit, else physical memory). */
  memoryLimit: MemoryLimit;
}

export class EnvError extends Error {}

/** POLYPRUNE_DEVICE (default auto); `--probe` reads only this. */
export function readDevice(env: NodeJS.ProcessEnv = process.env): RunnerEnv['device'] {
  const device = (env.POLYPRUNE_DEVICE ?? 'auto').toLowerCase();
  if (device !== 'auto' && device !== 'cuda' && device !== 'webgpu' && device !== 'cpu')
    throw new EnvError(`POLYPRUNE_DEVICE must be auto, cuda, webgpu or cpu, got "${device}"`);
  return device;
}

export function readRunnerEnv(env: NodeJS.ProcessEnv = process.env): RunnerEnv {
  const api = env.POLYPRUNE_API;
  const token = env.POLYPRUNE_RUNNER_TOKEN;
  const missing = [!api && 'POLYPRUNE_API', !token && 'POLYPRUNE_RUNNER_TOKEN'].filter(Boolean);
  if (missing.length) throw new EnvError(`missing environment: ${missing.join(', ')} (the API base URL and a token with scope "runner")`);
  const device = readDevice(env);
  const num = (name: string, fallback: number) => {
    const v = env[name];
    if (v === undefined || v === '') return fallback;
    const n = Number(v);
    if (!Number.isFinite(n) || n < 0) throw new EnvError(`${name} must be a non-negative number, got "${v}"`);
    return n;
  };
  let memoryLimit = detectMemoryLimit();
  if (env.POLYPRUNE_MEMORY_LIMIT) {
    const bytes = parseBytes(env.POLYPRUNE_MEMORY_LIMIT);
    if (!bytes) throw new EnvError(`POLYPRUNE_MEMORY_LIMIT must be a size such as 8G, 512M or a number of bytes, got "${env.POLYPRUNE_MEMORY_LIMIT}"`);
    memoryLimit = { bytes, source: 'POLYPRUNE_MEMORY_LIMIT' };
  }
  return {
    api: api!.replace(/\/+$/, ''),
    token: token!,
    workdir: path.resolve(env.POLYPRUNE_WORKDIR ?? path.join(os.homedir(), '.cache', 'polyprune-runner')),
    device,
    runnerId: env.POLYPRUNE_RUNNER_ID ?? `${os.hostname()}-${process.pid}`,
    pollSeconds: num('POLYPRUNE_POLL_SECONDS', 2),
    cacheMaxBytes: num('POLYPRUNE_CACHE_MAX_BYTES', 0),
    maxJobs: num('POLYPRUNE_MAX_JOBS', 0),
    stepDelayMs: num('POLYPRUNE_STEP_DELAY_MS', 0),
    // 1: onnxruntime keeps prepacked weight copies (≈ +1 × the model on CPU, no measured gain); see ort.ts.
    prepack: num('POLYPRUNE_PREPACK', 0) !== 0,
    // 0: fp16 weights on CPU are left to onnxruntime (an fp32 copy folded per session), for comparisons.
    cpuFp16: num('POLYPRUNE_CPU_FP16', 1) !== 0,
    memoryLimit,
  };
}
