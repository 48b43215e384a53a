/** Plain-text tables for terminals (leaderboards, job lists); no colours, so output pipes cleanly. */
import type { AnalysisSummary } from '../shared/src/api/analysis';
import type { Leaderboard } from './api';

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
  if (metric === 'chrf') return v.toFixed(1);
  return (v * 100).toFixed(1);
};

const signed = (v: number | null | undefined, metric: string) => {
  if (v === null || v === undefined || !Number.isFinite(v)) return '–';
  const s = fmt(Math.abs(v), metric);
  return v > 0 ? `+${s}` : v < 0 ? `-${s}` : ` ${s}`;
};

/** One row per variant, one column per language; accuracies as percentages. */
export function renderLeaderboard(b: Leaderboard): string {
  const unit = b.metric === 'ppl' || b.metric === 'chrf' ? b.metric : `${b.metric} %`;
  const header = ['variant', ...b.languages, 'mean', 'mean non-en', 'Δ dense'];
  const rows = b.rows.map((r) => [
    r.variant,
    ...b.languages.map((l) => fmt(r.scores[l], b.metric)),
    fmt(r.mean, b.metric),
    fmt(r.meanNonEnglish, b.metric),
    r.variant === 'dense' ? '' : signed(r.deltaVsDense, b.metric),
  ]);
  const title = `${b.format ?? 'all formats'} · ${unit} · scoring ${b.scoring}`;
  return `${title}\n${renderTable(header, rows, ['left', ...b.languages.map(() => 'right' as const), 'right', 'right', 'right'])}`;
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
