import type { FC } from 'hono/jsx';
import type { Leaderboard, LeaderboardCell, LeaderboardColumn } from '@polyprune/shared/api/leaderboards';
import { columnTag } from '@polyprune/shared/cell-identity';
import { percentMetric, showDelta, showValue, unitLabel } from '@polyprune/shared/units';

/** In the metric's unit for people (accuracy in %), as the CLI prints it. */
const show = (v: number | null | undefined, metric: string) => (v == null ? '—' : showValue(v, metric));

export const boardCss = `
  body { font-family: system-ui, sans-serif; margin: 2rem; color: #222; }
  table { border-collapse: collapse; margin: 1rem 0; }
  th, td { padding: .35rem .7rem; border-bottom: 1px solid #ddd; text-align: right; vertical-align: top; }
  th.l, td.l { text-align: left; }
  th small, td small { display: block; color: #666; font-weight: normal; font-size: .75rem; }
  tr.dense { background: #f4f6fb; font-weight: 600; }
  .pos { color: #1a7f37; } .neg { color: #c62828; }
  nav a { margin-right: .8rem; } nav a.on { font-weight: 700; text-decoration: none; }
  td.sig { font-weight: 700; } .note { color: #555; font-size: .85rem; } th.out { color: #777; }
  a.page { margin-left: .4rem; text-decoration: none; } a.page::after { content: '↗'; }
  form label { margin-right: .8rem; } .sw { display: inline-block; width: .7rem; height: .7rem; margin-right: .3rem; }
  ul.legend { list-style: none; padding: 0; margin: .4rem 0; } ul.legend li { display: inline-block; margin-right: 1rem; font-size: .85rem; }
  figure { margin: 0; }
`;

/** A suite uploaded as a seeded subset, e.g. "subset 1000 rows, seed 3"; null for a whole file. */
function subsetText(c: Pick<LeaderboardCell, 'subset' | 'seed'>): string | null {
  return c.subset === null ? null : `subset ${c.subset} rows${c.seed === null ? '' : `, seed ${c.seed}`}`;
}

/**
 * What a cell's hover says: what the value was computed on (rows, suite subset, row limit, template
 * language), its interval, and the comparison with dense on the same rows.
 */
export function cellTitle(c: LeaderboardCell, metric: string): string {
  const fmt = (v: number) => show(v, metric);
  const parts = [`n = ${c.n}`];
  const subset = subsetText(c);
  if (subset) parts.push(subset);
  if (c.limit !== null) parts.push(`row limit ${c.limit}, seed ${c.limitSeed ?? 0}`);
  if (c.templateLang !== null) parts.push(`template ${c.templateLang}`);
  if (c.lo !== null && c.hi !== null) parts.push(`95% interval [${fmt(c.lo)}, ${fmt(c.hi)}]`);
  if (c.delta === null) parts.push('no dense run on these rows');
  else
    parts.push(
      `Δ vs dense ${showDelta(c.delta, metric)}${c.deltaLo !== null && c.deltaHi !== null ? ` [${showDelta(c.deltaLo, metric)}, ${showDelta(c.deltaHi, metric)}]` : ''}`,
    );
  if (c.p !== null) parts.push(`paired bootstrap p = ${c.p.toFixed(3)}`);
  return parts.join(' · ');
}

/** The header's hover: the column's whole identity. */
function columnTitle(c: LeaderboardColumn): string {
  const subset = subsetText(c);
  return [
    `suite ${c.suiteId}, format ${c.format}`,
    subset,
    c.limit === null ? 'every row' : `row limit ${c.limit}, seed ${c.limitSeed ?? 0}`,
    c.templateLang === null ? null : `template ${c.templateLang}`,
    c.nNote,
  ]
    .filter((x) => x !== null)
    .join(', ');
}

const sameKeys = (a: string[], b: string[]) => a.length === b.length && a.every((k) => b.includes(k));

/** Variants × columns (suite, rows, template language); dense pinned on top; each cell with its n; significant cells marked. */
export const BoardTable: FC<{ board: Leaderboard; colours: string[] }> = ({ board, colours }) => (
  <table id="leaderboard">
    <thead>
      <tr>
        {board.model === null ? <th class="l">model</th> : null}
        <th class="l">
          variant
          <small class="unit">{unitLabel(board.metric)}</small>
        </th>
        {board.columns.map((c) => {
          const subset = subsetText(c);
          const tag = columnTag(c);
          const inMean = board.meanColumns.includes(c.key);
          return (
            <th title={columnTitle(c)} class={inMean ? undefined : 'out'}>
              {c.lang}
              <small class="suite">{c.suite}</small>
              {tag ? <small class="rows">{tag}</small> : null}
              {subset ? <small class="subset">{subset}</small> : null}
              <small class="col-n">{c.n === null ? 'n varies' : `n=${c.n}`}</small>
              {c.chance !== null ? <small class="chance">chance {show(c.chance, board.metric)}</small> : null}
              {inMean ? null : <small class="out">not in the mean</small>}
            </th>
          );
        })}
        <th>
          mean
          {board.meanColumns.length < board.columns.length ? (
            <small class="covers">{`${board.meanColumns.length} of ${board.columns.length} columns`}</small>
          ) : null}
        </th>
        <th>mean non-En</th>
        <th>Δ vs dense</th>
      </tr>
    </thead>
    <tbody>
      {board.rows.map((r, i) => (
        <tr class={r.dense ? 'dense' : ''}>
          {board.model === null ? (
            <td class="l">
              <a href={`/leaderboards/${r.model}?format=${board.format ?? ''}`}>{r.modelName}</a>
            </td>
          ) : null}
          <td class="l">
            <span class="sw" style={`background:${colours[i]}`} />
            <a href={`/v1/runs/${r.runId}`}>{r.variant}</a>
            {/* biome-ignore lint/a11y/useAnchorContent: named by aria-label; the glyph comes from CSS so that the cell's text stays the variant */}
            <a class="page" href={`/runs/${r.runId}`} title="run page: LMF report, artifacts" aria-label="run page" />
          </td>
          {board.columns.map((col) => {
            const c = r.cells[col.key];
            if (!c) return <td>—</td>;
            const significant = c.p !== null && c.p < 0.05;
            return (
              <td class={significant ? 'sig' : ''} title={cellTitle(c, board.metric)}>
                {show(c.value, board.metric)}
                {significant ? '*' : ''}
                <small class="n">n={c.n}</small>
              </td>
            );
          })}
          <td>{show(r.mean, board.metric)}</td>
          <td>{show(r.meanNonEnglish, board.metric)}</td>
          <td class={r.deltaVsDense == null ? '' : r.deltaVsDense >= 0 !== board.lowerIsBetter ? 'pos' : 'neg'} title={r.note ?? undefined}>
            {r.dense ? '' : r.deltaVsDense == null ? (r.note ? 'no dense' : '—') : showDelta(r.deltaVsDense, board.metric)}
            {!r.dense && r.deltaVsDense != null && !sameKeys(r.deltaCovers, r.covers) ? (
              <small class="covers">{`over ${r.deltaCovers.length} columns`}</small>
            ) : null}
          </td>
        </tr>
      ))}
    </tbody>
  </table>
);

export const BoardNotes: FC<{ board: Leaderboard }> = ({ board }) => (
  <p class="note">
    A column is one suite evaluated on the same rows (all, or a seeded row limit) with the same template words; results on other rows are other columns. n: rows
    scored. Hover a cell for what it was computed on, its 95% interval, Δ vs dense in the same column and the p-value. * the difference from dense is
    significant (paired bootstrap, 1,000 resamples, p &lt; 0.05). Means cover the columns every row has.
    {percentMetric(board.metric) ? ` ${board.metric} in % (the JSON, CSV and LaTeX keep fractions).` : ''}
    {board.lowerIsBetter ? ` Lower ${board.metric} is better.` : ''} {board.note ?? ''}
    {[...new Set(board.columns.flatMap((c) => (c.nNote ? [`${c.format}: ${c.nNote}.`] : [])))].join(' ')}
  </p>
);
