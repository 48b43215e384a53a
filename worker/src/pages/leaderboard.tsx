import type { FC } from 'hono/jsx';
import { defaultMetric, type Leaderboard, lowerIsBetter, type MethodSummary, type SparsityView } from '@polyprune/shared/api/leaderboards';
import { BoardNotes, BoardTable, boardCss } from './board-table';
import { BarChart, SparsityChart } from './charts';
import { showDelta, unitLabel } from '@polyprune/shared/units';
import { paletteOf } from './palette';
import { logScaled } from './scale';

const fmt = (v: number, digits = 3) => v.toFixed(digits);
const qs = (o: Record<string, string | number | null | undefined>) =>
  Object.entries(o)
    .filter(([, v]) => v !== null && v !== undefined && v !== '')
    .map(([k, v]) => `${k}=${encodeURIComponent(String(v))}`)
    .join('&');

const Exports: FC<{ query: string }> = ({ query }) => (
  <span class="exports">
    <a href={`/v1/leaderboards?${query}`}>JSON</a> · <a href={`/v1/leaderboards?${query}&as=csv`}>CSV</a> ·{' '}
    <a href={`/v1/leaderboards?${query}&as=latex`}>LaTeX</a>
  </span>
);

const Methods: FC<{ summary: MethodSummary }> = ({ summary }) => {
  if (!summary.methods.length) return null;
  const d = (v: number) => showDelta(v, summary.metric);
  const iv = (x: { mean: number; lo: number | null; hi: number | null; p: number; n: number } | null) =>
    x ? `${d(x.mean)}${x.lo === null || x.hi === null ? '' : ` [${d(x.lo)}, ${d(x.hi)}]`} n=${x.n}${x.p < 0.05 ? ' *' : ''}` : '—';
  return (
    <section id="methods">
      <h2>Methods: Δ vs dense over language pairs ({unitLabel(summary.metric)})</h2>
      <table>
        <thead>
          <tr>
            <th class="l">method</th>
            <th>all cells</th>
            <th>own pair (calibrated on X→en, evaluated in X)</th>
            <th>other languages</th>
          </tr>
        </thead>
        <tbody>
          {summary.methods.map((m) => (
            <tr>
              <td class="l">{m.method}</td>
              <td>{iv(m.all)}</td>
              <td>{iv(m.ownPair)}</td>
              <td>{iv(m.otherLanguages)}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {summary.contrasts.length ? (
        <ul>
          {summary.contrasts.map((c) => (
            <li>
              {c.a} vs {c.b}: Δ {iv(c.delta)} {c.delta.p < 0.05 ? '(significant)' : `(not significant, p = ${fmt(c.delta.p)})`}
            </li>
          ))}
        </ul>
      ) : null}
      <p class="note">
        n counts calibration pairs (a pair's cells share one pruned model and are averaged first; without calibration, suites): 95% t-interval and exact
        sign-flip p-value over them, which cannot fall below 0.05 with n ≤ 5; * p &lt; 0.05.
      </p>
    </section>
  );
};

export const LeaderboardPage: FC<{
  board: Leaderboard;
  modelName: string;
  formats: string[];
  /** every (method, pattern, calibration) of the model across formats: colours stay put across tabs */
  series: { method: string; pattern: string | null; calibration: string | null }[];
  sparsity: SparsityView;
  methods: MethodSummary;
  analyses?: { id: string; variant: string; createdAt: string }[];
}> = ({ board, modelName, formats, series, sparsity, methods, analyses = [] }) => {
  const colour = paletteOf([...series, ...board.rows, ...sparsity.series]);
  const colours = board.rows.map(colour);
  const query = qs({ model: board.model, format: board.format, scoring: board.scoring, metric: board.metric });
  return (
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <title>{`polyprune · ${modelName} · ${board.format ?? 'all suites'}`}</title>
        <style>{boardCss}</style>
      </head>
      <body>
        <h1>{modelName}</h1>
        <p>
          {board.format ?? 'all suites'} · scoring <b>{board.scoring}</b> · metric <b>{board.metric}</b> · {board.rows.length} variants ·{' '}
          <Exports query={query} /> · <a href={`/leaderboards?${qs({ format: board.format, scoring: board.scoring, metric: board.metric })}`}>across models</a>
        </p>
        <nav>
          {formats.map((f) => (
            <a class={f === board.format ? 'on' : ''} href={`?${qs({ format: f, scoring: board.scoring, metric: defaultMetric(f) })}`}>
              {f}
            </a>
          ))}
        </nav>
        <BoardTable board={board} colours={colours} />
        <BoardNotes board={board} />
        <BarChart board={board} colours={colours} />
        <section id="sparsity">
          <h2>{board.metric} vs sparsity</h2>
          <p class="note">
            <a href={`/v1/leaderboards/sparsity?${query}`}>JSON</a>
            {lowerIsBetter(board.metric) ? ' · lower is better' : ''}
            {logScaled(board.metric) ? ' · log scale' : ''}
          </p>
          <SparsityChart view={sparsity} colour={colour} />
        </section>
        <Methods summary={methods} />
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
};

/** Every visible (model, variant) on one suite format, with filters: "which pruned 50% model is best for Swahili XNLI". */
export const AcrossModelsPage: FC<{
  board: Leaderboard;
  formats: string[];
  filters: { format: string | null; lang?: string; sparsity?: number; scoring: string; metric: string; suite?: string };
}> = ({ board, formats, filters }) => {
  const colours = board.rows.map(paletteOf(board.rows));
  const query = qs({
    format: filters.format,
    suite: filters.suite,
    lang: filters.lang,
    scoring: filters.scoring,
    metric: filters.metric,
    sparsity: filters.sparsity,
  });
  return (
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <title>{`polyprune · leaderboard across models · ${board.format ?? 'all suites'}`}</title>
        <style>{boardCss}</style>
      </head>
      <body>
        <h1>Across models</h1>
        <nav>
          {formats.map((f) => (
            <a class={f === board.format ? 'on' : ''} href={`?${qs({ format: f, lang: filters.lang, sparsity: filters.sparsity, scoring: filters.scoring })}`}>
              {f}
            </a>
          ))}
        </nav>
        <form id="filters" method="get">
          <input type="hidden" name="format" value={filters.format ?? ''} />
          <label>
            language(s) <input name="lang" value={filters.lang ?? ''} placeholder="sw or fr,de" size={10} />
          </label>
          <label>
            sparsity <input name="sparsity" value={filters.sparsity ?? ''} placeholder="0.5" size={5} />
          </label>
          <label>
            suite <input name="suite" value={filters.suite ?? ''} placeholder="suite id" size={12} />
          </label>
          <label>
            scoring{' '}
            <select name="scoring">
              {['paper', 'harness'].map((s) => (
                <option value={s} selected={s === filters.scoring}>
                  {s}
                </option>
              ))}
            </select>
          </label>
          <label>
            metric <input name="metric" value={filters.metric} size={8} />
          </label>
          <button type="submit">show</button>
        </form>
        <p>
          {board.format ?? 'all suites'} · scoring <b>{board.scoring}</b> · metric <b>{board.metric}</b> · {board.rows.length} rows · <Exports query={query} />
        </p>
        <BoardTable board={board} colours={colours} />
        <BoardNotes board={board} />
        <BarChart board={board} colours={colours} />
      </body>
    </html>
  );
};
