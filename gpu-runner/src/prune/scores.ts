/**
 * Pruning scores (docs/design.md §3.3), one per weight, in the canonical [dIn, dOut] layout of DenseWeight:
 * score[i*dOut + o] belongs to W[i, o]. Higher means more important; masks drop the lowest.
 *
 * Each score is computed in double precision and rounded once to float32 when stored: float32 halves
 * the memory of the largest layers, and the masks' tie rule is defined on the stored values.
 */
import type { DenseWeight } from '../types.js';
import { mulberry32 } from '../random.js';

export { mulberry32 };

/**
 * Floor applied to the contrast statistic before its square root in `mt-contrast`. A channel that is
 * exactly zero on the contrast corpus (dead on code, say) would divide by zero; with the floor it gets
 * a very large finite score, i.e. it is kept, which is the intent (active on translation only). The
 * value is far below any real statistic (sums of squared activations over hundreds of tokens).
 */
export const CONTRAST_EPSILON = 1e-12;

function checkStats(name: string, s: Float64Array, dIn: number): void {
  if (s.length !== dIn) throw new Error(`${name} has ${s.length} channels, the weight has dIn=${dIn}`);
  for (let j = 0; j < dIn; j++) {
    const v = s[j]!;
    if (!(v >= 0) || !Number.isFinite(v)) throw new Error(`${name}[${j}] = ${v}: statistics must be finite and ≥ 0`);
  }
}

function checkWeight(w: DenseWeight): void {
  if (w.data.length !== w.dIn * w.dOut) {
    throw new Error(`weight data has ${w.data.length} values, expected dIn·dOut = ${w.dIn}·${w.dOut}`);
  }
}

/** `into` when given (it must have dIn·dOut values), else a new array. */
function output(n: number, into?: Float32Array): Float32Array {
  if (!into) return new Float32Array(n);
  if (into.length !== n) throw new Error(`score buffer has ${into.length} values, expected ${n}`);
  return into;
}

/** Scales each input row i of |W| by factor[i] (the shared shape of wanda and mt-contrast). */
function scaleRows(w: DenseWeight, factor: Float64Array, into?: Float32Array): Float32Array {
  const { dIn, dOut, data } = w;
  const out = output(dIn * dOut, into);
  for (let i = 0; i < dIn; i++) {
    const f = factor[i]!;
    const base = i * dOut;
    for (let o = 0; o < dOut; o++) out[base + o] = Math.abs(data[base + o]!) * f;
  }
  return out;
}

/** |W_ij|. */
export function scoreMagnitude(w: DenseWeight, into?: Float32Array): Float32Array {
  checkWeight(w);
  const out = output(w.data.length, into);
  for (let k = 0; k < out.length; k++) out[k] = Math.abs(w.data[k]!);
  return out;
}

/** Wanda's factor per input channel: √s_j. */
function wandaFactors(sqNorm: Float64Array, dIn: number): Float64Array {
  checkStats('sqNorm', sqNorm, dIn);
  const factor = new Float64Array(dIn);
  for (let j = 0; j < dIn; j++) factor[j] = Math.sqrt(sqNorm[j]!);
  return factor;
}

/** mt-contrast's factor per input channel: s^mt_j/√max(s^contrast_j, ε). */
function mtContrastFactors(mtSqNorm: Float64Array, contrastSqNorm: Float64Array, dIn: number, epsilon = CONTRAST_EPSILON): Float64Array {
  checkStats('mtSqNorm', mtSqNorm, dIn);
  checkStats('contrastSqNorm', contrastSqNorm, dIn);
  if (!(epsilon > 0)) throw new Error(`epsilon must be > 0, got ${epsilon}`);
  const factor = new Float64Array(dIn);
  for (let j = 0; j < dIn; j++) factor[j] = mtSqNorm[j]! / Math.sqrt(Math.max(contrastSqNorm[j]!, epsilon));
  return factor;
}

/** Wanda: |W_ij|·√s_j with s_j the input channel's statistic (LayerStats.sqNorm). */
export function scoreWanda(w: DenseWeight, sqNorm: Float64Array, into?: Float32Array): Float32Array {
  checkWeight(w);
  return scaleRows(w, wandaFactors(sqNorm, w.dIn), into);
}

/** mt-contrast: |W_ij|·s^mt_j/√max(s^contrast_j, ε) — translation statistics over contrast statistics. */
export function scoreMtContrast(
  w: DenseWeight,
  mtSqNorm: Float64Array,
  contrastSqNorm: Float64Array,
  epsilon = CONTRAST_EPSILON,
  into?: Float32Array,
): Float32Array {
  checkWeight(w);
  return scaleRows(w, mtContrastFactors(mtSqNorm, contrastSqNorm, w.dIn, epsilon), into);
}

/**
 * Random baseline: uniform scores drawn in flat [dIn, dOut] order from mulberry32(seed). The weight's
 * values are ignored, so the mask depends only on (shape, seed).
 */
export function scoreRandom(shape: { dIn: number; dOut: number }, seed: number, into?: Float32Array): Float32Array {
  if (!Number.isInteger(seed)) throw new Error(`random seed must be an integer, got ${seed}`);
  const next = mulberry32(seed);
  const out = output(shape.dIn * shape.dOut, into);
  for (let k = 0; k < out.length; k++) out[k] = next();
  return out;
}

/** What each method needs besides the weight. */
export type ScoreInputs =
  | { method: 'magnitude' }
  | { method: 'wanda'; sqNorm: Float64Array }
  | { method: 'mt-contrast'; mtSqNorm: Float64Array; contrastSqNorm: Float64Array; epsilon?: number }
  | { method: 'random'; seed: number };

/**
 * Scores of one weight by `inputs.method`. `into`: the array to write them to (dIn·dOut values, e.g.
 * shared memory for threaded mask selection); a new one otherwise.
 */
export function computeScores(w: DenseWeight, inputs: ScoreInputs, into?: Float32Array): Float32Array {
  switch (inputs.method) {
    case 'magnitude':
      return scoreMagnitude(w, into);
    case 'wanda':
      return scoreWanda(w, inputs.sqNorm, into);
    case 'mt-contrast':
      return scoreMtContrast(w, inputs.mtSqNorm, inputs.contrastSqNorm, inputs.epsilon, into);
    case 'random':
      checkWeight(w);
      return scoreRandom(w, inputs.seed, into);
  }
}

/**
 * The factor per input channel of scores of the form |W_ij|·factor_i (magnitude: 1; wanda and
 * mt-contrast as above), the statistics checked as computeScores checks them; undefined for scores
 * of another form (random). |W_ij|·factor_i computed in double and rounded to float32 is then
 * computeScores' value exactly, so mask selection can compute each score as it reads the weight
 * (masks.ts, ScaledWeight) instead of reading a matrix of scores written first.
 */
export function rowFactors(inputs: ScoreInputs, dIn: number): Float64Array | undefined {
  switch (inputs.method) {
    case 'magnitude':
      return new Float64Array(dIn).fill(1);
    case 'wanda':
      return wandaFactors(inputs.sqNorm, dIn);
    case 'mt-contrast':
      return mtContrastFactors(inputs.mtSqNorm, inputs.contrastSqNorm, dIn, inputs.epsilon);
    case 'random':
      return undefined;
  }
}
