import type { FC } from 'hono/jsx';
import type { MaskAnalysis, MaskOverlap } from '@polyprune/shared/api/analysis';
import { Heatmap } from './heatmap';
import { fmt } from './layout';

const meanOf = (xs: (number | null)[]) => {
  const v = xs.filter((x): x is number => x !== null);
  return v.length ? v.reduce((a, b) => a + b, 0) / v.length : null;
};
const share = (o: MaskOverlap) => (o.differingInLmf === null || o.differing === 0 ? null : o.differingInLmf / o.differing);
const expected = (o: MaskOverlap) => (o.expectedInLmf === null || o.differing === 0 ? null : o.expectedInLmf / o.differing);

/** Per layer: one pair's figures, or the mean over all pairs. */
const LayerTable: FC<{ a: MaskAnalysis; pair: number | null }> = ({ a, pair }) => {
  const chosen = pair === null ? a.pairs : [a.pairs[pair]!];
  return (
    <table id="layers">
      <thead>
        <tr>
          <th>layer</th>
          <th>Jaccard</th>
          <th>chance</th>
          <th>rows identical</th>
          <th>weights differing</th>
          <th>in LMF channels</th>
          <th>expected if even</th>
        </tr>
      </thead>
      <tbody>
        {a.layers.map((l, li) => {
          const of = (f: (o: MaskOverlap) => number | null) => meanOf(chosen.map((p) => f(p.layers[li]!)));
          return (
            <tr>
              <td>{l.id}</td>
              <td>{fmt(of((o) => o.jaccard))}</td>
              <td>{fmt(of((o) => o.jaccardChance))}</td>
              <td>{fmt(of((o) => (o.rows ? o.rowsIdentical / o.rows : null)))}</td>
              <td>{fmt(of((o) => o.differing / (l.dIn * l.dOut)))}</td>
              <td>{fmt(of(share))}</td>
              <td>{l.lmfChannels === null ? '—' : fmt(of(expected))}</td>
            </tr>
          );
        })}
      </tbody>
    </table>
  );
};

/** An analyze run: the mask overlap heatmaps, the LMF overlap across pairs, and the per-layer figures. */
export const AnalysisSection: FC<{ a: MaskAnalysis; runId: string; pair: number | null }> = ({ a, runId, pair }) => {
  const labels = a.runs.map((r) => r.label);
  const pairIndex = (i: number, j: number) => a.pairs.findIndex((p) => p.a === Math.min(i, j) && p.b === Math.max(i, j));
  const href = (i: number, j: number) => (i === j ? undefined : `/runs/${runId}?pair=${pairIndex(i, j)}#layers`);
  const m = a.matrices;
  const selected = pair === null ? null : a.pairs[pair];
  return (
    <section id="analysis">
      <h2>Mask overlap of {a.runs.length} runs</h2>
      <p class="note">
        Runs:{' '}
        {a.runs.map((r, i) => (
          <span>
            {i ? ', ' : ''}
            <a href={`/runs/${r.runId}`}>{r.label}</a>
          </span>
        ))}
        . Jaccard of the pruned sets over all {a.layers.length} masked layers; chance is the Jaccard of masks drawn at random with the same pruned count per
        row. A cell opens that pair's figures per layer.
      </p>
      <figure>
        <figcaption>Jaccard overlap of the pruned weights</figcaption>
        <Heatmap
          id="mask-jaccard"
          title="Jaccard overlap of the pruned weights"
          labels={labels}
          values={m.jaccard}
          href={href}
          detail={(i, j) => (i === j ? undefined : `chance ${fmt(m.jaccardChance[i]![j])}`)}
        />
      </figure>
      <figure>
        <figcaption>Rows whose kept input channels are identical</figcaption>
        <Heatmap id="mask-rows" title="fraction of rows with identical kept sets" labels={labels} values={m.rowsIdentical} href={href} />
      </figure>
      {a.lmfNote ? (
        <p id="lmf-note" class="missing">
          {a.lmfNote}
        </p>
      ) : null}
      {m.lmfShare.some((row) => row.some((v) => v !== null)) ? (
        <figure>
          <figcaption>Share of the differing weights that sit in large-magnitude input channels</figcaption>
          <Heatmap
            id="mask-lmf-share"
            title="share of differing weights in LMF channels"
            labels={labels}
            values={m.lmfShare}
            href={href}
            detail={(i, j) => (i === j ? undefined : `${fmt(m.lmfExpectedShare[i]![j])} if spread evenly over input channels`)}
          />
        </figure>
      ) : null}
      {a.lmf ? (
        <figure>
          <figcaption>
            Large-magnitude features across pairs: Jaccard of the top-{a.lmf.k} translation dimensions, mean over {a.lmf.blocks.length} blocks
          </figcaption>
          <Heatmap id="lmf-overlap" title="LMF overlap across pairs" labels={a.lmf.labels} values={a.lmf.mean.translation} />
          {a.lmf.mean.monolingual ? (
            <>
              <p class="note">Monolingual text, for comparison:</p>
              <Heatmap id="lmf-overlap-mono" title="LMF overlap across pairs, monolingual" labels={a.lmf.labels} values={a.lmf.mean.monolingual} />
            </>
          ) : null}
        </figure>
      ) : null}
      <h3>
        Per layer:{' '}
        {selected ? (
          <>
            {labels[selected.a]} × {labels[selected.b]} (<a href={`/runs/${runId}#layers`}>mean over all pairs</a>)
          </>
        ) : (
          'mean over all pairs'
        )}
      </h3>
      <LayerTable a={a} pair={pair} />
    </section>
  );
};
