/**
 * Mask selection off the main thread. In sequential calibration onnxruntime waits while a block's
 * masks are chosen (the next pass needs them), and choosing them is single-threaded JavaScript:
 * about as long as the block's own forward pass on two cores, and longer the more cores onnxruntime
 * has. A block's linears are independent, so they are scored and selected in parallel, one per
 * worker thread (up to the machine's parallelism), with the same functions as inline
 * (mask-jobs.ts): the masks are the same bytes. Each job copies its weight to the worker.
 *
 * The pool starts on first use and stays (its threads do not keep the process alive). Where a worker
 * cannot start (a runtime without TypeScript loading, say), masks are computed inline instead.
 */
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { LayerMask } from '../types.js';
import { maskOfJob, type MaskJob } from './mask-jobs.js';

const WORKER = path.join(path.dirname(fileURLToPath(import.meta.url)), 'mask-worker.ts');

interface Pending {
  resolve: (m: LayerMask) => void;
  reject: (e: Error) => void;
}

class Pool {
  private idle: Worker[] = [];
  private queue: Array<{ job: MaskJob } & Pending> = [];
  private pending = new Map<number, Pending & { worker: Worker }>();
  private seq = 0;
  broken = false;

  constructor(readonly size: number) {
    // The worker needs only tsx's loader (the runner's TypeScript; a test runner that transforms
    // TypeScript itself passes nothing on); the parent's other flags (--expose-gc) workers refuse.
    const execArgv = ['--import', 'tsx'];
    for (let k = 0; k < size; k++) {
      const w = new Worker(WORKER, { execArgv });
      w.unref();
      w.on('message', (msg: { seq: number; mask?: LayerMask; error?: string }) => this.done(w, msg));
      w.on('error', (err) => this.fail(w, err instanceof Error ? err : new Error(String(err))));
      this.idle.push(w);
    }
  }

  run(job: MaskJob): Promise<LayerMask> {
    return new Promise((resolve, reject) => {
      this.queue.push({ job, resolve, reject });
      this.next();
    });
  }

  private next(): void {
    while (this.idle.length && this.queue.length) {
      const w = this.idle.pop()!;
      const { job, resolve, reject } = this.queue.shift()!;
      const seq = ++this.seq;
      this.pending.set(seq, { resolve, reject, worker: w });
      w.ref();
      w.postMessage({ seq, job });
    }
  }

  private done(w: Worker, msg: { seq: number; mask?: LayerMask; error?: string }): void {
    const p = this.pending.get(msg.seq);
    this.pending.delete(msg.seq);
    w.unref();
    this.idle.push(w);
    if (p) {
      if (msg.mask) p.resolve(msg.mask);
      else p.reject(new Error(msg.error ?? 'mask worker returned nothing'));
    }
    this.next();
  }

  /** A worker that dies (or never starts) breaks the pool: its job and the queued ones run inline. */
  private fail(w: Worker, err: Error): void {
    this.broken = true;
    for (const [seq, p] of this.pending) {
      if (p.worker !== w) continue;
      this.pending.delete(seq);
      p.reject(err);
    }
    this.idle = this.idle.filter((x) => x !== w);
    void w.terminate();
  }
}

let pool: Pool | undefined;
let inWorkers = 0;

/** How many masks worker threads have computed in this process, and the pool's size (0: none started). */
export function maskWorkerUse(): { workers: number; masks: number } {
  return { workers: pool && !pool.broken ? pool.size : 0, masks: inWorkers };
}

/** Worker threads for mask selection: one per core, at most 8, none on a single core. */
function maskPool(): Pool | undefined {
  if (pool?.broken) return undefined;
  const size = Math.min(8, os.availableParallelism());
  if (size < 2) return undefined;
  try {
    pool ??= new Pool(size);
  } catch {
    return undefined;
  }
  return pool;
}

/** The masks of `jobs`, in order, computed in parallel worker threads where there are cores for them. */
export async function selectMasks(jobs: MaskJob[]): Promise<LayerMask[]> {
  const p = jobs.length > 1 ? maskPool() : undefined;
  if (!p) return jobs.map(maskOfJob);
  return Promise.all(
    jobs.map(async (job) => {
      try {
        const m = await p.run(job);
        inWorkers++;
        return m;
      } catch (err) {
        // Only a worker that failed to run is retried here; a job that is wrong fails inline too.
        if (!p.broken) throw err;
        return maskOfJob(job);
      }
    }),
  );
}
