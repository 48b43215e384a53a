/**
 * The API contract in one table: every route with its auth, inputs and outputs as zod schemas.
 * The worker serves the OpenAPI 3.1 document built from this table (`buildOpenApi`), so the
 * document cannot drift from the schemas the handlers validate with.
 */
import { z } from 'zod';
import { errorBody, page, paginationQuery, type Scope } from './common';
import { corpusInfo, corpusUploadQuery } from './corpora';
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
  responses: Record<number, { description: string; schema?: z.ZodType; contentType?: string }>;
}

const raw = { description: 'raw bytes', contentType: 'application/octet-stream' };
const e = (description: string) => ({ description, schema: errorBody });

export const routes: RouteSpec[] = [
  { method: 'get', path: '/v1/openapi.json', summary: 'This document', tag: 'meta', scope: null, responses: { 200: { description: 'OpenAPI 3.1' } } },
  { method: 'get', path: '/v1/health', summary: 'Liveness and version', tag: 'meta', scope: null, responses: { 200: { description: 'ok', schema: z.object({ ok: z.boolean(), version: z.string() }) } } },

  { method: 'post', path: '/v1/tokens', summary: 'Create an API token (secret shown once)', tag: 'tokens', scope: 'admin', body: createTokenBody, responses: { 201: { description: 'created', schema: createdToken }, 400: e('invalid body') } },
  { method: 'get', path: '/v1/tokens', summary: 'List tokens (no secrets)', tag: 'tokens', scope: 'admin', query: paginationQuery, responses: { 200: { description: 'page', schema: page(tokenInfo) } } },
  { method: 'delete', path: '/v1/tokens/{id}', summary: 'Revoke a token at once', tag: 'tokens', scope: 'admin', responses: { 200: { description: 'revoked', schema: tokenInfo }, 404: e('unknown token') } },

  { method: 'post', path: '/v1/models', summary: 'Register a model', tag: 'models', scope: 'write', body: createModelBody, responses: { 201: { description: 'created', schema: modelInfo } } },
  { method: 'get', path: '/v1/models', summary: 'List visible models', tag: 'models', scope: null, query: paginationQuery, responses: { 200: { description: 'page', schema: page(modelInfo) } } },
  { method: 'get', path: '/v1/models/{id}', summary: 'A model with its files and completeness', tag: 'models', scope: null, responses: { 200: { description: 'model', schema: modelInfo }, 404: e('unknown or not visible') } },
  { method: 'patch', path: '/v1/models/{id}', summary: 'Change visibility or license', tag: 'models', scope: 'write', body: patchModelBody, responses: { 200: { description: 'model', schema: modelInfo } } },
  { method: 'put', path: '/v1/models/{id}/files/{name}', summary: 'Upload a file (≤ 95 MB; X-Content-SHA256 optional)', tag: 'models', scope: 'write', bodyContentType: 'application/octet-stream', responses: { 201: { description: 'stored', schema: modelFile }, 413: e('too large: use multipart'), 422: e('hash mismatch') } },
  { method: 'get', path: '/v1/models/{id}/files/{name}', summary: 'Download a file (Range supported)', tag: 'models', scope: null, responses: { 200: raw, 206: raw } },
  { method: 'post', path: '/v1/models/{id}/files/{name}/uploads', summary: 'Start a multipart upload', tag: 'models', scope: 'write', responses: { 201: { description: 'started', schema: multipartUpload } } },
  { method: 'put', path: '/v1/models/{id}/files/{name}/uploads/{uploadId}/parts/{n}', summary: 'Upload part n (1-based; every part but the last ≥ 5 MiB)', tag: 'models', scope: 'write', bodyContentType: 'application/octet-stream', responses: { 200: { description: 'part stored', schema: z.object({ partNumber: z.number(), size: z.number() }) } } },
  { method: 'post', path: '/v1/models/{id}/files/{name}/uploads/{uploadId}/complete', summary: 'Assemble the parts, hash server-side', tag: 'models', scope: 'write', body: completeUploadBody, responses: { 201: { description: 'stored', schema: modelFile }, 409: e('missing parts'), 422: e('hash mismatch') } },
  { method: 'delete', path: '/v1/models/{id}/files/{name}/uploads/{uploadId}', summary: 'Abort a multipart upload', tag: 'models', scope: 'write', responses: { 204: { description: 'aborted' } } },

  { method: 'post', path: '/v1/corpora', summary: 'Upload bilingual sentence pairs (TSV or JSONL body)', tag: 'corpora', scope: 'write', query: corpusUploadQuery, bodyContentType: 'text/plain', responses: { 201: { description: 'stored', schema: corpusInfo }, 422: e('invalid lines, with line numbers') } },
  { method: 'get', path: '/v1/corpora', summary: 'List visible corpora', tag: 'corpora', scope: null, query: paginationQuery, responses: { 200: { description: 'page', schema: page(corpusInfo) } } },
  { method: 'get', path: '/v1/corpora/{id}', summary: 'Corpus stats, hash, owner', tag: 'corpora', scope: null, responses: { 200: { description: 'corpus', schema: corpusInfo } } },
  { method: 'get', path: '/v1/corpora/{id}/data', summary: 'Normalised JSONL', tag: 'corpora', scope: null, responses: { 200: { description: 'JSONL', contentType: 'application/x-ndjson' } } },

  { method: 'post', path: '/v1/suites', summary: 'Upload an evaluation suite (JSONL; ppl/mt also plain text/TSV)', tag: 'suites', scope: 'write', query: suiteUploadQuery, bodyContentType: 'text/plain', responses: { 201: { description: 'stored', schema: suiteInfo }, 422: e('invalid rows, with line numbers') } },
  { method: 'get', path: '/v1/suites', summary: 'List visible suites', tag: 'suites', scope: null, query: paginationQuery, responses: { 200: { description: 'page', schema: page(suiteInfo) } } },
  { method: 'get', path: '/v1/suites/{id}', summary: 'Suite stats', tag: 'suites', scope: null, responses: { 200: { description: 'suite', schema: suiteInfo } } },
  { method: 'get', path: '/v1/suites/{id}/data', summary: 'Normalised JSONL rows', tag: 'suites', scope: null, responses: { 200: { description: 'JSONL', contentType: 'application/x-ndjson' } } },
];

/** Registers more routes (the jobs/runner/leaderboard modules add theirs). */
export function registerRoutes(more: RouteSpec[]) {
  routes.push(...more);
}

function jsonSchema(s: z.ZodType) {
  return z.toJSONSchema(s, { target: 'draft-2020-12', io: 'input', unrepresentable: 'any' });
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
        ...(resp.schema ? { content: { [resp.contentType ?? 'application/json']: { schema: jsonSchema(resp.schema) } } } : resp.contentType ? { content: { [resp.contentType]: {} } } : {}),
      };
    }
    if (r.scope) {
      responses['401'] = { description: 'missing or unknown token', content: { 'application/json': { schema: jsonSchema(errorBody) } } };
      responses['403'] = { description: `token lacks scope "${r.scope}"`, content: { 'application/json': { schema: jsonSchema(errorBody) } } };
    }
    responses['429'] = { description: 'rate limited (Retry-After)' };
    (paths[r.path] ??= {})[r.method] = {
      summary: r.summary,
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
    info: { title: 'polyprune', version, description: 'Prune multilingual LMs for language pairs and rank the results.' },
    components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
    paths,
  };
}
