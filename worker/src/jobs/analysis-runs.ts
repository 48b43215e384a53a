/**
 * The runs an analyze job compares: named directly (`runs`), or the runs its prune jobs produced
 * (`jobs`, what a sweep with `analyze: true` queues). Checked here, where the records are: the same
 * model bytes (the graph file's sha, as statistics reuse), masks stored, the same masked layers.
 */
import type { ErrorCode } from '@polyprune/shared/api/errors';
import { and, eq, inArray } from 'drizzle-orm';
import type { AnalyzeJobSpec, JobInput } from '@polyprune/shared/api/jobs';
import { jobArtifacts, jobs, runs } from '../db/schema';
import type { Db } from '../lib/db';

export type RunRow = typeof runs.$inferSelect;

export interface AnalysisRuns {
  runs: RunRow[];
  /** jobs of `spec.jobs` without a run, with why ("job_x failed: …") */
  without: string[];
}

export async function resolveAnalysisRuns(db: Db, spec: AnalyzeJobSpec): Promise<AnalysisRuns> {
  if (spec.runs) {
    const rows = await db.select().from(runs).where(inArray(runs.id, spec.runs));
    return { runs: spec.runs.map((id) => rows.find((r) => r.id === id)).filter((r): r is RunRow => !!r), without: [] };
  }
  const ids = spec.jobs ?? [];
  const jobRows = await db.select().from(jobs).where(inArray(jobs.id, ids));
  const runRows = await db.select().from(runs).where(inArray(runs.jobId, ids));
  const out: RunRow[] = [];
  const without: string[] = [];
  for (const id of ids) {
    const run = runRows.find((r) => r.jobId === id);
    if (run) out.push(run);
    else {
      const j = jobRows.find((x) => x.id === id);
      without.push(j ? `${id} ${j.status}${j.error ? `: ${j.error}` : ''}` : `${id} not found`);
    }
  }
  return { runs: out, without };
}

export interface Refusal {
  code: ErrorCode;
  message: string;
  details?: unknown;
}

type Layer = { id: string; dIn: number; dOut: number };

/** Why these runs cannot be compared, or null. */
export async function comparableProblem(db: Db, modelId: string, found: AnalysisRuns): Promise<Refusal | null> {
  const list = found.runs;
  if (list.length < 2) {
    return {
      code: 'nothing_to_compare',
      message: `an analysis needs at least two finished prune runs; ${list.length} found${found.without.length ? ` (without a run: ${found.without.join('; ')})` : ''}`,
      details: { without: found.without },
    };
  }
  const notPrune = list.find((r) => r.kind !== 'prune');
  if (notPrune)
    return {
      code: 'not_a_prune_run',
      message: `run ${notPrune.id} is ${notPrune.kind === 'evaluate' ? 'an evaluation' : 'an analysis'}, not a prune run with masks`,
    };
  const other = list.find((r) => r.modelId !== modelId);
  if (other) return { code: 'run_model_mismatch', message: `run ${other.id} pruned model ${other.modelId}, not ${modelId}` };
  const shas = [...new Set(list.map((r) => r.modelSha256))];
  if (shas.length > 1 || shas[0] === null) {
    const byRun = Object.fromEntries(list.map((r) => [r.id, r.modelSha256]));
    return {
      code: 'different_model_bytes',
      message: `masks compare only on the same model bytes, and these runs pruned different graph files (a file re-uploaded between them): ${list.map((r) => `${r.id} ${r.modelSha256?.slice(0, 12) ?? 'unknown'}`).join(', ')}`,
      details: { modelSha256: byRun },
    };
  }
  const masks = await db
    .select({ jobId: jobArtifacts.jobId })
    .from(jobArtifacts)
    .where(
      and(
        inArray(
          jobArtifacts.jobId,
          list.map((r) => r.jobId),
        ),
        eq(jobArtifacts.name, 'masks.bin'),
      ),
    );
  const noMasks = list.filter((r) => !masks.some((m) => m.jobId === r.jobId) || !(r.artifacts as { name: string }[]).some((a) => a.name === 'masks.bin'));
  if (noMasks.length)
    return { code: 'no_masks', message: `run(s) ${noMasks.map((r) => r.id).join(', ')} stored no masks.bin`, details: { runs: noMasks.map((r) => r.id) } };
  const key = (r: RunRow) => JSON.stringify((r.layers as Layer[]).map((l) => [l.id, l.dIn, l.dOut]).sort((a, b) => String(a[0]).localeCompare(String(b[0]))));
  const odd = list.find((r) => key(r) !== key(list[0]!));
  if (odd) {
    return {
      code: 'different_layers',
      message: `runs ${list[0]!.id} and ${odd.id} masked different layers (${(list[0]!.layers as Layer[]).length} vs ${(odd.layers as Layer[]).length}, or other shapes); masks compare only layer for layer`,
    };
  }
  return null;
}

/**
 * Short names for the matrices: the words of each run's variant that not all runs share
 * ("wanda 50% mt:fr-en", "wanda 50% mono:de-en" → "mt:fr-en", "mono:de-en"), made unique.
 */
export function analysisLabels(variants: readonly string[]): string[] {
  const words = variants.map((v) => v.split(' ').filter(Boolean));
  const common = words.reduce((acc, w) => acc.filter((x) => w.includes(x)));
  const seen = new Map<string, number>();
  return words.map((w, i) => {
    const rest = w.filter((x) => !common.includes(x)).join(' ') || variants[i]!;
    const n = (seen.get(rest) ?? 0) + 1;
    seen.set(rest, n);
    return n === 1 ? rest : `${rest} #${n}`;
  });
}

/** The lease's inputs of an analysis: each run's masks.bin (with its label) and lmf.json where it has one. */
export async function analysisInputs(db: Db, spec: AnalyzeJobSpec): Promise<{ input: JobInput; r2Key: string }[]> {
  const { runs: list } = await resolveAnalysisRuns(db, spec);
  if (!list.length) return [];
  const labels = analysisLabels(list.map((r) => r.variant));
  const arts = await db
    .select()
    .from(jobArtifacts)
    .where(
      inArray(
        jobArtifacts.jobId,
        list.map((r) => r.jobId),
      ),
    );
  const out: { input: JobInput; r2Key: string }[] = [];
  list.forEach((r, i) => {
    const of = (name: string) => arts.find((a) => a.jobId === r.jobId && a.name === name);
    const masks = of('masks.bin');
    if (masks) {
      const meta = { runId: r.id, label: labels[i], variant: r.variant, modelSha256: r.modelSha256 };
      out.push({ input: { name: `masks-${r.id}.bin`, role: 'masks', sha256: masks.sha256, size: masks.size, meta }, r2Key: masks.r2Key });
    }
    const lmf = of('lmf.json');
    if (lmf) out.push({ input: { name: `lmf-${r.id}.json`, role: 'lmf', sha256: lmf.sha256, size: lmf.size, meta: { runId: r.id } }, r2Key: lmf.r2Key });
  });
  return out;
}
