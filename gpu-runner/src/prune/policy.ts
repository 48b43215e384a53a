/**
 * The mask policy of a prune job: which scores (magnitude, random with a per-layer seed, Wanda, or
 * the mt-contrast variant) and which pattern a job's spec asks for, and a layer's mask from its
 * weight and the statistics collected so far. Sequential calibration calls it block by block.
 */
import type { PruneJobSpec } from '@polyprune/shared/api/jobs';
import { bytesToFloat32, readWeight, type OnnxModel } from '../onnx/read.js';
import type { ActivationStats, DenseWeight, LayerMask, PrunableLinear } from '../types.js';
import { type RowMaskItem, SLAB_BYTES, scoreBuffer, selectMaskThreaded, selectRowMasksThreaded } from './mask-threads.js';
import { theHeap } from './wasm-heap.js';
import type { MaskPattern, MaskSpec } from './masks.js';
import { computeScores, rowFactors, type ScoreInputs } from './scores.js';

/** The part of a prune job's spec that decides its masks. */
export type MaskPolicy = Pick<PruneJobSpec, 'method' | 'sparsity' | 'pattern' | 'magnitudeScope' | 'dropTop' | 'seed'> & {
  calibration?: Pick<NonNullable<PruneJobSpec['calibration']>, 'dataType'>;
  /**
   * Sparsity of block b at index b (layerSparsity, e.g. OWL); absent: `sparsity` everywhere. Every
   * method reads its layer's target through layerSparsityOf.
   */
  blockSparsity?: readonly number[];
};

/** The sparsity a layer is pruned at: its block's under a layerwise policy, else the job's. */
export function layerSparsityOf(spec: Pick<MaskPolicy, 'sparsity' | 'blockSparsity'>, l: Pick<PrunableLinear, 'id' | 'block'>): number {
  if (!spec.blockSparsity) return spec.sparsity;
  const s = spec.blockSparsity[l.block];
  if (s === undefined) throw new Error(`${l.id}: no sparsity for block ${l.block}`);
  return s;
}

export interface Statistics {
  main?: ActivationStats;
  contrast?: ActivationStats;
}

/** `sparsity`: the layer's (layerSparsityOf); the job's by default. */
export function maskPattern(spec: MaskPolicy, sparsity = spec.sparsity): MaskPattern {
  if (spec.pattern === '2:4') return { kind: 'nm', n: 2, m: 4 };
  if (spec.pattern === '4:8') return { kind: 'nm', n: 4, m: 8 };
  if (spec.method === 'magnitude' && spec.magnitudeScope === 'matrix') return { kind: 'unstructured-matrix', sparsity };
  return { kind: 'unstructured', sparsity };
}

/**
 * Weights already in memory in their stored layout and type (fp16 as raw halves), by initializer
 * name: sequential calibration holds each block's to feed them, so its masks need not read them again.
 */
export type StoredWeights = ReadonlyMap<string, Float32Array | Uint16Array>;

/** The stored weight as readWeight would return its data (fp16 widened the same way), if held. */
function storedWeight(stored: StoredWeights | undefined, l: PrunableLinear): { data: Float32Array } | undefined {
  const d = stored?.get(l.weightName);
  if (!d) return undefined;
  return { data: d instanceof Float32Array ? d : bytesToFloat32(new Uint8Array(d.buffer, d.byteOffset, d.byteLength), 'float16') };
}

/**
 * The weight in the canonical [dIn, dOut] layout whatever layout the graph stores it in; `alloc`
 * makes the array of a weight read here (readWeight).
 */
export async function canonicalWeight(
  model: OnnxModel,
  l: PrunableLinear,
  stored?: StoredWeights,
  alloc: (n: number) => Float32Array = (n) => new Float32Array(n),
): Promise<DenseWeight> {
  const w = storedWeight(stored, l) ?? (await readWeight(model, l.weightName, l.storedTransposed ? undefined : alloc));
  if (w.data.length !== l.dIn * l.dOut) throw new Error(`${l.id}: weight ${l.weightName} has ${w.data.length} values, expected ${l.dIn}x${l.dOut}`);
  if (!l.storedTransposed) return { dIn: l.dIn, dOut: l.dOut, data: w.data };
  const data = alloc(l.dIn * l.dOut);
  for (let o = 0; o < l.dOut; o++) {
    const row = o * l.dIn;
    for (let i = 0; i < l.dIn; i++) data[i * l.dOut + o] = w.data[row + i]!;
  }
  return { dIn: l.dIn, dOut: l.dOut, data };
}

/** How layerSeed derives a layer's seed, in words for the run record (extra.seeds.randomMasks). */
export const RANDOM_LAYER_SEEDS = 'linear i (discovery order) draws from mulberry32((seed + 7919·i) mod 2^31)';

/** A different random stream per layer, reproducible from the job's seed. */
export function layerSeed(seed: number, index: number): number {
  return (seed + index * 7919) % 2 ** 31;
}

export function scoreInputs(spec: MaskPolicy, l: PrunableLinear, index: number, st: Statistics): ScoreInputs {
  if (spec.method === 'magnitude') return { method: 'magnitude' };
  if (spec.method === 'random') return { method: 'random', seed: layerSeed(spec.seed, index) };
  const main = st.main?.get(l.id);
  if (!main) throw new Error(`no activation statistics for ${l.id}`);
  if (spec.calibration?.dataType === 'mt-contrast') {
    const c = st.contrast?.get(l.id);
    if (!c) throw new Error(`no contrast statistics for ${l.id}`);
    return { method: 'mt-contrast', mtSqNorm: main.sqNorm, contrastSqNorm: c.sqNorm };
  }
  return { method: 'wanda', sqNorm: main.sqNorm };
}

/** A layer's per-neuron selection of |W|·factor scores, as the threads take it, and its weight's name. */
interface RowSelection {
  item: RowMaskItem;
  weightName: string;
  /** the held weight itself is zeroed as its mask is selected */
  zeroMasked: boolean;
}

/**
 * The per-neuron selection of a layer whose scores are |W|·factor (magnitude, Wanda, mt-contrast
 * with an unstructured pattern): it reads the weight and the factors, computing each score as it
 * goes (masks.ts, ScaledWeight: the same float32 scores). Undefined for other scores and patterns.
 */
async function rowSelection(
  model: OnnxModel,
  spec: MaskPolicy,
  l: PrunableLinear,
  index: number,
  st: Statistics,
  stored?: StoredWeights,
  applied?: Set<string>,
  alloc?: (n: number) => Float32Array,
): Promise<RowSelection | undefined> {
  const pattern = maskPattern(spec, layerSparsityOf(spec, l));
  if (pattern.kind !== 'unstructured') return undefined;
  const factor = rowFactors(scoreInputs(spec, l, index, st), l.dIn);
  if (!factor) return undefined;
  const w = await canonicalWeight(model, l, stored, alloc);
  // The held weight itself (not a transposed or widened copy): its masked entries are zeroed as they are selected.
  const zeroMasked = applied !== undefined && stored?.get(l.weightName) === w.data;
  const item = {
    scores: { weight: w.data, factor, zeroMasked },
    shape: { dIn: l.dIn, dOut: l.dOut },
    sparsity: pattern.sparsity,
    dropTop: spec.dropTop ?? false,
  };
  return { item, weightName: l.weightName, zeroMasked };
}

/** A layer's mask: a per-neuron selection of |W|·factor scores (rowSelection), else from scores computed first. */
export async function maskOf(
  model: OnnxModel,
  spec: MaskPolicy,
  l: PrunableLinear,
  index: number,
  st: Statistics,
  stored?: StoredWeights,
  applied?: Set<string>,
): Promise<LayerMask> {
  const row = await rowSelection(model, spec, l, index, st, stored, applied);
  if (row) {
    const [keep] = await selectRowMasksThreaded([row.item]);
    if (row.zeroMasked) applied!.add(row.weightName);
    return { id: l.id, dIn: l.dIn, dOut: l.dOut, keep: keep! };
  }
  const w = await canonicalWeight(model, l, stored);
  const shape = { dIn: l.dIn, dOut: l.dOut };
  const mask: MaskSpec = { pattern: maskPattern(spec, layerSparsityOf(spec, l)), dropTop: spec.dropTop };
  const scores = computeScores(w, scoreInputs(spec, l, index, st), scoreBuffer(shape, mask));
  return selectMaskThreaded(l.id, scores, shape, mask);
}

/**
 * The masks of `mine` (entries of the job's linears: discovery index, linear), in that order: their
 * per-neuron selections handed to the mask threads together (one hand-over for all of them), the
 * others one by one.
 */
async function masksTogether(
  model: OnnxModel,
  spec: MaskPolicy,
  mine: Array<[number, PrunableLinear]>,
  st: Statistics,
  stored?: StoredWeights,
  applied?: Set<string>,
): Promise<LayerMask[]> {
  // Weights read here go in the heap, where the threads select them in place, and back to it after.
  const heap = theHeap();
  const lent: Float32Array[] = [];
  const alloc = (n: number) => {
    const a = heap.array(Float32Array, n, SLAB_BYTES);
    if (a) lent.push(a);
    return a ?? new Float32Array(n);
  };
  const rows: Array<RowSelection | undefined> = [];
  let keeps: Uint8Array[];
  try {
    for (const [i, l] of mine) rows.push(await rowSelection(model, spec, l, i, st, stored, applied, alloc));
    keeps = await selectRowMasksThreaded(rows.filter((r) => r !== undefined).map((r) => r.item));
  } finally {
    for (const region of lent) heap.give(region);
  }
  const out: LayerMask[] = [];
  let next = 0;
  for (const [x, [i, l]] of mine.entries()) {
    const row = rows[x];
    if (!row) {
      out.push(await maskOf(model, spec, l, i, st, stored, applied));
      continue;
    }
    if (row.zeroMasked) applied!.add(row.weightName);
    out.push({ id: l.id, dIn: l.dIn, dOut: l.dOut, keep: keeps[next++]! });
  }
  return out;
}

/**
 * Sequential (Wanda-exact) calibration's callback: block b's masks from the statistics collected so
 * far, chosen before block b+1 is calibrated. `st.main` follows the latest statistics.
 */
export function blockMasker(model: OnnxModel, spec: MaskPolicy, linears: PrunableLinear[], st: Statistics) {
  return async (block: number, stats: ActivationStats, stored?: StoredWeights, applied?: Set<string>): Promise<LayerMask[]> => {
    st.main = stats;
    return masksTogether(
      model,
      spec,
      [...linears.entries()].filter(([, l]) => l.block === block),
      st,
      stored,
      applied,
    );
  };
}

/**
 * Every layer's mask, in the linears' order, a block at a time (one block's weights in memory at a
 * time): one hand-over to the mask threads a block rather than a layer (144 → 24 for XGLM-564M).
 */
export async function allMasks(
  model: OnnxModel,
  spec: MaskPolicy,
  linears: PrunableLinear[],
  st: Statistics,
  onProgress: (done: number, total: number) => void = () => {},
): Promise<LayerMask[]> {
  const byBlock = new Map<number, Array<[number, PrunableLinear]>>();
  for (const [i, l] of linears.entries()) byBlock.set(l.block, [...(byBlock.get(l.block) ?? []), [i, l]]);
  const out: LayerMask[] = new Array(linears.length);
  let done = 0;
  for (const mine of byBlock.values()) {
    const masks = await masksTogether(model, spec, mine, st);
    for (const [x, [i]] of mine.entries()) out[i] = masks[x]!;
    done += mine.length;
    onProgress(done, linears.length);
  }
  return out;
}
