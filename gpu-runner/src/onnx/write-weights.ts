/**
 * Writing a model whose pruned linears carry new values (SparseGPT updates the weights it keeps),
 * not only zeros: each updated weight is converted to the layout and element type the graph stores
 * it in, parked in a file until the model is written (a whole model's updated weights need not fit
 * in memory), and swapped in tensor by tensor by saveModel.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { LayerMask, PrunableLinear } from '../types.js';
import { fp32ToFp16 } from './fp16.js';
import { DataType } from './proto.js';
import type { OnnxModel } from './read.js';
import { saveModel, type SaveOptions, type SavedModel } from './write.js';

/** A canonical [dIn, dOut] weight as the stored little-endian bytes (transposed when stored so; fp16 rounded to nearest). */
export function storedBytesOf(linear: PrunableLinear, canonical: Float32Array, dataType: number): Uint8Array {
  const { dIn, dOut } = linear;
  if (canonical.length !== dIn * dOut) throw new Error(`${linear.id}: ${canonical.length} values, expected ${dIn}x${dOut}`);
  let stored = canonical;
  if (linear.storedTransposed) {
    stored = new Float32Array(dIn * dOut);
    for (let i = 0; i < dIn; i++) for (let o = 0; o < dOut; o++) stored[o * dIn + i] = canonical[i * dOut + o]!;
  }
  if (dataType === DataType.FLOAT16) {
    const h = fp32ToFp16(stored);
    return new Uint8Array(h.buffer, h.byteOffset, h.byteLength);
  }
  if (dataType !== DataType.FLOAT) throw new Error(`${linear.id}: cannot store updated weights of element type ${dataType}`);
  return new Uint8Array(stored.buffer, stored.byteOffset, stored.byteLength);
}

/** Updated weights in stored bytes, one file each under `dir`, by weight name. */
export class UpdatedWeights {
  private files = new Map<string, string>();
  constructor(private dir: string) {}

  async set(weightName: string, bytes: Uint8Array): Promise<void> {
    await mkdir(this.dir, { recursive: true });
    const file = path.join(this.dir, `${this.files.size}.bin`);
    await writeFile(file, bytes);
    this.files.set(weightName, file);
  }

  has(weightName: string): boolean {
    return this.files.has(weightName);
  }

  async get(weightName: string): Promise<Uint8Array> {
    const f = this.files.get(weightName);
    if (!f) throw new Error(`no updated values for ${weightName}`);
    return new Uint8Array(await readFile(f));
  }

  get names(): string[] {
    return [...this.files.keys()];
  }
}

/**
 * Writes the model with every masked linear's weight replaced by its updated values (which hold the
 * mask's zeros). Every mask must have updated values and find its initializer.
 */
export async function writeUpdatedModel(
  model: OnnxModel,
  linears: PrunableLinear[],
  masks: LayerMask[],
  updated: UpdatedWeights,
  outPath: string,
  opts: Omit<SaveOptions, 'transform' | 'transforms'> = {},
): Promise<SavedModel> {
  const byId = new Map(linears.map((l) => [l.id, l]));
  const wanted = new Set<string>();
  for (const m of masks) {
    const l = byId.get(m.id);
    if (!l) throw new Error(`mask ${m.id} names no prunable linear of this model`);
    if (!updated.has(l.weightName)) throw new Error(`no updated values for ${l.weightName} (${l.id})`);
    wanted.add(l.weightName);
  }
  const applied = new Set<string>();
  const saved = await saveModel(model, outPath, {
    ...opts,
    transforms: (t) => wanted.has(t.name ?? ''),
    transform: async (t) => {
      if (!wanted.has(t.name ?? '')) return undefined;
      applied.add(t.name!);
      return updated.get(t.name!);
    },
  });
  const missed = [...wanted].filter((w) => !applied.has(w));
  if (missed.length) throw new Error(`updated values for ${missed.length} weight(s) (${missed.slice(0, 3).join(', ')}) found no initializer of the graph`);
  return saved;
}
