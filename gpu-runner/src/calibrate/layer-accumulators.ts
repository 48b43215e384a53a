/**
 * Per-tensor Float64 accumulators for a set of linears (q/k/v share one input tensor, so one
 * accumulator serves several layers) and their conversion to LayerStats.
 */
import type { Tensor } from '../ort.js';
import type { ActivationStats, PrunableLinear } from '../types.js';
import { sqSumName } from '../onnx/square-sums.js';
import { accumulateSquares, asFloat32 } from './accumulate.js';
import type { ModelBatch } from './batches.js';
import { statisticsMask } from './feeds.js';

export interface Accumulator {
  tensor: string;
  sum: Float64Array;
  tokens: number;
}

export function accumulatorsFor(linears: PrunableLinear[]): Map<string, Accumulator> {
  const acc = new Map<string, Accumulator>();
  for (const l of linears) {
    const a = acc.get(l.inputName);
    if (a && a.sum.length !== l.dIn) throw new Error(`linears reading ${l.inputName} disagree on its width (${a.sum.length} vs ${l.dIn})`);
    if (!a) acc.set(l.inputName, { tensor: l.inputName, sum: new Float64Array(l.dIn), tokens: 0 });
  }
  return acc;
}

export function addBatch(acc: Map<string, Accumulator>, out: Record<string, Tensor>, batch: ModelBatch, maskPadding: boolean): void {
  for (const a of acc.values()) {
    const t = out[a.tensor];
    if (!t) throw new Error(`run did not return ${a.tensor}`);
    a.tokens += accumulateSquares(a.sum, asFloat32(t.data), statisticsMask(batch, maskPadding));
  }
}

/** Adds the graph-computed Σ_tokens x_j² vectors (see onnx/square-sums.ts) of one batch. */
export function addSquareSums(acc: Map<string, Accumulator>, out: Record<string, Tensor>, batch: ModelBatch, maskPadding: boolean): void {
  // The graph multiplied pad rows by the fed padding mask (square-sums.ts) when maskPadding is set.
  const mask = statisticsMask(batch, maskPadding);
  let rows = batch.size * batch.seqLen;
  if (mask) {
    rows = 0;
    for (const m of mask) if (m !== 0n) rows++;
  }
  for (const a of acc.values()) {
    const t = out[sqSumName(a.tensor)];
    if (!t) throw new Error(`run did not return the square sums of ${a.tensor}`);
    const v = asFloat32(t.data);
    if (v.length !== a.sum.length) throw new Error(`square sums of ${a.tensor} have ${v.length} values, expected ${a.sum.length}`);
    for (let j = 0; j < v.length; j++) a.sum[j]! += v[j]!;
    a.tokens += rows;
  }
}

/** s_j = Σ / samples, one LayerStats per linear (own copy, so layers never alias). */
export function finalize(linears: PrunableLinear[], acc: Map<string, Accumulator>, samples: number, into: ActivationStats): void {
  for (const l of linears) {
    const a = acc.get(l.inputName)!;
    const sqNorm = new Float64Array(a.sum.length);
    for (let j = 0; j < sqNorm.length; j++) sqNorm[j] = a.sum[j]! / samples;
    into.set(l.id, { id: l.id, sqNorm, samples, tokens: a.tokens });
  }
}
