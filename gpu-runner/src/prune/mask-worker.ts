/**
 * A mask worker (mask-workers.ts): computes one layer's mask per message with mask-jobs.ts and
 * hands back the mask, the weight and the scores it made (transferred, so nothing large stays
 * behind in this thread between jobs).
 */
import { parentPort } from 'node:worker_threads';
import { canonicalLayout, type MaskJob } from './mask-jobs.js';
import { selectMask } from './masks.js';
import { computeScores } from './scores.js';

parentPort!.on('message', ({ seq, job }: { seq: number; job: MaskJob }) => {
  try {
    const w = canonicalLayout(job.linear, job.data);
    const scores = computeScores(w, job.scores);
    const mask = selectMask(job.linear.id, scores, { dIn: job.linear.dIn, dOut: job.linear.dOut }, job.spec);
    const moved = new Set<ArrayBuffer>([
      mask.keep.buffer as ArrayBuffer,
      job.data.buffer as ArrayBuffer,
      w.data.buffer as ArrayBuffer,
      scores.buffer as ArrayBuffer,
    ]);
    parentPort!.postMessage({ seq, mask }, [...moved]);
  } catch (err) {
    parentPort!.postMessage({ seq, error: err instanceof Error ? err.message : String(err) });
  }
});
