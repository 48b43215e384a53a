import type { Context } from 'hono';
import { HTTPException } from 'hono/http-exception';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import type { ErrorCode } from '@polyprune/shared/api/errors';
import { ConfigError } from '../config';
import { errorPage } from '../pages/error';

/** The one error type of the API; `onError` turns it into `{"error":{code,message,details?}}`. */
export class ApiError extends Error {
  constructor(
    readonly status: 400 | 401 | 403 | 404 | 409 | 411 | 413 | 422 | 429 | 503,
    readonly code: ErrorCode,
    message: string,
    readonly details?: unknown,
    readonly headers?: Record<string, string>,
  ) {
    super(message);
  }
}

export const notFound = (what: string) => new ApiError(404, 'not_found', `${what} not found`);

/** Pages are everything outside /v1: a person reads their errors, so they answer HTML. */
export const isPagePath = (pathname: string) => pathname !== '/v1' && !pathname.startsWith('/v1/');

export function errorResponse(c: Context, status: ContentfulStatusCode, code: ErrorCode, message: string, details?: unknown) {
  const url = new URL(c.req.url);
  if (isPagePath(url.pathname)) return c.html(errorPage({ status, message, path: url.pathname + url.search }), status);
  return c.json({ error: details === undefined ? { code, message } : { code, message, details } }, status);
}

export function onError(err: Error, c: Context) {
  if (err instanceof ApiError) {
    if (err.headers) for (const [k, v] of Object.entries(err.headers)) c.header(k, v);
    return errorResponse(c, err.status, err.code, err.message, err.details);
  }
  if (err instanceof HTTPException) {
    const status = err.status;
    const code: ErrorCode = status === 413 ? 'payload_too_large' : status === 401 ? 'unauthorized' : 'http_error';
    return errorResponse(c, status as ContentfulStatusCode, code, err.message || 'request failed');
  }
  if (err instanceof ConfigError) {
    console.error(`configuration error: ${err.message}`);
    return errorResponse(c, 500, 'internal', 'internal error: the server is misconfigured');
  }
  console.error('unhandled error', err);
  return errorResponse(c, 500, 'internal', 'internal error');
}
