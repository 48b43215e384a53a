import type { FC } from 'hono/jsx';
import type { MaskAnalysis } from '../../../shared/src/api/analysis';
import type { RunInfo } from '../../../shared/src/api/jobs';
import { AnalysisSection } from './analysis';
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
}

const Scores: FC<{ run: RunInfo }> = ({ run }) =>
  run.scores.length ? (
    <table id="scores">
      <thead>
        <tr>
          <th>suite</th>
          <th>format</th>
          <th>lang</th>
          <th>scoring</th>
          <th>metric</th>
          <th>value</th>
          <th>n</th>
        </tr>
      </thead>
      <tbody>
        {run.scores.map((s) => (
          <tr>
            <td>{s.suiteId}</td>
            <td>{s.format}</td>
            <td>{s.lang}</td>
            <td>{s.scoring}</td>
            <td>{s.metric}</td>
            <td>{fmt(s.value, 4)}</td>
            <td>{s.n}</td>
          </tr>
        ))}
      </tbody>
    </table>
  ) : null;

/** One run: what it is, its artifacts, and its LMF report (prune) or its mask analysis (analyze). */
export const RunPage: FC<RunPageProps> = ({ run, modelName, lmf, analysis, pair }) => (
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
    <Scores run={run} />
  </Layout>
);
