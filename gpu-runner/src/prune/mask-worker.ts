/**
 * A mask selection worker thread (mask-threads.ts): selects the masks of a range of output neurons
 * from shared scores (or the shared weight they are computed from) into a shared mask, and answers with the job's id (or its error).
 */
import { parentPort } from 'node:worker_threads';
import { selectRowMaskColumns, type RowScores } from './masks.js';

export interface ColumnsJob {
  id: number;
  /** scores, or a scaled weight, in shared memory */
  scores: RowScores;
  keep: Uint8Array;
  dIn: number;
  dOut: number;
  k: number;
  dropTop: boolean;
  o0: number;
  o1: number;
}

parentPort?.on('message', (job: ColumnsJob) => {
  try {
    selectRowMaskColumns(job.scores, { dIn: job.dIn, dOut: job.dOut }, job.k, job.dropTop, job.o0, job.o1, job.keep);
    parentPort!.postMessage({ id: job.id });
  } catch (err) {
    parentPort!.postMessage({ id: job.id, error: (err as Error).message });
  }
});
