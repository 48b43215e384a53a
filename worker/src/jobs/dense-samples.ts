import type { JobSpec } from '@polyprune/shared/api/jobs';
import { rowsKey } from '@polyprune/shared/cell-identity';
import type { ReusableArtifact } from './reusable-runs';

export interface DenseSamples {
  runId: string;
  name: string;
  sha256: string;
  size: number;
  r2Key: string;
}

export const DENSE_SAMPLE_ARTIFACTS = ['samples.jsonl.gz', 'dense-samples.jsonl.gz'] as const;

/** A job that scores suites against dense (a prune job, or an evaluation of a pruned run) may reuse dense rows. */
export const wantsDenseSamples = (spec: JobSpec) => spec.kind !== 'analyze' && !(spec.kind === 'evaluate' && !spec.runId) && spec.suites.length > 0;

/**
 * The dense model's per-row results a job's paired bootstrap can reuse, among `candidates` (the runs
 * this job may reuse, newest first: reusableArtifacts): from dense evaluations (samples.jsonl.gz) and
 * from earlier prune jobs that scored dense themselves (dense-samples.jsonl.gz), with the same template
 * language, suites and rows (the same row limit and seed), as few files as cover the job's (suite,
 * scoring) pairs. The runner checks each file's header (model, suite bytes, row limit) before use.
 */
/** Whether two jobs evaluate the same rows of a suite: both every row, or the same limit and seed. */
const sameRows = (a: { limit?: number | null; limitSeed?: number }, b: { limit?: number | null; limitSeed?: number }) =>
  rowsKey(a.limit, a.limitSeed) === rowsKey(b.limit, b.limitSeed);

export function findDenseSamples(spec: JobSpec, candidates: readonly ReusableArtifact[]): DenseSamples[] {
  if (!wantsDenseSamples(spec) || spec.kind === 'analyze') return [];
  const wanted = new Set(spec.suites.flatMap((s) => spec.scoring.map((sc) => `${s}/${sc}`)));
  const out: DenseSamples[] = [];
  for (const a of candidates) {
    if (!wanted.size) break;
    const cfg = a.config as { runId?: string; suites?: string[]; scoring?: string[]; templateLang?: string; limit?: number; limitSeed?: number };
    if ((cfg.templateLang ?? 'en') !== spec.templateLang || !sameRows(cfg, spec)) continue;
    const name = a.kind === 'evaluate' ? (cfg.runId ? null : 'samples.jsonl.gz') : a.kind === 'prune' ? 'dense-samples.jsonl.gz' : null;
    if (a.name !== name) continue;
    const covers = (cfg.suites ?? []).flatMap((s) => (cfg.scoring ?? ['paper']).map((sc) => `${s}/${sc}`)).filter((k) => wanted.has(k));
    if (!covers.length) continue;
    out.push({ runId: a.runId, name: a.name, sha256: a.sha256, size: a.size, r2Key: a.r2Key });
    // A prune job's dense samples cover only the suites it bootstrapped; the runner scores what is missing.
    for (const k of covers) wanted.delete(k);
  }
  return out;
}
