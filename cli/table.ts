/** Plain-text tables for terminals (leaderboards, job lists); no colours, so output pipes cleanly. */
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
