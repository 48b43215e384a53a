import { createRoute, z } from '@hono/zod-openapi';
import type { Context } from 'hono';
import { eq } from 'drizzle-orm';
import { tokens } from '../db/schema';
import type { AppEnv } from '../env';
import { readBody } from '../lib/blobs';
import { safeEqual, sha256Hex } from '../lib/crypto';
import { ApiError } from '../lib/errors';
import { ApiApp, html } from '../lib/openapi';
import { defaultLimit, ipKey, limitRequest } from '../lib/rate-limit';
import { createSession, endSession, sameOrigin, sessionCookie, sessionSecret } from '../lib/sessions';
import { safeNext, SignInPage, type Who } from '../pages/sign-in';

const tags = ['sign-in'];
/** A pasted token and a return path; anything longer is not a sign-in form. */
const MAX_FORM_BYTES = 4096;

const form = createRoute({
  operationId: 'signInPage',
  method: 'get',
  path: '/login',
  summary: 'HTML sign-in form: paste an API token to open a session of this browser',
  tags,
  request: { query: z.object({ next: z.string().max(2000).optional() }) },
  responses: { 200: html('the form (and who is signed in)') },
});

const signIn = createRoute({
  operationId: 'signIn',
  method: 'post',
  path: '/login',
  summary: 'Trade a token for a session cookie (HttpOnly, SameSite=Lax; GET requests only). Same-origin form posts only',
  tags,
  security: [],
  request: {
    body: {
      required: true,
      content: {
        'application/x-www-form-urlencoded': {
          schema: z.object({ token: z.string().describe('an API token'), next: z.string().optional().describe('path to return to') }),
        },
      },
    },
  },
  responses: {
    303: { description: 'signed in: Set-Cookie, then to `next` (a path of this site) or /' },
    default: html('the form again, with what went wrong (401 unknown or revoked token, 403 not same-origin, 400 malformed form)'),
  },
});

const signOut = createRoute({
  operationId: 'signOut',
  method: 'post',
  path: '/logout',
  summary: 'End the session of the cookie and clear it. Same-origin form posts only',
  tags,
  security: [{ session: [] }],
  responses: { 303: { description: 'signed out: the cookie cleared, then to /' }, default: html('refused (403 not same-origin)') },
});

function whoOf(c: Context<AppEnv>): Who | null {
  const p = c.get('principal');
  return p ? { owner: p.owner, via: p.via ?? 'token' } : null;
}

/** Writes of a sort from a browser: only a form of this origin may post them. */
function assertSameOrigin(c: Context<AppEnv>) {
  if (!sameOrigin(c)) throw new ApiError(403, 'forbidden', 'sign-in and sign-out are accepted from a form of this site only');
}

async function readForm(c: Context<AppEnv>): Promise<URLSearchParams> {
  const type = (c.req.header('content-type') ?? '').split(';')[0]!.trim().toLowerCase();
  if (type !== 'application/x-www-form-urlencoded') throw new ApiError(400, 'invalid_request', 'send the sign-in form as application/x-www-form-urlencoded');
  return new URLSearchParams(new TextDecoder().decode(await readBody(c.req.raw, MAX_FORM_BYTES)));
}

export const signInRoutes = new ApiApp()
  .openapi(form, (c) => {
    return c.html(<SignInPage who={whoOf(c)} next={safeNext(c.req.valid('query').next)} />, 200);
  })
  .openapi(signIn, async (c) => {
    assertSameOrigin(c);
    const fields = await readForm(c);
    const next = safeNext(fields.get('next'));
    const secret = (fields.get('token') ?? '').trim();
    const again = (status: 400 | 401 | 403, problem: string) => {
      c.header('Cache-Control', 'private, no-store');
      return c.html(<SignInPage who={null} next={next} problem={problem} />, status);
    };
    if (!secret) return again(400, 'Paste an API token.');
    const admin = c.var.config.adminToken;
    // The admin secret has no row to revoke a session by; an admin signs in with a token of their own.
    if (admin && (await safeEqual(secret, admin))) return again(403, 'The admin secret cannot open a session: sign in with an API token (POST /v1/tokens).');
    const db = c.var.db;
    const row = await db.query.tokens.findFirst({ where: eq(tokens.secretHash, await sha256Hex(secret)) });
    if (!row || row.revokedAt) {
      // Guessing tokens here costs the caller's address its rate limit, as with a bad bearer token.
      await limitRequest(c, ipKey(c), defaultLimit(c));
      return again(401, 'Unknown or revoked token.');
    }
    if (!row.scopes.some((s) => s !== 'runner')) return again(403, 'A runner token cannot read pages: sign in with a read, write or admin token.');
    const { secret: session, maxAge } = await createSession(db, row.id);
    c.header('Set-Cookie', sessionCookie(c.req.url, session, maxAge));
    c.header('Cache-Control', 'private, no-store');
    return c.redirect(next, 303);
  })
  .openapi(signOut, async (c) => {
    assertSameOrigin(c);
    const secret = sessionSecret(c);
    if (secret) await endSession(c.var.db, secret);
    c.header('Set-Cookie', sessionCookie(c.req.url, '', 0));
    c.header('Cache-Control', 'private, no-store');
    return c.redirect('/', 303);
  });
