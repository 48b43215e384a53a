import type { FC } from 'hono/jsx';
import type { Leaderboard } from '../../../shared/src/api/jobs';

const palette = ['#4c78a8', '#f58518', '#54a24b', '#e45756', '#72b7b2', '#b279a2', '#ff9da6', '#9d755d', '#bab0ac', '#eeca3b'];
const fmt = (v: number | null | undefined, digits = 3) => (v == null ? '—' : v.toFixed(digits));

/** Grouped bars: one group per language, one bar per variant — the comparison the paper's tables make. */
const Chart: FC<{ board: Leaderboard }> = ({ board }) => {
  const langs = board.languages;
  const rows = board.rows.slice(0, palette.length);
  if (!langs.length || !rows.length) return <p>No scores yet.</p>;
  const values = rows.flatMap((r) => Object.values(r.scores));
  const max = Math.max(...values, 1e-9);
  const groupW = Math.max(60, rows.length * 14 + 20);
  const width = 60 + langs.length * groupW;
  const height = 240;
  const plotH = 180;
  const barW = (groupW - 20) / rows.length;
  return (
    <svg
      id="chart"
      role="img"
      aria-label={`${board.metric} per language`}
      width={width}
      height={height + 20 * rows.length}
      viewBox={`0 0 ${width} ${height + 20 * rows.length}`}
    >
      <line x1="50" y1={10} x2="50" y2={10 + plotH} stroke="#333" />
      <line x1="50" y1={10 + plotH} x2={width} y2={10 + plotH} stroke="#333" />
      <text x="45" y="15" text-anchor="end" font-size="10">
        {fmt(max, 2)}
      </text>
      <text x="45" y={10 + plotH} text-anchor="end" font-size="10">
        0
      </text>
      {langs.map((lang, li) => (
        <g>
          {rows.map((r, ri) => {
            const v = r.scores[lang];
            if (v == null) return null;
            const h = (Math.max(v, 0) / max) * plotH;
            return (
              <rect class="bar" x={60 + li * groupW + ri * barW} y={10 + plotH - h} width={barW - 2} height={h} fill={palette[ri]}>
                <title>{`${r.variant} · ${lang}: ${fmt(v)}`}</title>
              </rect>
            );
          })}
          <text x={60 + li * groupW + (groupW - 20) / 2} y={plotH + 28} text-anchor="middle" font-size="12">
            {lang}
          </text>
        </g>
      ))}
      {rows.map((r, ri) => (
        <g>
          <rect x="60" y={height + 20 * ri} width="12" height="12" fill={palette[ri]} />
          <text x="78" y={height + 20 * ri + 10} font-size="12">
            {r.variant}
          </text>
        </g>
      ))}
    </svg>
  );
};

export const LeaderboardPage: FC<{
  board: Leaderboard;
  modelName: string;
  formats: string[];
  analyses?: { id: string; variant: string; createdAt: string }[];
}> = ({ board, modelName, formats, analyses = [] }) => (
  <html lang="en">
    <head>
      <meta charset="utf-8" />
      <title>{`polyprune · ${modelName} · ${board.format ?? 'all suites'}`}</title>
      <style>{`
        body { font-family: system-ui, sans-serif; margin: 2rem; color: #222; }
        table { border-collapse: collapse; margin: 1rem 0; }
        th, td { padding: .35rem .7rem; border-bottom: 1px solid #ddd; text-align: right; }
        th:first-child, td:first-child { text-align: left; }
        tr.dense { background: #f4f6fb; font-weight: 600; }
        .pos { color: #1a7f37; } .neg { color: #c62828; }
        nav a { margin-right: .8rem; }
        td.sig { font-weight: 600; } .note { color: #555; font-size: .85rem; }
        a.page { margin-left: .4rem; text-decoration: none; } a.page::after { content: '↗'; }
      `}</style>
    </head>
    <body>
      <h1>{modelName}</h1>
      <p>
        {board.format ?? 'all suites'} · scoring <b>{board.scoring}</b> · metric <b>{board.metric}</b> · {board.rows.length} variants ·{' '}
        <a href={`/v1/leaderboards?model=${board.model}&scoring=${board.scoring}&metric=${board.metric}${board.format ? `&format=${board.format}` : ''}`}>
          JSON
        </a>
      </p>
      <nav>
        {formats.map((f) => (
          <a href={`?format=${f}&scoring=${board.scoring}&metric=${board.metric}`}>{f}</a>
        ))}
      </nav>
      <table id="leaderboard">
        <thead>
          <tr>
            <th>variant</th>
            {board.languages.map((l) => (
              <th>{l}</th>
            ))}
            <th>mean</th>
            <th>mean non-En</th>
            <th>Δ vs dense</th>
          </tr>
        </thead>
        <tbody>
          {board.rows.map((r) => (
            <tr class={r.variant === 'dense' ? 'dense' : ''}>
              <td>
                <a href={`/v1/runs/${r.runId}`}>{r.variant}</a>
                {/* biome-ignore lint/a11y/useAnchorContent: named by aria-label; the glyph comes from CSS so that the cell's text stays the variant */}
                <a class="page" href={`/runs/${r.runId}`} title="run page: LMF report, artifacts" aria-label="run page" />
              </td>
              {board.languages.map((l) => {
                const pv = r.pValues[l];
                const significant = pv !== undefined && pv < 0.05;
                return (
                  <td class={significant ? 'sig' : ''} title={pv === undefined ? undefined : `paired bootstrap vs dense: p = ${pv.toFixed(3)}`}>
                    {fmt(r.scores[l])}
                    {significant ? '*' : ''}
                  </td>
                );
              })}
              <td>{fmt(r.mean)}</td>
              <td>{fmt(r.meanNonEnglish)}</td>
              <td class={r.deltaVsDense == null ? '' : r.deltaVsDense >= 0 ? 'pos' : 'neg'}>
                {r.deltaVsDense == null ? '—' : `${r.deltaVsDense >= 0 ? '+' : ''}${fmt(r.deltaVsDense)}`}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      <p class="note">* the difference from dense in that language is significant (paired bootstrap, 1,000 resamples, p &lt; 0.05).</p>
      <Chart board={board} />
      {analyses.length ? (
        <section id="analyses">
          <h2>Mask analyses</h2>
          <ul>
            {analyses.map((a) => (
              <li>
                <a href={`/runs/${a.id}`}>{a.variant}</a> <span class="note">{a.createdAt}</span>
              </li>
            ))}
          </ul>
        </section>
      ) : null}
    </body>
  </html>
);
