/**
 * Value axes of the charts. Perplexity spans orders of magnitude (random 50% next to dense), so it
 * is drawn on a log axis; every other metric on a linear one that starts near the data, not at 0.
 */

import { showValue } from '@polyprune/shared/units';

/** Metrics drawn on a log axis. */
export const logScaled = (metric: string) => metric === 'ppl';

/** A value range that shows the differences: from just below the smallest value (or chance) to just above the largest, not from 0. */
export function axisRange(values: number[]): [number, number] {
  const lo = Math.min(...values);
  const hi = Math.max(...values);
  const pad = hi > lo ? (hi - lo) * 0.1 : Math.abs(hi) * 0.05 || 0.05;
  return [lo - pad, hi + pad];
}

export interface Axis {
  log: boolean;
  lo: number;
  hi: number;
  /** 0 at lo, 1 at hi */
  frac: (v: number) => number;
  ticks: { value: number; label: string }[];
}

/** 1, 2, 5 × 10^k inside [lo, hi]; only the powers of ten when those are enough. */
function logTicks(lo: number, hi: number): number[] {
  const out: number[] = [];
  for (let k = Math.floor(Math.log10(lo)); k <= Math.ceil(Math.log10(hi)); k++)
    for (const m of [1, 2, 5]) {
      const v = m * 10 ** k;
      if (v >= lo && v <= hi) out.push(v);
    }
  const decades = out.filter((v) => Math.abs(Math.log10(v) - Math.round(Math.log10(v))) < 1e-9);
  return decades.length >= 2 ? decades : out.length ? out : [lo, hi];
}

const label = (v: number) => (v >= 1e5 ? v.toExponential(0).replace('e+', 'e') : v >= 1 ? String(Math.round(v * 100) / 100) : v.toPrecision(2));

export function axisFor(metric: string, values: number[]): Axis {
  const positive = values.filter((v) => v > 0);
  if (logScaled(metric) && positive.length === values.length && values.length) {
    const [l, h] = axisRange(positive.map(Math.log10));
    const lo = 10 ** l;
    const hi = 10 ** h;
    return {
      log: true,
      lo,
      hi,
      frac: (v) => (Math.log10(v) - l) / (h - l),
      ticks: logTicks(lo, hi).map((value) => ({ value, label: label(value) })),
    };
  }
  const [lo, hi] = axisRange(values);
  return {
    log: false,
    lo,
    hi,
    frac: (v) => (v - lo) / (hi - lo),
    ticks: [hi, (hi + lo) / 2, lo].map((value) => ({ value, label: showValue(value, metric) })),
  };
}
