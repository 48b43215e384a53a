/** SVG charts of the leaderboard pages: no front-end build, readable without JavaScript. */
import type { FC } from 'hono/jsx';
import type { Leaderboard, SparsityView } from '../../../shared/src/api/leaderboards';
import { columnTag } from '../../../shared/src/cell-identity';

/**
 * Colour of the i-th of a fixed, sorted list of names: hues a golden angle apart never run out and
 * stay apart, and the same list (a model's variants across formats) gives every name the same colour on every tab.
 */
export const colourOf = (names: string[], name: string) => {
  const i = Math.max(0, names.indexOf(name));
  return `hsl(${Math.round((i * 137.508) % 360)}, ${i % 2 ? 50 : 65}%, ${38 + (i % 3) * 8}%)`;
};

const fmt = (v: number, digits = 3) => v.toFixed(digits);

/** A value range that shows the differences: from just below the smallest value (or chance) to just above the largest, not from 0. */
export function axisRange(values: number[]): [number, number] {
  const lo = Math.min(...values);
  const hi = Math.max(...values);
  const pad = hi > lo ? (hi - lo) * 0.1 : Math.abs(hi) * 0.05 || 0.05;
  return [lo - pad, hi + pad];
}

/** Grouped bars: one group per column (suite, rows, template language), one bar per row (variant); a dashed line at chance. */
export const BarChart: FC<{ board: Leaderboard; colours: string[] }> = ({ board, colours }) => {
  const cols = board.columns;
  const rows = board.rows;
  if (!cols.length || !rows.length) return <p>No scores yet.</p>;
  const values = rows.flatMap((r) => Object.values(r.cells).map((c) => c.value));
  const chances = cols.flatMap((c) => (c.chance === null ? [] : [c.chance]));
  const [min, max] = axisRange([...values, ...chances]);
  const groupW = Math.max(60, rows.length * 12 + 20);
  const width = 70 + cols.length * groupW;
  const plotH = 200;
  const y = (v: number) => 10 + plotH - ((v - min) / (max - min)) * plotH;
  const barW = (groupW - 20) / rows.length;
  const label = (r: (typeof rows)[number]) => (board.model === null ? `${r.modelName} · ${r.variant}` : r.variant);
  const legendH = 18 * rows.length;
  return (
    <svg
      id="chart"
      role="img"
      aria-label={`${board.metric} per suite`}
      width={width}
      height={plotH + 50 + legendH}
      viewBox={`0 0 ${width} ${plotH + 50 + legendH}`}
    >
      <line x1="60" y1="10" x2="60" y2={10 + plotH} stroke="#333" />
      <line x1="60" y1={10 + plotH} x2={width} y2={10 + plotH} stroke="#333" />
      {[max, (max + min) / 2, min].map((t) => (
        <text x="55" y={y(t) + 4} text-anchor="end" font-size="10">
          {fmt(t, 2)}
        </text>
      ))}
      {cols.map((col, ci) => {
        const tag = columnTag(col);
        return (
          <g>
            {rows.map((r, ri) => {
              const c = r.cells[col.key];
              if (!c) return null;
              const top = y(c.value);
              return (
                <rect class="bar" x={70 + ci * groupW + ri * barW} y={top} width={Math.max(1, barW - 2)} height={10 + plotH - top} fill={colours[ri]}>
                  <title>{`${label(r)} · ${col.lang} (${col.suite}${tag ? `, ${tag}` : ''}): ${fmt(c.value)}, n = ${c.n}`}</title>
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
                <title>{`chance ${fmt(col.chance)}`}</title>
              </line>
            ) : null}
            <text x={70 + ci * groupW + (groupW - 20) / 2} y={plotH + 28} text-anchor="middle" font-size="12">
              {col.lang}
              {tag ? <title>{tag}</title> : null}
            </text>
          </g>
        );
      })}
      {rows.map((r, ri) => (
        <g>
          <rect x="70" y={plotH + 40 + 18 * ri} width="12" height="12" fill={colours[ri]} />
          <text x="88" y={plotH + 50 + 18 * ri} font-size="12">
            {label(r)}
          </text>
        </g>
      ))}
    </svg>
  );
};

/** Metric vs sparsity, one small chart per suite column, one line per method (the paper's figures); dense dashed, chance dotted. */
export const SparsityChart: FC<{ view: SparsityView }> = ({ view }) => {
  if (!view.series.length) return <p>No pruned runs at more than one sparsity yet.</p>;
  const keys = [...new Set(view.series.map((s) => s.key))].sort();
  const W = 320;
  const H = 200;
  return (
    <div id="sparsity-charts">
      {view.columns.map((col) => {
        const series = view.series.filter((s) => s.column === col.key);
        if (!series.length) return null;
        const dense = view.dense[col.key];
        const tag = columnTag(col);
        const xs = [0, ...series.flatMap((s) => s.points.map((p) => p.sparsity))];
        const ys = [...series.flatMap((s) => s.points.map((p) => p.value)), ...(dense ? [dense.value] : []), ...(col.chance !== null ? [col.chance] : [])];
        const [lo, hi] = axisRange(ys);
        const xMax = Math.max(...xs, 0.1);
        const x = (s: number) => 50 + (s / xMax) * (W - 70);
        const y = (v: number) => 10 + (H - 40) - ((v - lo) / (hi - lo)) * (H - 40);
        return (
          <svg
            class="sparsity-chart"
            role="img"
            aria-label={`${view.metric} vs sparsity, ${col.lang} (${col.suite}${tag ? `, ${tag}` : ''})`}
            width={W}
            height={H + 18 * keys.length}
            viewBox={`0 0 ${W} ${H + 18 * keys.length}`}
          >
            <text x={W / 2} y="10" text-anchor="middle" font-size="12">{`${col.lang} · ${col.suite}${tag ? ` · ${tag}` : ''}`}</text>
            <line x1="50" y1={H - 30} x2={W - 10} y2={H - 30} stroke="#333" />
            <line x1="50" y1="10" x2="50" y2={H - 30} stroke="#333" />
            {[hi, lo].map((t) => (
              <text x="45" y={y(t) + 4} text-anchor="end" font-size="10">
                {fmt(t, 2)}
              </text>
            ))}
            {[...new Set(xs)].map((s) => (
              <text x={x(s)} y={H - 16} text-anchor="middle" font-size="10">{`${Math.round(s * 100)}%`}</text>
            ))}
            {dense ? (
              <line class="dense" x1="50" x2={W - 10} y1={y(dense.value)} y2={y(dense.value)} stroke="#333" stroke-dasharray="6 3">
                <title>{`dense ${fmt(dense.value)}, n = ${dense.n}`}</title>
              </line>
            ) : null}
            {col.chance !== null ? (
              <line class="chance" x1="50" x2={W - 10} y1={y(col.chance)} y2={y(col.chance)} stroke="#999" stroke-dasharray="2 3" />
            ) : null}
            {series.map((s) => (
              <g>
                <polyline
                  class="series"
                  fill="none"
                  stroke={colourOf(keys, s.key)}
                  stroke-width="2"
                  points={s.points.map((p) => `${x(p.sparsity)},${y(p.value)}`).join(' ')}
                />
                {s.points.map((p) => (
                  <circle cx={x(p.sparsity)} cy={y(p.value)} r="3" fill={colourOf(keys, s.key)}>
                    <title>{`${s.key} at ${Math.round(p.sparsity * 100)}%: ${fmt(p.value)}, n = ${p.n}${p.delta === null ? '' : `, Δ ${fmt(p.delta)}`}${p.p === null ? '' : `, p = ${fmt(p.p)}`}`}</title>
                  </circle>
                ))}
              </g>
            ))}
            {keys.map((k, i) => (
              <g>
                <rect x="50" y={H + 18 * i - 8} width="12" height="12" fill={colourOf(keys, k)} />
                <text x="68" y={H + 18 * i + 2} font-size="11">
                  {k}
                </text>
              </g>
            ))}
          </svg>
        );
      })}
    </div>
  );
};
