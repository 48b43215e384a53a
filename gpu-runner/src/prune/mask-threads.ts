/**
 * Per-output-neuron masks with the neurons split across threads. Mask selection runs between two
 * onnxruntime passes in sequential calibration, when nothing else computes, and on one JavaScript
 * thread it left every other core idle. Each neuron's selection is independent of the others
 * (selectRowMaskColumns), so the result is the single-threaded one bit for bit, whatever the split.
 *
 * Scores and mask live in SharedArrayBuffers that every thread reads and writes in place; the calling
 * thread takes one share itself, unless it has other work meanwhile (offloadWhile). Workers start on first use, stay for later layers (never keeping
 * the process alive when idle) and end at releaseMaskThreads, which a prune job calls once its masks
 * are chosen.
 */
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { zeroDropped } from '../onnx/apply-mask.js';
import type { LayerMask } from '../types.js';
import { checkRowScores, prunedPerRow, selectMask, selectRowMaskColumns, takeRanges, type LayerShape, type MaskSpec, type RowScores } from './masks.js';
import type { ColumnsJob } from './mask-worker.js';
import { SharedPool } from './shared-pool.js';

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

  run(job: Omit<ColumnsJob, 'id'>): Promise<void> {
    if (this.failed) return Promise.reject(this.failed);
    const id = this.next++;
    // Referenced while it has work: an awaited answer must keep the process alive.
    this.worker.ref();
    return new Promise<void>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.worker.postMessage({ ...job, id } satisfies ColumnsJob);
    });
  }
}

const pool: MaskWorker[] = [];
/** Shared scores and masks, reused from layer to layer. */
export const buffers = new SharedPool();
/** Buffers scoreBuffer lent out, taken back by the selection they are handed to. */
const lentScores = new WeakSet<SharedArrayBuffer>();

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
 * Ends the worker threads and drops the shared buffers, once a job's masks are chosen: idle workers
 * hold their V8 heaps (and a module loader each), about 40 MB that evaluation, the next stage and the
 * job's peak, can use. The next selection starts them again (a fraction of a second).
 */
export async function releaseMaskThreads(): Promise<void> {
  const stopping = pool.splice(0).map((w) => w.stop());
  buffers.clear();
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

/** Shared scores or weight as they are (no copy), else copied into the pool; `copied` says which. */
function shareable(scores: RowScores): { shared: RowScores; copied?: Float32Array } {
  const data = scores instanceof Float32Array ? scores : scores.weight;
  if (data.buffer instanceof SharedArrayBuffer) return { shared: scores };
  const copy = new Float32Array(buffers.take(data.byteLength), 0, data.length);
  copy.set(data);
  return { shared: scores instanceof Float32Array ? copy : { weight: copy, factor: scores.factor }, copied: copy };
}

/**
 * selectRowMask on `threads` threads (the calling one included). Small layers, one thread, or
 * sparsity 0 or 1 are done here. A scaled weight (masks.ts, ScaledWeight) is read in place when it
 * is in shared memory (sequential calibration holds a block's weights so): each thread computes the
 * scores of its own neurons.
 */
export async function selectRowMaskThreaded(
  scores: RowScores,
  shape: LayerShape,
  sparsity: number,
  dropTop = false,
  threads = defaultMaskThreads(),
): Promise<Uint8Array> {
  const { dIn, dOut } = shape;
  checkRowScores(scores, dIn, dOut);
  const k = prunedPerRow(dIn, sparsity);
  const ranges = splitColumns(dOut, threads);
  const lent = scores instanceof Float32Array && scores.buffer instanceof SharedArrayBuffer && lentScores.delete(scores.buffer);
  if (ranges.length < 2 || dIn * dOut < PARALLEL_MIN_SCORES || k === 0 || k === dIn) {
    const keep = new Uint8Array(dIn * dOut).fill(1);
    try {
      selectRowMaskColumns(scores, shape, k, dropTop, 0, dOut, keep);
    } finally {
      if (lent) buffers.give((scores as Float32Array).buffer as SharedArrayBuffer);
    }
    return keep;
  }
  const { shared, copied } = shareable(scores);
  // A weight that had to be copied into shared memory is zeroed here, once its mask is known.
  const zeroAfter = copied && !(scores instanceof Float32Array) && scores.zeroMasked ? scores.weight : undefined;
  // Zeroed so that a share no thread wrote shows as pruned weights, never as another layer's mask.
  const keep = new Uint8Array(buffers.take(dIn * dOut), 0, dIn * dOut).fill(0);
  try {
    // Ranges of about 64 neurons (one tile of selectRowMaskColumns), at most 8 a thread, taken one
    // by one: equal shares made every layer wait for the thread that other work had slowed.
    const pieces = splitColumns(dOut, Math.min(threads * 8, Math.ceil(dOut / 64)));
    const flat = Int32Array.from(pieces.flat());
    const next = new Int32Array(new SharedArrayBuffer(4));
    const own = besides === 0;
    const helpers = Math.min(threads, pieces.length) - (own ? 1 : 0);
    const done = workers(helpers).map((w) => w.run({ scores: shared, keep, dIn, dOut, k, dropTop, ranges: flat, next }));
    // The calling thread takes ranges too while the workers take theirs.
    let mine: unknown;
    try {
      if (own) takeRanges(shared, shape, k, dropTop, flat, next, keep);
    } catch (err) {
      mine = err; // a NaN score: reported once every share has settled
    }
    // Every share settled before the buffers go back: none may still be written to.
    const failed = (await Promise.allSettled(done)).find((r) => r.status === 'rejected');
    if (mine) throw mine;
    if (failed) throw (failed as PromiseRejectedResult).reason;
    if (zeroAfter) zeroDropped(zeroAfter, keep);
    // An ordinary buffer from here on: masks are packed, transferred and compared as plain bytes.
    return keep.slice();
  } finally {
    buffers.give(keep.buffer as SharedArrayBuffer);
    if (copied) buffers.give(copied.buffer as SharedArrayBuffer);
    if (lent) buffers.give((scores as Float32Array).buffer as SharedArrayBuffer);
  }
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
  if (!spread) return new Float32Array(n);
  const buf = buffers.take(n * 4);
  lentScores.add(buf);
  return new Float32Array(buf, 0, n);
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
