/**
 * What WebGPU adapter this machine has, asked before any session opens. onnxruntime-node's WebGPU
 * execution provider (Dawn over Vulkan) exposes no adapter information to JavaScript: it logs none,
 * even at verbose level, and its error on a bare machine is only "Failed to get a WebGPU adapter".
 * So the adapter is asked of Dawn's own Node binding (npm `webgpu`), the same WebGPU implementation
 * onnxruntime embeds, over the same Vulkan loader and driver, with the same default request
 * (high-performance). The figures are therefore the adapter's as Dawn reports them; which adapter
 * onnxruntime's own Dawn then picks is not observable, and on a machine with one GPU it is that one.
 *
 * The question runs in a child process: a broken driver can hang or crash in vkCreateInstance, and
 * the runner must answer with a message instead (a timeout counts as "no adapter").
 */
import { execFile } from 'node:child_process';

export interface WebGpuAdapter {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  /** Dawn is asked for its Vulkan backend (the one onnxruntime uses on Linux). */
  backend: string;
  /** a software rasterizer such as Mesa's lavapipe */
  fallback: boolean;
  /** the largest GPUBuffer (bytes): a weight larger than this cannot live on the device */
  maxBufferSize: number;
  /** the largest storage binding (bytes); onnxruntime 1.30 binds larger buffers in segments */
  maxStorageBufferBindingSize: number;
  shaderF16: boolean;
}

export type AdapterProbe = { available: true; adapter: WebGpuAdapter } | { available: false; reason: string };

const PROBE_TIMEOUT_MS = 30_000;

// Runs in the child: prints one JSON line. process.exit because Dawn's instance keeps the loop alive.
const CHILD = `
const { create } = await import(process.env.POLYPRUNE_WEBGPU_MODULE);
const backend = process.platform === 'darwin' ? 'metal' : process.platform === 'win32' ? 'd3d12' : 'vulkan';
const gpu = create(['backend=' + backend]);
const a = await gpu.requestAdapter({ powerPreference: 'high-performance' });
const out = a
  ? { vendor: a.info.vendor, architecture: a.info.architecture, device: a.info.device, description: a.info.description,
      backend, fallback: Boolean(a.info.isFallbackAdapter), maxBufferSize: a.limits.maxBufferSize,
      maxStorageBufferBindingSize: a.limits.maxStorageBufferBindingSize, shaderF16: a.features.has('shader-f16') }
  : null;
process.stdout.write('POLYPRUNE_ADAPTER ' + JSON.stringify(out) + '\\n');
process.exit(0);
`;

/** Reads the child's answer; anything unexpected is "no adapter" with the reason. */
export function parseProbeOutput(stdout: string, stderr: string, error?: Error & { killed?: boolean; code?: unknown }): AdapterProbe {
  const line = stdout.split('\n').find((l) => l.startsWith('POLYPRUNE_ADAPTER '));
  if (error && (error.killed || !line)) {
    const why = error.killed ? `the adapter query did not answer within ${PROBE_TIMEOUT_MS / 1000} s` : lastLine(stderr) || error.message.split('\n')[0]!;
    return { available: false, reason: why };
  }
  if (!line) return { available: false, reason: lastLine(stderr) || 'the adapter query printed nothing' };
  const v = JSON.parse(line.slice('POLYPRUNE_ADAPTER '.length)) as WebGpuAdapter | null;
  if (v === null)
    return { available: false, reason: `no WebGPU adapter: Dawn found no usable Vulkan device (install libvulkan1 and a Vulkan driver; see docs/gpu.md)` };
  return { available: true, adapter: v };
}

function lastLine(s: string): string {
  return (
    s
      .split('\n')
      .map((l) => l.trim())
      .filter(Boolean)
      .at(-1) ?? ''
  );
}

let cached: Promise<AdapterProbe> | undefined;

/** The machine's WebGPU adapter, asked once per process. */
export function probeWebGpuAdapter(): Promise<AdapterProbe> {
  cached ??= queryAdapter();
  return cached;
}

/** Asks a child process for the adapter, uncached (tests pass an environment without a driver). */
export function queryAdapter(env: NodeJS.ProcessEnv = process.env): Promise<AdapterProbe> {
  let module: string;
  try {
    module = import.meta.resolve('webgpu');
  } catch {
    return Promise.resolve({ available: false, reason: 'the npm package "webgpu" (Dawn for Node) is not installed' });
  }
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--input-type=module', '-e', CHILD],
      { timeout: PROBE_TIMEOUT_MS, env: { ...env, POLYPRUNE_WEBGPU_MODULE: module }, maxBuffer: 1 << 20 },
      (error, stdout, stderr) => resolve(parseProbeOutput(stdout, stderr, error ?? undefined)),
    );
  });
}

/** One line for logs: "mesa llvmpipe … (vulkan, software), maxBufferSize 4.00 GiB, …". */
export function describeAdapter(a: WebGpuAdapter): string {
  const gib = (b: number) => (b >= 2 ** 30 ? `${(b / 2 ** 30).toFixed(2)} GiB` : `${Math.round(b / 2 ** 20)} MiB`);
  return `${a.vendor} ${a.description || a.device} (${a.backend}${a.fallback ? ', software' : ''}), maxBufferSize ${gib(a.maxBufferSize)}, maxStorageBufferBindingSize ${gib(a.maxStorageBufferBindingSize)}, shader-f16 ${a.shaderF16 ? 'yes' : 'no'}`;
}
