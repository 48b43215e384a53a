/**
 * What a pruned model's tensors must be, computed plainly from the source: every float tensor's
 * stored bytes, with each masked entry's bytes cleared one by one; and a tensor's bytes as a graph
 * records them (inline, or read from the named file at its offset), to compare against.
 */
import { open } from 'node:fs/promises';
import path from 'node:path';
import { expect } from 'vitest';
import type { TensorProto } from '@polyprune/gpu-runner/onnx/proto';
import { externalRef, isExternal, readTensorBytes, type OnnxModel } from '@polyprune/gpu-runner/onnx/read';
import type { LayerMask, PrunableLinear } from '@polyprune/gpu-runner/types';

/** fp32 or fp16: the tensors a mask can apply to, and those compared. */
export const isFloatTensor = (t: { dataType?: number | null }) => t.dataType === 1 || t.dataType === 10;

/** Every float tensor of the source with each masked entry cleared byte by byte, by name. */
export async function expectedTensors(source: OnnxModel, linears: PrunableLinear[], masks: LayerMask[]): Promise<Map<string, Buffer>> {
  const out = new Map<string, Buffer>();
  for (const t of source.initializers.values()) if (isFloatTensor(t)) out.set(t.name!, Buffer.from(await readTensorBytes(source, t)));
  for (const m of masks) {
    const l = linears.find((x) => x.id === m.id)!;
    const bytes = out.get(l.weightName)!;
    const size = source.initializers.get(l.weightName)!.dataType === 10 ? 2 : 4;
    for (let i = 0; i < l.dIn; i++)
      for (let o = 0; o < l.dOut; o++) {
        if (m.keep[i * l.dOut + o]) continue;
        const k = l.storedTransposed ? o * l.dIn + i : i * l.dOut + o;
        bytes.fill(0, k * size, (k + 1) * size);
      }
  }
  return out;
}

/** A tensor's bytes as its graph records them: read from the named file (under `dir`) at the offset, or inline. */
export async function storedBytes(dir: string, t: TensorProto): Promise<Buffer> {
  if (!isExternal(t)) return Buffer.from(t.rawData ?? new Uint8Array());
  const ref = externalRef(t);
  const fh = await open(path.join(dir, ref.location), 'r');
  try {
    const out = Buffer.alloc(ref.length);
    const { bytesRead } = await fh.read(out, 0, ref.length, ref.offset);
    expect(bytesRead).toBe(ref.length);
    return out;
  } finally {
    await fh.close();
  }
}
