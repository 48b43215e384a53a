/**
 * A mask selection worker thread (mask-threads.ts): selects the masks of ranges of output neurons
 * of layers in the shared heap (wasm-heap.ts), in place, taking ranges until none is left
 * (mask-tile.ts takeRanges), and answers with the job's id (or its error).
 */
import { parentPort } from 'node:worker_threads';
import { kernelOver, takeRanges, type HeapLayer } from './mask-tile.js';

export interface ColumnsJob {
  id: number;
  /** the heap's id, and its memory when this thread has not been given it yet */
  heap: number;
  memory?: WebAssembly.Memory;
  layers: HeapLayer[];
  /** this thread's scratch in the heap, for the layers' largest dIn */
  scratch: number;
  /** (layer, o0, o1) triples, flat */
  ranges: Int32Array;
  /** shared: the index of the next range to take */
  next: Int32Array;
}

let memory: WebAssembly.Memory | undefined;

parentPort?.on('message', (job: ColumnsJob) => {
  try {
    if (job.memory) memory = job.memory;
    if (!memory) throw new Error('mask selection worker: no heap memory given');
    takeRanges(kernelOver(job.heap, memory), memory, job.layers, job.scratch, job.ranges, job.next);
    parentPort!.postMessage({ id: job.id });
  } catch (err) {
    parentPort!.postMessage({ id: job.id, error: (err as Error).message });
  }
});
