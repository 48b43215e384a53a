/**
 * The API contract in one table: every route with its auth, inputs and outputs as zod schemas.
 * The worker serves the OpenAPI 3.1 document built from this table (`buildOpenApi`), so the
 * document cannot drift from the schemas the handlers validate with.
 */
import { z } from 'zod';
import { maskAnalysis } from './analysis';
import { limits } from './limits';
import { errorBody, page, paginationQuery, type Scope } from './common';
import { corpusInfo, corpusUploadQuery } from './corpora';
import {
  artifactInfo,
  completeBody,
  createJobBody,
  createSweepBody,
  failBody,
  heartbeatBody,
  jobInfo,
  leaseBody,
  leaseResponse,
  listJobsQuery,
  listRunsQuery,
  runInfo,
  sweepInfo,
} from './jobs';
import { leaderboard, leaderboardQuery, methodSummary, sparsityQuery, sparsityView } from './leaderboards';
import { completeUploadBody, createModelBody, modelFile, modelInfo, multipartUpload, patchModelBody } from './models';
import { suiteInfo, suiteUploadQuery } from './suites';
import { createdToken, createTokenBody, tokenInfo } from './tokens';

export interface RouteSpec {
  method: 'get' | 'post' | 'put' | 'patch' | 'delete';
  /** OpenAPI path syntax: /v1/models/{id} */
  path: string;
  summary: string;
  tag: string;
  /** null: anonymous callers allowed (public resources only) */
  scope: Scope | null;
  query?: z.ZodObject;
  body?: z.ZodType;
  bodyContentType?: string;
  description?: string;
  responses: Record<number, { description: string; schema?: z.ZodType; contentType?: string }>;
}

const raw = { description: 'raw bytes', contentType: 'application/octet-stream' };
const e = (description: string) => ({ description, schema: errorBody });

export const routes: RouteSpec[] = [
  { method: 'get', path: '/v1/openapi.json', summary: 'This document', tag: 'meta', scope: null, responses: { 200: { description: 'OpenAPI 3.1' } } },
  {
    method: 'get',
    path: '/v1/health',
    summary: 'Liveness and version',
    tag: 'meta',
    scope: null,
    responses: { 200: { description: 'ok', schema: z.object({ ok: z.boolean(), version: z.string() }) } },
  },

  {
    method: 'post',
    path: '/v1/tokens',
    summary: 'Create an API token (secret shown once)',
    tag: 'tokens',
    scope: 'admin',
    body: createTokenBody,
    responses: { 201: { description: 'created', schema: createdToken }, 400: e('invalid body') },
  },
  {
    method: 'get',
    path: '/v1/tokens',
    summary: 'List tokens (no secrets)',
    tag: 'tokens',
    scope: 'admin',
    query: paginationQuery,
    responses: { 200: { description: 'page', schema: page(tokenInfo) } },
  },
  {
    method: 'delete',
    path: '/v1/tokens/{id}',
    summary: 'Revoke a token at once',
    tag: 'tokens',
    scope: 'admin',
    responses: { 200: { description: 'revoked', schema: tokenInfo }, 404: e('unknown token') },
  },

  {
    method: 'post',
    path: '/v1/models',
    summary: 'Register a model',
    tag: 'models',
    scope: 'write',
    body: createModelBody,
    responses: { 201: { description: 'created', schema: modelInfo } },
  },
  {
    method: 'get',
    path: '/v1/models',
    summary: 'List visible models',
    tag: 'models',
    scope: null,
    query: paginationQuery,
    responses: { 200: { description: 'page', schema: page(modelInfo) } },
  },
  {
    method: 'get',
    path: '/v1/models/{id}',
    summary: 'A model with its files and completeness',
    tag: 'models',
    scope: null,
    responses: { 200: { description: 'model', schema: modelInfo }, 404: e('unknown or not visible') },
  },
  {
    method: 'patch',
    path: '/v1/models/{id}',
    summary: 'Change visibility, license or the graph file (among uploaded *.onnx)',
    tag: 'models',
    scope: 'write',
    body: patchModelBody,
    responses: { 200: { description: 'model', schema: modelInfo }, 422: e('graph: unknown_file (not uploaded) or unusable_graph') },
  },
  {
    method: 'put',
    path: '/v1/models/{id}/files/{name}',
    summary: 'Upload a file (≤ 95 MB; X-Content-SHA256 optional); a *.onnx file is scanned for its external data and ops',
    tag: 'models',
    scope: 'write',
    bodyContentType: 'application/octet-stream',
    responses: {
      201: { description: 'stored', schema: modelFile },
      413: e('too large: use multipart'),
      422: e('hash_mismatch, or invalid_onnx: a *.onnx file that is not an ONNX model'),
    },
  },
  {
    method: 'get',
    path: '/v1/models/{id}/files/{name}',
    summary: 'Download a file (Range supported)',
    tag: 'models',
    scope: null,
    responses: { 200: raw, 206: raw },
  },
  {
    method: 'post',
    path: '/v1/models/{id}/files/{name}/uploads',
    summary: 'Start a multipart upload',
    tag: 'models',
    scope: 'write',
    responses: { 201: { description: 'started', schema: multipartUpload } },
  },
  {
    method: 'put',
    path: '/v1/models/{id}/files/{name}/uploads/{uploadId}/parts/{n}',
    summary: 'Upload part n (1-based; every part but the last ≥ 5 MiB)',
    tag: 'models',
    scope: 'write',
    bodyContentType: 'application/octet-stream',
    responses: { 200: { description: 'part stored', schema: z.object({ partNumber: z.number(), size: z.number() }) } },
  },
  {
    method: 'post',
    path: '/v1/models/{id}/files/{name}/uploads/{uploadId}/complete',
    summary: 'Assemble the parts, hash server-side',
    tag: 'models',
    scope: 'write',
    body: completeUploadBody,
    responses: {
      201: { description: 'stored', schema: modelFile },
      409: e('missing parts'),
      422: e('hash_mismatch, or invalid_onnx: a *.onnx file that is not an ONNX model'),
    },
  },
  {
    method: 'delete',
    path: '/v1/models/{id}/files/{name}/uploads/{uploadId}',
    summary: 'Abort a multipart upload',
    tag: 'models',
    scope: 'write',
    responses: { 204: { description: 'aborted' } },
  },

  {
    method: 'post',
    path: '/v1/corpora',
    summary: 'Upload bilingual sentence pairs (TSV or JSONL body)',
    description: `≤ ${limits.datasetBytes / 1048576} MiB, ≤ ${limits.datasetLines} lines of ≤ ${limits.lineBytes / 1024} KiB; a rejected upload lists its first ${limits.problemsListed} bad lines and stops there, onError=skip stops past ${limits.badLinesSkipped} bad lines`,
    tag: 'corpora',
    scope: 'write',
    query: corpusUploadQuery,
    bodyContentType: 'text/plain',
    responses: {
      201: { description: 'stored', schema: corpusInfo },
      413: e('payload_too_large or too_many_lines'),
      422: e('invalid_lines, too_many_invalid_lines or no_valid_lines, with line numbers'),
    },
  },
  {
    method: 'get',
    path: '/v1/corpora',
    summary: 'List visible corpora',
    tag: 'corpora',
    scope: null,
    query: paginationQuery,
    responses: { 200: { description: 'page', schema: page(corpusInfo) } },
  },
  {
    method: 'get',
    path: '/v1/corpora/{id}',
    summary: 'Corpus stats, hash, owner',
    tag: 'corpora',
    scope: null,
    responses: { 200: { description: 'corpus', schema: corpusInfo } },
  },
  {
    method: 'get',
    path: '/v1/corpora/{id}/data',
    summary: 'Normalised JSONL',
    tag: 'corpora',
    scope: null,
    responses: { 200: { description: 'JSONL', contentType: 'application/x-ndjson' } },
  },

  {
    method: 'post',
    path: '/v1/suites',
    summary: 'Upload an evaluation suite (JSONL; ppl/mt also plain text/TSV)',
    description: `≤ ${limits.datasetBytes / 1048576} MiB, ≤ ${limits.datasetLines} lines of ≤ ${limits.lineBytes / 1024} KiB; a rejected upload lists its first ${limits.problemsListed} bad lines and stops there, onError=skip stops past ${limits.badLinesSkipped} bad lines`,
    tag: 'suites',
    scope: 'write',
    query: suiteUploadQuery,
    bodyContentType: 'text/plain',
    responses: {
      201: { description: 'stored', schema: suiteInfo },
      413: e('payload_too_large or too_many_lines'),
      422: e('invalid_lines, too_many_invalid_lines or no_valid_lines, with line numbers'),
    },
  },
  {
    method: 'get',
    path: '/v1/suites',
    summary: 'List visible suites',
    tag: 'suites',
    scope: null,
    query: paginationQuery,
    responses: { 200: { description: 'page', schema: page(suiteInfo) } },
  },
  {
    method: 'get',
    path: '/v1/suites/{id}',
    summary: 'Suite stats',
    tag: 'suites',
    scope: null,
    responses: { 200: { description: 'suite', schema: suiteInfo } },
  },
  {
    method: 'get',
    path: '/v1/suites/{id}/data',
    summary: 'Normalised JSONL rows',
    tag: 'suites',
    scope: null,
    responses: { 200: { description: 'JSONL', contentType: 'application/x-ndjson' } },
  },

  {
    method: 'post',
    path: '/v1/jobs',
    summary: 'Create a prune, evaluate or analyze job (Idempotency-Key honoured); analyze compares the masks of finished prune runs',
    tag: 'jobs',
    scope: 'write',
    body: createJobBody,
    responses: {
      201: { description: 'queued', schema: jobInfo },
      200: { description: 'replay of an earlier request with the same Idempotency-Key', schema: jobInfo },
      422: e(
        'idempotency_key_reused: the key was first sent with another body; or the spec refers to something missing, invisible or inconsistent; incomplete_model / unsupported_model name the files or ops and the fix; analyze: unknown_run, not_a_prune_run, different_model_bytes, different_layers, no_masks',
      ),
    },
  },
  {
    method: 'get',
    path: '/v1/jobs',
    summary: 'List jobs (?status=&model=&sweep=)',
    tag: 'jobs',
    scope: null,
    query: listJobsQuery,
    responses: { 200: { description: 'page', schema: page(jobInfo) } },
  },
  {
    method: 'get',
    path: '/v1/jobs/{id}',
    summary: 'Status, progress, attempts, timings, error',
    tag: 'jobs',
    scope: null,
    responses: { 200: { description: 'job', schema: jobInfo } },
  },
  {
    method: 'post',
    path: '/v1/jobs/{id}/cancel',
    summary: 'Cancel a queued or running job',
    tag: 'jobs',
    scope: 'write',
    responses: { 200: { description: 'canceled', schema: jobInfo }, 409: e('already finished') },
  },
  {
    method: 'post',
    path: '/v1/sweeps',
    summary: 'Expand pairs × sparsities × methods into jobs (analyze: true adds one analyze job per method and sparsity)',
    tag: 'jobs',
    scope: 'write',
    body: createSweepBody,
    responses: { 201: { description: 'jobs', schema: sweepInfo }, 422: e('nothing_to_analyze, sweep_too_large, or a job refused') },
  },
  {
    method: 'get',
    path: '/v1/sweeps/{id}',
    summary: 'The jobs of a sweep, its analyze jobs included',
    tag: 'jobs',
    scope: null,
    responses: { 200: { description: 'sweep', schema: sweepInfo }, 404: e('no visible job of this sweep') },
  },
  {
    method: 'get',
    path: '/sweeps/{id}',
    summary: 'HTML page of a sweep: its jobs, runs and analyses',
    tag: 'jobs',
    scope: null,
    responses: { 200: { description: 'HTML', contentType: 'text/html' } },
  },

  {
    method: 'post',
    path: '/v1/runner/lease',
    summary: 'Claim the oldest queued job (204 when none)',
    tag: 'runner',
    scope: 'runner',
    body: leaseBody,
    responses: { 200: { description: 'lease', schema: leaseResponse }, 204: { description: 'no work' } },
  },
  {
    method: 'post',
    path: '/v1/runner/jobs/{id}/heartbeat',
    summary: 'Extend the lease, report progress',
    tag: 'runner',
    scope: 'runner',
    body: heartbeatBody,
    responses: { 200: { description: 'extended', schema: z.object({ leaseExpiresAt: z.string() }) }, 409: e('lease lost') },
  },
  {
    method: 'get',
    path: '/v1/runner/jobs/{id}/inputs/{name}',
    summary: 'Download an input (X-Lease-Token; Range supported)',
    tag: 'runner',
    scope: 'runner',
    responses: { 200: raw, 206: raw, 409: e('lease lost') },
  },
  {
    method: 'put',
    path: '/v1/runner/jobs/{id}/artifacts/{name}',
    summary: 'Upload an artifact (X-Lease-Token)',
    tag: 'runner',
    scope: 'runner',
    bodyContentType: 'application/octet-stream',
    responses: { 201: { description: 'stored', schema: artifactInfo }, 409: e('lease lost') },
  },
  {
    method: 'post',
    path: '/v1/runner/jobs/{id}/artifacts/{name}/uploads',
    summary: 'Start a multipart artifact upload (X-Lease-Token; for artifacts over 95 MB)',
    tag: 'runner',
    scope: 'runner',
    responses: { 201: { description: 'started', schema: z.object({ uploadId: z.string() }) }, 409: e('lease lost') },
  },
  {
    method: 'put',
    path: '/v1/runner/jobs/{id}/artifacts/{name}/uploads/{uploadId}/parts/{n}',
    summary: 'Upload part n (1-based; every part but the last ≥ 5 MiB)',
    tag: 'runner',
    scope: 'runner',
    bodyContentType: 'application/octet-stream',
    responses: { 200: { description: 'part stored', schema: z.object({ partNumber: z.number(), size: z.number() }) }, 409: e('lease lost') },
  },
  {
    method: 'post',
    path: '/v1/runner/jobs/{id}/artifacts/{name}/uploads/{uploadId}/complete',
    summary: 'Assemble the parts, hash server-side (X-Content-SHA256 checked)',
    tag: 'runner',
    scope: 'runner',
    responses: { 201: { description: 'stored', schema: artifactInfo }, 409: e('lease lost or missing parts'), 422: e('hash mismatch') },
  },
  {
    method: 'post',
    path: '/v1/runner/jobs/{id}/complete',
    summary: 'Report results (one D1 batch; idempotent per lease)',
    tag: 'runner',
    scope: 'runner',
    body: completeBody,
    responses: {
      200: { description: 'run recorded', schema: z.object({ runId: z.string(), job: jobInfo }) },
      409: e('lease lost'),
      422: e('unknown_artifact (not uploaded under this lease), unknown_suite, duplicate_score, invalid_analysis'),
    },
  },
  {
    method: 'post',
    path: '/v1/runner/jobs/{id}/fail',
    summary: 'Report a failure (retryable requeues)',
    tag: 'runner',
    scope: 'runner',
    body: failBody,
    responses: { 200: { description: 'recorded', schema: jobInfo }, 409: e('lease lost') },
  },

  {
    method: 'get',
    path: '/v1/runs',
    summary: 'List runs (?model=&kind=)',
    tag: 'runs',
    scope: null,
    query: listRunsQuery,
    responses: { 200: { description: 'page', schema: page(runInfo) } },
  },
  {
    method: 'get',
    path: '/v1/runs/{id}',
    summary: 'Configuration, hashes, per-layer sparsity, scores, artifacts',
    tag: 'runs',
    scope: null,
    responses: { 200: { description: 'run', schema: runInfo } },
  },
  {
    method: 'get',
    path: '/v1/runs/{id}/artifacts/{name}',
    summary: 'Download an artifact (masks.bin format: docs/mask-format.md)',
    tag: 'runs',
    scope: null,
    responses: { 200: raw },
  },
  {
    method: 'get',
    path: '/v1/runs/{id}/analysis',
    summary: 'The mask analysis of an analyze run (matrices, per layer, LMF overlap across pairs)',
    tag: 'runs',
    scope: null,
    responses: { 200: { description: 'analysis', schema: maskAnalysis }, 404: e('unknown run, or not an analysis') },
  },
  {
    method: 'get',
    path: '/runs/{id}',
    summary: 'HTML page of a run: LMF chart (mt vs mono per block) or the analysis heatmaps',
    tag: 'runs',
    scope: null,
    responses: { 200: { description: 'HTML', contentType: 'text/html' } },
  },
  {
    method: 'get',
    path: '/v1/leaderboards',
    summary:
      'Variants × suites: each cell with n, 95% interval, Δ vs dense on the same suite rows and p-value; without `model`, every visible model ranked together. `as=csv|latex` (or Accept: text/csv) exports it',
    tag: 'leaderboards',
    scope: null,
    query: leaderboardQuery,
    responses: { 200: { description: 'leaderboard (or CSV / LaTeX)', schema: leaderboard } },
  },
  {
    method: 'get',
    path: '/v1/leaderboards/sparsity',
    summary: 'Metric vs sparsity per method, calibration and suite of one model (the paper figures), with dense per suite',
    tag: 'leaderboards',
    scope: null,
    query: sparsityQuery,
    responses: { 200: { description: 'series', schema: sparsityView } },
  },
  {
    method: 'get',
    path: '/v1/leaderboards/methods',
    summary:
      'Δ vs dense per method over language pairs (own pair vs other languages) and method-vs-method contrasts, with t-intervals and exact sign-flip p-values over cells',
    tag: 'leaderboards',
    scope: null,
    query: leaderboardQuery.omit({ as: true, sort: true, order: true }),
    responses: { 200: { description: 'method summary', schema: methodSummary } },
  },
  {
    method: 'get',
    path: '/leaderboards',
    summary: 'HTML leaderboard across models with filters (format, language, sparsity, scoring, metric)',
    tag: 'leaderboards',
    scope: null,
    responses: { 200: { description: 'HTML', contentType: 'text/html' } },
  },
  {
    method: 'get',
    path: '/leaderboards/{model}',
    summary: 'HTML leaderboard page of one model: table, per-suite chart, metric vs sparsity, method summary',
    tag: 'leaderboards',
    scope: null,
    responses: { 200: { description: 'HTML', contentType: 'text/html' } },
  },
];

/** Registers more routes (the jobs/runner/leaderboard modules add theirs). */
export function registerRoutes(more: RouteSpec[]) {
  routes.push(...more);
}

function jsonSchema(s: z.ZodType) {
  return z.toJSONSchema(s, { target: 'draft-2020-12', io: 'input', unrepresentable: 'any' });
}

const built = new Map<string, unknown>();

/** The document for a version, built once per isolate: it only depends on the route table. */
export function openApiDocument(version: string) {
  let doc = built.get(version);
  if (!doc) {
    doc = buildOpenApi(version);
    built.set(version, doc);
  }
  return doc;
}

export function buildOpenApi(version: string) {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const r of routes) {
    const params: unknown[] = [...r.path.matchAll(/\{(\w+)\}/g)].map((m) => ({ name: m[1], in: 'path', required: true, schema: { type: 'string' } }));
    if (r.query) {
      for (const [name, s] of Object.entries(r.query.shape)) {
        const schema = s as z.ZodType;
        params.push({ name, in: 'query', required: !schema.safeParse(undefined).success, schema: jsonSchema(schema) });
      }
    }
    const responses: Record<string, unknown> = {};
    for (const [status, resp] of Object.entries(r.responses)) {
      responses[status] = {
        description: resp.description,
        ...(resp.schema
          ? { content: { [resp.contentType ?? 'application/json']: { schema: jsonSchema(resp.schema) } } }
          : resp.contentType
            ? { content: { [resp.contentType]: {} } }
            : {}),
      };
    }
    // Statuses every route of a kind can answer, whatever its own table says.
    const err = (description: string) => ({ description, content: { 'application/json': { schema: jsonSchema(errorBody) } } });
    const pathParams = params.some((p) => (p as { in: string }).in === 'path');
    const hasBody = r.body !== undefined || r.bodyContentType !== undefined;
    if (pathParams || r.query || hasBody) responses['400'] ??= err('invalid_request: a path parameter, query or body is malformed');
    responses['401'] ??= err(r.scope ? 'missing, malformed or unknown token' : 'malformed or unknown token (anonymous calls need none)');
    if (r.scope) responses['403'] ??= err(`token lacks scope "${r.scope}"`);
    if (pathParams) responses['404'] ??= err('unknown, or not visible to this token');
    if (r.path.startsWith('/v1/runner/jobs/'))
      responses['409'] ??= err('lease_lost: the lease expired, was re-leased or canceled, or belongs to another runner token');
    if (hasBody) responses['413'] ??= err(`payload_too_large${r.body ? ` (JSON bodies ≤ ${limits.jsonBodyBytes} bytes)` : ''}`);
    if (r.responses[206]) responses['416'] ??= err('range outside the object');
    responses['429'] = { description: 'rate limited (Retry-After, RateLimit-Reset)', content: { 'application/json': { schema: jsonSchema(errorBody) } } };
    paths[r.path] ??= {};
    paths[r.path]![r.method] = {
      summary: r.summary,
      ...(r.description ? { description: r.description } : {}),
      tags: [r.tag],
      ...(r.scope ? { security: [{ bearer: [] }], 'x-scope': r.scope } : {}),
      parameters: params,
      ...(r.body
        ? { requestBody: { required: true, content: { 'application/json': { schema: jsonSchema(r.body) } } } }
        : r.bodyContentType
          ? { requestBody: { required: true, content: { [r.bodyContentType]: { schema: { type: 'string', format: 'binary' } } } } }
          : {}),
      responses,
    };
  }
  return {
    openapi: '3.1.0',
    info: { title: 'polyprune', version, description: 'Prune multilingual LMs for language pairs and rank the results.', 'x-limits': limits },
    components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
    paths,
  };
}
