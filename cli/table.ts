/** Plain-text tables for terminals (leaderboards, job lists); no colours, so output pipes cleanly. */
import type { AnalysisSummary } from '@polyprune/shared/api/analysis';
import { pointsScale } from '@polyprune/shared/api/leaderboards';
import { columnTag } from '@polyprune/shared/cell-identity';
import type { Interval } from '@polyprune/shared/stats';
import { defaultMetric } from '@polyprune/shared/api/leaderboards';
import { showValue, unitLabel } from '@polyprune/shared/units';
import type { Leaderboard, MethodSummary, SparsityView } from './api';

/** Terminals are at least this wide where people read tables; wider tables wrap their headers, then abbreviate. */
export const TABLE_WIDTH = 120;

const cut = (cell: string, w: number) => (cell.length <= w ? cell : `${cell.slice(0, Math.max(0, w - 1))}…`);

/**
 * A plain-text table. A header cell may hold "\n" where it can wrap: it stays on one line while the
 * table fits `maxWidth`, wraps when that makes it fit, and the widest columns are cut with "…" last.
 */
export function renderTable(header: string[], rows: string[][], align: Array<'left' | 'right'> = [], maxWidth = TABLE_WIDTH): string {
  const layout = (head: string[][]) => header.map((_, c) => Math.max(...head[c]!.map((h) => h.length), ...rows.map((r) => (r[c] ?? '').length)));
  const total = (w: number[]) => w.reduce((a, b) => a + b, 0) + 2 * (w.length - 1);
  let head = header.map((h) => [h.split('\n').filter(Boolean).join(' ')]);
  let widths = layout(head);
  if (total(widths) > maxWidth) {
    head = header.map((h) => h.split('\n'));
    widths = layout(head);
  }
  while (total(widths) > maxWidth) {
    const widest = widths.indexOf(Math.max(...widths));
    if (widths[widest]! <= 8) break;
    widths[widest]! -= 1;
  }
  const line = (cells: string[]) =>
    cells
      .map((cell, c) => {
        const v = cut(cell, widths[c]!);
        return (align[c] ?? 'left') === 'right' ? v.padStart(widths[c]!) : v.padEnd(widths[c]!);
      })
      .join('  ')
      .trimEnd();
  const depth = Math.max(...head.map((h) => h.length));
  // Wrapped headers sit on the rule: the last line of each header is next to the dashes.
  const headLines = Array.from({ length: depth }, (_, i) => line(head.map((h) => h[i - (depth - h.length)] ?? ''))).filter((l) => l !== '');
  return [...headLines, widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

/** In the metric's unit for people, as the pages print it (accuracy in %). */
const fmt = (v: number | null | undefined, metric: string) => showValue(v, metric);

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
      // lines to wrap at: suite, rows and template (or nothing), n
      return `${c.lang} ${c.suite}\n${tag ? `[${tag}]` : ''}\n${c.n === null ? 'n varies' : `n=${c.n}`}${b.meanColumns.includes(c.key) ? '' : '†'}`;
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

export interface JobResult {
  label: string;
  scores: { format: string; lang: string; scoring: string; metric: string; value: number }[];
}

/**
 * The end of a watch: one row per finished job, one column per (format, language) with the
 * format's own metric in its unit for people; the paper's scoring where a run has it.
 */
export function renderResults(results: JobResult[]): string {
  const pick = (r: JobResult) => {
    const own = r.scores.filter((s) => s.metric === defaultMetric(s.format));
    const paper = own.filter((s) => s.scoring === 'paper');
    return paper.length ? paper : own;
  };
  const cols = [...new Set(results.flatMap((r) => pick(r).map((s) => `${s.format}\u0000${s.lang}`)))].sort();
  if (!cols.length) return 'no scores';
  const header = [
    'job',
    ...cols.map((c) => {
      const [format, lang] = c.split('\u0000');
      return `${format}\n${lang}`;
    }),
  ];
  const rows = results.map((r) => {
    const mine = pick(r);
    return [
      r.label,
      ...cols.map((c) => {
        const s = mine.find((x) => `${x.format}\u0000${x.lang}` === c);
        return s ? showValue(s.value, s.metric) : '–';
      }),
    ];
  });
  const units = [...new Set(cols.map((c) => c.split('\u0000')[0]!))].map((f) => `${f} ${unitLabel(defaultMetric(f))}`);
  return `${renderTable(header, rows, ['left', ...cols.map(() => 'right' as const)])}\n${units.join(' · ')}`;
}
