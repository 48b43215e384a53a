import { createMiddleware } from 'hono/factory';
import { secureHeaders } from 'hono/secure-headers';
import type { AppEnv } from '../env';
import { sessionSecret } from './sessions';

/**
 * The pages are server-rendered without any script; their CSS is inline (a <style> block in the
 * head, and `style` attributes for the colour swatches of charts). So scripts may come from this
 * origin only (there are none today), styles may be inline (nothing user-supplied reaches a style:
 * names and labels are text nodes, escaped by JSX), and nothing else loads, frames the page or
 * takes a form elsewhere. The same policy goes on every answer: JSON and artifacts opened in a
 * browser get no more rights than a page.
 */
export const contentSecurityPolicy = {
  defaultSrc: ["'none'"],
  scriptSrc: ["'self'"],
  styleSrc: ["'self'", "'unsafe-inline'"],
  imgSrc: ["'self'", 'data:'],
  formAction: ["'self'"],
  frameAncestors: ["'none'"],
  baseUri: ["'none'"],
};

const headers = secureHeaders({
  contentSecurityPolicy,
  xFrameOptions: 'DENY',
  referrerPolicy: 'no-referrer',
  xContentTypeOptions: 'nosniff',
});

/**
 * Security headers on every answer, errors included (one place: the first middleware). An answer
 * to a request that carries credentials (a bearer token, or the session cookie of the pages) may
 * hold private data (JSON, pages, artifacts, exports) and is never stored by any cache; anonymous
 * answers hold public data only and stay cacheable, keyed on the Authorization and Cookie headers
 * so no cache hands one to a caller with credentials or the other way round.
 */
export const securityHeaders = createMiddleware<AppEnv>(async (c, next) => {
  await headers(c, next);
  if (c.req.header('authorization') !== undefined || sessionSecret(c) !== undefined) c.res.headers.set('Cache-Control', 'private, no-store');
  c.res.headers.append('Vary', 'Authorization, Cookie');
});
