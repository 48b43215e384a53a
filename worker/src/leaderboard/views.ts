/** The paper's other two views over the same cells: metric vs sparsity, and Δ vs dense per method. */
import type { LeaderboardColumn, MethodSummary, SparsityView } from '@polyprune/shared/api/leaderboards';
import { seriesKeyOf } from '@polyprune/shared/series-key';
import { pairedMeanTest } from '@polyprune/shared/stats';
import { columnFrom, columnN, columnOf, isEnglish, newestCells, pushTo, type ScoreRecord, sortColumns } from './aggregate';

/** "wanda mt" from method wanda and calibration "mt:fr-en"; baselines without calibration keep their name. */
export const methodLabel = (c: { method: string; calibration: string | null }) => (c.calibration ? `${c.method} ${c.calibration.split(':')[0]}` : c.method);
/** "fr-en" → fr: the language a pair's calibration data is about (the non-English side). */
const pairOf = (calibration: string | null) => calibration?.split(':')[1] ?? null;
const ownLanguages = (pair: string) => pair.split('-').filter((l) => !isEnglish(l));

/**
 * The test's unit: one calibrated pruned model (model, pattern, calibration pair) — its cells over
 * languages share the model and are not independent, so they are averaged first and "n" counts
 * pairs; a method without calibration has one model, so its suites are the units (a suite's
 * columns on other rows or template words are the same data, averaged into one unit).
 */
const unitOf = (c: ScoreRecord) => [c.modelId, c.pattern, c.calibration ? `pair:${pairOf(c.calibration)}` : `suite:${c.suiteId}`].join('\u0000');
function overUnits(xs: { delta: number; unit: string }[]) {
  const byUnit = new Map<string, number[]>();
  for (const x of xs) pushTo(byUnit, x.unit, x.delta);
  return pairedMeanTest([...byUnit.values()].map((v) => v.reduce((a, b) => a + b, 0) / v.length));
}

export function buildSparsityView(
  records: ScoreRecord[],
  o: { model: string; format: string | null; scoring: string; metric: string; lang?: string[]; method?: string },
): SparsityView {
  const { cells, denseOf } = newestCells(records, o.metric);
  const pValue = new Map(records.filter((r) => r.metric === `${o.metric}_delta_p`).map((r) => [`${r.runId}/${r.suiteId}/${r.scoring}`, r.value]));
  const kept = cells.filter((c) => !o.lang || o.lang.includes(c.lang));
  const columns = new Map<string, LeaderboardColumn>();
  const ns = new Map<string, number[]>();
  const dense: SparsityView['dense'] = {};
  const series = new Map<string, SparsityView['series'][number]>();
  const shown = kept.filter(
    (c) => c.variant === 'dense' || (c.sparsity !== null && (!o.method || c.method === o.method || c.method.startsWith(`${o.method}+`))),
  );
  for (const c of shown) {
    const column = columnOf(c);
    if (!columns.has(column)) columns.set(column, columnFrom(c, o.metric));
    pushTo(ns, column, c.n);
    if (c.variant === 'dense') {
      dense[column] = { value: c.value, n: c.n, runId: c.runId };
      continue;
    }
    if (c.sparsity === null) continue;
    const key = seriesKeyOf(c);
    const id = `${key}\u0000${column}`;
    const s = series.get(id) ?? { key, method: c.method, calibration: c.calibration, pattern: c.pattern, column, suiteId: c.suiteId, lang: c.lang, points: [] };
    const d = denseOf(c);
    // Variants differing only in a suffix (oneshot) share a key: the newer run of a sparsity wins.
    const at = s.points.findIndex((p) => Math.abs(p.sparsity - c.sparsity!) < 1e-9);
    const point = {
      sparsity: c.sparsity,
      value: c.value,
      n: c.n,
      delta: d ? c.value - d.value : null,
      // the runner's p is against dense on the rows it scored: shown only beside a dense of the same column
      p: d ? (pValue.get(`${c.runId}/${c.suiteId}/${c.scoring}`) ?? null) : null,
      runId: c.runId,
    };
    if (at < 0) s.points.push(point);
    else if (c.runId > s.points[at]!.runId) s.points[at] = point;
    series.set(id, s);
  }
  for (const s of series.values()) s.points.sort((a, b) => a.sparsity - b.sparsity);
  for (const [k, col] of columns) col.n = columnN(ns.get(k)!);
  return {
    model: o.model,
    format: o.format,
    scoring: o.scoring,
    metric: o.metric,
    columns: sortColumns(columns.values()),
    dense,
    series: [...series.values()].sort((a, b) => a.key.localeCompare(b.key) || a.lang.localeCompare(b.lang)),
  };
}

/**
 * Δ vs dense per method over every (calibration pair, suite) cell, averaged per pair, with a
 * t-interval and an exact sign-flip p-value over pairs (few pairs: see `pairedMeanTest`); split into the pair's own language (calibrated on fr-en, evaluated in fr) and the
 * others; and each pair of methods compared on the cells both have (same pair, sparsity, pattern, suite).
 */
export function buildMethodSummary(
  records: ScoreRecord[],
  o: { model: string | null; format: string | null; scoring: string; metric: string; sparsity?: number; lang?: string[] },
): MethodSummary {
  const { cells, denseOf } = newestCells(records, o.metric);
  const pruned = cells.filter(
    (c) =>
      c.variant !== 'dense' &&
      (!o.lang || o.lang.includes(c.lang)) &&
      (o.sparsity === undefined || (c.sparsity !== null && Math.abs(c.sparsity - o.sparsity) < 1e-9)),
  );
  // Without a chosen sparsity, each sparsity is its own entry: averaging 50% with 70% says nothing.
  const labelOf = (c: ScoreRecord) =>
    o.sparsity === undefined && c.sparsity !== null ? `${methodLabel(c)} ${Math.round(c.sparsity * 1000) / 10}%` : methodLabel(c);
  const byMethod = new Map<string, { delta: number; own: boolean | null; unit: string }[]>();
  for (const c of pruned) {
    const d = denseOf(c);
    if (!d) continue;
    const pair = pairOf(c.calibration);
    const m = labelOf(c);
    pushTo(byMethod, m, { delta: c.value - d.value, own: pair ? ownLanguages(pair).includes(c.lang) : null, unit: unitOf(c) });
  }
  const methods = [...byMethod.entries()]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([method, xs]) => ({
      method,
      all: overUnits(xs),
      ownPair: overUnits(xs.filter((x) => x.own === true)),
      otherLanguages: overUnits(xs.filter((x) => x.own === false)),
    }));
  // Matching key: cells of the same column (suite, rows, template language); a method without
  // calibration (magnitude) matches every pair of a calibrated one.
  const match = (c: ScoreRecord, withPair: boolean) =>
    [c.modelId, c.sparsity, c.pattern, columnOf(c), c.scoring, withPair ? pairOf(c.calibration) : ''].join('\u0000');
  const labels = [...new Set(pruned.map(labelOf))].sort();
  const contrasts: MethodSummary['contrasts'] = [];
  for (const [i, a] of labels.entries()) {
    for (const b of labels.slice(i + 1)) {
      const as = pruned.filter((c) => labelOf(c) === a);
      const bs = pruned.filter((c) => labelOf(c) === b);
      const aPaired = as.some((c) => c.calibration);
      const bPaired = bs.some((c) => c.calibration);
      const withPair = aPaired && bPaired;
      // Walk the side with more cells per key (the calibrated one) so that no cell is dropped.
      const walkB = bPaired && !aPaired;
      const other = new Map((walkB ? as : bs).map((c) => [match(c, withPair), c]));
      const diffs = (walkB ? bs : as).flatMap((c) => {
        const o2 = other.get(match(c, withPair));
        if (!o2) return [];
        return [{ delta: walkB ? o2.value - c.value : c.value - o2.value, unit: unitOf(c) }];
      });
      const delta = overUnits(diffs);
      if (delta) contrasts.push({ a, b, delta });
    }
  }
  return { model: o.model, format: o.format, scoring: o.scoring, metric: o.metric, sparsity: o.sparsity ?? null, methods, contrasts };
}
