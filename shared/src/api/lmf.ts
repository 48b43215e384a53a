/**
 * A prune run's `lmf.json` (docs/design.md §3.5): per block, the residual-stream dimensions of
 * largest and smallest magnitude (RMS over tokens) for translation demonstrations and, when the
 * runner had it, monolingual text. The runner writes it; the worker checks it against this shape
 * when the job completes, and the run page and analyze jobs read it.
 */
import { z } from 'zod';

const dimension = z.number().int().min(0);
const magnitude = z.number().min(0);
const jaccard = z.number().min(0).max(1);

export const lmfBlock = z
  .object({
    block: z.number().int().min(0),
    tokens: z.number().int().min(0),
    /** dimensions by decreasing magnitude, with their magnitudes */
    top: z.array(dimension),
    topMagnitudes: z.array(magnitude),
    /** dimensions by increasing magnitude */
    bottom: z.array(dimension),
    bottomMagnitudes: z.array(magnitude),
    /** every dimension's magnitude, when the runner was asked for them */
    magnitudes: z.array(magnitude).optional(),
  })
  .refine((b) => b.top.length === b.topMagnitudes.length && b.bottom.length === b.bottomMagnitudes.length, {
    message: 'top and bottom must have one magnitude per dimension',
  });

const overlapBlock = z.object({ block: z.number().int().min(0), top: z.array(z.array(jaccard)), bottom: z.array(z.array(jaccard)) });

export const lmfPair = z.object({
  pair: z.string().min(1).max(100),
  translation: z.array(lmfBlock),
  monolingual: z.array(lmfBlock).optional(),
  /** per block, Jaccard of this pair's translation vs monolingual sets */
  translationVsMonolingual: z.array(z.object({ block: z.number().int().min(0), top: jaccard, bottom: jaccard })).optional(),
});

export const lmfReport = z
  .object({
    version: z.literal(1),
    magnitude: z.literal('rms-over-tokens'),
    k: z.number().int().min(1),
    blocks: z.number().int().min(1),
    dim: z.number().int().min(1),
    pairs: z.array(lmfPair).min(1),
    overlap: z.object({ labels: z.array(z.string()), translation: z.array(overlapBlock), monolingual: z.array(overlapBlock).optional() }),
  })
  .superRefine((r, ctx) => {
    r.pairs.forEach((p, i) => {
      for (const series of ['translation', 'monolingual'] as const) {
        const blocks = p[series];
        if (!blocks) continue;
        if (blocks.length !== r.blocks)
          ctx.addIssue({ code: 'custom', path: ['pairs', i, series], message: `expected ${r.blocks} blocks, got ${blocks.length}` });
        blocks.forEach((b, j) => {
          const bad = [...b.top, ...b.bottom].find((d) => d >= r.dim);
          if (bad !== undefined) ctx.addIssue({ code: 'custom', path: ['pairs', i, series, j], message: `dimension ${bad} is not below dim ${r.dim}` });
        });
      }
    });
  })
  .meta({ id: 'LmfReport' });
export type LmfReport = z.infer<typeof lmfReport>;
