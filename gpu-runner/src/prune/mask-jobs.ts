/**
 * One layer's mask from its weight as held (stored layout, fp32 values) and its score inputs: the
 * pure computation that both the main thread and the mask workers (mask-workers.ts) run, so a mask
 * is the same wherever it was computed.
 */
import type { DenseWeight, LayerMask, PrunableLinear } from '../types.js';
import { selectMask, type MaskSpec } from './masks.js';
import { computeScores, type ScoreInputs } from './scores.js';

export interface MaskJob {
  linear: Pick<PrunableLinear, 'id' | 'dIn' | 'dOut' | 'storedTransposed'>;
  /** the weight in its stored layout ([dOut, dIn] when storedTransposed), as fp32 */
  data: Float32Array;
  scores: ScoreInputs;
  spec: MaskSpec;
}

/** The weight in the canonical [dIn, dOut] layout (a copy when stored transposed). */
export function canonicalLayout(l: MaskJob['linear'], data: Float32Array): DenseWeight {
  if (data.length !== l.dIn * l.dOut) throw new Error(`${l.id}: weight has ${data.length} values, expected ${l.dIn}x${l.dOut}`);
  if (!l.storedTransposed) return { dIn: l.dIn, dOut: l.dOut, data };
  const out = new Float32Array(l.dIn * l.dOut);
  for (let o = 0; o < l.dOut; o++) {
    const row = o * l.dIn;
    for (let i = 0; i < l.dIn; i++) out[i * l.dOut + o] = data[row + i]!;
  }
  return { dIn: l.dIn, dOut: l.dOut, data: out };
}

export function maskOfJob(job: MaskJob): LayerMask {
  const w = canonicalLayout(job.linear, job.data);
  return selectMask(job.linear.id, computeScores(w, job.scores), { dIn: job.linear.dIn, dOut: job.linear.dOut }, job.spec);
}
