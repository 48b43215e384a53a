import type { FC } from 'hono/jsx';
import { fmt } from './layout';

/** Stops of a sequential scale (light yellow → green → dark blue): neighbours stay apart in lightness and hue. */
const STOPS = [
  [255, 255, 217],
  [199, 233, 180],
  [127, 205, 187],
  [65, 182, 196],
  [29, 145, 192],
  [34, 94, 168],
  [12, 44, 132],
];

/** The colour of t in [0, 1] on the scale. */
export function ramp(t: number): string {
  const x = Math.max(0, Math.min(1, t)) * (STOPS.length - 1);
  const i = Math.min(STOPS.length - 2, Math.floor(x));
  const f = x - i;
  const c = STOPS[i]!.map((a, k) => Math.round(a + (STOPS[i + 1]![k]! - a) * f));
  return `rgb(${c[0]},${c[1]},${c[2]})`;
}

/**
 * The scale's range: the matrix's own values, widened to tenths, so that 0.82 and 1.00 (close masks
 * vs identical ones) land far apart instead of both near the dark end of 0–1.
 */
export function heatRange(values: (number | null)[][]): [number, number] {
  const xs = values.flat().filter((v): v is number => v !== null && Number.isFinite(v));
  if (!xs.length) return [0, 1];
  let lo = Math.floor(Math.min(...xs) * 10) / 10;
  let hi = Math.ceil(Math.max(...xs) * 10) / 10;
  if (hi - lo < 0.1) [lo, hi] = [Math.max(0, hi - 0.1), Math.max(hi, 0.1)];
  return [lo, hi];
}

/** The colour bar: the range's ends and middle, as the cells use it. */
const Legend: FC<{ x: number; y: number; h: number; lo: number; hi: number; id: string }> = ({ x, y, h, lo, hi, id }) => {
  const steps = 20;
  return (
    <g class="heatmap-legend" data-lo={String(lo)} data-hi={String(hi)}>
      {Array.from({ length: steps }, (_, k) => (
        <rect x={x} y={y + (h * k) / steps} width="14" height={h / steps + 0.5} fill={ramp(1 - k / (steps - 1))} />
      ))}
      <rect x={x} y={y} width="14" height={h} fill="none" stroke="#999" />
      {[hi, (lo + hi) / 2, lo].map((v, k) => (
        <text x={x + 18} y={y + (h * k) / 2 + 4} font-size="10">
          {fmt(v, 2)}
        </text>
      ))}
      <title>{`${id}: colour scale from ${fmt(lo, 2)} to ${fmt(hi, 2)}`}</title>
    </g>
  );
};

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
  const [lo, hi] = heatRange(values);
  const t = (v: number) => (v - lo) / (hi - lo);
  const legendW = 60;
  return (
    <svg
      id={id}
      class="heatmap"
      role="img"
      aria-label={title}
      width={left + size + 10 + legendW}
      height={top + size + 10}
      viewBox={`0 0 ${left + size + 10 + legendW} ${top + size + 10}`}
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
                fill={v == null ? '#e8e8e8' : ramp(t(v))}
              >
                <title>{tip}</title>
              </rect>
              <text x={x + cell / 2 - 1} y={y + cell / 2 + 3} text-anchor="middle" font-size="11" fill={v != null && t(v) > 0.6 ? '#fff' : '#222'}>
                {fmt(v, 2)}
              </text>
            </g>
          );
          const link = href?.(i, j);
          return link ? <a href={link}>{body}</a> : body;
        }),
      )}
      <Legend x={left + size + 16} y={top} h={Math.max(cell * 2, Math.min(size, 200))} lo={lo} hi={hi} id={title} />
    </svg>
  );
};
