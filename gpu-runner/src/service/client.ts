/**
 * Typed client of the runner protocol (shared/src/api/jobs.ts). Every call that carries a lease
 * token turns a 409 lease_lost into LeaseLostError so the worker loop can stop the job at once; network
 * errors and 5xx are retried with backoff by Http.
 */
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { open, rm, stat } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { RunnerFailureCode } from '../../../shared/src/api/errors';
import type { ArtifactInfoT, LeaseResponse, ProgressT, RunResult } from './protocol';
import { leaseResponse } from './protocol';
import { ApiError, backoffDelay, Http, type HttpOptions, sleep, UnreachableError } from './http';

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

export interface DownloadOptions {
  /** Expected sha256 (hex); the file is removed and IntegrityError thrown on mismatch. */
  sha256?: string;
  size?: number;
  onBytes?: (done: number, total: number) => void;
  signal?: AbortSignal;
}

const lost = (jobId: string, e: ApiError) => new LeaseLostError(jobId, `lease on ${jobId} lost: ${e.message}`);

/** Above this an artifact goes up in parts: one Workers request body is capped at 100 MB. */
export const SINGLE_PUT_LIMIT = 95 * 1024 * 1024;
const PART_BYTES = 64 * 1024 * 1024;

export class RunnerClient {
  readonly http: Http;
  readonly singlePutLimit: number;
  readonly partBytes: number;

  constructor(opts: HttpOptions & { singlePutLimit?: number; partBytes?: number }) {
    this.http = new Http(opts);
    this.singlePutLimit = opts.singlePutLimit ?? SINGLE_PUT_LIMIT;
    this.partBytes = opts.partBytes ?? PART_BYTES;
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
      if (err instanceof ApiError && err.code === 'lease_lost') throw lost(jobId, err);
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

  /** Generic resumable, verified download of an API path to a file. */
  async download(path: string, dest: string, o: DownloadOptions & { headers?: Record<string, string> } = {}): Promise<{ sha256: string; size: number }> {
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
        return this.download(path, dest, o);
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
          return this.download(path, dest, o);
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

  /** Uploads bytes or a file (read fully: artifacts are capped at 95 MB by the API). */
  async uploadArtifact(jobId: string, leaseToken: string, name: string, data: Uint8Array | { path: string }, signal?: AbortSignal): Promise<ArtifactInfoT> {
    // Over the single-request limit (a 1 B-parameter model's masks.bin is ~120 MB): in parts.
    if (data instanceof Uint8Array && data.byteLength > this.singlePutLimit) return this.uploadInParts(jobId, leaseToken, name, bytesSource(data), signal);
    if (!(data instanceof Uint8Array) && (await stat(data.path)).size > this.singlePutLimit)
      return this.uploadInParts(jobId, leaseToken, name, await fileSource(data.path), signal);
    const bytes = data instanceof Uint8Array ? data : await readAll(data.path);
    const sha = createHash('sha256').update(bytes).digest('hex');
    const info = await this.leased(jobId, () =>
      this.http.json<ArtifactInfoT>(`/v1/runner/jobs/${enc(jobId)}/artifacts/${enc(name)}`, {
        method: 'PUT',
        body: bytes,
        headers: { 'x-lease-token': leaseToken, 'x-content-sha256': sha, 'content-type': 'application/octet-stream' },
        signal,
      }),
    );
    return info;
  }

  /** Multipart upload read one part at a time (a file is never held whole in memory), hashed on the way. */
  private async uploadInParts(jobId: string, leaseToken: string, name: string, source: PartSource, signal?: AbortSignal): Promise<ArtifactInfoT> {
    const base = `/v1/runner/jobs/${enc(jobId)}/artifacts/${enc(name)}/uploads`;
    const headers = { 'x-lease-token': leaseToken };
    const { uploadId } = await this.leased(jobId, () => this.http.json<{ uploadId: string }>(base, { method: 'POST', headers, signal }));
    const hash = createHash('sha256');
    try {
      const buf = Buffer.alloc(this.partBytes);
      for (let n = 1; ; n++) {
        const bytesRead = await source.read(buf);
        if (bytesRead === 0) break;
        const part = new Uint8Array(buf.subarray(0, bytesRead));
        hash.update(part);
        await this.leased(jobId, () =>
          this.http.json(`${base}/${enc(uploadId)}/parts/${n}`, {
            method: 'PUT',
            body: part,
            headers: { ...headers, 'content-type': 'application/octet-stream' },
            signal,
          }),
        );
        if (bytesRead < this.partBytes) break;
      }
    } finally {
      await source.close();
    }
    const sha = hash.digest('hex');
    return this.leased(jobId, () =>
      this.http.json<ArtifactInfoT>(`${base}/${enc(uploadId)}/complete`, { method: 'POST', headers: { ...headers, 'x-content-sha256': sha }, signal }),
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

/** Sequential reads into a part buffer; returns the bytes read (0 at the end). */
interface PartSource {
  read(buf: Buffer): Promise<number>;
  close(): Promise<void>;
}

async function fileSource(file: string): Promise<PartSource> {
  const fh = await open(file, 'r');
  return { read: async (buf) => (await fh.read(buf, 0, buf.length, null)).bytesRead, close: () => fh.close() };
}

function bytesSource(bytes: Uint8Array): PartSource {
  let at = 0;
  return {
    read: async (buf) => {
      const n = Math.min(buf.length, bytes.byteLength - at);
      buf.set(bytes.subarray(at, at + n));
      at += n;
      return n;
    },
    close: async () => {},
  };
}

async function readAll(path: string): Promise<Uint8Array> {
  const chunks: Buffer[] = [];
  for await (const c of createReadStream(path)) chunks.push(c as Buffer);
  return new Uint8Array(Buffer.concat(chunks));
}
