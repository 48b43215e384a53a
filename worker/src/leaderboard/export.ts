/** The leaderboard as files a paper uses: tidy CSV (one line per cell) and a LaTeX table. */
import type { Leaderboard, LeaderboardRow } from '../../../shared/src/api/leaderboards';
import { csvLine } from '../lib/csv';
import { tex } from '../lib/latex';

export function leaderboardCsv(b: Leaderboard): string {
  const header = [
    'model',
    'model_name',
    'variant',
    'method',
    'sparsity',
    'pattern',
    'calibration',
    'suite_id',
    'suite',
    'format',
    'lang',
    'scoring',
    'metric',
    'value',
    'n',
    'lo',
    'hi',
    'delta_vs_dense',
    'delta_lo',
    'delta_hi',
    'p',
    'dense_run_id',
    'run_id',
  ];
  const lines = [header.join(',')];
  for (const r of b.rows) {
    for (const col of b.columns) {
      const c = r.cells[col.suiteId];
      if (!c) continue;
      const fields = [
        r.model,
        r.modelName,
        r.variant,
        r.method,
        r.sparsity,
        r.pattern,
        r.calibration,
        col.suiteId,
        col.suite,
        col.format,
        col.lang,
        b.scoring,
        b.metric,
        c.value,
        c.n,
        c.lo,
        c.hi,
        c.delta,
        c.deltaLo,
        c.deltaHi,
        c.p,
        c.denseRunId,
        c.runId,
      ];
      lines.push(csvLine(fields));
    }
  }
  return `${lines.join('\r\n')}\r\n`;
}

/** Accuracies as percentages (as papers print them), ppl with two decimals, chrF with one. */
export const scaled = (metric: string, v: number) =>
  metric === 'ppl' || metric === 'bpb' ? v.toFixed(2) : metric === 'chrf' ? v.toFixed(1) : (v * 100).toFixed(1);
const signedScaled = (metric: string, v: number) => `${v > 0 ? '+' : v < 0 ? '$-$' : ''}${scaled(metric, Math.abs(v))}`;

/** booktabs table: variants × suites, mean and Δ vs dense; significant cells (p < 0.05) in bold, n under each suite. */
export function leaderboardLatex(b: Leaderboard): string {
  const across = b.model === null;
  const label = (r: LeaderboardRow) => tex(across ? `${r.modelName} · ${r.variant}` : r.variant);
  const cols = b.columns;
  const lines = [
    `% polyprune leaderboard: ${tex(b.format ?? 'all formats')}, metric ${tex(b.metric)}${b.lowerIsBetter ? ' (lower is better)' : ''}, scoring ${tex(b.scoring)}`,
    `\\begin{tabular}{l${'r'.repeat(cols.length)}rr}`,
    '\\toprule',
    `Variant & ${cols.map((c) => `${tex(c.lang)}`).join(' & ')}${cols.length ? ' & ' : ''}Mean & $\\Delta$ dense \\\\`,
    ` & ${cols.map((c) => `{\\scriptsize ${tex(c.suite)}, n=${Math.max(0, ...b.rows.map((r) => r.cells[c.suiteId]?.n ?? 0))}}`).join(' & ')}${cols.length ? ' & ' : ''} & \\\\`,
    '\\midrule',
  ];
  for (const r of b.rows) {
    const cells = cols.map((col) => {
      const c = r.cells[col.suiteId];
      if (!c) return '--';
      const v = scaled(b.metric, c.value);
      return c.p !== null && c.p < 0.05 ? `\\textbf{${v}}` : v;
    });
    const mean = r.mean === null ? '--' : scaled(b.metric, r.mean);
    const delta = r.dense ? '' : r.deltaVsDense === null ? '--' : signedScaled(b.metric, r.deltaVsDense);
    lines.push(`${label(r)} & ${cells.join(' & ')}${cells.length ? ' & ' : ''}${mean} & ${delta} \\\\`);
    if (r.dense && b.rows.some((x) => !x.dense) && b.rows.indexOf(r) === b.rows.filter((x) => x.dense).length - 1) lines.push('\\midrule');
  }
  lines.push('\\bottomrule', '\\end{tabular}');
  return `${lines.join('\n')}\n`;
}
