/**
 * One HTTP helper for everything that talks to the polyprune API (runner, CLI, demo, e2e tests):
 * bearer auth, the project's error shape turned into typed errors, and retries with exponential
 * backoff for failures that say nothing about the request itself (network errors, 5xx, 429).
 */

export interface RetryPolicy {
  /** Further attempts after the first one. */
  retries: number;
  /** Delay before the first retry; doubles with each further one. */
  baseMs: number;
  maxMs: number;
}

import { type ErrorCode, errorCode } from './api/errors';

/** A code of the API's closed set, or `http_<status>` for an answer not in the error shape. */
export type ApiErrorCode = ErrorCode | `http_${number}`;

export const defaultRetry: RetryPolicy = { retries: 6, baseMs: 250, maxMs: 15_000 };

/** An answer of the API in its error shape `{error: {code, message, details?}}`. */
export class ApiRequestError extends Error {
  constructor(
    readonly status: number,
    readonly code: ApiErrorCode,
    message: string,
    readonly details?: unknown,
  ) {
    super(`${status} ${code}: ${message}`);
    this.name = 'ApiRequestError';
  }
}

/** The API could not be reached (or kept failing with 5xx) after every retry. */
export class UnreachableError extends Error {
  constructor(
    message: string,
    readonly attempts: number,
    override readonly cause?: unknown,
  ) {
    super(message);
    this.name = 'UnreachableError';
  }
}

export interface HttpOptions {
  baseUrl: string;
  token?: string;
  retry?: Partial<RetryPolicy>;
  /** Called before each retry, e.g. to log it. */
  onRetry?: (info: { attempt: number; delayMs: number; reason: string; url: string }) => void;
  /** Extra headers for every request. */
  headers?: Record<string, string>;
}

export interface RequestOptions {
  method?: string;
  query?: Record<string, string | number | boolean | undefined>;
  headers?: Record<string, string>;
  /** JSON-serialised unless it is already bytes. */
  body?: unknown;
  /** Statuses returned to the caller instead of thrown (e.g. 204, 409). */
  accept?: number[];
  signal?: AbortSignal;
  /** Override the client's policy; `retries: 0` for calls that must not repeat. */
  retry?: Partial<RetryPolicy>;
}

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(t);
      reject(signal!.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });

/** Full jitter keeps many runners that lost the API at once from retrying in lockstep. */
export function backoffDelay(policy: RetryPolicy, attempt: number, random = Math.random): number {
  const cap = Math.min(policy.maxMs, policy.baseMs * 2 ** (attempt - 1));
  return Math.round(cap / 2 + (random() * cap) / 2);
}

function isRetryableStatus(status: number) {
  return status >= 500 || status === 429 || status === 408;
}

export async function errorFrom(res: Response): Promise<ApiRequestError> {
  const text = await res.text().catch(() => '');
  try {
    const j = JSON.parse(text) as { error?: { code?: string; message?: string; details?: unknown } };
    const code = errorCode.safeParse(j.error?.code);
    if (code.success) return new ApiRequestError(res.status, code.data, j.error?.message ?? '', j.error?.details);
    // A code outside the set (a newer API): keep it in the message, not in the typed field.
    if (j.error?.code) return new ApiRequestError(res.status, `http_${res.status}`, `${j.error.code}: ${j.error.message ?? ''}`, j.error.details);
  } catch {
    // not JSON: fall through to the raw text
  }
  return new ApiRequestError(res.status, `http_${res.status}`, text.slice(0, 500) || res.statusText);
}

/**
 * Bytes as a one-chunk stream, sent with their Content-Length. Given the Uint8Array itself, fetch
 * copies it twice before it sends a byte: 4.5–4.9 CPU seconds a GiB against 1.7 this way (a 32 MiB
 * part to a Node server on loopback), more than the rest of an upload (bench/transfer.ts).
 */
function oneChunk(bytes: Uint8Array): RequestInit['body'] {
  return new ReadableStream<Uint8Array>({
    start(c) {
      c.enqueue(bytes);
      c.close();
    },
  }) as unknown as RequestInit['body'];
}

export class Http {
  readonly baseUrl: string;
  readonly policy: RetryPolicy;

  constructor(private readonly opts: HttpOptions) {
    this.baseUrl = opts.baseUrl.replace(/\/+$/, '');
    this.policy = { ...defaultRetry, ...opts.retry };
  }

  url(path: string, query?: RequestOptions['query']): string {
    const u = new URL(this.baseUrl + path);
    for (const [k, v] of Object.entries(query ?? {})) if (v !== undefined) u.searchParams.set(k, String(v));
    return u.toString();
  }

  /**
   * Sends a request, retrying network errors and retryable statuses. Returns the Response for a
   * 2xx or an accepted status; throws ApiRequestError for any other answer.
   */
  async send(path: string, o: RequestOptions = {}): Promise<Response> {
    const policy = { ...this.policy, ...o.retry };
    const url = this.url(path, o.query);
    const headers: Record<string, string> = { ...this.opts.headers, ...o.headers };
    if (this.opts.token) headers.authorization = `Bearer ${this.opts.token}`;
    let body: () => RequestInit['body'] = () => undefined;
    if (o.body instanceof Uint8Array && o.body.byteLength > 0) {
      const bytes = o.body;
      headers['content-length'] = String(bytes.byteLength);
      body = () => oneChunk(bytes);
    } else if (o.body instanceof Uint8Array) {
      const empty = o.body as unknown as RequestInit['body'];
      body = () => empty;
    } else if (o.body !== undefined) {
      const text = JSON.stringify(o.body);
      body = () => text;
      headers['content-type'] ??= 'application/json';
    }
    for (let attempt = 1; ; attempt++) {
      let reason = '';
      let res: Response | undefined;
      try {
        // duplex: a stream body (each attempt its own) is sent as it is read.
        res = await fetch(url, { method: o.method ?? 'GET', headers, body: body(), signal: o.signal, duplex: 'half' } as RequestInit);
      } catch (err) {
        if (o.signal?.aborted) throw err;
        reason = `network error: ${(err as Error).cause ? String(((err as Error).cause as Error).message ?? (err as Error).cause) : (err as Error).message}`;
      }
      if (res) {
        if (res.ok || o.accept?.includes(res.status)) return res;
        if (!isRetryableStatus(res.status)) throw await errorFrom(res);
        const e = await errorFrom(res);
        reason = e.message;
        if (attempt > policy.retries) throw e;
      }
      if (attempt > policy.retries) throw new UnreachableError(`${o.method ?? 'GET'} ${url} failed after ${attempt} attempts: ${reason}`, attempt);
      const retryAfter = Number(res?.headers.get('retry-after'));
      const delayMs = Number.isFinite(retryAfter) && retryAfter > 0 ? Math.min(retryAfter * 1000, policy.maxMs) : backoffDelay(policy, attempt);
      this.opts.onRetry?.({ attempt, delayMs, reason: reason, url });
      await sleep(delayMs, o.signal);
    }
  }

  async json<T>(path: string, o: RequestOptions = {}): Promise<T> {
    const res = await this.send(path, o);
    return (await res.json()) as T;
  }
}

export { sleep };
