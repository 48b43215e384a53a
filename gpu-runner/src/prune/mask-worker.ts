/**
 * A mask selection worker thread (mask-threads.ts): selects the masks of ranges of output neurons
 * from shared scores (or the shared weight they are computed from) into a shared mask, taking ranges
 * until none is left (takeRanges), and answers with the job's id (or its error).
 */
import { parentPort } from 'node:worker_threads';
import { takeRanges, type RowScores } from './masks.js';

export interface ColumnsJob {
  id: number;
  /** scores, or a scaled weight, in shared memory */
  scores: RowScores;
  keep: Uint8Array;
  dIn: number;
  dOut: number;
  k: number;
  dropTop: boolean;
  /** [o0, o1) pairs, flat */
  ranges: Int32Array;
  /** shared: the index of the next range to take */
  next: Int32Array;
}

parentPort?.on('message', (job: ColumnsJob) => {
  try {
    takeRanges(job.scores, { dIn: job.dIn, dOut: job.dOut }, job.k, job.dropTop, job.ranges, job.next, job.keep);
    parentPort!.postMessage({ id: job.id });
  } catch (err) {
    parentPort!.postMessage({ id: job.id, error: (err as Error).message });
  }
});
