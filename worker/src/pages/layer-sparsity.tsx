import type { FC } from 'hono/jsx';
import { layerSparsityRecord } from '@polyprune/shared/api/run-provenance';
import { fmt } from './layout';

/** OWL's sparsity report by block: outlier ratio, target sparsity and what the masks reached. */
export const LayerSparsitySection: FC<{ extra: Record<string, unknown> }> = ({ extra }) => {
  const parsed = layerSparsityRecord.safeParse(extra.layerSparsity);
  if (!parsed.success) return null;
  const r = parsed.data;
  return (
    <section>
      <h2>Layerwise sparsity (OWL)</h2>
      <p class="note">
        Outliers: Wanda scores above M = {r.m} × the block's mean score, over all its linears, from a dense calibration pass. Block sparsities spread over 2λ ={' '}
        {fmt(2 * r.lambda, 4)} around {fmt(r.sparsity, 4)}; more outliers, lower sparsity.
      </p>
      <table id="blocks">
        <thead>
          <tr>
            <th>block</th>
            <th>outliers %</th>
            <th>sparsity</th>
            <th>reached</th>
          </tr>
        </thead>
        <tbody>
          {r.blocks.map((b) => (
            <tr>
              <td>{b.block}</td>
              <td>{fmt(b.outlierPct, 3)}</td>
              <td>{fmt(b.sparsity, 4)}</td>
              <td>{b.achieved == null ? '–' : fmt(b.achieved, 4)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
};
