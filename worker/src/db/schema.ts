/**
 * The single D1 schema. Migrations in /migrations are generated from this file by drizzle-kit
 * (`npm run db:generate`) and never edited by hand after they land.
 */
import { index, integer, primaryKey, real, sqliteTable, text, uniqueIndex } from 'drizzle-orm/sqlite-core';
import { type Scope, visibilities } from '@polyprune/shared/api/common';
import type { OriginalPart } from '@polyprune/shared/api/corpora';
import { runnerFailureCodes } from '@polyprune/shared/api/errors';
import { type JobInput, type JobSpec, jobKinds, jobStatuses } from '@polyprune/shared/api/jobs';
import { modelFamilies } from '@polyprune/shared/api/models';
import type { GraphInfo } from '@polyprune/shared/model-files';

const createdAt = () => text('created_at').notNull();
// Columns of a closed set are typed with the API's own lists (drizzle's `enum` is a type only: the
// SQL stays plain TEXT, and the API validates every value before it is written).
const visibility = () => text('visibility', { enum: visibilities }).notNull();

export const tokens = sqliteTable(
  'tokens',
  {
    id: text('id').primaryKey(),
    owner: text('owner').notNull(),
    name: text('name'),
    scopes: text('scopes', { mode: 'json' }).$type<Scope[]>().notNull(),
    secretHash: text('secret_hash').notNull(),
    rateLimitPerMinute: integer('rate_limit_per_minute'),
    createdAt: createdAt(),
    lastUsedAt: text('last_used_at'),
    revokedAt: text('revoked_at'),
  },
  (t) => [uniqueIndex('tokens_secret_hash').on(t.secretHash)],
);

/**
 * Sessions of the pages (POST /login): the cookie holds a random secret, stored here only as its
 * SHA-256 like token secrets. A session lives until it expires, its owner signs out, or its token is
 * revoked (checked on every use by joining the token row).
 */
export const sessions = sqliteTable(
  'sessions',
  {
    secretHash: text('secret_hash').primaryKey(),
    tokenId: text('token_id').notNull(),
    createdAt: createdAt(),
    expiresAt: text('expires_at').notNull(),
  },
  (t) => [index('sessions_token').on(t.tokenId), index('sessions_expires').on(t.expiresAt)],
);

export const rateLimits = sqliteTable(
  'rate_limits',
  { key: text('key').notNull(), window: integer('window').notNull(), count: integer('count').notNull() },
  (t) => [primaryKey({ columns: [t.key, t.window] })],
);

export const models = sqliteTable(
  'models',
  {
    id: text('id').primaryKey(),
    owner: text('owner').notNull(),
    name: text('name').notNull(),
    family: text('family', { enum: modelFamilies }).notNull(),
    license: text('license'),
    visibility: visibility(),
    /** the owner's choice of graph file (PATCH graph); null: chosen by name precedence */
    graph: text('graph'),
    createdAt: createdAt(),
  },
  (t) => [index('models_owner').on(t.owner)],
);

export const modelFiles = sqliteTable(
  'model_files',
  {
    modelId: text('model_id').notNull(),
    name: text('name').notNull(),
    sha256: text('sha256').notNull(),
    size: integer('size').notNull(),
    r2Key: text('r2_key').notNull(),
    /** *.onnx files: what the graph refers to, scanned at upload; null for other files */
    graphInfo: text('graph_info', { mode: 'json' }).$type<GraphInfo>(),
    createdAt: createdAt(),
  },
  (t) => [primaryKey({ columns: [t.modelId, t.name] })],
);

export const uploads = sqliteTable('uploads', {
  id: text('id').primaryKey(),
  r2UploadId: text('r2_upload_id').notNull(),
  r2Key: text('r2_key').notNull(),
  modelId: text('model_id').notNull(),
  fileName: text('file_name').notNull(),
  owner: text('owner').notNull(),
  createdAt: createdAt(),
});

export const uploadParts = sqliteTable(
  'upload_parts',
  {
    uploadId: text('upload_id').notNull(),
    partNumber: integer('part_number').notNull(),
    etag: text('etag').notNull(),
    size: integer('size').notNull(),
  },
  (t) => [primaryKey({ columns: [t.uploadId, t.partNumber] })],
);

/**
 * The upload's bytes as they arrived (BOM, line ends, every column), content-addressed in R2 next to
 * the normalised rows; null on rows stored before originals were kept.
 */
const originalColumns = () => ({
  originalSha256: text('original_sha256'),
  originalSize: integer('original_size'),
  originalR2Key: text('original_r2_key'),
});

export const corpora = sqliteTable(
  'corpora',
  {
    id: text('id').primaryKey(),
    owner: text('owner').notNull(),
    name: text('name').notNull(),
    src: text('src').notNull(),
    tgt: text('tgt').notNull(),
    visibility: visibility(),
    sha256: text('sha256').notNull(),
    size: integer('size').notNull(),
    r2Key: text('r2_key').notNull(),
    stats: text('stats', { mode: 'json' }).notNull(),
    skippedLines: text('skipped_lines', { mode: 'json' }),
    ...originalColumns(),
    /** multipart uploads: the form's Content-Type (its boundary) and each file's name, hash and size */
    originalContentType: text('original_content_type'),
    originalParts: text('original_parts', { mode: 'json' }).$type<OriginalPart[]>(),
    createdAt: createdAt(),
  },
  // corpora_stored: an upload of a file stored before finds its objects here instead of asking R2
  (t) => [index('corpora_owner').on(t.owner), index('corpora_stored').on(t.r2Key, t.originalR2Key)],
);

export const suites = sqliteTable(
  'suites',
  {
    id: text('id').primaryKey(),
    owner: text('owner').notNull(),
    name: text('name').notNull(),
    format: text('format').notNull(),
    lang: text('lang').notNull(),
    /** suites of one task with the same rows are parallel (RankC); null on suites stored before tasks: their name */
    task: text('task'),
    visibility: visibility(),
    sha256: text('sha256').notNull(),
    size: integer('size').notNull(),
    r2Key: text('r2_key').notNull(),
    stats: text('stats', { mode: 'json' }).notNull(),
    skippedLines: text('skipped_lines', { mode: 'json' }),
    ...originalColumns(),
    createdAt: createdAt(),
  },
  (t) => [index('suites_owner').on(t.owner)],
);

export const jobs = sqliteTable(
  'jobs',
  {
    id: text('id').primaryKey(),
    owner: text('owner').notNull(),
    kind: text('kind', { enum: jobKinds }).notNull(),
    status: text('status', { enum: jobStatuses }).notNull(),
    spec: text('spec', { mode: 'json' }).$type<JobSpec>().notNull(),
    modelId: text('model_id').notNull(),
    sweepId: text('sweep_id'),
    /** what validation resolved from the calibration corpus: "fr-en" (for the variant label) and its sha256 */
    corpusPair: text('corpus_pair'),
    corpusSha256: text('corpus_sha256'),
    visibility: visibility(),
    idempotencyKey: text('idempotency_key'),
    /** sha256 of the canonical JSON body sent with the Idempotency-Key; a replay must match it */
    idempotencySha: text('idempotency_sha'),
    attempts: integer('attempts').notNull().default(0),
    maxAttempts: integer('max_attempts').notNull(),
    leaseToken: text('lease_token'),
    /** the runner token (tokens.id) that took the lease; only it may use the lease token */
    leaseHolder: text('lease_holder'),
    leaseExpiresAt: integer('lease_expires_at'),
    runnerId: text('runner_id'),
    /** the device the leasing runner reported ("cuda", "cpu", "auto"), for the queue figures by device */
    leaseDevice: text('lease_device'),
    progressStage: text('progress_stage'),
    progressDone: integer('progress_done'),
    progressTotal: integer('progress_total'),
    /** seconds the runner expects the stage to take still, when it reported its progress */
    progressEtaSeconds: integer('progress_eta_seconds'),
    error: text('error'),
    /** the runner's reason for its last /fail, when it gave one */
    errorCode: text('error_code', { enum: runnerFailureCodes }),
    /**
     * The inputs listed to the lease holder, fixed at lease time: a download finds its input here,
     * so a run completed meanwhile (a newer source of statistics or dense rows) cannot change them.
     */
    leaseInputs: text('lease_inputs', { mode: 'json' }).$type<Array<{ input: JobInput; r2Key: string }>>(),
    runId: text('run_id'),
    createdAt: createdAt(),
    startedAt: text('started_at'),
    finishedAt: text('finished_at'),
    updatedAt: text('updated_at').notNull(),
  },
  (t) => [index('jobs_status').on(t.status, t.id), index('jobs_model').on(t.modelId), uniqueIndex('jobs_idempotency').on(t.owner, t.idempotencyKey)],
);

export const jobArtifacts = sqliteTable(
  'job_artifacts',
  {
    jobId: text('job_id').notNull(),
    name: text('name').notNull(),
    sha256: text('sha256').notNull(),
    size: integer('size').notNull(),
    r2Key: text('r2_key').notNull(),
    leaseToken: text('lease_token').notNull(),
    createdAt: createdAt(),
  },
  (t) => [primaryKey({ columns: [t.jobId, t.name] })],
);

export const runs = sqliteTable(
  'runs',
  {
    id: text('id').primaryKey(),
    jobId: text('job_id').notNull(),
    owner: text('owner').notNull(),
    kind: text('kind', { enum: jobKinds }).notNull(),
    visibility: visibility(),
    modelId: text('model_id').notNull(),
    modelSha256: text('model_sha256'),
    corpusSha256: text('corpus_sha256'),
    variant: text('variant').notNull(),
    config: text('config', { mode: 'json' }).$type<Record<string, unknown>>().notNull(),
    codeVersion: text('code_version').notNull(),
    overallSparsity: real('overall_sparsity'),
    layers: text('layers', { mode: 'json' }).notNull(),
    artifacts: text('artifacts', { mode: 'json' }).notNull(),
    timings: text('timings', { mode: 'json' }).notNull(),
    extra: text('extra', { mode: 'json' }).notNull(),
    createdAt: createdAt(),
  },
  (t) => [uniqueIndex('runs_job').on(t.jobId), index('runs_model').on(t.modelId)],
);

export const scores = sqliteTable(
  'scores',
  {
    runId: text('run_id').notNull(),
    modelId: text('model_id').notNull(),
    visibility: visibility(),
    owner: text('owner').notNull(),
    variant: text('variant').notNull(),
    method: text('method').notNull(),
    sparsity: real('sparsity'),
    pattern: text('pattern'),
    calibration: text('calibration'),
    suiteId: text('suite_id').notNull(),
    format: text('format').notNull(),
    lang: text('lang').notNull(),
    scoring: text('scoring').notNull(),
    metric: text('metric').notNull(),
    value: real('value').notNull(),
    n: integer('n').notNull(),
    /** multiple choice: language of the template words used */
    templateLang: text('template_lang'),
    /** the suite's upload subset (rows, seed); null: the whole published file */
    subset: integer('subset'),
    seed: integer('seed'),
    /** the job's per-suite row limit and the seed of its subset; both null: every row */
    rowLimit: integer('row_limit'),
    limitSeed: integer('limit_seed'),
  },
  (t) => [
    primaryKey({ columns: [t.runId, t.suiteId, t.scoring, t.metric] }),
    // A board always filters scoring and metric, and format when asked: one model's board, and the
    // board across models. Format last, so that a board of every format still searches on three
    // (or two) columns and the planner never prefers the other index for a model's board.
    index('scores_board').on(t.modelId, t.scoring, t.metric, t.format),
    index('scores_across').on(t.scoring, t.metric, t.format),
  ],
);

/**
 * What the cached lists and boards were built from (lib/versioned-cache.ts): one row per key, set
 * to a fresh random value by triggers (in the migration) whenever a row it covers changes, in the
 * same transaction as the change. Keys: `boards` (any score, run, model), `model:<id>` (that
 * model's scores and row), `suites` (a suite renamed, hidden or removed), `models` (models and
 * their files), `runs` (runs and their scores). Random, not a counter: a restored or re-created
 * database never hands out a version an isolate cached earlier.
 */
export const dataVersions = sqliteTable('data_versions', {
  key: text('key').primaryKey(),
  version: text('version').notNull(),
});

/** Multipart uploads of runner artifacts (pruned models of real LMs exceed one request body). */
export const artifactUploads = sqliteTable('artifact_uploads', {
  id: text('id').primaryKey(),
  jobId: text('job_id').notNull(),
  name: text('name').notNull(),
  r2UploadId: text('r2_upload_id').notNull(),
  r2Key: text('r2_key').notNull(),
  leaseToken: text('lease_token').notNull(),
  createdAt: createdAt(),
});
