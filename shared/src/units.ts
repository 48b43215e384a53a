/**
 * How people read a metric, on every surface (pages, CLI): accuracies and other fractions in %,
 * chrF and BLEU as sacreBLEU prints them (0–100), perplexity as is. JSON keeps the stored
 * values: fractions for accuracy.
 */
import { pointsScale } from './api/leaderboards';

/** Stored as a fraction, shown as a percentage. */
export const percentMetric = (metric: string) => !(metric === 'ppl' || metric === 'bpb' || pointsScale(metric));

/** The metric's unit as a column header says it: "acc %", "chrf", "ppl". */
export const unitLabel = (metric: string) => (percentMetric(metric) ? `${metric} %` : metric);

/** A value in the metric's unit for people: 0.5812 acc → "58.1", 21.7 ppl → "21.70", 35.25 chrf → "35.3". */
export function showValue(v: number | null | undefined, metric: string): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return '–';
  if (metric === 'ppl') return v.toFixed(2);
  if (metric === 'bpb') return v.toFixed(3);
  if (pointsScale(metric)) return v.toFixed(1);
  return (v * 100).toFixed(1);
}

/** A difference in the same unit with its sign: "+1.2", "−0.4". */
export function showDelta(v: number | null | undefined, metric: string): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return '–';
  const s = showValue(Math.abs(v), metric);
  return Number(s) === 0 ? s : `${v > 0 ? '+' : '−'}${s}`;
}

const SUFFIXES = ['_delta_lo', '_delta_hi', '_delta_p', '_delta', '_lo', '_hi'] as const;
type Part = 'value' | 'lo' | 'hi' | 'delta' | 'deltaLo' | 'deltaHi' | 'p';
const PART: Record<(typeof SUFFIXES)[number], Part> = {
  _delta_lo: 'deltaLo',
  _delta_hi: 'deltaHi',
  _delta_p: 'p',
  _delta: 'delta',
  _lo: 'lo',
  _hi: 'hi',
};

/** "acc_delta_lo" → acc, deltaLo: a runner's companion rows (interval, Δ vs dense, p) belong to their metric. */
export function splitMetric(metric: string): { base: string; part: Part } {
  for (const s of SUFFIXES) if (metric.endsWith(s) && metric.length > s.length) return { base: metric.slice(0, -s.length), part: PART[s] };
  return { base: metric, part: 'value' };
}

export type ScoreCell = { n: number } & Partial<Record<Part, number>>;
export interface ScoreGrid {
  /** metrics in display order */
  metrics: string[];
  rows: { suiteId: string; format: string; lang: string; scoring: string; templateLang: string | null; cells: Record<string, ScoreCell> }[];
}

const ORDER = ['acc', 'acc_norm', 'f1', 'ppl', 'bpb', 'chrf', 'bleu'];

/** A run's score rows as one grid: (suite, scoring) × metric, each cell with its interval, Δ vs dense and p. */
export function scoreGrid(
  scores: { suiteId: string; format: string; lang: string; scoring: string; metric: string; value: number; n: number; templateLang?: string | null }[],
): ScoreGrid {
  const rows = new Map<string, ScoreGrid['rows'][number]>();
  const metrics = new Set<string>();
  for (const s of scores) {
    const { base, part } = splitMetric(s.metric);
    const key = `${s.suiteId}\u0000${s.scoring}\u0000${s.templateLang ?? ''}`;
    const row = rows.get(key) ?? { suiteId: s.suiteId, format: s.format, lang: s.lang, scoring: s.scoring, templateLang: s.templateLang ?? null, cells: {} };
    const cell = row.cells[base] ?? { n: s.n };
    cell[part] = s.value;
    if (part === 'value') cell.n = s.n;
    row.cells[base] = cell;
    rows.set(key, row);
    metrics.add(base);
  }
  const rank = (m: string) => (ORDER.includes(m) ? ORDER.indexOf(m) : ORDER.length);
  return {
    metrics: [...metrics]
      .filter((m) => [...rows.values()].some((r) => r.cells[m]?.value !== undefined))
      .sort((a, b) => rank(a) - rank(b) || a.localeCompare(b)),
    rows: [...rows.values()].sort(
      (a, b) => a.format.localeCompare(b.format) || a.lang.localeCompare(b.lang) || a.suiteId.localeCompare(b.suiteId) || a.scoring.localeCompare(b.scoring),
    ),
  };
}
