import type { FC } from 'hono/jsx';
import type { JobInfo } from '@polyprune/shared/api/jobs';
import { showValue, unitLabel } from '@polyprune/shared/units';
import { Layout } from './layout';

export type JobScore = { format: string; lang: string; scoring: string; metric: string; value: number };

/** A run's default-metric scores in one line per format and scoring: "xnli acc % paper: de 50.0 · fr 58.0". */
function scoreLines(xs: JobScore[]): string[] {
  const groups = new Map<string, JobScore[]>();
  for (const x of xs) {
    const k = `${x.format} ${unitLabel(x.metric)}${x.scoring === 'paper' ? '' : ` ${x.scoring}`}`;
    groups.set(k, [...(groups.get(k) ?? []), x]);
  }
  return [...groups]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(
      ([k, v]) =>
        `${k}: ${v
          .sort((a, b) => a.lang.localeCompare(b.lang))
          .map((x) => `${x.lang} ${showValue(x.value, x.metric)}`)
          .join(' · ')}`,
    );
}

function what(j: JobInfo): string {
  const s = j.spec;
  if (s.kind === 'evaluate') return 'dense evaluation';
  if (s.kind === 'analyze') return `mask analysis of ${(s.jobs ?? s.runs ?? []).length} prune jobs`;
  return `${s.method} ${s.sparsity}${s.calibration?.dataType ? ` ${s.calibration.dataType}` : ''}`;
}

const open = (j: JobInfo) => j.status === 'queued' || j.status === 'running';

/** A sweep: its jobs with their runs, and the analyses it asked for (analyze: true). */
export const SweepPage: FC<{
  sweepId: string;
  jobs: JobInfo[];
  pairs: Record<string, string>;
  modelName?: string | null;
  /** per run id: its default-metric scores */
  scores?: Record<string, JobScore[]>;
}> = ({ sweepId, jobs, pairs, modelName = null, scores = {} }) => {
  const analyses = jobs.filter((j) => j.kind === 'analyze');
  const modelId = jobs[0]?.modelId;
  const done = jobs.filter((j) => j.status === 'succeeded').length;
  return (
    <Layout title={`sweep ${sweepId}`}>
      <h1>Sweep {sweepId}</h1>
      <p>
        {done}/{jobs.length} jobs succeeded · model <a href={`/leaderboards/${modelId}`}>{modelName ?? modelId}</a> (leaderboard) ·{' '}
        <a href={`/v1/sweeps/${sweepId}`}>JSON</a>
      </p>
      {analyses.length ? (
        <section id="analyses">
          <h2>Mask analyses</h2>
          <ul>
            {analyses.map((j) => {
              const waiting = ((j.spec.kind === 'analyze' && j.spec.jobs) || []).filter((id) => {
                const d = jobs.find((x) => x.id === id);
                return d && open(d);
              }).length;
              return (
                <li>
                  {j.runId ? <a href={`/runs/${j.runId}`}>{what(j)}</a> : what(j)} — <span class={`status-${j.status}`}>{j.status}</span>
                  {j.status === 'queued' && waiting ? ` (waits for ${waiting} prune job${waiting > 1 ? 's' : ''} to end)` : ''}
                  {j.errorCode ? ` (${j.errorCode})` : ''}
                  {j.error ? `: ${j.error}` : ''}
                </li>
              );
            })}
          </ul>
        </section>
      ) : null}
      <table id="jobs">
        <thead>
          <tr>
            <th>job</th>
            <th>what</th>
            <th>pair</th>
            <th>status</th>
            <th>run</th>
            <th class="l">scores</th>
          </tr>
        </thead>
        <tbody>
          {jobs.map((j) => (
            <tr>
              <td>
                <a href={`/v1/jobs/${j.id}`}>{j.id}</a>
              </td>
              <td>{what(j)}</td>
              <td>{pairs[j.id] ?? ''}</td>
              <td class={`status-${j.status}`} title={j.error ?? undefined}>
                {j.status}
              </td>
              <td>{j.runId ? <a href={`/runs/${j.runId}`}>{j.runId}</a> : ''}</td>
              <td class="scores">
                {(j.runId ? scoreLines(scores[j.runId] ?? []) : []).map((l, i) => (
                  <>
                    {i ? <br /> : null}
                    {l}
                  </>
                ))}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </Layout>
  );
};
