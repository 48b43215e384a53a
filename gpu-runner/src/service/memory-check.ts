/**
 * A job's memory need, from the model's weights and the smallest batch it can run, against the
 * runner's limit: checked after preflight, before any onnxruntime session is opened.
 */
import { perSampleBytes } from '../calibrate/batches';
import { assertFits, detectMemoryLimit, memoryNeed, sparsegptHessianBytes, type MemoryNeed } from '../model/memory';
import { UnsupportedModel } from '../model/preflight';
import { divergentNodes, WEBGPU_DIVERGENT_OPS, weightCut } from '../onnx/device-cut';
import { castWeightsPerRun, fp16MatMulWeights } from '../onnx/cpu-fp16';
import { dimsOf } from '../onnx/proto';
import type { OnnxModel } from '../onnx/read';
import { initializerBytes } from '../onnx/write';
import { cudaStatus, resolveDevice, sessionDefaults } from '../ort';
import type { PrunableLinear } from '../types';
import type { JobContext } from './lease-loop';

/** How a job's evaluation sessions hold fp16 weights on CPU (SessionOptions.fp16Weights), or "none" when it evaluates nothing. */
export type EvaluationFp16 = 'none' | 'fold' | 'per-run';

/**
 * fp16 weights on CPU (no fp16 MatMul there): sessions that fold onnxruntime's fp32 copy need 2 × the
 * weights; calibration, and evaluation with `per-run`, keep them fp16 and cast one weight or block
 * at a time (onnx/cpu-fp16.ts).
 */
export function jobMemoryNeed(
  ctx: Pick<JobContext, 'device'>,
  model: OnnxModel,
  linears: PrunableLinear[],
  seqLen: number,
  method: string | undefined,
  evaluation: EvaluationFp16,
): MemoryNeed {
  const first = linears[0];
  const castable = fp16MatMulWeights(model.proto);
  const fp16 = castable.length > 0;
  // "auto" opens on CUDA when it is there; its host side then holds the weights once. An "auto"
  // that lands on a hardware WebGPU adapter is counted as CPU: the larger of the two needs.
  const device = ctx.device === 'cuda' || (ctx.device === 'auto' && cudaStatus().available) ? 'cuda' : ctx.device === 'webgpu' ? 'webgpu' : 'cpu';
  const captured = new Set(linears.map((l) => l.inputName));
  const capturedWidth = [...captured].reduce((s, name) => s + (linears.find((l) => l.inputName === name)?.dIn ?? 0), 0);
  const activationBytes = first ? perSampleBytes({ seqLen, capturedWidth, hidden: first.dIn }) : 0;
  const hessianBytes = method === 'sparsegpt' ? sparsegptHessianBytes(linears) : 0;
  const casts = fp16 && evaluation !== 'fold' && castsPerRun(model) ? fp16CastPeak(model, castable, linears) : undefined;
  return memoryNeed({
    weightBytes: initializerBytes(model),
    fp16,
    device,
    prepack: sessionDefaults().prepack,
    activationBytes,
    hessianBytes,
    fp16CastBytes: casts,
  });
}

/** Whether sessions on this model can cast fp16 weights per run (onnx/cpu-fp16.ts needs IR ≥ 4). */
const castsPerRun = (model: OnnxModel) => sessionDefaults().cpuFp16 && castWeightsPerRun(model.proto).weights.length > 0;

/** fp32 bytes of the largest fp16 weight a run casts, or of the largest block sequential calibration widens. */
function fp16CastPeak(model: OnnxModel, castable: string[], linears: PrunableLinear[]): number {
  const fp32Bytes = (name: string) => dimsOf(model.initializers.get(name)!).reduce((a, b) => a * b, 4);
  let peak = 0;
  for (const w of castable) peak = Math.max(peak, fp32Bytes(w));
  for (const b of new Set(linears.map((l) => l.block))) {
    const names = new Set(linears.filter((l) => l.block === b).map((l) => l.weightName));
    peak = Math.max(
      peak,
      [...names].reduce((s, n) => s + fp32Bytes(n), 0),
    );
  }
  return peak;
}

/**
 * Checks a job's memory (see checkMemory) and chooses how its evaluation holds fp16 weights on CPU:
 * onnxruntime's folded fp32 copy where it fits the limit, else cast on every run — slower (a 1.1 B
 * model casts about 2.5 s of CPU per run), but about half the memory — rather than refusing the job.
 */
export function checkJobMemory(
  ctx: Pick<JobContext, 'device' | 'memoryLimit' | 'log'>,
  what: string,
  model: OnnxModel,
  linears: PrunableLinear[],
  seqLen: number,
  method: string | undefined,
  evaluates: boolean,
): EvaluationFp16 {
  if (!evaluates) {
    checkMemory(ctx, what, jobMemoryNeed(ctx, model, linears, seqLen, method, 'none'));
    return 'none';
  }
  const folded = jobMemoryNeed(ctx, model, linears, seqLen, method, 'fold');
  const perRun = jobMemoryNeed(ctx, model, linears, seqLen, method, 'per-run');
  const limit = ctx.memoryLimit ?? detectMemoryLimit();
  if (folded.bytes <= limit.bytes || perRun.bytes >= folded.bytes) {
    checkMemory(ctx, what, folded);
    return 'fold';
  }
  checkMemory(ctx, what, perRun);
  ctx.log(
    `memory: evaluation casts the fp16 weights on every run (slower): onnxruntime's fp32 copy would need ${gib(folded.bytes)} of the ${gib(limit.bytes)} this runner may use`,
  );
  return 'per-run';
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
