import type { FC } from 'hono/jsx';
import { fmt } from './layout';

/** White (0) to dark blue (1), the sequential scale of the paper's overlap figures. */
function shade(v: number): string {
  const t = Math.max(0, Math.min(1, v));
  const from = [247, 251, 255];
  const to = [8, 48, 107];
  const c = from.map((f, i) => Math.round(f + (to[i]! - f) * t));
  return `rgb(${c[0]},${c[1]},${c[2]})`;
}

export interface HeatmapProps {
  id: string;
  title: string;
  labels: string[];
  /** values[i][j]; null: no figure (shown grey) */
  values: (number | null)[][];
  /** per cell, a link (e.g. the per-layer figures of that pair) */
  href?: (i: number, j: number) => string | undefined;
  /** a second figure shown in each cell's tooltip (e.g. chance) */
  detail?: (i: number, j: number) => string | undefined;
}

/** An N × N matrix as an SVG heatmap; every cell carries its value as data-value and a tooltip. */
export const Heatmap: FC<HeatmapProps> = ({ id, title, labels, values, href, detail }) => {
  const cell = 56;
  const left = 12 + 7 * Math.max(...labels.map((l) => l.length), 4);
  const top = left;
  const size = labels.length * cell;
  return (
    <svg
      id={id}
      class="heatmap"
      role="img"
      aria-label={title}
      width={left + size + 10}
      height={top + size + 10}
      viewBox={`0 0 ${left + size + 10} ${top + size + 10}`}
    >
      {labels.map((l, i) => (
        <g>
          <text x={left - 6} y={top + i * cell + cell / 2 + 4} text-anchor="end" font-size="12">
            {l}
          </text>
          <text transform={`translate(${left + i * cell + cell / 2 + 4}, ${top - 6}) rotate(-60)`} font-size="12">
            {l}
          </text>
        </g>
      ))}
      {values.map((row, i) =>
        row.map((v, j) => {
          const x = left + j * cell;
          const y = top + i * cell;
          const tip = `${labels[i]} × ${labels[j]}: ${fmt(v)}${detail?.(i, j) ? ` (${detail(i, j)})` : ''}`;
          const body = (
            <g>
              <rect
                class="cell"
                data-row={String(i)}
                data-col={String(j)}
                data-value={v == null ? '' : String(v)}
                x={x}
                y={y}
                width={cell - 2}
                height={cell - 2}
                fill={v == null ? '#e8e8e8' : shade(v)}
              >
                <title>{tip}</title>
              </rect>
              <text x={x + cell / 2 - 1} y={y + cell / 2 + 3} text-anchor="middle" font-size="11" fill={v != null && v > 0.6 ? '#fff' : '#222'}>
                {fmt(v, 2)}
              </text>
            </g>
          );
          const link = href?.(i, j);
          return link ? <a href={link}>{body}</a> : body;
        }),
      )}
    </svg>
  );
};
