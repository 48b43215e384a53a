/** SVG charts of the leaderboard pages: no front-end build, readable without JavaScript. */
import type { FC } from 'hono/jsx';
import type { Leaderboard, SparsityView } from '@polyprune/shared/api/leaderboards';
import { columnTag } from '@polyprune/shared/cell-identity';
import { showDelta, showValue, unitLabel } from '@polyprune/shared/units';
import { DENSE_COLOUR } from './palette';
import { axisFor } from './scale';

/** Bars of one colour (one method at several sparsities, or several models) step down in opacity, in row order. */
function opacities(colours: string[]): number[] {
  const seen = new Map<string, number>();
  return colours.map((c) => {
    const k = seen.get(c) ?? 0;
    seen.set(c, k + 1);
    return Math.max(0.35, 1 - 0.25 * k);
  });
}

/** The value axis: ticks (at powers of ten on a log axis) and the axis's scale named on the SVG. */
const YTicks: FC<{ ticks: { value: number; label: string }[]; y: (v: number) => number; x: number }> = ({ ticks, y, x }) => (
  <g class="ticks">
    {ticks.map((t) => (
      <text class="tick" data-value={String(t.value)} x={x} y={y(t.value) + 4} text-anchor="end" font-size="10">
        {t.label}
      </text>
    ))}
  </g>
);

/** Grouped bars: one group per column (suite, rows, template language), one bar per row (variant); a dashed line at chance; perplexity on a log axis. */
export const BarChart: FC<{ board: Leaderboard; colours: string[] }> = ({ board, colours }) => {
  const cols = board.columns;
  const rows = board.rows;
  if (!cols.length || !rows.length) return <p>No scores yet.</p>;
  const values = rows.flatMap((r) => Object.values(r.cells).map((c) => c.value));
  const chances = cols.flatMap((c) => (c.chance === null ? [] : [c.chance]));
  const axis = axisFor(board.metric, [...values, ...chances]);
  const groupW = Math.max(60, rows.length * 12 + 20);
  const width = 70 + cols.length * groupW;
  const plotH = 200;
  const y = (v: number) => 10 + plotH - axis.frac(v) * plotH;
  const barW = (groupW - 20) / rows.length;
  const label = (r: (typeof rows)[number]) => (board.model === null ? `${r.modelName} · ${r.variant}` : r.variant);
  const legendH = 18 * rows.length;
  const alpha = opacities(colours);
  return (
    <svg
      id="chart"
      role="img"
      aria-label={`${board.metric} per suite${axis.log ? ' (log scale)' : ''}`}
      data-scale={axis.log ? 'log' : 'linear'}
      width={width}
      height={plotH + 50 + legendH}
      viewBox={`0 0 ${width} ${plotH + 50 + legendH}`}
    >
      <line x1="60" y1="10" x2="60" y2={10 + plotH} stroke="#333" />
      <line x1="60" y1={10 + plotH} x2={width} y2={10 + plotH} stroke="#333" />
      <YTicks ticks={axis.ticks} y={y} x={55} />
      {axis.log ? (
        <text x="4" y="8" font-size="10" fill="#555">
          log scale
        </text>
      ) : null}
      {cols.map((col, ci) => {
        const tag = columnTag(col);
        return (
          <g>
            {rows.map((r, ri) => {
              const c = r.cells[col.key];
              if (!c) return null;
              const top = y(c.value);
              return (
                <rect
                  class="bar"
                  data-value={String(c.value)}
                  x={70 + ci * groupW + ri * barW}
                  y={top}
                  width={Math.max(1, barW - 2)}
                  height={10 + plotH - top}
                  fill={colours[ri]}
                  fill-opacity={alpha[ri] === 1 ? undefined : String(alpha[ri])}
                >
                  <title>{`${label(r)} · ${col.lang} (${col.suite}${tag ? `, ${tag}` : ''}): ${showValue(c.value, board.metric)}, n = ${c.n}`}</title>
                </rect>
              );
            })}
            {col.chance !== null ? (
              <line
                class="chance"
                x1={65 + ci * groupW}
                x2={65 + ci * groupW + groupW - 10}
                y1={y(col.chance)}
                y2={y(col.chance)}
                stroke="#888"
                stroke-dasharray="4 3"
              >
                <title>{`chance ${showValue(col.chance, board.metric)}`}</title>
              </line>
            ) : null}
            <text x={70 + ci * groupW + (groupW - 20) / 2} y={plotH + 28} text-anchor="middle" font-size="12">
              {col.lang}
              {tag ? <title>{tag}</title> : null}
            </text>
          </g>
        );
      })}
      <g class="legend">
        {rows.map((r, ri) => (
          <g>
            <rect x="70" y={plotH + 40 + 18 * ri} width="12" height="12" fill={colours[ri]} fill-opacity={alpha[ri] === 1 ? undefined : String(alpha[ri])} />
            <text x="88" y={plotH + 50 + 18 * ri} font-size="12">
              {label(r)}
            </text>
          </g>
        ))}
      </g>
    </svg>
  );
};

type Colour = (s: { method: string; pattern: string | null; calibration: string | null }) => string;

/** The one legend of the sparsity figure: a swatch per method, then dense and chance. */
const SeriesLegend: FC<{ view: SparsityView; colour: Colour; lines: boolean }> = ({ view, colour, lines }) => {
  const seen = new Set<string>();
  const entries = view.series.filter((s) => !seen.has(s.key) && seen.add(s.key));
  return (
    <ul class="legend">
      {entries.map((s) => (
        <li>
          <span class="sw" style={`background:${colour(s)}`} />
          {s.key}
        </li>
      ))}
      {lines ? (
        <>
          <li>
            <span class="sw" style={`background:${DENSE_COLOUR}`} />
            dense (dashed)
          </li>
          <li>chance (dotted)</li>
        </>
      ) : null}
    </ul>
  );
};

/** One sparsity per method: no line to draw, so the values as a table (dense first). */
const SparsityTable: FC<{ view: SparsityView; colour: Colour }> = ({ view, colour }) => {
  const seen = new Set<string>();
  const methods = view.series.filter((s) => !seen.has(s.key) && seen.add(s.key));
  const cols = view.columns.filter((c) => view.dense[c.key] || view.series.some((s) => s.column === c.key));
  const at = (key: string, col: string) => view.series.find((s) => s.key === key && s.column === col)?.points[0];
  return (
    <table id="sparsity-table">
      <thead>
        <tr>
          <th class="l">
            method <small>{unitLabel(view.metric)}</small>
          </th>
          <th>sparsity</th>
          {cols.map((c) => (
            <th>
              {c.lang}
              <small>{c.suite}</small>
            </th>
          ))}
        </tr>
      </thead>
      <tbody>
        <tr class="dense">
          <td class="l">
            <span class="sw" style={`background:${DENSE_COLOUR}`} />
            dense
          </td>
          <td>0%</td>
          {cols.map((c) => (
            <td>{view.dense[c.key] ? showValue(view.dense[c.key]!.value, view.metric) : '—'}</td>
          ))}
        </tr>
        {methods.map((m) => {
          const sp = [...new Set(view.series.filter((s) => s.key === m.key).flatMap((s) => s.points.map((p) => p.sparsity)))];
          return (
            <tr>
              <td class="l">
                <span class="sw" style={`background:${colour(m)}`} />
                {m.key}
              </td>
              <td>{sp.map((x) => `${Math.round(x * 1000) / 10}%`).join(', ')}</td>
              {cols.map((c) => {
                const p = at(m.key, c.key);
                return (
                  <td title={p ? `n = ${p.n}${p.delta === null ? '' : `, Δ ${showDelta(p.delta, view.metric)}`}` : undefined}>
                    {p ? showValue(p.value, view.metric) : '—'}
                  </td>
                );
              })}
            </tr>
          );
        })}
      </tbody>
    </table>
  );
};

/**
 * Metric vs sparsity, one small panel per suite column, one line per method (the paper's figures),
 * one legend for the figure; dense dashed, chance dotted. With one sparsity per method, a table.
 */
export const SparsityChart: FC<{ view: SparsityView; colour: Colour }> = ({ view, colour }) => {
  if (!view.series.length) return <p>No pruned runs yet.</p>;
  if (view.series.every((s) => s.points.length <= 1)) return <SparsityTable view={view} colour={colour} />;
  const W = 320;
  const H = 200;
  return (
    <figure id="sparsity-figure">
      <SeriesLegend view={view} colour={colour} lines />
      <div id="sparsity-charts">
        {view.columns.map((col) => {
          const series = view.series.filter((s) => s.column === col.key);
          if (!series.length) return null;
          const dense = view.dense[col.key];
          const tag = columnTag(col);
          const xs = [0, ...series.flatMap((s) => s.points.map((p) => p.sparsity))];
          const ys = [...series.flatMap((s) => s.points.map((p) => p.value)), ...(dense ? [dense.value] : []), ...(col.chance !== null ? [col.chance] : [])];
          const axis = axisFor(view.metric, ys);
          const xMax = Math.max(...xs, 0.1);
          const x = (s: number) => 50 + (s / xMax) * (W - 70);
          const y = (v: number) => 10 + (H - 40) - axis.frac(v) * (H - 40);
          return (
            <svg
              class="sparsity-chart"
              role="img"
              aria-label={`${view.metric} vs sparsity, ${col.lang} (${col.suite}${tag ? `, ${tag}` : ''})${axis.log ? ', log scale' : ''}`}
              data-scale={axis.log ? 'log' : 'linear'}
              width={W}
              height={H}
              viewBox={`0 0 ${W} ${H}`}
            >
              <text
                x={W / 2}
                y="10"
                text-anchor="middle"
                font-size="12"
              >{`${col.lang} · ${col.suite}${tag ? ` · ${tag}` : ''}${axis.log ? ' (log)' : ''}`}</text>
              <line x1="50" y1={H - 30} x2={W - 10} y2={H - 30} stroke="#333" />
              <line x1="50" y1="10" x2="50" y2={H - 30} stroke="#333" />
              <YTicks ticks={axis.log ? axis.ticks : axis.ticks.filter((_, i) => i !== 1)} y={y} x={45} />
              {[...new Set(xs)].map((s) => (
                <text x={x(s)} y={H - 16} text-anchor="middle" font-size="10">{`${Math.round(s * 100)}%`}</text>
              ))}
              {dense ? (
                <line class="dense" x1="50" x2={W - 10} y1={y(dense.value)} y2={y(dense.value)} stroke={DENSE_COLOUR} stroke-dasharray="6 3">
                  <title>{`dense ${showValue(dense.value, view.metric)}, n = ${dense.n}`}</title>
                </line>
              ) : null}
              {col.chance !== null ? (
                <line class="chance" x1="50" x2={W - 10} y1={y(col.chance)} y2={y(col.chance)} stroke="#999" stroke-dasharray="2 3" />
              ) : null}
              {series.map((s) => (
                <g>
                  <polyline
                    class="series"
                    data-key={s.key}
                    fill="none"
                    stroke={colour(s)}
                    stroke-width="2"
                    points={s.points.map((p) => `${x(p.sparsity)},${y(p.value)}`).join(' ')}
                  />
                  {s.points.map((p) => (
                    <circle cx={x(p.sparsity)} cy={y(p.value)} r="3" fill={colour(s)}>
                      <title>{`${s.key} at ${Math.round(p.sparsity * 100)}%: ${showValue(p.value, view.metric)}, n = ${p.n}${p.delta === null ? '' : `, Δ ${showDelta(p.delta, view.metric)}`}${p.p === null ? '' : `, p = ${p.p.toFixed(3)}`}`}</title>
                    </circle>
                  ))}
                </g>
              ))}
            </svg>
          );
        })}
      </div>
    </figure>
  );
};
