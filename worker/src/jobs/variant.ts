import type { EvaluateJobSpec, PruneJobSpec } from '@polyprune/shared/api/jobs';
import { mixWeights } from './calibration-mix';

export interface VariantInfo {
  variant: string;
  method: string;
  sparsity: number | null;
  pattern: string | null;
  /** "mt:fr-en" — data type and calibration pair (a mix: "mt:fr+sw-en"), null when no calibration was used */
  calibration: string | null;
}

const pct = (p: number) => `${Math.round(p * 1000) / 10}%`;

/** OWL's reference settings (M = 5, λ = 0.08) go unnamed; others are part of the method. */
function layerSparsityTag(ls: PruneJobSpec['layerSparsity']): string {
  if (!ls) return '';
  const params = ls.m === 5 && ls.lambda === 0.08 ? '' : `(M=${ls.m},λ=${ls.lambda})`;
  return `+${ls.kind}${params}`;
}

/**
 * A leaderboard row is one variant: the dense model, or method × sparsity × pattern × calibration.
 * The label is built here once so that every run of the same configuration lands on the same row.
 */
export function variantOf(spec: PruneJobSpec | EvaluateJobSpec, corpusPair: string | null): VariantInfo {
  if (spec.kind === 'evaluate') return { variant: 'dense', method: 'dense', sparsity: null, pattern: null, calibration: null };
  const method = `${spec.method}${spec.dropTop ? '+droptop' : ''}${spec.method === 'magnitude' && spec.magnitudeScope === 'matrix' ? '+matrix' : ''}${sparseGptSuffix(spec)}${layerSparsityTag(spec.layerSparsity)}`;
  // OWL's outlier ratios come from calibration whatever the method, so the corpus is part of the variant.
  const usesCalibration = (spec.method === 'wanda' || spec.method === 'sparsegpt' || spec.layerSparsity !== undefined) && spec.calibration;
  const weights = spec.calibration?.corpora ? mixWeights(spec.calibration.corpora) : null;
  const calibration = usesCalibration ? `${spec.calibration!.dataType}:${corpusPair ?? '?'}${weights ? `(${weights})` : ''}` : null;
  const parts = [method, spec.pattern === 'unstructured' ? pct(spec.sparsity) : spec.pattern];
  if (calibration) parts.push(calibration);
  if (spec.mode === 'oneshot' && (spec.method === 'wanda' || spec.method === 'sparsegpt') && spec.calibration) parts.push('oneshot');
  return { variant: parts.join(' '), method, sparsity: spec.sparsity, pattern: spec.pattern, calibration };
}

/** Non-default SparseGPT options make another variant ("sparsegpt+damp0.1+bs64"); the defaults add nothing. */
function sparseGptSuffix(spec: PruneJobSpec): string {
  if (spec.method !== 'sparsegpt') return '';
  const damp = spec.percdamp !== undefined && spec.percdamp !== 0.01 ? `+damp${spec.percdamp}` : '';
  const bs = spec.blocksize !== undefined && spec.blocksize !== 128 ? `+bs${spec.blocksize}` : '';
  return damp + bs;
}
