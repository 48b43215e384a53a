/**
 * A job's memory need, from the model's weights and the smallest batch it can run, against the
 * runner's limit: checked after preflight, before any onnxruntime session is opened.
 */
import { perSampleBytes } from '../calibrate/batches';
import { assertFits, detectMemoryLimit, memoryNeed, sparsegptHessianBytes, type MemoryNeed } from '../model/memory';
import { UnsupportedModel } from '../model/preflight';
import { divergentNodes, WEBGPU_DIVERGENT_OPS, weightCut } from '../onnx/device-cut';
import { castWeightsPerRun } from '../onnx/cpu-fp16';
import { DataType, dimsOf } from '../onnx/proto';
import type { OnnxModel } from '../onnx/read';
import { initializerBytes } from '../onnx/write';
import { cudaStatus, resolveDevice, sessionDefaults } from '../ort';
import type { PrunableLinear } from '../types';
import type { JobContext } from './lease-loop';

/**
 * `evaluates`: the job opens evaluation sessions, which on CPU keep onnxruntime's folded fp32 copy
 * of fp16 weights; calibration alone casts them one weight or block at a time (onnx/cpu-fp16.ts).
 */
export function jobMemoryNeed(
  ctx: Pick<JobContext, 'device'>,
  model: OnnxModel,
  linears: PrunableLinear[],
  seqLen: number,
  method: string | undefined,
  evaluates: boolean,
): MemoryNeed {
  const first = linears[0];
  const fp16 = first !== undefined && model.initializers.get(first.weightName)?.dataType === DataType.FLOAT16;
  // "auto" opens on CUDA when it is there; its host side then holds the weights once. An "auto"
  // that lands on a hardware WebGPU adapter is counted as CPU: the larger of the two needs.
  const device = ctx.device === 'cuda' || (ctx.device === 'auto' && cudaStatus().available) ? 'cuda' : ctx.device === 'webgpu' ? 'webgpu' : 'cpu';
  const captured = new Set(linears.map((l) => l.inputName));
  const capturedWidth = [...captured].reduce((s, name) => s + (linears.find((l) => l.inputName === name)?.dIn ?? 0), 0);
  const activationBytes = first ? perSampleBytes({ seqLen, capturedWidth, hidden: first.dIn }) : 0;
  const hessianBytes = method === 'sparsegpt' ? sparsegptHessianBytes(linears) : 0;
  const fp16CastBytes = fp16 && !evaluates && sessionDefaults().cpuFp16 ? fp16CastPeak(model, linears) : undefined;
  return memoryNeed({ weightBytes: initializerBytes(model), fp16, device, prepack: sessionDefaults().prepack, activationBytes, hessianBytes, fp16CastBytes });
}

/** fp32 bytes of the largest fp16 weight a run casts, or of the largest block sequential calibration widens. */
function fp16CastPeak(model: OnnxModel, linears: PrunableLinear[]): number {
  const fp32Bytes = (name: string) => dimsOf(model.initializers.get(name)!).reduce((a, b) => a * b, 4);
  let peak = 0;
  for (const w of castWeightsPerRun(model.proto).weights) peak = Math.max(peak, fp32Bytes(w));
  for (const b of new Set(linears.map((l) => l.block))) {
    const names = new Set(linears.filter((l) => l.block === b).map((l) => l.weightName));
    peak = Math.max(
      peak,
      [...names].reduce((s, n) => s + fp32Bytes(n), 0),
    );
  }
  return peak;
}

/** Refuses the job (unsupported model: …, not retried) when the model cannot fit; logs the figures otherwise. */
export function checkMemory(ctx: Pick<JobContext, 'device' | 'memoryLimit' | 'log'>, what: string, need: MemoryNeed): void {
  const limit = ctx.memoryLimit ?? detectMemoryLimit();
  assertFits(what, need, limit);
  ctx.log(`memory: needs at least ${(need.bytes / 2 ** 30).toFixed(2)} GiB of ${(limit.bytes / 2 ** 30).toFixed(2)} GiB (${limit.source})`);
}

const gib = (b: number) => `${(b / 2 ** 30).toFixed(2)} GiB`;

/**
 * WebGPU's limits, said before compute. A weight above the adapter's maxBufferSize cannot be a GPU
 * buffer: the sessions keep the nodes reading it on CPU (onnx/device-cut.ts), which needs those
 * nodes to have names; a graph where one has none is refused with the limit and the fix. WebGPU
 * adapters report no memory size, so device memory is not checked (the log says so).
 */
export async function checkDeviceLimits(ctx: Pick<JobContext, 'device' | 'log'>, model: OnnxModel): Promise<void> {
  const r = await resolveDevice(ctx.device as Parameters<typeof resolveDevice>[0]);
  if (r.device !== 'webgpu' || !r.webgpu?.available) return;
  const a = r.webgpu.adapter;
  const cut = weightCut(model.proto, a.maxBufferSize);
  const segmented = weightCut(model.proto, a.maxStorageBufferBindingSize).weights.length - cut.weights.length;
  if (cut.cpuNodes.some((n) => !n)) {
    const w = cut.weights[0]!;
    throw new UnsupportedModel(
      `weight ${w.name} is ${gib(w.bytes)}, larger than the WebGPU adapter's maxBufferSize of ${gib(a.maxBufferSize)}, and a node reading it has no name, so it cannot be kept on CPU: use device cpu or cuda (POLYPRUNE_DEVICE)`,
    );
  }
  const parts = [
    cut.weights.length
      ? `${cut.weights.length} weight(s) above maxBufferSize ${gib(a.maxBufferSize)} (largest ${cut.weights[0]!.name}, ${gib(cut.weights[0]!.bytes)}) stay on CPU with the ${cut.cpuNodes.length} node(s) reading them`
      : `every weight fits maxBufferSize ${gib(a.maxBufferSize)}`,
    ...(segmented > 0 ? [`${segmented} weight(s) above maxStorageBufferBindingSize ${gib(a.maxStorageBufferBindingSize)} are bound in segments`] : []),
    ...(divergentNodes(model.proto).length
      ? [`${divergentNodes(model.proto).length} ${[...WEBGPU_DIVERGENT_OPS].join('/')} node(s) run on CPU (their WebGPU kernel diverges)`]
      : []),
    'device memory: not reported by WebGPU adapters, not checked',
  ];
  ctx.log(`webgpu limits: ${parts.join('; ')}`);
}
