import { type CalibrationSpec, calibrationCorpora, type JobSpec, type PruneJobSpec } from '@polyprune/shared/api/jobs';
import { CALIBRATION_STATS_VERSION } from '@polyprune/shared/api/run-provenance';
import type { ReusableArtifact } from './reusable-runs';

/**
 * Everything in the spec that determines oneshot statistics; method, sparsity, pattern and
 * layerSparsity (OWL reads the same dense statistics, it only changes the masks) do not. One corpus
 * keys by its id (as before mixes existed; a mix of one draws the same samples); a mix by its
 * corpora and weights in order, which is all its draw depends on (it is deterministic, no seed).
 */
export const statsKey = (c: CalibrationSpec) => {
  const mix = calibrationCorpora(c);
  return JSON.stringify([
    mix.length === 1 ? mix[0]!.corpusId : mix.map((m) => [m.corpusId, m.weight]),
    c.dataType,
    c.contrastCorpusId ?? null,
    c.shots,
    c.samples,
    c.maxLength,
    c.maskPadding,
    c.direction,
  ]);
};

/**
 * Whether a prune job's statistics come from a dense (oneshot) pass: oneshot mode, or magnitude
 * with OWL, whose calibration only ever reads dense Wanda scores whatever the mode says.
 */
const denseStats = (s: { mode?: string; method?: string; layerSparsity?: unknown }) =>
  s.mode === 'oneshot' || (s.method === 'magnitude' && s.layerSparsity != null);

export const STATS_ARTIFACTS = ['stats.bin', 'contrast-stats.bin'] as const;

export interface ReusableStats {
  runId: string;
  artifacts: { name: string; sha256: string; size: number; r2Key: string }[];
}

/** docs/design.md §3.2: in oneshot mode a new sparsity or method on the same (model, corpus, options) needs no new forward pass. */
export const wantsStats = (spec: JobSpec): spec is PruneJobSpec & { calibration: CalibrationSpec } =>
  spec.kind === 'prune' &&
  spec.calibration !== undefined &&
  // SparseGPT needs Hessians, which no run stores; with OWL it reads dense statistics for the ratios.
  (spec.method === 'sparsegpt' ? spec.layerSparsity !== undefined : denseStats(spec));

/**
 * The newest prune run among `candidates` (the runs this job may reuse, newest first: reusableArtifacts)
 * whose statistics fit this job.
 */
export function findReusableStats(spec: JobSpec, candidates: readonly ReusableArtifact[]): ReusableStats | null {
  if (!wantsStats(spec)) return null;
  const key = statsKey(spec.calibration);
  const wanted = ['stats.bin', ...(spec.calibration.dataType === 'mt-contrast' ? ['contrast-stats.bin'] : [])];
  for (const runId of new Set(candidates.map((a) => a.runId))) {
    const arts = candidates.filter((a) => a.runId === runId);
    const cfg = arts[0]!.config as { mode?: string; method?: string; layerSparsity?: unknown; calibration?: CalibrationSpec };
    if (arts[0]!.kind !== 'prune' || !denseStats(cfg) || !cfg.calibration || statsKey(cfg.calibration) !== key) continue;
    // Runs from before the version was recorded (1) fed graphs that take an attention mask the padding
    // mask even with maskPadding false: other statistics than this runner computes.
    if ((arts[0]!.statsVersion ?? 1) !== CALIBRATION_STATS_VERSION) continue;
    const found = wanted.map((n) => arts.find((a) => a.name === n));
    if (found.every(Boolean)) return { runId, artifacts: found.map((a) => ({ name: a!.name, sha256: a!.sha256, size: a!.size, r2Key: a!.r2Key })) };
  }
  return null;
}
