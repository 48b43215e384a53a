import type { FC } from 'hono/jsx';
import type { MaskAnalysis } from '@polyprune/shared/api/analysis';
import type { RunInfo } from '@polyprune/shared/api/jobs';
import { AnalysisSection } from './analysis';
import { scoreGrid, showDelta, showValue, unitLabel } from '@polyprune/shared/units';
import { fmt, Layout } from './layout';
import { LayerSparsitySection } from './layer-sparsity';
import { asLmfStatus, LmfSection, type LmfReportView } from './lmf';

export interface RunPageProps {
  run: RunInfo;
  modelName: string | null;
  lmf: LmfReportView | null;
  analysis: MaskAnalysis | null;
  /** index into analysis.pairs whose per-layer figures are shown */
  pair: number | null;
  /** suite id → name, for the suites the caller can read */
  suiteNames?: Record<string, string>;
}

const Interval: FC<{ lo?: number; hi?: number; metric: string }> = ({ lo, hi, metric }) =>
  lo === undefined || hi === undefined ? null : <small class="ci">{`[${showValue(lo, metric)}, ${showValue(hi, metric)}]`}</small>;

/** One table: a row per suite (and scoring), a column per metric; each cell its value, 95% interval, and Δ vs dense with its interval and p. */
const Scores: FC<{ run: RunInfo; suiteNames: Record<string, string> }> = ({ run, suiteNames }) => {
  if (!run.scores.length) return null;
  const grid = scoreGrid(run.scores);
  return (
    <section id="scores-section">
      <h2>Scores</h2>
      <style>{'#scores small { display: block; color: #666; font-size: .75rem; } #scores td.sig { font-weight: 700; }'}</style>
      <table id="scores">
        <thead>
          <tr>
            <th>suite</th>
            <th>lang</th>
            <th>scoring</th>
            {grid.metrics.map((m) => (
              <th class="metric">{unitLabel(m)}</th>
            ))}
            <th>n</th>
          </tr>
        </thead>
        <tbody>
          {grid.rows.map((r) => (
            <tr>
              <td title={`suite ${r.suiteId}, format ${r.format}`}>{suiteNames[r.suiteId] ?? r.suiteId}</td>
              <td>{r.templateLang && r.templateLang !== r.lang ? `${r.lang} (template ${r.templateLang})` : r.lang}</td>
              <td>{r.scoring}</td>
              {grid.metrics.map((m) => {
                const c = r.cells[m];
                if (c?.value === undefined) return <td>—</td>;
                const sig = c.p !== undefined && c.p < 0.05;
                return (
                  <td class={sig ? 'sig' : undefined}>
                    {showValue(c.value, m)}
                    <Interval lo={c.lo} hi={c.hi} metric={m} />
                    {c.delta === undefined ? null : (
                      <small class="delta">
                        {`Δ ${showDelta(c.delta, m)}`}
                        {c.deltaLo === undefined || c.deltaHi === undefined ? '' : ` [${showDelta(c.deltaLo, m)}, ${showDelta(c.deltaHi, m)}]`}
                        {c.p === undefined ? '' : ` p = ${c.p < 0.001 ? '< 0.001' : c.p.toFixed(3)}${sig ? ' *' : ''}`}
                      </small>
                    )}
                  </td>
                );
              })}
              <td>{Math.max(...grid.metrics.map((m) => r.cells[m]?.n ?? 0))}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <p class="note">
        Accuracies in %, chrF and BLEU 0–100, perplexity as is (the JSON keeps fractions). Under a value: its 95% interval, then Δ vs dense on the same rows
        with the runner's paired-bootstrap interval and p; * p &lt; 0.05.
      </p>
    </section>
  );
};

/** One run: what it is, its artifacts, and its LMF report (prune) or its mask analysis (analyze). */
export const RunPage: FC<RunPageProps> = ({ run, modelName, lmf, analysis, pair, suiteNames = {} }) => (
  <Layout title={`${run.variant} · ${run.id}`}>
    <h1>{run.variant}</h1>
    <p>
      {run.kind} run <code>{run.id}</code> of job <code>{run.jobId}</code> · model <a href={`/leaderboards/${run.modelId}`}>{modelName ?? run.modelId}</a>
      {run.overallSparsity == null ? '' : ` · sparsity ${fmt(run.overallSparsity, 4)}`} · <a href={`/v1/runs/${run.id}`}>JSON</a>
      {run.kind === 'analyze' ? (
        <>
          {' '}
          · <a href={`/v1/runs/${run.id}/analysis`}>analysis JSON</a>
        </>
      ) : null}
    </p>
    <p class="note">
      Artifacts:{' '}
      {run.artifacts.length
        ? run.artifacts.map((a, i) => (
            <span>
              {i ? ', ' : ''}
              <a href={`/v1/runs/${run.id}/artifacts/${a.name}`}>{a.name}</a>
            </span>
          ))
        : 'none'}
    </p>
    {run.kind === 'prune' ? <LayerSparsitySection extra={run.extra} /> : null}
    {run.kind === 'prune' ? <LmfSection report={lmf} status={asLmfStatus(run.extra.lmf)} /> : null}
    {run.kind === 'analyze' ? (
      analysis ? (
        <AnalysisSection a={analysis} runId={run.id} pair={pair} />
      ) : (
        <p class="missing">The analysis artifact of this run could not be read.</p>
      )
    ) : null}
    <Scores run={run} suiteNames={suiteNames} />
  </Layout>
);
