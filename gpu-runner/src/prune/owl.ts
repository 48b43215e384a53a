/**
 * OWL, outlier-weighed layerwise sparsity (Yin et al., ICML 2024; reference luuyin/OWL
 * lib/prune_all.py): blocks whose Wanda scores hold more outliers are pruned less.
 *
 * Outlier ratio of a block, as the reference's check_outlier_mean on the block's concatenated
 * scores: the Wanda scores |W_ij|·√s_j of ALL the block's linears are pooled, the threshold is
 * M × their pooled mean, and the ratio is (pooled count above it) / (pooled weight count) × 100 —
 * not a mean of per-linear ratios. Scores come from one dense calibration pass.
 *
 * Sparsities, as the reference: the ratios are min-max scaled into [0, 2λ], shifted to mean 1 − S
 * (these are keep fractions: more outliers, more kept), and block i is pruned at 1 − that.
 */
import type { OnnxModel } from '../onnx/read.js';
import type { ActivationStats, PrunableLinear } from '../types.js';
import { canonicalWeight } from './policy.js';
import { scoreWanda } from './scores.js';

export interface BlockOutliers {
  block: number;
  /** Wanda scores above M × the block's mean score */
  outliers: number;
  /** weights of the block's prunable linears */
  weights: number;
  /** the pooled mean score (the threshold is M × this) */
  meanScore: number;
  /** outliers / weights × 100, the reference's unit */
  outlierPct: number;
}

/**
 * Per-block sparsity from per-block outlier ratios, the reference's arithmetic step by step:
 * `r = (r − min) · (1/(max − min) · λ · 2); r = r − mean(r) + (1 − S)`; block i at 1 − r_i.
 *
 * Two departures, where the reference has no defined answer: when every block has the same ratio
 * (max = min, a division by zero there) every block gets S; a sparsity ≤ 0 becomes 0.01 (as the
 * reference does) and one ≥ 1 becomes 1 (the reference's slice then drops the whole row too).
 * The shift is by the mean, not the midpoint, so the spread is 2λ but need not be centred on S.
 */
export function owlSparsities(outlierPct: readonly number[], sparsity: number, lambda: number): number[] {
  if (!outlierPct.length) return [];
  const min = Math.min(...outlierPct);
  const max = Math.max(...outlierPct);
  if (max === min) return outlierPct.map(() => sparsity);
  const scale = (1 / (max - min)) * lambda * 2;
  const scaled = outlierPct.map((r) => (r - min) * scale);
  const mean = scaled.reduce((a, b) => a + b, 0) / scaled.length;
  return scaled.map((r) => {
    const s = 1 - (r - mean + (1 - sparsity));
    return s <= 0 ? 0.01 : Math.min(s, 1);
  });
}

export interface OwlPlan {
  blocks: (BlockOutliers & { sparsity: number })[];
  /** sparsity of block b at index b (blocks without prunable linears: the job's sparsity) */
  blockSparsity: number[];
}

/**
 * Outlier ratios of every block from dense statistics, one linear's scores in memory at a time:
 * a first pass over the block's weights for the pooled mean, a second to count above M × it.
 */
export async function planOwl(
  model: OnnxModel,
  linears: readonly PrunableLinear[],
  stats: ActivationStats,
  opts: { m: number; lambda: number; sparsity: number },
  onProgress: (done: number, total: number) => void = () => {},
): Promise<OwlPlan> {
  const byBlock = new Map<number, PrunableLinear[]>();
  for (const l of linears) byBlock.set(l.block, [...(byBlock.get(l.block) ?? []), l]);
  const blockIds = [...byBlock.keys()].sort((a, b) => a - b);
  const scores = async (l: PrunableLinear) => {
    const st = stats.get(l.id);
    if (!st) throw new Error(`no activation statistics for ${l.id}`);
    return scoreWanda(await canonicalWeight(model, l), st.sqNorm);
  };
  const found: BlockOutliers[] = [];
  let done = 0;
  for (const b of blockIds) {
    const ls = byBlock.get(b)!;
    let sum = 0;
    let weights = 0;
    for (const l of ls) {
      const s = await scores(l);
      for (let x = 0; x < s.length; x++) sum += s[x]!;
      weights += s.length;
    }
    const meanScore = sum / weights;
    const threshold = meanScore * opts.m;
    let outliers = 0;
    for (const l of ls) {
      const s = await scores(l);
      for (let x = 0; x < s.length; x++) if (s[x]! > threshold) outliers++;
    }
    found.push({ block: b, outliers, weights, meanScore, outlierPct: (outliers / weights) * 100 });
    onProgress(++done, blockIds.length);
  }
  const sparsities = owlSparsities(
    found.map((f) => f.outlierPct),
    opts.sparsity,
    opts.lambda,
  );
  const blockSparsity = Array.from({ length: (blockIds.at(-1) ?? -1) + 1 }, () => opts.sparsity);
  const blocks = found.map((f, i) => ({ ...f, sparsity: sparsities[i]! }));
  for (const f of blocks) blockSparsity[f.block] = f.sparsity;
  return { blocks, blockSparsity };
}
