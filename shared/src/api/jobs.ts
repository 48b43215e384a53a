import { z } from 'zod';
import { templateLanguages } from '../template-words';
import { isoDate, scoringName, sha256Hex, visibility } from './common';
import { runnerFailureCode } from './errors';

/** Reference settings of the paper (docs/design.md §3.1). */
/** JSON bodies are strict objects: an unknown field is a 400 naming it, never silently ignored. */
/** One corpus of a calibration mix: it gets samples × weight / Σweights of the samples (largest remainder). */
export const calibrationCorpus = z.strictObject({ corpusId: z.string().min(1).max(64), weight: z.number().gt(0).max(1e6).default(1) });
export type CalibrationCorpus = z.infer<typeof calibrationCorpus>;

export const calibrationSpec = z.strictObject({
  /** The calibration corpus; give it or `corpora` (a mix of several), not both. */
  corpusId: z.string().min(1).max(64).optional(),
  /** Several corpora at once (mt and mono only), sampled in proportion to their weights. */
  corpora: z.array(calibrationCorpus).min(1).max(16).optional(),
  dataType: z.enum(['mt', 'mono', 'mt-contrast']).default('mt'),
  /** Required for dataType "mt-contrast": statistics are divided by this corpus's. */
  contrastCorpusId: z.string().min(1).max(64).optional(),
  shots: z.number().int().min(1).max(32).default(4),
  samples: z.number().int().min(1).max(4096).default(100),
  maxLength: z.number().int().min(8).max(8192).default(512),
  maskPadding: z.boolean().default(false),
  /** "x-en": demonstrations go from the non-English side to English, as the reference. */
  direction: z.enum(['x-en', 'en-x']).default('x-en'),
  /** Optional guard: the corpus must hold this pair, e.g. "fr-en". */
  pair: z
    .string()
    .regex(/^[A-Za-z0-9-]+-[A-Za-z0-9-]+$/)
    .max(40)
    .optional(),
});
export type CalibrationSpec = z.infer<typeof calibrationSpec>;

/** The corpora a calibration draws from, a single corpusId as a mix of one. */
export function calibrationCorpora(c: Pick<CalibrationSpec, 'corpusId' | 'corpora'>): CalibrationCorpus[] {
  return c.corpora ?? (c.corpusId ? [{ corpusId: c.corpusId, weight: 1 }] : []);
}

/**
 * How sparsity is spread over the blocks; absent: every layer at `sparsity`. "owl" (Yin et al. 2024,
 * outlier-weighed layerwise sparsity): blocks with more Wanda-score outliers (> m × the block's mean
 * score) are pruned less, the per-block sparsities spread over 2·lambda and averaging `sparsity`.
 */
// One kind so far: a plain object (a one-member union is a one-schema oneOf in the OpenAPI document,
// which clients' linters flag); a second kind makes it a discriminated union on `kind`.
export const layerSparsityPolicy = z.strictObject({
  kind: z.literal('owl'),
  m: z.number().gt(0).max(1000).default(5),
  lambda: z.number().gt(0).lt(1).default(0.08),
});
export type LayerSparsityPolicy = z.infer<typeof layerSparsityPolicy>;

export const pruneMethod = z.enum(['wanda', 'magnitude', 'random', 'sparsegpt']);
export const pattern = z.enum(['unstructured', '2:4', '4:8']);

/** "auto": each suite in its own language where its format has localised words, else English. */
export const templateLang = z
  .enum(['auto', ...templateLanguages] as [string, ...string[]], { message: `expected "auto" or one of ${templateLanguages.join(', ')}` })
  .default('en');

/** Per suite: a seeded subset of this many rows, stratified by label (the whole suite when it has fewer). */
const rowLimit = {
  limit: z.number().int().min(1).max(1_000_000).optional(),
  /** seed of the row limit's subset */
  limitSeed: z
    .number()
    .int()
    .min(0)
    .max(2 ** 31 - 1)
    .default(0),
};

export const pruneJobSpec = z.strictObject({
  kind: z.literal('prune'),
  modelId: z.string().min(1).max(64),
  /** Needed by wanda; magnitude and random ignore activations. */
  calibration: calibrationSpec.optional(),
  method: pruneMethod.default('wanda'),
  /** Ablation: drop the highest-scoring weights instead of the lowest. */
  dropTop: z.boolean().default(false),
  /** Magnitude baseline only: one threshold per matrix instead of per output row. */
  magnitudeScope: z.enum(['row', 'matrix']).default('row'),
  sparsity: z.number().gt(0).lt(1).default(0.5),
  /** Per-block sparsities averaging `sparsity` (wanda, magnitude, sparsegpt; unstructured only). */
  layerSparsity: layerSparsityPolicy.optional(),
  pattern: pattern.default('unstructured'),
  /** SparseGPT only: Hessian dampening, a fraction of mean(diag H) added to its diagonal (runner default 0.01). */
  percdamp: z.number().gt(0).max(1).optional(),
  /** SparseGPT only: columns pruned together between weight updates (runner default 128). */
  blocksize: z.number().int().min(1).max(4096).optional(),
  mode: z.enum(['sequential', 'oneshot']).default('sequential'),
  seed: z
    .number()
    .int()
    .min(0)
    .max(2 ** 31 - 1)
    .default(0),
  suites: z.array(z.string().min(1).max(64)).max(64).default([]),
  scoring: z.array(scoringName).min(1).default(['paper']),
  templateLang,
  ...rowLimit,
  visibility: visibility.default('private'),
});

export const evaluateJobSpec = z.strictObject({
  kind: z.literal('evaluate'),
  modelId: z.string().min(1).max(64),
  /** Evaluate the pruned model of this finished prune run instead of the dense model. */
  runId: z.string().min(1).max(64).optional(),
  suites: z.array(z.string().min(1).max(64)).min(1).max(64),
  scoring: z.array(scoringName).min(1).default(['paper']),
  templateLang,
  ...rowLimit,
  visibility: visibility.default('private'),
});

const id = z.string().min(1).max(64);
/** Pairs grow as N²: 32 runs are 496 pairs, each with figures for every layer. */
export const MAX_ANALYSIS_RUNS = 32;

/**
 * Compares the masks of finished prune runs of the same model bytes (shared/src/api/analysis.ts).
 * `jobs` instead of `runs`: the runs those prune jobs produce, compared once every one of them has
 * ended (what a sweep with `analyze: true` queues); the job is not leased before.
 */
export const analyzeJobSpec = z
  .strictObject({
    kind: z.literal('analyze'),
    modelId: id,
    runs: z.array(id).min(2).max(MAX_ANALYSIS_RUNS).optional(),
    jobs: z.array(id).min(2).max(MAX_ANALYSIS_RUNS).optional(),
    /** LMF channels: the first k of each report's top list instead of the report's whole top-k set */
    lmfTopK: z.number().int().min(1).max(65536).optional(),
    visibility: visibility.default('private'),
  })
  .refine((s) => (s.runs === undefined) !== (s.jobs === undefined), { message: 'give either runs (finished prune runs) or jobs (prune jobs), not both' });

export const createJobBody = z.discriminatedUnion('kind', [pruneJobSpec, evaluateJobSpec, analyzeJobSpec]);
export type PruneJobSpec = z.infer<typeof pruneJobSpec>;
export type EvaluateJobSpec = z.infer<typeof evaluateJobSpec>;
export type AnalyzeJobSpec = z.infer<typeof analyzeJobSpec>;
export type JobSpec = z.infer<typeof createJobBody>;

export const jobKinds = ['prune', 'evaluate', 'analyze'] as const;
export const jobKind = z.enum(jobKinds);
export type JobKind = z.infer<typeof jobKind>;

export const jobStatuses = ['queued', 'running', 'succeeded', 'failed', 'canceled'] as const;
export const jobStatus = z.enum(jobStatuses);
export type JobStatus = z.infer<typeof jobStatus>;

export const progress = z.strictObject({
  stage: z.string().min(1).max(64),
  done: z.number().min(0),
  total: z.number().min(0),
  /** seconds the runner expects the stage to take still (from its rate so far), when it can tell */
  etaSeconds: z.number().min(0).max(1e7).optional(),
});

export const jobInfo = z
  .object({
    id: z.string(),
    owner: z.string(),
    kind: jobKind,
    status: jobStatus,
    /** the job's spec as validated at creation, defaults filled in */
    spec: createJobBody,
    modelId: z.string(),
    /** the calibration corpus's language pair (src-tgt; a mix: "fr+sw-en"), resolved when the job was validated */
    pair: z.string().nullable().default(null),
    sweepId: z.string().nullable(),
    attempts: z.number(),
    maxAttempts: z.number(),
    progress: progress.nullable(),
    error: z.string().nullable(),
    /** the runner's reason, when its failure report gave one */
    errorCode: runnerFailureCode.nullable(),
    runId: z.string().nullable(),
    createdAt: isoDate,
    startedAt: isoDate.nullable(),
    finishedAt: isoDate.nullable(),
    updatedAt: isoDate,
  })
  .meta({ id: 'Job' });
export type JobInfo = z.infer<typeof jobInfo>;

export const listJobsQuery = z.object({
  status: jobStatus.optional(),
  model: z.string().max(64).optional(),
  sweep: z.string().max(64).optional(),
  limit: z.coerce.number().int().min(1).max(200).default(50),
  cursor: z.string().max(200).optional(),
});

export const createSweepBody = z.strictObject({
  modelId: z.string().min(1).max(64),
  /** One entry per language pair (or per mix: `corpora` instead of `corpusId`). */
  pairs: z
    .array(
      z
        .strictObject({
          corpusId: z.string().min(1).max(64).optional(),
          corpora: z.array(calibrationCorpus).min(1).max(16).optional(),
          contrastCorpusId: z.string().min(1).max(64).optional(),
        })
        .refine((p) => (p.corpusId === undefined) !== (p.corpora === undefined), { message: 'give either corpusId or corpora, not both', path: ['corpusId'] }),
    )
    .min(1)
    .max(32),
  sparsities: z.array(z.number().gt(0).lt(1)).min(1).max(16),
  methods: z
    .array(z.strictObject({ method: pruneMethod, dataType: z.enum(['mt', 'mono', 'mt-contrast']).default('mt'), dropTop: z.boolean().default(false) }))
    .min(1)
    .max(16),
  /** Everything else of a prune job, applied to every job of the grid. */
  base: pruneJobSpec
    .omit({ kind: true, modelId: true, method: true, sparsity: true, dropTop: true, calibration: true })
    .partial()
    .extend({ calibration: calibrationSpec.omit({ corpusId: true, corpora: true, contrastCorpusId: true, dataType: true, pair: true }).partial().optional() })
    .default({}),
  includeDense: z.boolean().default(true),
  /** Also queue one analyze job per (method, sparsity) with two or more prune jobs; it runs once they have ended. */
  analyze: z.boolean().default(false),
});
export const sweepInfo = z.object({ sweepId: z.string(), jobs: z.array(jobInfo) }).meta({ id: 'Sweep' });

// ---- runner protocol -------------------------------------------------------------------------

export const leaseBody = z.strictObject({ runnerId: z.string().min(1).max(100), device: z.string().max(100).optional() });

/**
 * The queue as an autoscaler reads it (GET /v1/runner/queue), from the jobs table at one instant.
 * Jobs name no device: any runner can take any job, so both byDevice figures count every ready
 * queued job; each adds the live leases of runners that reported that device. docs/deploy.md.
 */
export const runnerQueue = z
  .object({
    /** jobs with status "queued", including those waiting for other jobs */
    queued: z.number().int().min(0),
    /** of the queued jobs, those not yet leasable: an analysis whose prune jobs have not all ended */
    waiting: z.number().int().min(0),
    /** jobs with status "running": a runner took them and has not reported the outcome */
    running: z.number().int().min(0),
    /** of the running jobs, those whose lease has not expired: a runner is still heartbeating them */
    leased: z.number().int().min(0),
    /** seconds since the oldest queued job was created (a requeued job keeps its age); 0 when none */
    oldestQueuedSeconds: z.number().int().min(0),
    /** runners of each device the queue keeps busy: ready queued jobs + live leases of that device */
    byDevice: z.object({ cuda: z.number().int().min(0), cpu: z.number().int().min(0) }),
  })
  .meta({ id: 'RunnerQueue' });
export type RunnerQueue = z.infer<typeof runnerQueue>;

export const jobInput = z.object({
  /** Name to fetch with GET /v1/runner/jobs/{id}/inputs/{name} */
  name: z.string(),
  /** model | corpus | contrast | suite | base-run | stats | masks | lmf (analyze: one masks input per run, an lmf input where the run has a report) */
  role: z.string(),
  sha256: sha256Hex,
  size: z.number(),
  /** suites: format, language, task and upload subset; corpora: src/tgt; masks/lmf: runId, label, variant, modelSha256 */
  meta: z.record(z.string(), z.unknown()).default({}),
});
export type JobInput = z.infer<typeof jobInput>;

export const leaseResponse = z.object({ job: jobInfo, leaseToken: z.string(), leaseExpiresAt: isoDate, inputs: z.array(jobInput) }).meta({ id: 'Lease' });
export type LeaseResponse = z.infer<typeof leaseResponse>;

export const heartbeatBody = z.strictObject({ leaseToken: z.string().min(1).max(200), progress: progress.optional() });

export const layerSparsity = z.strictObject({ id: z.string(), sparsity: z.number().min(0).max(1), dIn: z.number().int(), dOut: z.number().int() });

export const scoreRow = z.strictObject({
  suiteId: z.string(),
  format: z.string(),
  lang: z.string(),
  scoring: scoringName,
  /** acc, acc_norm, f1, ppl, chrf, bleu */
  metric: z.string().min(1).max(32),
  value: z.number().finite(),
  n: z.number().int().min(0),
  /** multiple choice: the language whose template words were used (runner); "auto" resolved */
  templateLang: z.string().max(16).optional(),
  /** filled by the worker: the suite's upload subset (size, seed) and the job's row limit and its seed, null when none */
  subset: z.number().int().nullable().optional(),
  seed: z.number().int().nullable().optional(),
  limit: z.number().int().nullable().optional(),
  limitSeed: z.number().int().nullable().optional(),
});
export type ScoreRow = z.infer<typeof scoreRow>;

export const runResult = z.strictObject({
  overallSparsity: z.number().min(0).max(1).nullable().default(null),
  layers: z.array(layerSparsity).default([]),
  scores: z.array(scoreRow).default([]),
  /** Artifact names previously uploaded for this job with PUT .../artifacts/{name}. */
  artifacts: z.array(z.string()).default([]),
  device: z.string().max(100).optional(),
  codeVersion: z.string().max(100).optional(),
  timings: z.record(z.string(), z.number()).default({}),
  /** Paired bootstrap vs dense and anything else worth keeping with the run. */
  extra: z.record(z.string(), z.unknown()).default({}),
});
export type RunResult = z.infer<typeof runResult>;

export const completeBody = z.strictObject({ leaseToken: z.string().min(1).max(200), result: runResult });
export const failBody = z.strictObject({
  leaseToken: z.string().min(1).max(200),
  error: z.string().min(1).max(4000),
  code: runnerFailureCode.optional(),
  retryable: z.boolean().default(false),
});

export const artifactName = z
  .string()
  .min(1)
  .max(120)
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, 'a plain file name: letters, digits, . _ -');

export const artifactInfo = z.object({ name: z.string(), sha256: sha256Hex, size: z.number() }).meta({ id: 'Artifact' });

// ---- runs and leaderboards -------------------------------------------------------------------

export const runInfo = z
  .object({
    id: z.string(),
    jobId: z.string(),
    owner: z.string(),
    kind: jobKind,
    visibility,
    modelId: z.string(),
    modelSha256: z.string().nullable(),
    corpusSha256: z.string().nullable(),
    variant: z.string(),
    config: z.record(z.string(), z.unknown()),
    codeVersion: z.string(),
    overallSparsity: z.number().nullable(),
    layers: z.array(layerSparsity),
    scores: z.array(scoreRow),
    artifacts: z.array(artifactInfo),
    timings: z.record(z.string(), z.number()),
    extra: z.record(z.string(), z.unknown()),
    createdAt: isoDate,
  })
  .meta({ id: 'Run' });
export type RunInfo = z.infer<typeof runInfo>;

export const listRunsQuery = z.object({
  model: z.string().max(64).optional(),
  kind: jobKind.optional(),
  limit: z.coerce.number().int().min(1).max(200).default(50),
  cursor: z.string().max(200).optional(),
});
