/**
 * What an `analyze` job computes (docs/design.md §3.7): how far the masks of two or more prune
 * runs of the same model bytes agree, layer by layer and overall, against the agreement expected by
 * chance, and how much of their difference sits in the input channels the large-magnitude-feature
 * (LMF) reports rank highest. The runner writes `analysis.json` in this shape; the run record keeps
 * the summary (`extra.analysis`).
 */
import { z } from 'zod';

/** Pairs of masks, by index into `runs`; matrices are symmetric; `null` where a figure has no meaning. */
const matrix = z.array(z.array(z.number().nullable()));

/**
 * Counts for masks A and B over one layer or summed over layers. P_A, P_B are the pruned weights.
 * Chance: each row's pruned weights drawn uniformly at random with the same count per row (the unit
 * Wanda selects in), so E|P_A ∩ P_B| = Σ_rows a_r·b_r / dIn.
 */
export const maskOverlap = z.object({
  prunedA: z.number().int().min(0),
  prunedB: z.number().int().min(0),
  /** |P_A ∩ P_B| and |P_A ∪ P_B| */
  both: z.number().int().min(0),
  either: z.number().int().min(0),
  /** E|P_A ∩ P_B| by chance */
  expectedBoth: z.number().min(0),
  /** |P_A ∩ P_B| / |P_A ∪ P_B|; 1 when neither mask prunes anything */
  jaccard: z.number().min(0).max(1),
  /** E|∩| / (|P_A| + |P_B| − E|∩|): the Jaccard of random masks with these counts */
  jaccardChance: z.number().min(0).max(1),
  rows: z.number().int().min(0),
  /** output rows whose kept input channels are the same in both masks */
  rowsIdentical: z.number().int().min(0),
  /** weights kept by one mask and pruned by the other (|P_A △ P_B|) */
  differing: z.number().int().min(0),
  /** of `differing`, those in LMF input channels; null: no LMF set applies to this layer */
  differingInLmf: z.number().int().min(0).nullable(),
  /** what `differingInLmf` would be if the differences were spread evenly over input channels */
  expectedInLmf: z.number().min(0).nullable(),
});
export type MaskOverlap = z.infer<typeof maskOverlap>;

export const analysisRun = z.object({
  runId: z.string(),
  /** short name in matrices: the calibration ("mt:fr-en") when the runs share method and sparsity */
  label: z.string(),
  variant: z.string(),
  /** calibration pair of the run's LMF report, when it has one */
  lmfPair: z.string().nullable(),
});

export const analysisLayer = z.object({
  id: z.string(),
  block: z.number().int().nullable(),
  role: z.string().nullable(),
  dIn: z.number().int(),
  dOut: z.number().int(),
  /** block whose residual-stream LMF set is matched with this layer's input channels; null: none */
  lmfBlock: z.number().int().nullable(),
  /** size of that set (input channels counted as large-magnitude features) */
  lmfChannels: z.number().int().nullable(),
});

export type AnalysisLayer = z.infer<typeof analysisLayer>;

export const lmfComparison = z.object({
  /** dimensions taken from the head of each report's top list (the report's own k unless the job set lmfTopK) */
  k: z.number().int().min(1),
  /** one entry per distinct calibration pair, the report of the first run with that pair */
  labels: z.array(z.string()),
  runIds: z.array(z.string()),
  /** per block, Jaccard of the top-k sets across pairs (translation; monolingual when all reports have it) */
  blocks: z.array(z.object({ block: z.number().int(), translation: matrix, monolingual: matrix.nullable() })),
  /** the same, averaged over blocks */
  mean: z.object({ translation: matrix, monolingual: matrix.nullable() }),
});

export const analysisMatrices = z.object({
  /** overall Jaccard of the pruned sets (diagonal 1) */
  jaccard: matrix,
  jaccardChance: matrix,
  /** fraction of rows with identical kept sets (diagonal 1) */
  rowsIdentical: matrix,
  /** share of the differing weights that sit in LMF input channels, over layers with an LMF set */
  lmfShare: matrix,
  /** the share expected if differences were spread evenly over input channels */
  lmfExpectedShare: matrix,
});

export const maskAnalysis = z
  .object({
    version: z.literal(1),
    kind: z.literal('mask-overlap'),
    modelSha256: z.string().nullable(),
    runs: z.array(analysisRun).min(2),
    layers: z.array(analysisLayer),
    /** every pair a < b: overall figures and one entry per layer, in the order of `layers` */
    pairs: z.array(z.object({ a: z.number().int(), b: z.number().int(), overall: maskOverlap, layers: z.array(maskOverlap) })),
    matrices: analysisMatrices,
    lmf: lmfComparison.nullable(),
    /** why there is no LMF comparison or LMF share, when there is none */
    lmfNote: z.string().nullable(),
  })
  .meta({ id: 'MaskAnalysis' });
export type MaskAnalysis = z.infer<typeof maskAnalysis>;

/** What the run record of an analyze job keeps (`extra.analysis`); the artifact has the rest. */
export const analysisSummary = maskAnalysis
  .pick({ version: true, modelSha256: true, runs: true, matrices: true, lmfNote: true })
  .extend({
    layers: z.number().int(),
    lmf: z.object({ k: z.number().int(), labels: z.array(z.string()), mean: lmfComparison.shape.mean }).nullable(),
  })
  .meta({ id: 'MaskAnalysisSummary' });
export type AnalysisSummary = z.infer<typeof analysisSummary>;

export function summarize(a: MaskAnalysis): AnalysisSummary {
  return {
    version: a.version,
    modelSha256: a.modelSha256,
    runs: a.runs,
    matrices: a.matrices,
    lmfNote: a.lmfNote,
    layers: a.layers.length,
    lmf: a.lmf ? { k: a.lmf.k, labels: a.lmf.labels, mean: a.lmf.mean } : null,
  };
}

/**
 * Whether a prune run has an LMF report, and why not (`extra.lmf` of its run record): a graph whose
 * residual stream cannot be tapped, or a method that uses no calibration text.
 */
export const lmfStatus = z.object({
  status: z.enum(['available', 'unavailable', 'not-applicable']),
  reason: z.string().optional(),
  pair: z.string().optional(),
  k: z.number().int().optional(),
  blocks: z.number().int().optional(),
  dim: z.number().int().optional(),
});
export type LmfStatus = z.infer<typeof lmfStatus>;
