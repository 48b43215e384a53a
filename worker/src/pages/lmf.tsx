import type { FC } from 'hono/jsx';
import { type LmfStatus, lmfStatus } from '@polyprune/shared/api/analysis';
import { type LmfReport, lmfReport } from '@polyprune/shared/api/lmf';
import { fmt } from './layout';

export type LmfReportView = LmfReport;

/** A run's lmf.json when it has the report's shape (checked at completion; older runs may not). */
export function asLmfReport(v: unknown): LmfReportView | null {
  const r = lmfReport.safeParse(v);
  return r.success ? r.data : null;
}

/** The run's `extra.lmf` when it has the status's shape. */
export function asLmfStatus(v: unknown): LmfStatus | null {
  const r = lmfStatus.safeParse(v);
  return r.success ? r.data : null;
}

const mean = (xs: number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : 0);
const SERIES = [
  { key: 'translation', name: 'mt', label: 'translation demonstrations', color: '#4c78a8' },
  { key: 'monolingual', name: 'mono', label: 'monolingual text', color: '#f58518' },
] as const;

/**
 * Per block, the mean magnitude (RMS over tokens) of the k largest residual dimensions for
 * translation vs monolingual text: the paper's point that demonstrations light up large features.
 */
const LmfChart: FC<{ report: LmfReportView }> = ({ report }) => {
  const p = report.pairs[0]!;
  const groups = p.translation.map((t, b) => ({
    block: b,
    bars: SERIES.flatMap((s) => {
      const blk = s.key === 'translation' ? t : p.monolingual?.[b];
      return blk ? [{ ...s, value: mean(blk.topMagnitudes), blk }] : [];
    }),
  }));
  const max = Math.max(1e-9, ...groups.flatMap((g) => g.bars.map((x) => x.value)));
  const groupW = 64;
  const plotH = 180;
  // Wide enough for the legend when there are few blocks.
  const width = Math.max(70 + groups.length * groupW, 520);
  return (
    <svg
      id="lmf-chart"
      role="img"
      aria-label="mean magnitude of the top-k residual dimensions per block"
      width={width}
      height={plotH + 70}
      viewBox={`0 0 ${width} ${plotH + 70}`}
    >
      <line x1="55" y1="10" x2="55" y2={10 + plotH} stroke="#333" />
      <line x1="55" y1={10 + plotH} x2={width} y2={10 + plotH} stroke="#333" />
      <text x="50" y="15" text-anchor="end" font-size="10">
        {fmt(max, 2)}
      </text>
      <text x="50" y={10 + plotH} text-anchor="end" font-size="10">
        0
      </text>
      {groups.map((g) => (
        <g>
          {g.bars.map((bar, k) => {
            const h = (bar.value / max) * plotH;
            const dims = bar.blk.top
              .slice(0, 5)
              .map((d, q) => `${d} (${fmt(bar.blk.topMagnitudes[q], 2)})`)
              .join(', ');
            return (
              <rect
                class={`bar ${bar.name}`}
                data-block={String(g.block)}
                data-value={String(bar.value)}
                x={62 + g.block * groupW + k * 24}
                y={10 + plotH - h}
                width="22"
                height={h}
                fill={bar.color}
              >
                <title>{`block ${g.block}, ${bar.label}: mean of the top-${report.k} magnitudes ${fmt(bar.value)}; largest dims ${dims}`}</title>
              </rect>
            );
          })}
          <text x={62 + g.block * groupW + 23} y={plotH + 28} text-anchor="middle" font-size="12">
            {`block ${g.block}`}
          </text>
        </g>
      ))}
      {SERIES.map((s, k) => (
        <g>
          <rect x={62 + k * 220} y={plotH + 44} width="12" height="12" fill={s.color} />
          <text x={80 + k * 220} y={plotH + 54} font-size="12">
            {`${s.name}: ${s.label}`}
          </text>
        </g>
      ))}
    </svg>
  );
};

/** A prune run's LMF report, or why it has none (extra.lmf). */
export const LmfSection: FC<{ report: LmfReportView | null; status: LmfStatus | null }> = ({ report, status }) => {
  if (!report) {
    const why =
      status?.status === 'available'
        ? 'The LMF report of this run could not be read.'
        : (status?.reason ?? 'this run has no LMF report (runs before the report existed, or no calibration text)');
    return (
      <section id="lmf">
        <h2>Large-magnitude features</h2>
        <p id="lmf-missing" class="missing">
          {why}
        </p>
      </section>
    );
  }
  const p = report.pairs[0]!;
  return (
    <section id="lmf">
      <h2>Large-magnitude features · {p.pair}</h2>
      <p class="note">
        Residual-stream magnitude (RMS over tokens) at each block's output; top-{report.k} of {report.dim} dimensions. The overlap of these sets across language
        pairs is in the analyses that compare this run with others.
      </p>
      <figure>
        <figcaption>Mean magnitude of the top-{report.k} dimensions, translation (mt) vs monolingual (mono)</figcaption>
        <LmfChart report={report} />
      </figure>
      <table id="lmf-blocks">
        <thead>
          <tr>
            <th>block</th>
            <th>tokens</th>
            <th>largest dims (mt)</th>
            <th>mean top-k mt</th>
            <th>mean top-k mono</th>
            <th>Jaccard mt vs mono (top-k)</th>
          </tr>
        </thead>
        <tbody>
          {p.translation.map((t, b) => (
            <tr>
              <td>{b}</td>
              <td>{t.tokens}</td>
              <td>{t.top.slice(0, 8).join(', ')}</td>
              <td>{fmt(mean(t.topMagnitudes))}</td>
              <td>{p.monolingual ? fmt(mean(p.monolingual[b]!.topMagnitudes)) : '—'}</td>
              <td>{fmt(p.translationVsMonolingual?.[b]?.top)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
};
