/**
 * Typed client of the runner protocol (shared/src/api/jobs.ts). Every call that carries a lease
 * token turns a 409 lease_lost into LeaseLostError so the lease loop can stop the job at once; network
 * errors and 5xx are retried with backoff by Http.
 */
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { open, rm, stat } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { limits } from '@polyprune/shared/api/limits';
import { DEFAULT_PART_SIZE, type UploadSource, uploadBlob } from '@polyprune/shared/multipart-upload';
import type { RunnerFailureCode } from '@polyprune/shared/api/errors';
import type { ArtifactInfoT, LeaseResponse, ProgressT, RunResult } from './protocol';
import { leaseResponse } from './protocol';
import { ApiRequestError, backoffDelay, Http, type HttpOptions, sleep, UnreachableError } from '@polyprune/shared/http';

/** The job's lease is gone (expired and re-leased, canceled, or finished): stop working on it. */
export class LeaseLostError extends Error {
  constructor(
    readonly jobId: string,
    message: string,
  ) {
    super(message);
    this.name = 'LeaseLostError';
  }
}

/** Downloaded bytes do not hash to what the API announced. */
export class IntegrityError extends Error {
  constructor(
    readonly expected: string,
    readonly actual: string,
    what: string,
  ) {
    super(`${what}: sha256 is ${actual}, expected ${expected}`);
    this.name = 'IntegrityError';
  }
}

/**
 * An input whose stored bytes do not match the sha256 it was recorded with: downloaded twice, it
 * hashed to the same other value both times, so the file in storage is corrupt (or its uploader
 * declared a wrong hash) and no retry can help.
 */
export class CorruptInputError extends Error {
  constructor(
    readonly input: string,
    readonly recorded: string,
    readonly actual: string,
  ) {
    super(
      `input "${input}" is corrupt: its stored bytes hash to ${actual}, but it was recorded with sha256 ${recorded} (declared by its uploader); upload the file again`,
    );
    this.name = 'CorruptInputError';
  }
}

/** Files this large are fetched as parallel Range requests (one HTTP stream carries a third of loopback). */
export const PARALLEL_DOWNLOAD_BYTES = 64 * 1024 * 1024;
/** Size of one Range request of a parallel download, and how many run at once. */
export const DOWNLOAD_CHUNK_BYTES = 32 * 1024 * 1024;
export const DOWNLOAD_PARALLEL = 4;
/** A range's bytes are written to the file this many at a time (one writev of the chunks received). */
const WRITE_BATCH_BYTES = 1024 * 1024;

export interface DownloadOptions {
  /** Expected sha256 (hex); the file is removed and IntegrityError thrown on mismatch. */
  sha256?: string;
  size?: number;
  onBytes?: (done: number, total: number) => void;
  signal?: AbortSignal;
}

const lost = (jobId: string, e: ApiRequestError) => new LeaseLostError(jobId, `lease on ${jobId} lost: ${e.message}`);

export class RunnerClient {
  readonly http: Http;
  readonly singlePutLimit: number;
  readonly partBytes: number;
  readonly parallelFrom: number;
  readonly chunkBytes: number;

  constructor(opts: HttpOptions & { singlePutLimit?: number; partBytes?: number; parallelDownloadBytes?: number; downloadChunkBytes?: number }) {
    this.http = new Http(opts);
    this.singlePutLimit = opts.singlePutLimit ?? limits.singlePutBytes;
    this.partBytes = opts.partBytes ?? DEFAULT_PART_SIZE;
    this.parallelFrom = opts.parallelDownloadBytes ?? PARALLEL_DOWNLOAD_BYTES;
    this.chunkBytes = opts.downloadChunkBytes ?? DOWNLOAD_CHUNK_BYTES;
  }

  /** A leased job, or null when the queue is empty (204). */
  async lease(runnerId: string, device?: string, signal?: AbortSignal): Promise<LeaseResponse | null> {
    const res = await this.http.send('/v1/runner/lease', { method: 'POST', body: { runnerId, device }, accept: [204], signal });
    if (res.status === 204) return null;
    return leaseResponse.parse(await res.json());
  }

  /** Calls that must stop the job when the lease is lost go through here (other 409s, e.g. no_parts, are errors). */
  private async leased<T>(jobId: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      if (err instanceof ApiRequestError && err.code === 'lease_lost') throw lost(jobId, err);
      throw err;
    }
  }

  heartbeat(jobId: string, leaseToken: string, progress?: ProgressT, signal?: AbortSignal): Promise<{ leaseExpiresAt: string }> {
    return this.leased(jobId, () =>
      this.http.json(`/v1/runner/jobs/${enc(jobId)}/heartbeat`, {
        method: 'POST',
        body: { leaseToken, progress },
        signal,
        // A heartbeat that cannot get through for a long time is as good as a lost lease; the
        // loop retries on its own timer, so do not block it for minutes here.
        retry: { retries: 3 },
      }),
    );
  }

  /**
   * Streams an input to `dest`, hashing as it goes. A connection that drops mid-file resumes
   * with a Range request from the bytes already written rather than starting over.
   */
  async downloadInput(jobId: string, leaseToken: string, name: string, dest: string, o: DownloadOptions = {}): Promise<{ sha256: string; size: number }> {
    return this.leased(jobId, () =>
      this.download(`/v1/runner/jobs/${enc(jobId)}/inputs/${enc(name)}`, dest, { ...o, headers: { 'x-lease-token': leaseToken } }),
    );
  }

  /** Generic verified download of an API path to a file: large files in parallel ranges, others in one resumable stream. */
  async download(path: string, dest: string, o: DownloadOptions & { headers?: Record<string, string> } = {}): Promise<{ sha256: string; size: number }> {
    if (o.size === undefined || o.size < this.parallelFrom) return this.downloadStream(path, dest, o);
    await rm(dest, { force: true });
    const size = o.size;
    const fh = await open(dest, 'w');
    let done = 0;
    // One failed range stops the others before the file is removed.
    const stop = new AbortController();
    const ro = { ...o, signal: o.signal ? AbortSignal.any([o.signal, stop.signal]) : stop.signal };
    try {
      await fh.truncate(size);
      let next = 0;
      const worker = async () => {
        for (;;) {
          const start = next;
          if (start >= size) return;
          next = Math.min(size, start + this.chunkBytes);
          const got = await this.fetchRange(path, fh, start, next - 1, ro);
          done += got;
          o.onBytes?.(done, size);
        }
      };
      const workers = Array.from({ length: DOWNLOAD_PARALLEL }, worker);
      await Promise.all(workers).catch(async (err) => {
        stop.abort();
        await Promise.allSettled(workers);
        throw err;
      });
    } catch (err) {
      await fh.close();
      await rm(dest, { force: true });
      throw err;
    }
    await fh.close();
    // The ranges land out of order, so the file is hashed once it is whole (read back from the page cache).
    const hash = createHash('sha256');
    await pipeline(createReadStream(dest, { highWaterMark: 1024 * 1024 }), hash);
    const sha256 = hash.digest('hex');
    if (o.sha256 && sha256 !== o.sha256) {
      await rm(dest, { force: true });
      throw new IntegrityError(o.sha256, sha256, `download of ${path}`);
    }
    return { sha256, size };
  }

  /** One byte range written at its offset; a connection that drops is retried for the bytes still missing. */
  private async fetchRange(
    path: string,
    fh: import('node:fs/promises').FileHandle,
    start: number,
    end: number,
    o: DownloadOptions & { headers?: Record<string, string> },
  ): Promise<number> {
    let at = start;
    for (let attempt = 1; at <= end; attempt++) {
      try {
        const res = await this.http.send(path, { headers: { ...o.headers, range: `bytes=${at}-${end}` }, signal: o.signal });
        if (res.status !== 206) {
          await res.body?.cancel().catch(() => undefined);
          throw new Error(`a Range request was answered ${res.status}, not 206`);
        }
        // The response's chunks (tens of KiB) are written a few together: one write per chunk cost
        // more CPU than the hash of the same bytes. `at` counts only bytes on disk (a retry resumes there).
        let batch: Uint8Array[] = [];
        let batched = 0;
        const flush = async () => {
          if (batched === 0) return;
          const { bytesWritten } = await fh.writev(batch, at);
          if (bytesWritten !== batched) throw new Error(`wrote ${bytesWritten} of ${batched} bytes at ${at}`);
          at += batched;
          batch = [];
          batched = 0;
        };
        for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
          if (at + batched + chunk.byteLength > end + 1) throw new Error(`range ${start}-${end} answered more bytes than asked`);
          batch.push(chunk);
          batched += chunk.byteLength;
          if (batched >= WRITE_BATCH_BYTES) await flush();
        }
        await flush();
        if (at <= end) throw new Error(`range ${start}-${end} ended at ${at}`);
      } catch (err) {
        // The API's own refusals (a lost lease) and an abort end the download; a dropped connection is retried.
        if (o.signal?.aborted || err instanceof ApiRequestError || err instanceof UnreachableError) throw err;
        const policy = this.http.policy;
        if (attempt > policy.retries) throw new UnreachableError(`download of ${path} kept failing: ${(err as Error).message}`, attempt, err);
        await sleep(backoffDelay(policy, attempt), o.signal);
      }
    }
    return end - start + 1;
  }

  /** Resumable, verified download in one stream (hashed as it is written). */
  private async downloadStream(
    path: string,
    dest: string,
    o: DownloadOptions & { headers?: Record<string, string> } = {},
  ): Promise<{ sha256: string; size: number }> {
    await rm(dest, { force: true });
    const hash = createHash('sha256');
    let written = 0;
    let total = o.size ?? 0;
    for (let attempt = 1; ; attempt++) {
      const headers = { ...o.headers, ...(written > 0 ? { range: `bytes=${written}-` } : {}) };
      const res = await this.http.send(path, { headers, signal: o.signal });
      if (written > 0 && res.status !== 206) {
        // The server ignored the range: start over rather than append a second copy.
        await res.body?.cancel().catch(() => undefined);
        return this.downloadStream(path, dest, o);
      }
      if (res.status === 200) total = Number(res.headers.get('content-length') ?? total);
      try {
        const out = createWriteStream(dest, { flags: written > 0 ? 'a' : 'w' });
        const body = Readable.fromWeb(res.body as unknown as import('node:stream/web').ReadableStream);
        body.on('data', (chunk: Buffer) => {
          hash.update(chunk);
          written += chunk.byteLength;
          o.onBytes?.(written, total);
        });
        await pipeline(body, out);
        break;
      } catch (err) {
        if (o.signal?.aborted) throw err;
        const policy = this.http.policy;
        if (attempt > policy.retries) throw new UnreachableError(`download of ${path} kept failing: ${(err as Error).message}`, attempt, err);
        // Bytes hashed but not yet flushed would desynchronise hash and file: resume from the file.
        const onDisk = (await stat(dest).catch(() => ({ size: 0 }))).size;
        if (onDisk !== written) {
          written = 0;
          return this.downloadStream(path, dest, o);
        }
        await sleep(backoffDelay(policy, attempt), o.signal);
      }
    }
    const sha256 = hash.digest('hex');
    if (o.sha256 && sha256 !== o.sha256) {
      await rm(dest, { force: true });
      throw new IntegrityError(o.sha256, sha256, `download of ${path}`);
    }
    if (o.size !== undefined && written !== o.size) {
      await rm(dest, { force: true });
      throw new IntegrityError(`${o.size} bytes`, `${written} bytes`, `download of ${path}`);
    }
    return { sha256, size: written };
  }

  /** Uploads bytes or a file: in one PUT up to the single-request limit, in parts above it (a 1 B-parameter model's masks.bin is ~120 MB). */
  uploadArtifact(jobId: string, leaseToken: string, name: string, data: UploadSource, signal?: AbortSignal): Promise<ArtifactInfoT> {
    return this.leased(jobId, () =>
      uploadBlob<ArtifactInfoT>(this.http, data, {
        path: `/v1/runner/jobs/${enc(jobId)}/artifacts/${enc(name)}`,
        headers: { 'x-lease-token': leaseToken },
        singleLimit: this.singlePutLimit,
        partSize: this.partBytes,
        signal,
      }),
    );
  }

  complete(jobId: string, leaseToken: string, result: RunResult): Promise<{ runId: string }> {
    return this.leased(jobId, () => this.http.json(`/v1/runner/jobs/${enc(jobId)}/complete`, { method: 'POST', body: { leaseToken, result } }));
  }

  fail(jobId: string, leaseToken: string, error: string, retryable: boolean, code?: RunnerFailureCode): Promise<unknown> {
    return this.leased(jobId, () =>
      this.http.json(`/v1/runner/jobs/${enc(jobId)}/fail`, { method: 'POST', body: { leaseToken, error: error.slice(0, 4000) || 'failed', code, retryable } }),
    );
  }
}

const enc = encodeURIComponent;
