/**
 * Provenance a run records in its `extra` next to its free-form fields: how calibration fed the graph
 * and what it cut (`extra.calibration`), how evaluation batched and padded (`extra.evaluationSetup`),
 * and the seed of every sampled step (`extra.seeds`). The runner builds them; the worker reads
 * `extra.calibration.statsVersion` to reuse statistics only between runs that computed them alike.
 */
import { z } from 'zod';

/**
 * Version of what calibration feeds a graph. Statistics are reused only between runs of the same
 * version. 2: with maskPadding false the graph is fed a mask of ones and positions 0…T−1 (the
 * reference's `model(input_ids)`), where version 1 fed the padding mask to graphs that take one.
 */
export const CALIBRATION_STATS_VERSION = 2;

const count = z.number().int().min(0);

/** What the graph was fed while statistics were collected, and which positions count in them. */
export const calibrationFeeds = z.object({
  maskPadding: z.boolean(),
  /** calibration rows are padded on the right (pads after every real token) */
  padding: z.literal('right'),
  /** the graph's attention_mask input: the padding mask, a mask of ones, or none (the graph takes none) */
  attentionMask: z.enum(['padding', 'ones', 'not-an-input']),
  /** the graph's position_ids input: derived from the padding mask, 0…T−1, or none */
  positionIds: z.enum(['from-padding', 'arange', 'not-an-input']),
  /** pads were masked as attention keys */
  maskFed: z.boolean(),
  /** pad positions count in the statistics */
  padsInStatistics: z.boolean(),
  /** why a setting could not be honoured as asked, and what that changes */
  note: z.string().optional(),
});
export type CalibrationFeeds = z.infer<typeof calibrationFeeds>;

/** Samples longer than maxLength, which calibration cut there. */
export const calibrationTruncation = z.object({
  /** how many samples were cut */
  samples: count,
  /** their token lengths before the cut (special prefix included), in sample order */
  tokenLengths: z.array(count),
});
export type CalibrationTruncation = z.infer<typeof calibrationTruncation>;

export const calibrationRecord = calibrationFeeds.extend({
  statsVersion: z.number().int(),
  pair: z.string(),
  dataType: z.enum(['mt', 'mono', 'mt-contrast']),
  samples: count,
  shots: count,
  maxLength: count,
  direction: z.enum(['x-en', 'en-x']),
  /** the corpus held fewer than samples × (shots + 1) − 1 pairs and some were reused */
  wrapped: z.boolean(),
  corpusPairs: count,
  truncated: calibrationTruncation,
  /** a mix of corpora: each corpus's weight, samples allocated and whether its pairs were reused */
  mix: z.array(z.object({ corpusId: z.string(), pair: z.string(), weight: z.number(), samples: count, corpusPairs: count, wrapped: z.boolean() })).optional(),
  /** mt-contrast: the contrast corpus's set */
  contrast: z.object({ wrapped: z.boolean(), corpusPairs: count, truncated: calibrationTruncation }).optional(),
});
export type CalibrationRecord = z.infer<typeof calibrationRecord>;

/** How evaluation put rows into forward passes (scores can move with batching and padding). */
export const evaluationSetup = z.object({
  /** rows of a pass are padded on the right; the padding mask is fed where the graph takes one */
  padding: z.literal('right'),
  /** rows are sorted by length and cut into passes under both budgets */
  order: z.literal('length-sorted'),
  /** padded tokens per pass (rows × longest row) */
  maxBatchTokens: count,
  /** rows per pass: log-likelihood scoring (multiple choice, perplexity) and greedy decoding (translation) */
  maxBatchSize: z.object({ scoring: count, decoding: count }),
  /**
   * passes of whole sequences (no shared KV prefix) on a graph whose LM head computes only the
   * positions a pass reads: at most maxHeadRows such positions a pass, under maxBatchTokens padded
   * tokens (the top-level maxBatchTokens then bounds the other passes only); absent where the head runs on every position
   */
  gatheredHead: z.object({ maxBatchTokens: count, maxHeadRows: count }).optional(),
  /** what the KV cache was measured to do: shared prefixes run once, decoding steps, padded caches */
  kvCache: z.object({ prefix: z.boolean(), step: z.boolean(), padded: z.boolean() }),
});
export type EvaluationSetup = z.infer<typeof evaluationSetup>;

const seeded = z.object({ seed: z.number().int(), resamples: count });

/** The seed of every sampled step a run took (absent: the step did not run). */
export const runSeeds = z.object({
  /** the job's per-suite row limit: a seeded subset, stratified by label */
  rowLimit: z.object({ rows: count, seed: z.number().int() }).optional(),
  /** paired bootstrap against the dense model (`*_delta`, `_lo`, `_hi`, `_p`) */
  bootstrap: seeded.optional(),
  /** percentile intervals of perplexity and chrF (`ppl_lo`/`_hi`, `chrf_lo`/`_hi`) */
  metricIntervals: seeded.optional(),
  /** method random: layer i draws its scores from mulberry32(layerSeed(seed, i)) */
  randomMasks: z.object({ seed: z.number().int(), perLayer: z.string() }).optional(),
});
export type RunSeeds = z.infer<typeof runSeeds>;

/** run.extra.layerSparsity of an OWL run: each block's outlier ratio (dense Wanda scores) and sparsity. */
export const layerSparsityRecord = z.object({
  kind: z.literal('owl'),
  m: z.number(),
  lambda: z.number(),
  /** the job's (mean) sparsity */
  sparsity: z.number(),
  blocks: z.array(
    z.object({
      block: count,
      /** Wanda scores above m × the block's pooled mean score */
      outliers: count,
      weights: count,
      meanScore: z.number(),
      /** outliers / weights × 100 */
      outlierPct: z.number(),
      /** the block's target sparsity */
      sparsity: z.number(),
      /** what its masks reached (rows lose ⌊dIn·sparsity⌋ weights) */
      achieved: z.number().optional(),
    }),
  ),
});
export type LayerSparsityRecord = z.infer<typeof layerSparsityRecord>;
