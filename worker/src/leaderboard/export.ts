/** The leaderboard as files a paper uses: tidy CSV (one line per cell) and a LaTeX table. */
import { pointsScale, type Leaderboard, type LeaderboardRow } from '@polyprune/shared/api/leaderboards';
import { columnTag } from '@polyprune/shared/cell-identity';
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
    'column',
    'limit',
    'limit_seed',
    'template_lang',
    'scoring',
    'metric',
    'value',
    'n',
    'n_note',
    'lo',
    'hi',
    'delta_vs_dense',
    'delta_lo',
    'delta_hi',
    'p',
    'dense_run_id',
    'run_id',
    'in_mean',
    'in_delta',
  ];
  const lines = [header.join(',')];
  for (const r of b.rows) {
    for (const col of b.columns) {
      const c = r.cells[col.key];
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
        col.key,
        c.limit,
        c.limitSeed,
        c.templateLang,
        b.scoring,
        b.metric,
        c.value,
        c.n,
        col.nNote,
        c.lo,
        c.hi,
        c.delta,
        c.deltaLo,
        c.deltaHi,
        c.p,
        c.denseRunId,
        c.runId,
        r.covers.includes(col.key) ? 1 : 0,
        r.deltaCovers.includes(col.key) ? 1 : 0,
      ];
      lines.push(csvLine(fields));
    }
  }
  return `${lines.join('\r\n')}\r\n`;
}

/** Accuracies as percentages (as papers print them), ppl with two decimals, chrF and BLEU with one. */
export const scaled = (metric: string, v: number) =>
  metric === 'ppl' || metric === 'bpb' ? v.toFixed(2) : pointsScale(metric) ? v.toFixed(1) : (v * 100).toFixed(1);
const signedScaled = (metric: string, v: number) => `${v > 0 ? '+' : v < 0 ? '$-$' : ''}${scaled(metric, Math.abs(v))}`;

/**
 * booktabs table: variants × columns, mean and Δ vs dense; significant cells (p < 0.05) in bold, n
 * under each column with its row limit and template words where they are not every row and English.
 * Columns outside the means and Δ over other columns than the mean carry a mark explained below.
 */
export function leaderboardLatex(b: Leaderboard): string {
  const across = b.model === null;
  const label = (r: LeaderboardRow) => tex(across ? `${r.modelName} · ${r.variant}` : r.variant);
  const cols = b.columns;
  const out = (key: string) => !b.meanColumns.includes(key);
  const head = (c: (typeof cols)[number]) => {
    const tag = columnTag(c);
    return `{\\scriptsize ${tex(c.suite)}, ${c.n === null ? 'n varies' : `n=${c.n}`}${tag ? `, ${tex(tag)}` : ''}}${out(c.key) ? '$^\\dagger$' : ''}`;
  };
  const lines = [
    `% polyprune leaderboard: ${tex(b.format ?? 'all formats')}, metric ${tex(b.metric)}${b.lowerIsBetter ? ' (lower is better)' : ''}, scoring ${tex(b.scoring)}`,
    ...(b.note ? [`% ${tex(b.note)}`] : []),
    `\\begin{tabular}{l${'r'.repeat(cols.length)}rr}`,
    '\\toprule',
    `Variant & ${cols.map((c) => `${tex(c.lang)}`).join(' & ')}${cols.length ? ' & ' : ''}Mean & $\\Delta$ dense \\\\`,
    ` & ${cols.map(head).join(' & ')}${cols.length ? ' & ' : ''} & \\\\`,
    '\\midrule',
  ];
  let otherDelta = false;
  for (const r of b.rows) {
    const cells = cols.map((col) => {
      const c = r.cells[col.key];
      if (!c) return '--';
      const v = scaled(b.metric, c.value);
      return c.p !== null && c.p < 0.05 ? `\\textbf{${v}}` : v;
    });
    const mean = r.mean === null ? '--' : scaled(b.metric, r.mean);
    const shifted = r.deltaVsDense !== null && (r.deltaCovers.length !== r.covers.length || r.deltaCovers.some((k) => !r.covers.includes(k)));
    otherDelta ||= shifted;
    const delta = r.dense ? '' : r.deltaVsDense === null ? '--' : `${signedScaled(b.metric, r.deltaVsDense)}${shifted ? '$^\\ddagger$' : ''}`;
    lines.push(`${label(r)} & ${cells.join(' & ')}${cells.length ? ' & ' : ''}${mean} & ${delta} \\\\`);
    if (r.dense && b.rows.some((x) => !x.dense) && b.rows.indexOf(r) === b.rows.filter((x) => x.dense).length - 1) lines.push('\\midrule');
  }
  lines.push('\\bottomrule', '\\end{tabular}');
  const notes = [
    cols.some((c) => out(c.key)) ? '$^\\dagger$ not in the means: not every row has this column' : null,
    otherDelta ? '$^\\ddagger$ $\\Delta$ over the columns shared with dense, not those of the mean' : null,
    ...[...new Set(cols.flatMap((c) => (c.nNote ? [`${tex(c.format)}: ${tex(c.nNote)}`] : [])))],
  ].filter((x) => x !== null);
  if (notes.length) lines.push(`\\par{\\footnotesize ${notes.join('; ')}}`);
  return `${lines.join('\n')}\n`;
}
