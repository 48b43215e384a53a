/**
 * TO BE CONVERTED: the routes not yet declared once with `createRoute` in worker/src/routes/*
 * (corpora, suites, leaderboards and the HTML pages, being rewritten under issues 12 and 13). The
 * worker merges this table into the OpenAPI document it generates from the declared routes
 * (worker/src/lib/openapi.ts). Once a resource is converted, delete its entries here; delete the
 * file when the table is empty.
 */
import type { z } from 'zod';
import { errorBody, page, paginationQuery, type Scope } from './common';
import { corpusInfo, corpusUploadQuery } from './corpora';
import { type BodyDoc, corpusBodies, suiteBodies } from './dataset-docs';
import { leaderboard, leaderboardQuery, methodSummary, sparsityQuery, sparsityView } from './leaderboards';
import { limits } from './limits';
import { suiteInfo, suiteUploadQuery } from './suites';

export interface LegacyRoute {
  method: 'get' | 'post' | 'put' | 'patch' | 'delete';
  /** OpenAPI path syntax: /v1/corpora/{id} */
  path: string;
  summary: string;
  tag: string;
  /** null: anonymous callers allowed (public resources only) */
  scope: Scope | null;
  query?: z.ZodObject;
  bodyContentType?: string;
  description?: string;
  /** several accepted body types, each with its examples (dataset uploads) */
  bodies?: Record<string, BodyDoc>;
  responses: Record<number, { description: string; schema?: z.ZodType; contentType?: string }>;
}

const e = (description: string) => ({ description, schema: errorBody });

export const legacyRoutes: LegacyRoute[] = [
  {
    method: 'post',
    path: '/v1/corpora',
    summary: 'Upload bilingual sentence pairs: TSV, JSONL (polyprune or hub rows), or two line-aligned files (multipart src, tgt)',
    description: `≤ ${limits.datasetBytes / 1048576} MiB, ≤ ${limits.datasetLines} lines of ≤ ${limits.lineBytes / 1024} KiB; a rejected upload lists its first ${limits.problemsListed} bad lines and stops there, onError=skip stops past ${limits.badLinesSkipped} bad lines`,
    tag: 'corpora',
    scope: 'write',
    query: corpusUploadQuery,
    bodies: corpusBodies,
    responses: {
      201: { description: 'stored', schema: corpusInfo },
      400: e('invalid_multipart, unknown_part or missing_part (two-file upload)'),
      413: e('payload_too_large or too_many_lines'),
      422: e('invalid_lines, too_many_invalid_lines or no_valid_lines, with line numbers; unknown_language, line_count_mismatch or src_equals_tgt'),
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
    summary: 'Stored JSONL {src, tgt}: the text as uploaded',
    tag: 'corpora',
    scope: null,
    responses: { 200: { description: 'JSONL', contentType: 'application/x-ndjson' } },
  },
  {
    method: 'post',
    path: '/v1/suites',
    summary: 'Upload an evaluation suite in its published shape (JSONL, TSV, CSV; sniffed); the response says what was recognised',
    description: `≤ ${limits.datasetBytes / 1048576} MiB, ≤ ${limits.datasetLines} lines of ≤ ${limits.lineBytes / 1024} KiB; a rejected upload lists its first ${limits.problemsListed} bad lines and stops there, onError=skip stops past ${limits.badLinesSkipped} bad lines`,
    tag: 'suites',
    scope: 'write',
    query: suiteUploadQuery,
    bodies: suiteBodies,
    responses: {
      201: { description: 'stored', schema: suiteInfo },
      413: e('payload_too_large or too_many_lines'),
      422: e('invalid_lines, too_many_invalid_lines or no_valid_lines, with line numbers; unknown_language'),
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
    summary: 'Stored JSONL rows (schemas SuiteRow…)',
    tag: 'suites',
    scope: null,
    responses: { 200: { description: 'JSONL', contentType: 'application/x-ndjson' } },
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
