/**
 * A job's memory need, from the model's weights and the smallest batch it can run, against the
 * runner's limit: checked after preflight, before any onnxruntime session is opened.
 */
import { perSampleBytes } from '../calibrate/batches';
import { assertFits, detectMemoryLimit, memoryNeed, sparsegptHessianBytes, type MemoryNeed } from '../model/memory';
import { DataType } from '../onnx/proto';
import type { OnnxModel } from '../onnx/read';
import { initializerBytes } from '../onnx/write';
import { cudaStatus, sessionDefaults } from '../ort';
import type { PrunableLinear } from '../types';
import type { JobContext } from './lease-loop';

export function jobMemoryNeed(ctx: Pick<JobContext, 'device'>, model: OnnxModel, linears: PrunableLinear[], seqLen: number, method?: string): MemoryNeed {
  const first = linears[0];
  const fp16 = first !== undefined && model.initializers.get(first.weightName)?.dataType === DataType.FLOAT16;
  // "auto" opens on CUDA when it is there; its host side then holds the weights once.
  const device = ctx.device === 'cuda' || (ctx.device === 'auto' && cudaStatus().available) ? 'cuda' : 'cpu';
  const captured = new Set(linears.map((l) => l.inputName));
  const capturedWidth = [...captured].reduce((s, name) => s + (linears.find((l) => l.inputName === name)?.dIn ?? 0), 0);
  const activationBytes = first ? perSampleBytes({ seqLen, capturedWidth, hidden: first.dIn }) : 0;
  const hessianBytes = method === 'sparsegpt' ? sparsegptHessianBytes(linears) : 0;
  return memoryNeed({ weightBytes: initializerBytes(model), fp16, device, prepack: sessionDefaults().prepack, activationBytes, hessianBytes });
}

/** Refuses the job (unsupported model: …, not retried) when the model cannot fit; logs the figures otherwise. */
export function checkMemory(ctx: Pick<JobContext, 'device' | 'memoryLimit' | 'log'>, what: string, need: MemoryNeed): void {
  const limit = ctx.memoryLimit ?? detectMemoryLimit();
  assertFits(what, need, limit);
  ctx.log(`memory: needs at least ${(need.bytes / 2 ** 30).toFixed(2)} GiB of ${(limit.bytes / 2 ** 30).toFixed(2)} GiB (${limit.source})`);
}
