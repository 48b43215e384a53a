/** Plain-text tables for terminals (leaderboards, job lists); no colours, so output pipes cleanly. */
import type { AnalysisSummary } from '../shared/src/api/analysis';
import { pointsScale } from '../shared/src/api/leaderboards';
import { columnTag } from '../shared/src/cell-identity';
import type { Interval } from '../shared/src/stats';
import type { Leaderboard, MethodSummary, SparsityView } from './api';

export function renderTable(header: string[], rows: string[][], align: Array<'left' | 'right'> = []): string {
  const widths = header.map((h, c) => Math.max(h.length, ...rows.map((r) => (r[c] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((cell, c) => ((align[c] ?? 'left') === 'right' ? cell.padStart(widths[c]!) : cell.padEnd(widths[c]!)))
      .join('  ')
      .trimEnd();
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

const fmt = (v: number | null | undefined, metric: string) => {
  if (v === null || v === undefined || !Number.isFinite(v)) return '–';
  if (metric === 'ppl') return v.toFixed(2);
  if (pointsScale(metric)) return v.toFixed(1);
  return (v * 100).toFixed(1);
};

const signed = (v: number | null | undefined, metric: string) => {
  if (v === null || v === undefined || !Number.isFinite(v)) return '–';
  const s = fmt(Math.abs(v), metric);
  return v > 0 ? `+${s}` : v < 0 ? `-${s}` : ` ${s}`;
};

const unitOf = (metric: string) => (metric === 'ppl' || pointsScale(metric) || metric === 'bpb' ? metric : `${metric} %`);

const sameKeys = (a: string[], b: string[]) => a.length === b.length && a.every((k) => b.includes(k));

/**
 * One row per (model,) variant, one column per suite, rows evaluated and template words (language,
 * suite name, row limit, n scored); accuracies as percentages; dense on top; `*` marks a cell whose
 * difference from dense is significant (p < 0.05); `†` a column outside the means, `‡` a Δ over other
 * columns than the mean.
 */
export function renderLeaderboard(b: Leaderboard): string {
  const across = b.model === null;
  const header = [
    ...(across ? ['model'] : []),
    'variant',
    ...b.columns.map((c) => {
      const tag = columnTag(c);
      return `${c.lang} ${c.suite}${tag ? ` [${tag}]` : ''} ${c.n === null ? 'n varies' : `n=${c.n}`}${b.meanColumns.includes(c.key) ? '' : '†'}`;
    }),
    'mean',
    'mean non-en',
    'Δ dense',
  ];
  let otherDelta = false;
  const rows = b.rows.map((r) => {
    const shifted = !r.dense && r.deltaVsDense !== null && !sameKeys(r.deltaCovers, r.covers);
    otherDelta ||= shifted;
    return [
      ...(across ? [r.modelName] : []),
      r.variant,
      ...b.columns.map((c) => {
        const x = r.cells[c.key];
        if (!x) return '–';
        return `${fmt(x.value, b.metric)}${x.p !== null && x.p < 0.05 ? '*' : ' '}`;
      }),
      fmt(r.mean, b.metric),
      fmt(r.meanNonEnglish, b.metric),
      r.dense ? '' : r.deltaVsDense === null && r.note ? 'no dense' : `${signed(r.deltaVsDense, b.metric)}${shifted ? '‡' : ''}`,
    ];
  });
  const chance = b.columns.filter((c) => c.chance !== null);
  const title = `${across ? 'all models · ' : ''}${b.format ?? 'all formats'} · ${unitOf(b.metric)}${b.lowerIsBetter ? ' (lower is better)' : ''} · scoring ${b.scoring}`;
  const notes = [
    '* differs from dense on the same rows (paired bootstrap, p < 0.05)',
    ...(chance.length ? [`chance: ${[...new Set(chance.map((c) => fmt(c.chance, b.metric)))].join(', ')}`] : []),
    ...(b.columns.some((c) => !b.meanColumns.includes(c.key)) ? ['† not in the means: not every row has this column'] : []),
    ...(otherDelta ? ['‡ Δ over the columns shared with dense, not those of the mean (--json: deltaCovers)'] : []),
    ...[...new Set(b.columns.flatMap((c) => (c.nNote ? [`${c.format}: ${c.nNote}`] : [])))],
    ...(b.note ? [b.note] : []),
  ];
  const align = [
    ...(across ? ['left' as const] : []),
    'left' as const,
    ...b.columns.map(() => 'right' as const),
    'right' as const,
    'right' as const,
    'right' as const,
  ];
  return `${title}\n${renderTable(header, rows, align)}\n${notes.join('\n')}`;
}

/** Metric vs sparsity: one line per method and suite, one column per sparsity, dense first. */
export function renderSparsity(v: SparsityView): string {
  const sparsities = [...new Set(v.series.flatMap((s) => s.points.map((p) => p.sparsity)))].sort((a, b) => a - b);
  const header = ['method', 'lang', 'suite', 'dense', ...sparsities.map((s) => `${Math.round(s * 1000) / 10}%`)];
  const suiteName = (key: string) => {
    const c = v.columns.find((x) => x.key === key);
    const tag = c ? columnTag(c) : null;
    return c ? `${c.suite}${tag ? ` [${tag}]` : ''}` : key;
  };
  const rows = v.series.map((s) => [
    s.key,
    s.lang,
    suiteName(s.column),
    fmt(v.dense[s.column]?.value, v.metric),
    ...sparsities.map((x) => {
      const p = s.points.find((q) => Math.abs(q.sparsity - x) < 1e-9);
      return p ? `${fmt(p.value, v.metric)}${p.p !== null && p.p < 0.05 ? '*' : ' '}` : '–';
    }),
  ]);
  return `${v.format ?? 'all formats'} · ${unitOf(v.metric)} vs sparsity · scoring ${v.scoring}\n${renderTable(header, rows, ['left', 'left', 'left', 'right', ...sparsities.map(() => 'right' as const)])}`;
}

/** "−0.4 [−0.9, 0.1], not significant (p = 0.38) at n = 4", in the metric's unit. */
export function describeInterval(x: Interval, metric: string): string {
  const sig = x.p < 0.05 ? `significant (p ${x.p < 0.001 ? '< 0.001' : `= ${x.p.toFixed(3)}`})` : `not significant (p = ${x.p.toFixed(2)})`;
  const range = x.lo === null || x.hi === null ? '(no interval from one value)' : `[${signed(x.lo, metric).trim()}, ${signed(x.hi, metric).trim()}]`;
  return `Δ ${signed(x.mean, metric).trim()} ${metric === 'ppl' || pointsScale(metric) ? `${metric} ` : 'pt '}${range}, ${sig} at n = ${x.n}`;
}

/** Δ vs dense per method over pairs (own pair vs others) and the method-vs-method contrasts. */
export function renderMethods(m: MethodSummary): string {
  const iv = (x: Interval | null) =>
    x ? `${signed(x.mean, m.metric)}${x.lo === null ? '' : ` [${signed(x.lo, m.metric)}, ${signed(x.hi, m.metric)}]`} n=${x.n}${x.p < 0.05 ? '*' : ''}` : '–';
  const table = renderTable(
    ['method', 'Δ dense, all', 'own pair', 'other languages'],
    m.methods.map((x) => [x.method, iv(x.all), iv(x.ownPair), iv(x.otherLanguages)]),
  );
  const contrasts = m.contrasts.map((c) => `${c.a} vs ${c.b}, mean over pairs: ${describeInterval(c.delta, m.metric)}`);
  return [
    `${m.format ?? 'all formats'} · ${unitOf(m.metric)} · Δ vs dense per method${m.sparsity === null ? '' : ` at ${m.sparsity}`}`,
    table,
    ...contrasts,
  ].join('\n');
}

const cell = (v: number | null | undefined, digits = 3) => (v === null || v === undefined || !Number.isFinite(v) ? '–' : v.toFixed(digits));

/** A labelled square matrix (rows and columns in the same order). */
export function renderMatrix(labels: string[], values: (number | null)[][], digits = 3): string {
  return renderTable(
    ['', ...labels],
    labels.map((l, i) => [l, ...labels.map((_, j) => cell(values[i]?.[j], digits))]),
    ['left', ...labels.map(() => 'right' as const)],
  );
}

/** The matrices of a mask analysis: pair-by-pair overlap, chance, identical rows, LMF share and LMF overlap. */
export function renderAnalysis(a: AnalysisSummary): string {
  const labels = a.runs.map((r) => r.label);
  const off = (m: (number | null)[][]) => m.flatMap((row, i) => row.filter((v, j): v is number => i !== j && v !== null));
  const chance = off(a.matrices.jaccardChance);
  const range = (xs: number[]) => (cell(Math.min(...xs)) === cell(Math.max(...xs)) ? cell(xs[0]) : `${cell(Math.min(...xs))}–${cell(Math.max(...xs))}`);
  const chanceText = chance.length ? `chance ${range(chance)}` : 'chance –';
  const parts = [
    `mask overlap of ${a.runs.length} runs over ${a.layers} layers: Jaccard of the pruned weights (${chanceText})`,
    renderMatrix(labels, a.matrices.jaccard),
    '',
    'rows with identical kept sets',
    renderMatrix(labels, a.matrices.rowsIdentical),
  ];
  if (off(a.matrices.lmfShare).length) {
    const expected = off(a.matrices.lmfExpectedShare);
    parts.push(
      '',
      `share of the differing weights in large-magnitude input channels (${range(expected)} if spread evenly)`,
      renderMatrix(labels, a.matrices.lmfShare),
    );
  }
  if (a.lmf) {
    parts.push(
      '',
      `large-magnitude features across pairs: Jaccard of the top-${a.lmf.k} translation dimensions, mean over blocks`,
      renderMatrix(a.lmf.labels, a.lmf.mean.translation),
    );
  }
  if (a.lmfNote) parts.push('', a.lmfNote);
  return parts.join('\n');
}

/**
 * One line per format saying what the data shows and what it does not: Wanda calibrated on
 * translation vs monolingual text, mean over pairs, with its interval and whether it is significant.
 */
export function methodVerdict(m: MethodSummary): string {
  const c = m.contrasts.find((x) => x.a.startsWith('wanda mono') && x.b.startsWith('wanda mt')) ?? m.contrasts[0];
  const fmtName = m.format ?? 'all formats';
  if (!c) return `${fmtName}: no two methods share (pair, sparsity, suite) cells to compare`;
  // "mt vs mono" reads as mt − mono: flip the contrast the summary gives as mono − mt.
  const flip = c.a.startsWith('wanda mono') && c.b.startsWith('wanda mt');
  const neg = (v: number | null) => (v === null ? null : -v);
  const d = flip ? { ...c.delta, mean: -c.delta.mean, lo: neg(c.delta.hi), hi: neg(c.delta.lo) } : c.delta;
  const [a, b] = flip ? [c.b, c.a] : [c.a, c.b];
  const better = m.metric === 'ppl' ? 'lower is better' : 'higher is better';
  return `${fmtName}: ${a} vs ${b}, mean over pairs: ${describeInterval(d, m.metric)} (${better})`;
}
