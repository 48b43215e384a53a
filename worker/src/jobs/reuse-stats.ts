import type { CalibrationSpec, JobSpec, PruneJobSpec } from '../../../shared/src/api/jobs';
import { CALIBRATION_STATS_VERSION } from '../../../shared/src/api/run-provenance';
import type { ReusableArtifact } from './reusable-runs';

/** Everything that determines oneshot statistics; method, sparsity and pattern do not. */
const statsKey = (c: CalibrationSpec) =>
  JSON.stringify([c.corpusId, c.dataType, c.contrastCorpusId ?? null, c.shots, c.samples, c.maxLength, c.maskPadding, c.direction]);

export const STATS_ARTIFACTS = ['stats.bin', 'contrast-stats.bin'] as const;

export interface ReusableStats {
  runId: string;
  artifacts: { name: string; sha256: string; size: number; r2Key: string }[];
}

/** Design §3.2: in oneshot mode a new sparsity or method on the same (model, corpus, options) needs no new forward pass. */
export const wantsStats = (spec: JobSpec): spec is PruneJobSpec & { calibration: CalibrationSpec } =>
  spec.kind === 'prune' && spec.mode === 'oneshot' && spec.calibration !== undefined;

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
    const cfg = arts[0]!.config as { mode?: string; calibration?: CalibrationSpec };
    if (arts[0]!.kind !== 'prune' || cfg.mode !== 'oneshot' || !cfg.calibration || statsKey(cfg.calibration) !== key) continue;
    // Runs from before the version was recorded (1) fed graphs that take an attention mask the padding
    // mask even with maskPadding false: other statistics than this runner computes.
    if ((arts[0]!.statsVersion ?? 1) !== CALIBRATION_STATS_VERSION) continue;
    const found = wanted.map((n) => arts.find((a) => a.name === n));
    if (found.every(Boolean)) return { runId, artifacts: found.map((a) => ({ name: a!.name, sha256: a!.sha256, size: a!.size, r2Key: a!.r2Key })) };
  }
  return null;
}
