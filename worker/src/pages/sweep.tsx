import type { FC } from 'hono/jsx';
import type { JobInfo } from '../../../shared/src/api/jobs';
import { Layout } from './layout';

function what(j: JobInfo): string {
  const s = j.spec;
  if (s.kind === 'evaluate') return 'dense evaluation';
  if (s.kind === 'analyze') return `mask analysis of ${(s.jobs ?? s.runs ?? []).length} prune jobs`;
  return `${s.method} ${s.sparsity}${s.calibration?.dataType ? ` ${s.calibration.dataType}` : ''}`;
}

const open = (j: JobInfo) => j.status === 'queued' || j.status === 'running';

/** A sweep: its jobs with their runs, and the analyses it asked for (analyze: true). */
export const SweepPage: FC<{ sweepId: string; jobs: JobInfo[]; pairs: Record<string, string> }> = ({ sweepId, jobs, pairs }) => {
  const analyses = jobs.filter((j) => j.kind === 'analyze');
  const modelId = jobs[0]?.modelId;
  return (
    <Layout title={`sweep ${sweepId}`}>
      <h1>Sweep {sweepId}</h1>
      <p>
        {jobs.length} jobs · model <a href={`/leaderboards/${modelId}`}>{modelId}</a> (leaderboard) · <a href={`/v1/sweeps/${sweepId}`}>JSON</a>
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
            </tr>
          ))}
        </tbody>
      </table>
    </Layout>
  );
};
