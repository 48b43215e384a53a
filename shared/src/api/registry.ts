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
import { leaderboard, leaderboardQuery } from './jobs';
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
  responses: Record<number, { description: string; schema?: z.ZodType; contentType?: string }>;
}

const e = (description: string) => ({ description, schema: errorBody });

export const legacyRoutes: LegacyRoute[] = [
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
    summary: 'Variants × languages with means and Δ vs dense',
    tag: 'leaderboards',
    scope: null,
    query: leaderboardQuery,
    responses: { 200: { description: 'leaderboard', schema: leaderboard } },
  },
  {
    method: 'get',
    path: '/leaderboards/{model}',
    summary: 'HTML leaderboard page with a per-language chart',
    tag: 'leaderboards',
    scope: null,
    responses: { 200: { description: 'HTML', contentType: 'text/html' } },
  },
];
