/**
 * chrF with sacreBLEU's defaults (character n-grams n = 1..6, β = 2, whitespace removed, no word
 * n-grams, one reference). Corpus level as sacreBLEU: n-gram statistics are summed over sentences,
 * then per-order precision and recall are averaged over the orders that occur in both hypothesis and
 * reference, and combined into F_β. Scores are on sacreBLEU 2's 0–100 scale. Characters are Unicode
 * code points (as Python strings), not UTF-16 units, and whitespace is Python's (py-space.ts).
 */
import { pySpaces } from './py-space.js';

/** sacreBLEU's signature of the settings chrfStats/corpusChrf use by default. */
export const CHRF_SIGNATURE = 'nrefs:1|case:mixed|eff:yes|nc:6|nw:0|space:no|version:2.6.0';

export interface ChrfOptions {
  order?: number;
  beta?: number;
  /** keep whitespace inside n-grams (sacreBLEU's --chrf-whitespace) */
  whitespace?: boolean;
}

/** stats[3*(n-1) + 0|1|2] = hypothesis n-grams, reference n-grams, matching n-grams. */
export type ChrfStats = Float64Array;

function ngramCounts(chars: string[], n: number): Map<string, number> {
  const m = new Map<string, number>();
  for (let i = 0; i + n <= chars.length; i++) {
    const g = chars.slice(i, i + n).join('');
    m.set(g, (m.get(g) ?? 0) + 1);
  }
  return m;
}

function prepare(s: string, whitespace: boolean): string[] {
  return Array.from(whitespace ? s : s.replace(pySpaces, ''));
}

export function chrfStats(hypothesis: string, reference: string, opts: ChrfOptions = {}): ChrfStats {
  const order = opts.order ?? 6;
  const hyp = prepare(hypothesis, opts.whitespace ?? false);
  const ref = prepare(reference, opts.whitespace ?? false);
  const stats = new Float64Array(3 * order);
  for (let n = 1; n <= order; n++) {
    const h = ngramCounts(hyp, n);
    const r = ngramCounts(ref, n);
    let match = 0;
    for (const [g, c] of h) match += Math.min(c, r.get(g) ?? 0);
    const refCount = Math.max(0, ref.length - n + 1);
    // sacreBLEU counts no hypothesis n-grams of an order the reference lacks: at corpus level they
    // would otherwise lower the precision of that order.
    stats[3 * (n - 1)] = refCount > 0 ? Math.max(0, hyp.length - n + 1) : 0;
    stats[3 * (n - 1) + 1] = refCount;
    stats[3 * (n - 1) + 2] = match;
  }
  return stats;
}

export function chrfFromStats(stats: ChrfStats, beta = 2): number {
  const order = stats.length / 3;
  let prec = 0;
  let rec = 0;
  let effective = 0;
  for (let i = 0; i < order; i++) {
    const hyp = stats[3 * i]!;
    const ref = stats[3 * i + 1]!;
    const match = stats[3 * i + 2]!;
    if (hyp > 0 && ref > 0) {
      prec += match / hyp;
      rec += match / ref;
      effective++;
    }
  }
  if (effective === 0) return 0;
  prec /= effective;
  rec /= effective;
  if (prec + rec === 0) return 0;
  const b2 = beta * beta;
  return (100 * ((1 + b2) * prec * rec)) / (b2 * prec + rec);
}

export function sentenceChrf(hypothesis: string, reference: string, opts: ChrfOptions = {}): number {
  return chrfFromStats(chrfStats(hypothesis, reference, opts), opts.beta ?? 2);
}

export function corpusChrf(hypotheses: string[], references: string[], opts: ChrfOptions = {}): number {
  if (hypotheses.length !== references.length) throw new Error(`${hypotheses.length} hypotheses but ${references.length} references`);
  const total = new Float64Array(3 * (opts.order ?? 6));
  for (let i = 0; i < hypotheses.length; i++) {
    const s = chrfStats(hypotheses[i]!, references[i]!, opts);
    for (let k = 0; k < total.length; k++) total[k]! += s[k]!;
  }
  return chrfFromStats(total, opts.beta ?? 2);
}
