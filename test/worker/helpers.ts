import { exports } from 'cloudflare:workers';
import type { z } from 'zod';
import type { errorBody } from '@polyprune/shared/api/common';

/** The API's error answer, for `call<ErrorBody>` where a test reads a refusal. */
export type ErrorBody = z.infer<typeof errorBody>;
/** A list answer (`page()` in shared/src/api/common.ts). */
export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

export const ADMIN = 'pp_admin_test_token_0123456789abcdef';

export interface CallOptions {
  token?: string | null;
  json?: unknown;
  body?: BodyInit;
  headers?: Record<string, string>;
}

export interface CallResult<T = any> {
  status: number;
  body: T;
  headers: Headers;
  bytes: Uint8Array;
}

/** A real HTTP request through the worker's fetch handler, bindings and all. */
export async function call<T = any>(method: string, path: string, opts: CallOptions = {}): Promise<CallResult<T>> {
  const headers = new Headers(opts.headers);
  if (opts.token) headers.set('authorization', `Bearer ${opts.token}`);
  let body = opts.body;
  if (opts.json !== undefined) {
    body = JSON.stringify(opts.json);
    headers.set('content-type', 'application/json');
  }
  // As an HTTP client sends it: an in-process Request carries no Content-Length of its own (a stream body goes without, as chunked).
  if ((typeof body === 'string' || body instanceof Uint8Array) && !headers.has('content-length')) {
    headers.set('content-length', String(typeof body === 'string' ? new TextEncoder().encode(body).byteLength : body.byteLength));
  }
  const res = await (exports as any).default.fetch(new Request(`http://polyprune.test${path}`, { method, headers, body }));
  const bytes = new Uint8Array(await res.arrayBuffer());
  const text = new TextDecoder().decode(bytes);
  let parsed: unknown = text;
  if ((res.headers.get('content-type') ?? '').includes('json')) parsed = JSON.parse(text);
  return { status: res.status, body: parsed as T, headers: res.headers, bytes };
}

export async function makeToken(owner: string, scopes: string[], extra: Record<string, unknown> = {}): Promise<string> {
  const r = await call('POST', '/v1/tokens', { token: ADMIN, json: { owner, scopes, ...extra } });
  if (r.status !== 201) throw new Error(`token creation failed: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body.secret as string;
}

export function expectErrorShape(r: CallResult) {
  const ok = typeof r.body === 'object' && r.body !== null && typeof r.body.error?.code === 'string' && typeof r.body.error?.message === 'string';
  if (!ok) throw new Error(`expected a JSON error body, got ${r.status} ${JSON.stringify(r.body).slice(0, 200)}`);
}

export async function sha256(bytes: Uint8Array | string): Promise<string> {
  const b = typeof bytes === 'string' ? new TextEncoder().encode(bytes) : bytes;
  const d = await crypto.subtle.digest('SHA-256', b);
  return [...new Uint8Array(d)].map((x) => x.toString(16).padStart(2, '0')).join('');
}
