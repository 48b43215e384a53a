/**
 * Per-output-neuron masks with the neurons split across threads. Mask selection runs between two
 * onnxruntime passes in sequential calibration, when nothing else computes, and on one JavaScript
 * thread it left every other core idle. Each neuron's selection is independent of the others
 * (selectRowMaskInto), so the result is the single-threaded one bit for bit, whatever the split.
 *
 * Weights (or scores) and mask live in the shared WebAssembly heap (wasm-heap.ts) that every thread's
 * kernel reads and writes in place (mask-tile.ts); the calling
 * thread takes one share itself, unless it has other work meanwhile (offloadWhile). Workers start on first use, stay for later layers (never keeping
 * the process alive when idle) and end at releaseMaskThreads, which a prune job calls once its masks
 * are chosen.
 */
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { LayerMask } from '../types.js';
import { checkRowScores, prunedPerRow, selectMask, selectRowMaskInto, type LayerShape, type MaskSpec, type RowScores } from './masks.js';
import { forgetKernel, kernelOver, Scratch, scratchIn, takeRanges, type HeapLayer } from './mask-tile.js';
import type { ColumnsJob } from './mask-worker.js';
import { dropHeap, theHeap, type WasmHeap } from './wasm-heap.js';

/** Below this many scores a layer is selected on the calling thread: handing it out costs more than it saves. */
export const PARALLEL_MIN_SCORES = 1 << 18;
/** Threads beyond this gain little on mask selection (memory bound) and each holds a V8 heap. */
const MAX_THREADS = 8;

/** Threads mask selection uses by default, the calling one included: as many as cores (as onnxruntime's own pool), at most 8. */
export function defaultMaskThreads(): number {
  return Math.max(1, Math.min(MAX_THREADS, os.availableParallelism()));
}

interface Pending {
  resolve: () => void;
  reject: (err: Error) => void;
}

/** One worker thread and the jobs it has been handed, in order. */
class MaskWorker {
  private readonly worker: Worker;
  private readonly pending = new Map<number, Pending>();
  private next = 0;
  /** The heap whose memory this thread was last given, and its scratch there. */
  private given: number | undefined;
  readonly scratch = new Scratch();
  failed: Error | undefined;

  constructor() {
    // The worker's module is TypeScript like this one: under `node --import tsx` it inherits the
    // loader; elsewhere (a test runner that transforms modules itself) it is given one.
    const inherits = process.execArgv.some((a) => a.includes('tsx'));
    this.worker = new Worker(path.join(path.dirname(fileURLToPath(import.meta.url)), 'mask-worker.ts'), {
      execArgv: inherits ? undefined : [...process.execArgv, '--import', 'tsx'],
    });
    this.worker.unref();
    this.worker.on('message', (m: { id: number; error?: string }) => {
      const p = this.pending.get(m.id);
      if (!p) return;
      this.pending.delete(m.id);
      if (this.pending.size === 0) this.worker.unref();
      if (m.error) p.reject(new Error(m.error));
      else p.resolve();
    });
    const fail = (err: Error) => {
      this.failed = err;
      for (const p of this.pending.values()) p.reject(err);
      this.pending.clear();
    };
    this.worker.on('error', fail);
    this.worker.on('exit', (code) => fail(new Error(`mask selection worker exited with code ${code}`)));
  }

  /** Ends the thread; its pending jobs (none, when called between selections) fail. */
  async stop(): Promise<void> {
    this.failed ??= new Error('mask selection worker stopped');
    await this.worker.terminate();
  }

  run(heap: WasmHeap, layers: HeapLayer[], scratch: number, ranges: Int32Array, next: Int32Array): Promise<void> {
    if (this.failed) return Promise.reject(this.failed);
    const id = this.next++;
    const memory = this.given === heap.id ? undefined : heap.memory;
    this.given = heap.id;
    // Referenced while it has work: an awaited answer must keep the process alive.
    this.worker.ref();
    return new Promise<void>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.worker.postMessage({ id, heap: heap.id, memory, layers, scratch, ranges, next } satisfies ColumnsJob);
    });
  }
}

const pool: MaskWorker[] = [];
/** Scores scoreBuffer lent out of the heap, given back by the selection they are handed to. */
const lentScores = new WeakSet<Float32Array>();

/** Pending work the calling thread has beside selections (offloadWhile); while any, it takes no share. */
let besides = 0;

/**
 * While `work` is pending, selections hand every share to worker threads and the calling thread only
 * waits, free for `work`'s own steps (which otherwise run only between layers): sequential
 * calibration sets the next block up so. The split, and so the masks, stay the same.
 */
export function offloadWhile<T>(work: Promise<T>): Promise<T> {
  besides++;
  const done = () => {
    besides--;
  };
  work.then(done, done);
  return work;
}

function workers(n: number): MaskWorker[] {
  for (let i = pool.length - 1; i >= 0; i--) if (pool[i]!.failed) pool.splice(i, 1);
  while (pool.length < n) pool.push(new MaskWorker());
  return pool.slice(0, n);
}

/**
 * Starts the worker threads a selection on `threads` threads will use, without waiting for them: a
 * thread takes 60–75 ms to load its modules, which a first selection otherwise waits for (measured),
 * and which a caller with other work first (a calibration pass) can hide.
 */
export function startMaskThreads(threads = defaultMaskThreads()): void {
  if (threads > 1) workers(threads - 1);
}

/**
 * Ends the worker threads and drops the heap, once a job's masks are chosen: idle workers hold
 * their V8 heaps (and a module loader each), about 40 MB that evaluation, the next stage and the
 * job's peak, can use. The next selection starts them again (a fraction of a second).
 */
export async function releaseMaskThreads(): Promise<void> {
  const stopping = pool.splice(0).map((w) => w.stop());
  // The calling thread's kernel instance holds the heap's memory too: both go, so that the next
  // collection frees it (block weights included).
  forgetKernel();
  dropHeap();
  await Promise.all(stopping);
}

/** [o0, o1) ranges of about equal width, in multiples of 16 neurons (whole 64-byte lines of a row of scores). */
export function splitColumns(dOut: number, parts: number): Array<[number, number]> {
  const tiles = Math.ceil(dOut / 16);
  const n = Math.max(1, Math.min(parts, tiles));
  const out: Array<[number, number]> = [];
  for (let p = 0; p < n; p++) {
    const from = Math.min(dOut, Math.round((p * tiles) / n) * 16);
    const to = Math.min(dOut, Math.round(((p + 1) * tiles) / n) * 16);
    if (to > from) out.push([from, to]);
  }
  return out;
}

/** One layer of a batch of per-neuron selections (selectRowMasksThreaded). */
export interface RowMaskItem {
  scores: RowScores;
  shape: LayerShape;
  sparsity: number;
  dropTop?: boolean;
}

/**
 * selectRowMask on `threads` threads (the calling one included). Small layers, one thread, or
 * sparsity 0 or 1 are done here. A scaled weight (masks.ts, ScaledWeight) is read in place when it
 * is in the heap (sequential calibration holds a block's weights there): each thread computes the
 * scores of its own neurons.
 */
export async function selectRowMaskThreaded(
  scores: RowScores,
  shape: LayerShape,
  sparsity: number,
  dropTop = false,
  threads = defaultMaskThreads(),
): Promise<Uint8Array> {
  return (await selectRowMasksThreaded([{ scores, shape, sparsity, dropTop }], threads))[0]!;
}

/** An item of a batch laid out in the heap: what the threads read, and what goes back afterwards. */
interface Placed {
  layer: HeapLayer;
  keep: Uint8Array;
  /** the weights (or scores) copied into the heap, when they lay elsewhere */
  copied?: Uint8Array;
  data: Float32Array;
}

/**
 * selectRowMaskThreaded for several layers at once (a block's), one hand-over to the threads for all
 * of them: waking a worker thread costs about 1–2 ms here, as much as selecting a 1024 × 1024 layer,
 * and a batch pays it once. The masks, in the order of `items`, are each layer's alone.
 */
export async function selectRowMasksThreaded(items: RowMaskItem[], threads = defaultMaskThreads(), slabBytes = SLAB_BYTES): Promise<Uint8Array[]> {
  const heap = theHeap();
  const out: Uint8Array[] = new Array(items.length);
  const spread: number[] = [];
  const slabbed: number[] = [];
  const lent: Float32Array[] = [];
  const placed: Placed[] = [];
  try {
    for (const [x, { scores, shape, sparsity }] of items.entries()) {
      const { dIn, dOut } = shape;
      checkRowScores(scores, dIn, dOut);
      const k = prunedPerRow(dIn, sparsity);
      if (scores instanceof Float32Array && lentScores.delete(scores)) lent.push(scores);
      const data = scores instanceof Float32Array ? scores : scores.weight;
      if (data.byteLength > slabBytes && heap.offsetOf(data) === undefined && 0 < k && k < dIn) slabbed.push(x);
      else if (threads < 2 || dOut <= 16 || dIn * dOut < PARALLEL_MIN_SCORES || k === 0 || k === dIn) {
        const keep = new Uint8Array(dIn * dOut);
        selectRowMaskInto(scores, shape, k, items[x]!.dropTop ?? false, keep);
        out[x] = keep;
      } else spread.push(x);
    }
    for (const x of slabbed) out[x] = await selectInSlabs(items[x]!, threads, slabBytes);
    if (spread.length === 0) return out;
    for (const x of spread) placed.push(place(heap, items[x]!));
    await selectPlaced(heap, placed, threads);
    for (const [p, x] of spread.entries()) {
      const { keep, copied, data, layer } = placed[p]!;
      if (copied && layer.zero) new Uint8Array(data.buffer, data.byteOffset, data.byteLength).set(copied);
      // An ordinary buffer from here on: masks are packed, transferred and compared as plain bytes.
      out[x] = keep.slice();
    }
    return out;
  } finally {
    for (const { keep, copied } of placed) {
      heap.give(keep);
      if (copied) heap.give(copied);
    }
    for (const scores of lent) heap.give(scores);
  }
}

/** An item laid out in the heap: its weights (or scores) where they are, or copied in, and a zeroed mask. */
function place(heap: WasmHeap, item: RowMaskItem): Placed {
  const { scores, shape, sparsity, dropTop = false } = item;
  const { dIn, dOut } = shape;
  const scaled = !(scores instanceof Float32Array);
  const data = scaled ? scores.weight : scores;
  let weightAt = heap.offsetOf(data);
  const copied = weightAt === undefined ? heap.take(data.byteLength) : undefined;
  const keep = heap.take(dIn * dOut);
  if (!keep || (weightAt === undefined && !copied)) {
    for (const region of [keep, copied]) if (region) heap.give(region);
    throw new Error(`mask selection: no room in the heap for a [${dIn}, ${dOut}] layer`);
  }
  // Zeroed so that a share no thread wrote shows as pruned weights, never as another layer's mask.
  keep.fill(0);
  if (copied) {
    copied.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
    weightAt = copied.byteOffset;
  }
  const zero = scaled && scores.zeroMasked === true;
  const factor = scaled ? scores.factor : undefined;
  return { layer: { weightAt: weightAt!, keepAt: keep.byteOffset, factor, zero, dIn, dOut, k: prunedPerRow(dIn, sparsity), dropTop }, keep, copied, data };
}

/**
 * The placed layers' masks, on the worker threads and (unless it has other work: offloadWhile) the
 * calling thread, ranges of about 64 neurons (one tile of the kernel) at a time, at most 8 a thread
 * a layer, taken one by one: equal shares made every layer wait for the thread that other work had
 * slowed. Returns once every thread is done with the regions.
 */
async function selectPlaced(heap: WasmHeap, placed: Placed[], threads: number): Promise<void> {
  const triples: number[] = [];
  for (const [p, { layer }] of placed.entries()) {
    for (const [o0, o1] of splitColumns(layer.dOut, Math.min(threads * 8, Math.ceil(layer.dOut / 64)))) triples.push(p, o0, o1);
  }
  const ranges = Int32Array.from(triples);
  const next = new Int32Array(new SharedArrayBuffer(4));
  const layers = placed.map((p) => p.layer);
  const dIn = Math.max(...layers.map((l) => l.dIn));
  const own = besides === 0;
  const helpers = Math.min(threads, ranges.length / 3) - (own ? 1 : 0);
  const done = workers(helpers).map((w) => w.run(heap, layers, w.scratch.in(heap, dIn), ranges, next));
  let mine: unknown;
  try {
    if (own) takeRanges(kernelOver(heap.id, heap.memory), heap.memory, layers, scratchIn(heap, dIn), ranges, next);
  } catch (err) {
    mine = err; // a NaN score: reported once every share has settled
  }
  // Every share settled before the regions go back: none may still be written to.
  const failed = (await Promise.allSettled(done)).find((r) => r.status === 'rejected');
  if (mine) throw mine;
  if (failed) throw (failed as PromiseRejectedResult).reason;
}

/**
 * Layers larger than this whose weights (or scores) lie outside the heap are selected a slab of
 * neurons at a time: copying them in whole could take what the heap has left (the held weights
 * of a 70B-class block fill most of its 4 GiB).
 */
export const SLAB_BYTES = 256 << 20;

/**
 * One layer outside the heap, a slab of neurons (whole 16-neuron groups, at most `slabBytes` of
 * weights) at a time: each slab copied out, selected as a layer of its own, its mask (and zeroed
 * weights) copied back. Neurons are independent, so the mask is the whole layer's.
 */
async function selectInSlabs(item: RowMaskItem, threads: number, slabBytes: number): Promise<Uint8Array> {
  const { scores, shape, sparsity, dropTop } = item;
  const { dIn, dOut } = shape;
  const scaled = !(scores instanceof Float32Array);
  const data = scaled ? scores.weight : scores;
  const width = Math.max(16, Math.floor(slabBytes / (4 * dIn) / 16) * 16);
  const keep = new Uint8Array(dIn * dOut);
  const heap = theHeap();
  for (let o0 = 0; o0 < dOut; o0 += width) {
    const w = Math.min(width, dOut - o0);
    // In the heap where it has room (selected there in place), else copied into it whole by the
    // selection below (a slab is never cut again).
    const slab = heap.array(Float32Array, dIn * w) ?? new Float32Array(dIn * w);
    try {
      for (let i = 0; i < dIn; i++) slab.set(data.subarray(i * dOut + o0, i * dOut + o0 + w), i * w);
      const part = scaled ? { weight: slab, factor: scores.factor, zeroMasked: scores.zeroMasked } : slab;
      const [mask] = await selectRowMasksThreaded([{ scores: part, shape: { dIn, dOut: w }, sparsity, dropTop }], threads, Number.POSITIVE_INFINITY);
      for (let i = 0; i < dIn; i++) {
        keep.set(mask!.subarray(i * w, (i + 1) * w), i * dOut + o0);
        if (scaled && scores.zeroMasked) data.set(slab.subarray(i * w, (i + 1) * w), i * dOut + o0);
      }
    } finally {
      heap.give(slab);
    }
  }
  return keep;
}

/**
 * Where to compute a layer's scores for `selectMaskThreaded`: shared memory when its selection will
 * be spread over threads (no copy then), an ordinary array otherwise. Shared memory is lent: once
 * selectMaskThreaded (or selectRowMaskThreaded) has returned, the array may hold another layer's
 * scores, so read nothing from it afterwards.
 */
export function scoreBuffer(shape: LayerShape, spec: MaskSpec, threads = defaultMaskThreads()): Float32Array {
  const n = shape.dIn * shape.dOut;
  const spread = spec.pattern.kind === 'unstructured' && threads > 1 && n >= PARALLEL_MIN_SCORES && shape.dOut > 16;
  const scores = spread ? theHeap().array(Float32Array, n) : undefined;
  if (!scores) return new Float32Array(n);
  lentScores.add(scores);
  return scores;
}

/**
 * selectMask with per-neuron patterns spread over threads (the others are cheap and stay here); those
 * also take a scaled weight (masks.ts, ScaledWeight) instead of scores.
 */
export async function selectMaskThreaded(id: string, scores: RowScores, shape: LayerShape, spec: MaskSpec, threads?: number): Promise<LayerMask> {
  if (spec.pattern.kind !== 'unstructured') {
    if (!(scores instanceof Float32Array)) throw new Error(`${id}: a ${spec.pattern.kind} mask needs its scores computed first`);
    return selectMask(id, scores, shape, spec);
  }
  const keep = await selectRowMaskThreaded(scores, shape, spec.pattern.sparsity, spec.dropTop ?? false, threads);
  return { id, dIn: shape.dIn, dOut: shape.dOut, keep };
}
