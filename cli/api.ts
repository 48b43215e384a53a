/**
 * Typed client of the user-facing API (models, corpora, suites, jobs, runs, leaderboards), shared
 * by the CLI, the demo and the end-to-end tests. Retries and error shapes come from the runner's
 * Http helper so both sides behave the same on a flaky network.
 */
import path from 'node:path';
import type { MaskAnalysis } from '@polyprune/shared/api/analysis';
import type { CorpusInfo } from '@polyprune/shared/api/corpora';
import type { JobInfo, RunInfo } from '@polyprune/shared/api/jobs';
import type { Leaderboard, MethodSummary, SparsityView } from '@polyprune/shared/api/leaderboards';
import type { ModelInfo } from '@polyprune/shared/api/models';
import type { SuiteInfo } from '@polyprune/shared/api/suites';
import { formDataBody } from '@polyprune/shared/form-data';
import { uploadBlob } from '@polyprune/shared/multipart-upload';
import { Http, type HttpOptions } from '@polyprune/shared/http';

export type { CorpusInfo, JobInfo, Leaderboard, MethodSummary, ModelInfo, RunInfo, SparsityView, SuiteInfo };

/** Query of the leaderboard views; `model` left out ranks every visible model (the board view only). */
export interface BoardQuery {
  model?: string;
  format?: string;
  suite?: string;
  lang?: string;
  scoring?: string;
  metric?: string;
  sparsity?: number;
  method?: string;
  pair?: string;
}

const enc = encodeURIComponent;
/** Query values as strings, without the ones left out. */
const strip = (q: object) => Object.fromEntries(Object.entries(q).flatMap(([k, v]) => (v === undefined || v === null || v === '' ? [] : [[k, String(v)]])));

export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

export class PolypruneApi {
  readonly http: Http;

  constructor(opts: HttpOptions) {
    this.http = new Http(opts);
  }

  get baseUrl() {
    return this.http.baseUrl;
  }

  health() {
    return this.http.json<{ ok: boolean; version: string }>('/v1/health');
  }

  createModel(body: { name: string; family: string; license?: string; visibility?: 'private' | 'public' }) {
    return this.http.json<ModelInfo>('/v1/models', { method: 'POST', body });
  }

  getModel(id: string) {
    return this.http.json<ModelInfo>(`/v1/models/${enc(id)}`);
  }

  /** graph: an uploaded *.onnx to use as the graph; null: choose by name again. */
  patchModel(id: string, body: { visibility?: 'private' | 'public'; license?: string; graph?: string | null }) {
    return this.http.json<ModelInfo>(`/v1/models/${enc(id)}`, { method: 'PATCH', body });
  }

  listModels() {
    return this.http.json<Page<ModelInfo>>('/v1/models');
  }

  /** Uploads one model file, in parts above the single-request limit; answers its size and sha256. */
  uploadModelFile(
    modelId: string,
    file: string,
    opts: { name?: string; onBytes?: (done: number, total: number) => void; partSize?: number; singleLimit?: number } = {},
  ) {
    const name = opts.name ?? path.basename(file);
    return uploadBlob<{ name: string; size: number; sha256: string }>(
      this.http,
      { path: file },
      { path: `/v1/models/${enc(modelId)}/files/${enc(name)}`, singleLimit: opts.singleLimit, partSize: opts.partSize, onBytes: opts.onBytes, abortable: true },
    );
  }

  uploadCorpus(data: Uint8Array, q: { src: string; tgt: string; name?: string; format?: 'tsv' | 'jsonl'; visibility?: string; onError?: 'reject' | 'skip' }) {
    return this.http.json<CorpusInfo>('/v1/corpora', { method: 'POST', body: data, query: q, headers: { 'content-type': 'application/octet-stream' } });
  }

  /** Two line-aligned files (FLORES-200 style) in one multipart request. */
  uploadParallelCorpus(
    src: { filename: string; bytes: Uint8Array },
    tgt: { filename: string; bytes: Uint8Array },
    q: { src: string; tgt: string; name?: string; visibility?: string; onError?: 'reject' | 'skip' },
  ) {
    const form = formDataBody([
      { name: 'src', ...src },
      { name: 'tgt', ...tgt },
    ]);
    return this.http.json<CorpusInfo>('/v1/corpora', { method: 'POST', body: form.body, query: q, headers: { 'content-type': form.contentType } });
  }

  listCorpora() {
    return this.http.json<Page<CorpusInfo>>('/v1/corpora');
  }

  uploadSuite(
    data: Uint8Array,
    q: {
      format: string;
      lang: string;
      name?: string;
      task?: string;
      visibility?: string;
      onError?: 'reject' | 'skip';
      dedupe?: boolean;
      subset?: number;
      seed?: number;
    },
  ) {
    return this.http.json<SuiteInfo>('/v1/suites', { method: 'POST', body: data, query: q, headers: { 'content-type': 'application/octet-stream' } });
  }

  listSuites() {
    return this.http.json<Page<SuiteInfo>>('/v1/suites');
  }

  createJob(spec: Record<string, unknown>, idempotencyKey?: string) {
    return this.http.json<JobInfo>('/v1/jobs', { method: 'POST', body: spec, headers: idempotencyKey ? { 'idempotency-key': idempotencyKey } : {} });
  }

  createSweep(body: Record<string, unknown>) {
    return this.http.json<{ sweepId: string; jobs: JobInfo[] }>('/v1/sweeps', { method: 'POST', body });
  }

  getJob(id: string) {
    return this.http.json<JobInfo>(`/v1/jobs/${enc(id)}`);
  }

  listJobs(q: { status?: string; model?: string; sweep?: string; limit?: number; cursor?: string } = {}) {
    return this.http.json<Page<JobInfo>>('/v1/jobs', { query: q });
  }

  cancelJob(id: string) {
    return this.http.json<JobInfo>(`/v1/jobs/${enc(id)}/cancel`, { method: 'POST' });
  }

  getRun(id: string) {
    return this.http.json<RunInfo>(`/v1/runs/${enc(id)}`);
  }

  listRuns(q: { model?: string; kind?: 'prune' | 'evaluate' | 'analyze'; limit?: number; cursor?: string } = {}) {
    return this.http.json<Page<RunInfo>>('/v1/runs', { query: q });
  }

  /** The whole analysis of an analyze run (the run record has its summary in extra.analysis). */
  analysis(runId: string) {
    return this.http.json<MaskAnalysis>(`/v1/runs/${enc(runId)}/analysis`);
  }

  getSweep(id: string) {
    return this.http.json<{ sweepId: string; jobs: JobInfo[] }>(`/v1/sweeps/${enc(id)}`);
  }

  async runArtifact(runId: string, name: string): Promise<Uint8Array> {
    const res = await this.http.send(`/v1/runs/${enc(runId)}/artifacts/${enc(name)}`);
    return new Uint8Array(await res.arrayBuffer());
  }

  leaderboard(q: BoardQuery) {
    return this.http.json<Leaderboard>('/v1/leaderboards', { query: strip(q) });
  }

  sparsityView(q: BoardQuery & { model: string }) {
    return this.http.json<SparsityView>('/v1/leaderboards/sparsity', { query: strip(q) });
  }

  methodSummary(q: BoardQuery) {
    return this.http.json<MethodSummary>('/v1/leaderboards/methods', { query: strip(q) });
  }

  getCorpus(id: string) {
    return this.http.json<CorpusInfo>(`/v1/corpora/${enc(id)}`);
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

export const isFinal = (s: string) => s === 'succeeded' || s === 'failed' || s === 'canceled';
