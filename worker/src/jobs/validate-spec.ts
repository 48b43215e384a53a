import type { ErrorCode } from '@polyprune/shared/api/errors';
import { eq, inArray } from 'drizzle-orm';
import { type AnalyzeJobSpec, calibrationCorpora, type JobSpec } from '@polyprune/shared/api/jobs';
import { corpora, jobs, models, runs, suites } from '../db/schema';
import { loadModelStatus } from '../ingest/model-status';
import { canRead, type Principal } from '../lib/auth';
import type { Db } from '../lib/db';
import { ApiError } from '../lib/errors';
import { sha256Hex } from '../lib/crypto';
import { comparableProblem, resolveAnalysisRuns } from './analysis-runs';
import { mixPair } from './calibration-mix';
import { assertPruneSpec } from './spec-problems';

const invalid = (code: ErrorCode, message: string, details?: unknown) => new ApiError(422, code, message, details);

/** A spec that passed validation, with what validation looked up on the way (stored with the job). */
export interface ResolvedSpec {
  spec: JobSpec;
  /**
   * The calibration corpus: its pair ("fr-en", for the variant label) and its bytes, recorded with the
   * run. A mix: the mix's pair label ("fr+sw-en") and the sha-256 of its corpora's shas and weights.
   */
  corpus: { pair: string; sha256: string } | null;
}

/** Everything a job refers to must exist, be visible to the caller and fit together. */
export async function validateSpec(db: Db, p: Principal, spec: JobSpec): Promise<ResolvedSpec> {
  if (spec.kind === 'prune') assertPruneSpec(spec);
  const model = await db.query.models.findFirst({ where: eq(models.id, spec.modelId) });
  if (!model || !canRead(p, model)) throw invalid('unknown_model', `model ${spec.modelId} not found`);
  // An analysis reads stored masks only: the model's files need not be complete any more.
  if (spec.kind === 'analyze') {
    await validateAnalysis(db, p, spec);
    return { spec, corpus: null };
  }
  // Refused here, before any job row exists: a runner would only fail later, with less to say.
  const st = await loadModelStatus(db, model);
  const { missing, hints, problems } = st;
  if (missing.length) {
    throw invalid('incomplete_model', `model ${model.id} is incomplete: missing ${missing.join(', ')}. ${hints.join('; ')}`, { missing, hints, problems });
  }
  if (problems.length || !st.graph) {
    throw invalid('unsupported_model', `model ${model.id} cannot be pruned or evaluated as uploaded: ${problems.join('; ')}`, { problems });
  }

  if (spec.suites.length) {
    const found = await db.select().from(suites).where(inArray(suites.id, spec.suites));
    const visible = new Set(found.filter((s) => canRead(p, s)).map((s) => s.id));
    const bad = spec.suites.filter((id) => !visible.has(id));
    if (bad.length) throw invalid('unknown_suite', `suite(s) not found or not visible: ${bad.join(', ')}`, { suites: bad });
  }

  let resolved: ResolvedSpec['corpus'] = null;
  if (spec.kind === 'prune') {
    if (spec.pattern !== 'unstructured') {
      const [n, m] = spec.pattern.split(':').map(Number) as [number, number];
      const want = 1 - n / m;
      if (Math.abs(spec.sparsity - want) > 1e-9) {
        throw invalid(
          'pattern_sparsity_mismatch',
          `pattern ${spec.pattern} keeps ${n} of every ${m} weights, so sparsity must be ${want}, not ${spec.sparsity}`,
        );
      }
    }
    if ((spec.method === 'wanda' || spec.method === 'sparsegpt') && !spec.calibration) {
      throw invalid('calibration_required', `method "${spec.method}" needs a calibration corpus (calibration.corpusId)`);
    }
    validateSparseGptOptions(spec);
    if (spec.layerSparsity && !spec.calibration) {
      throw invalid(
        'calibration_required',
        `layerSparsity "${spec.layerSparsity.kind}" weighs blocks by Wanda scores of a dense calibration pass, also for method "${spec.method}": give calibration.corpusId`,
      );
    }
    if (spec.calibration) {
      const cal = spec.calibration;
      const found = [];
      for (const { corpusId, weight } of calibrationCorpora(cal)) {
        const corpus = await db.query.corpora.findFirst({ where: eq(corpora.id, corpusId) });
        if (!corpus || !canRead(p, corpus)) throw invalid('unknown_corpus', `corpus ${corpusId} not found`);
        found.push({ src: corpus.src, tgt: corpus.tgt, sha256: corpus.sha256, weight });
      }
      resolved = cal.corpora
        ? { pair: mixPair(found), sha256: await sha256Hex(JSON.stringify(found.map((c) => [c.sha256, c.weight]))) }
        : { pair: `${found[0]!.src}-${found[0]!.tgt}`, sha256: found[0]!.sha256 };
      if (cal.pair && cal.pair !== resolved.pair) {
        throw invalid('corpus_pair_mismatch', `corpus ${cal.corpusId} holds ${resolved.pair} pairs, the job asked for ${cal.pair}`);
      }
      if (cal.dataType === 'mt-contrast') {
        if (!cal.contrastCorpusId) throw invalid('contrast_required', 'dataType "mt-contrast" needs calibration.contrastCorpusId');
        const contrast = await db.query.corpora.findFirst({ where: eq(corpora.id, cal.contrastCorpusId) });
        if (!contrast || !canRead(p, contrast)) throw invalid('unknown_corpus', `contrast corpus ${cal.contrastCorpusId} not found`);
      } else if (cal.contrastCorpusId) {
        throw invalid('unexpected_contrast', `contrastCorpusId is only used with dataType "mt-contrast", not "${cal.dataType}"`);
      }
    }
  } else if (spec.runId) {
    const run = await db.query.runs.findFirst({ where: eq(runs.id, spec.runId) });
    if (!run || !canRead(p, run)) throw invalid('unknown_run', `run ${spec.runId} not found`);
    if (run.kind !== 'prune') throw invalid('not_a_prune_run', `run ${run.id} is an evaluation, not a pruned model`);
    if (run.modelId !== spec.modelId) throw invalid('run_model_mismatch', `run ${run.id} pruned model ${run.modelId}, not ${spec.modelId}`);
  }
  return { spec, corpus: resolved };
}

/** The runs (or prune jobs) an analysis names exist, are visible to the caller and can be compared. */
async function validateAnalysis(db: Db, p: Principal, spec: AnalyzeJobSpec): Promise<void> {
  const ids = spec.runs ?? spec.jobs ?? [];
  const twice = ids.filter((id, i) => ids.indexOf(id) !== i);
  if (twice.length) throw invalid('duplicate_reference', `${spec.runs ? 'runs' : 'jobs'} lists ${[...new Set(twice)].join(', ')} more than once`);
  if (spec.runs) {
    const found = await resolveAnalysisRuns(db, spec);
    const unknown = spec.runs.filter((id) => !found.runs.some((r) => r.id === id && canRead(p, r)));
    if (unknown.length) throw invalid('unknown_run', `run(s) not found or not visible: ${unknown.join(', ')}`, { runs: unknown });
    const problem = await comparableProblem(db, spec.modelId, found);
    if (problem) throw invalid(problem.code, problem.message, problem.details);
    return;
  }
  const rows = await db.select().from(jobs).where(inArray(jobs.id, ids));
  const unknown = ids.filter((id) => !rows.some((j) => j.id === id && canRead(p, j)));
  if (unknown.length) throw invalid('unknown_job', `job(s) not found or not visible: ${unknown.join(', ')}`, { jobs: unknown });
  const notPrune = rows.find((j) => j.kind !== 'prune');
  if (notPrune) throw invalid('not_a_prune_job', `job ${notPrune.id} is a ${notPrune.kind} job; an analysis compares the masks of prune jobs`);
  const other = rows.find((j) => j.modelId !== spec.modelId);
  if (other) throw invalid('job_model_mismatch', `job ${other.id} prunes model ${other.modelId}, not ${spec.modelId}`);
}

/**
 * SparseGPT's own options apply to it alone, and what it does not implement is refused rather than
 * ignored: it chooses its masks by w²/[H⁻¹]_ii² (no dropTop), from one corpus (no mt-contrast), and
 * an N:M group must not straddle two of its column blocks.
 */
function validateSparseGptOptions(spec: Extract<JobSpec, { kind: 'prune' }>): void {
  const na = (field: string, message: string) => invalid('option_not_applicable', message, { field });
  if (spec.method !== 'sparsegpt') {
    for (const field of ['percdamp', 'blocksize'] as const) {
      if (spec[field] !== undefined) throw na(field, `${field} is a SparseGPT option; method "${spec.method}" does not use it`);
    }
    return;
  }
  if (spec.dropTop) throw na('dropTop', 'dropTop is not defined for method "sparsegpt"');
  if (spec.calibration?.dataType === 'mt-contrast')
    throw na('calibration.dataType', 'method "sparsegpt" calibrates on one corpus: dataType "mt" or "mono", not "mt-contrast"');
  if (spec.pattern !== 'unstructured' && spec.blocksize !== undefined) {
    const m = Number(spec.pattern.split(':')[1]);
    if (spec.blocksize % m !== 0) throw na('blocksize', `pattern ${spec.pattern} needs a blocksize that is a multiple of ${m}, not ${spec.blocksize}`);
  }
}
