/**
 * Typed client of the user-facing API (models, corpora, suites, jobs, runs, leaderboards), shared
 * by the CLI, the demo and the end-to-end tests. Retries and error shapes come from the runner's
 * Http helper so both sides behave the same on a flaky network. Requests are typed as the input
 * of the API's own schemas (shared/src/api), and every JSON answer is parsed with its schema.
 */
import path from 'node:path';
import { z } from 'zod';
import { maskAnalysis } from '@polyprune/shared/api/analysis';
import { page } from '@polyprune/shared/api/common';
import { corpusInfo, type corpusUploadQuery } from '@polyprune/shared/api/corpora';
import {
  type calibrationSpec,
  type createJobBody,
  type createSweepBody,
  type JobInfo,
  type JobStatus,
  jobInfo,
  type listJobsQuery,
  type listRunsQuery,
  type pruneJobSpec,
  runInfo,
  sweepInfo,
} from '@polyprune/shared/api/jobs';
import {
  type Leaderboard,
  leaderboard,
  type leaderboardQuery,
  type MethodSummary,
  methodSummary,
  type methodsQuery,
  type SparsityView,
  type sparsityQuery,
  sparsityView,
} from '@polyprune/shared/api/leaderboards';
import { type createModelBody, type ModelInfo, modelInfo, type patchModelBody } from '@polyprune/shared/api/models';
import { suiteInfo, type suiteUploadQuery } from '@polyprune/shared/api/suites';
import { createdToken, type createTokenBody } from '@polyprune/shared/api/tokens';
import { formDataBody } from '@polyprune/shared/form-data';
import { Http, type HttpOptions, type RequestOptions } from '@polyprune/shared/http';
import { uploadBlob } from '@polyprune/shared/multipart-upload';

export type { JobInfo, Leaderboard, MethodSummary, ModelInfo, SparsityView };

/** Requests as the API's schemas take them (a field with a default may be left out). */
export type CreateJobBody = z.input<typeof createJobBody>;
export type PruneJobBody = z.input<typeof pruneJobSpec>;
export type CalibrationBody = z.input<typeof calibrationSpec>;
export type CreateSweepBody = z.input<typeof createSweepBody>;
export type CorpusUploadQuery = z.input<typeof corpusUploadQuery>;

/** Query of the leaderboard views; `model` left out ranks every visible model (the board view only). */
export type BoardQuery = z.input<typeof methodsQuery>;

const enc = encodeURIComponent;
/** Query values as strings, without the ones left out. */
const strip = (q: object) => Object.fromEntries(Object.entries(q).flatMap(([k, v]) => (v === undefined || v === null || v === '' ? [] : [[k, String(v)]])));
/** Query values as the URL carries them (Http leaves out the undefined ones). */
const asQuery = (q: object): RequestOptions['query'] => Object.fromEntries(Object.entries(q).map(([k, v]) => [k, v === undefined ? undefined : String(v)]));

const modelPage = page(modelInfo);
const corpusPage = page(corpusInfo);
const suitePage = page(suiteInfo);
const jobPage = page(jobInfo);
const runPage = page(runInfo);
const uploadedFile = z.object({ name: z.string(), size: z.number(), sha256: z.string() });
const health = z.object({ ok: z.boolean(), version: z.string() });

/** An answer that is not what the API's schema says: named with where it came from, not trusted. */
function parseAnswer<S extends z.ZodType>(schema: S, what: string, value: unknown): z.output<S> {
  const r = schema.safeParse(value);
  if (!r.success) throw new Error(`unexpected answer from ${what}: ${z.prettifyError(r.error)}`);
  return r.data;
}

export class PolypruneApi {
  readonly http: Http;

  constructor(opts: HttpOptions) {
    this.http = new Http(opts);
  }

  get baseUrl() {
    return this.http.baseUrl;
  }

  /** A JSON answer, parsed with the schema of the route. */
  private async json<S extends z.ZodType>(schema: S, path: string, o: RequestOptions = {}): Promise<z.output<S>> {
    return parseAnswer(schema, `${o.method ?? 'GET'} ${path}`, await this.http.json<unknown>(path, o));
  }

  health() {
    return this.json(health, '/v1/health');
  }

  /** A new API token (admin); its secret is in this answer only. */
  createToken(body: z.input<typeof createTokenBody>) {
    return this.json(createdToken, '/v1/tokens', { method: 'POST', body });
  }

  createModel(body: z.input<typeof createModelBody>) {
    return this.json(modelInfo, '/v1/models', { method: 'POST', body });
  }

  getModel(id: string) {
    return this.json(modelInfo, `/v1/models/${enc(id)}`);
  }

  /** graph: an uploaded *.onnx to use as the graph; null: choose by name again. */
  patchModel(id: string, body: z.input<typeof patchModelBody>) {
    return this.json(modelInfo, `/v1/models/${enc(id)}`, { method: 'PATCH', body });
  }

  listModels() {
    return this.json(modelPage, '/v1/models');
  }

  /** Uploads one model file, in parts above the single-request limit; answers its size and sha256. */
  async uploadModelFile(
    modelId: string,
    file: string,
    opts: { name?: string; onBytes?: (done: number, total: number) => void; partSize?: number; singleLimit?: number } = {},
  ) {
    const name = opts.name ?? path.basename(file);
    const at = `/v1/models/${enc(modelId)}/files/${enc(name)}`;
    const answer = await uploadBlob<unknown>(
      this.http,
      { path: file },
      { path: at, singleLimit: opts.singleLimit, partSize: opts.partSize, onBytes: opts.onBytes, abortable: true },
    );
    return parseAnswer(uploadedFile, `the upload of ${at}`, answer);
  }

  uploadCorpus(data: Uint8Array, q: CorpusUploadQuery) {
    return this.json(corpusInfo, '/v1/corpora', { method: 'POST', body: data, query: asQuery(q), headers: { 'content-type': 'application/octet-stream' } });
  }

  /** Two line-aligned files (FLORES-200 style) in one multipart request. */
  uploadParallelCorpus(src: { filename: string; bytes: Uint8Array }, tgt: { filename: string; bytes: Uint8Array }, q: Omit<CorpusUploadQuery, 'format'>) {
    const form = formDataBody([
      { name: 'src', ...src },
      { name: 'tgt', ...tgt },
    ]);
    return this.json(corpusInfo, '/v1/corpora', { method: 'POST', body: form.body, query: asQuery(q), headers: { 'content-type': form.contentType } });
  }

  listCorpora() {
    return this.json(corpusPage, '/v1/corpora');
  }

  uploadSuite(data: Uint8Array, q: z.input<typeof suiteUploadQuery>) {
    return this.json(suiteInfo, '/v1/suites', { method: 'POST', body: data, query: asQuery(q), headers: { 'content-type': 'application/octet-stream' } });
  }

  listSuites() {
    return this.json(suitePage, '/v1/suites');
  }

  createJob(spec: CreateJobBody, idempotencyKey?: string) {
    return this.json(jobInfo, '/v1/jobs', { method: 'POST', body: spec, headers: idempotencyKey ? { 'idempotency-key': idempotencyKey } : {} });
  }

  createSweep(body: CreateSweepBody) {
    return this.json(sweepInfo, '/v1/sweeps', { method: 'POST', body });
  }

  getJob(id: string) {
    return this.json(jobInfo, `/v1/jobs/${enc(id)}`);
  }

  listJobs(q: z.input<typeof listJobsQuery> = {}) {
    return this.json(jobPage, '/v1/jobs', { query: asQuery(q) });
  }

  cancelJob(id: string) {
    return this.json(jobInfo, `/v1/jobs/${enc(id)}/cancel`, { method: 'POST' });
  }

  getRun(id: string) {
    return this.json(runInfo, `/v1/runs/${enc(id)}`);
  }

  listRuns(q: z.input<typeof listRunsQuery> = {}) {
    return this.json(runPage, '/v1/runs', { query: asQuery(q) });
  }

  /** The whole analysis of an analyze run (the run record has its summary in extra.analysis). */
  analysis(runId: string) {
    return this.json(maskAnalysis, `/v1/runs/${enc(runId)}/analysis`);
  }

  getSweep(id: string) {
    return this.json(sweepInfo, `/v1/sweeps/${enc(id)}`);
  }

  async runArtifact(runId: string, name: string): Promise<Uint8Array> {
    const res = await this.http.send(`/v1/runs/${enc(runId)}/artifacts/${enc(name)}`);
    return new Uint8Array(await res.arrayBuffer());
  }

  leaderboard(q: z.input<typeof leaderboardQuery>) {
    return this.json(leaderboard, '/v1/leaderboards', { query: strip(q) });
  }

  sparsityView(q: z.input<typeof sparsityQuery>) {
    return this.json(sparsityView, '/v1/leaderboards/sparsity', { query: strip(q) });
  }

  methodSummary(q: z.input<typeof methodsQuery>) {
    return this.json(methodSummary, '/v1/leaderboards/methods', { query: strip(q) });
  }

  getCorpus(id: string) {
    return this.json(corpusInfo, `/v1/corpora/${enc(id)}`);
  }

  pageUrl(kind: 'runs' | 'sweeps', id: string) {
    return `${this.baseUrl}/${kind}/${enc(id)}`;
  }

  leaderboardPageUrl(modelId: string, q: Record<string, string> = {}) {
    const u = new URL(`${this.baseUrl}/leaderboards/${enc(modelId)}`);
    for (const [k, v] of Object.entries(q)) u.searchParams.set(k, v);
    return u.toString();
  }

  acrossModelsPageUrl(q: Record<string, string> = {}) {
    const u = new URL(`${this.baseUrl}/leaderboards`);
    for (const [k, v] of Object.entries(q)) u.searchParams.set(k, v);
    return u.toString();
  }

  /** Polls a job until it ends; `onUpdate` sees every poll (progress bars). */
  async waitForJob(id: string, o: { intervalMs?: number; timeoutMs?: number; onUpdate?: (j: JobInfo) => void; signal?: AbortSignal } = {}): Promise<JobInfo> {
    const deadline = Date.now() + (o.timeoutMs ?? Infinity);
    for (;;) {
      const j = await this.getJob(id);
      o.onUpdate?.(j);
      if (isFinal(j.status)) return j;
      if (Date.now() > deadline) throw new Error(`job ${id} still ${j.status} after ${o.timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, o.intervalMs ?? 1000));
      o.signal?.throwIfAborted();
    }
  }
}

export const isFinal = (s: JobStatus) => s === 'succeeded' || s === 'failed' || s === 'canceled';
