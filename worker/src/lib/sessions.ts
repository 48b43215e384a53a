/**
 * Sessions of the pages. A browser cannot send a bearer token, so POST /login trades one for a
 * cookie naming a server-side session. The cookie is read on GET (and HEAD) requests only: it opens
 * the pages and the JSON reads, and every write stays bearer-only, so a forged cross-site request
 * has nothing to ride on. Its secret is random and stored hashed like token secrets.
 */
import { and, eq, isNull, lt } from 'drizzle-orm';
import type { Context } from 'hono';
import { getCookie } from 'hono/cookie';
import { sessions, tokens } from '../db/schema';
import type { AppEnv } from '../env';
import type { Principal } from './principal';
import { newSecret, sha256Hex } from './crypto';
import type { Db } from './db';

/** The cookie's name; the document's `session` scheme names it too. */
export const SESSION_COOKIE = 'pp_session';

/** A sign-in lasts a working week; signing in again starts a new one. */
export const SESSION_TTL_SECONDS = 7 * 24 * 3600;

/** The methods a session cookie authorises: reading, never writing. */
export const sessionMethods = new Set(['GET', 'HEAD']);

/** Browsers refuse Secure cookies over plain HTTP except to loopback, where local stacks run without TLS. */
export function isLoopback(hostname: string): boolean {
  const h = hostname.replace(/^\[|\]$/g, '').toLowerCase();
  return h === 'localhost' || h.endsWith('.localhost') || h === '::1' || /^127\.\d+\.\d+\.\d+$/.test(h);
}

export function sessionCookie(url: string, value: string, maxAgeSeconds: number): string {
  const secure = isLoopback(new URL(url).hostname) ? '' : '; Secure';
  return `${SESSION_COOKIE}=${value}; Path=/; Max-Age=${maxAgeSeconds}; HttpOnly; SameSite=Lax${secure}`;
}

/**
 * A form post from a page of this origin. Browsers send `Sec-Fetch-Site` (which no page can set) to
 * HTTPS and loopback origins, and it decides where present. `Origin` alone decides otherwise; the
 * pages' `Referrer-Policy: no-referrer` makes Chromium send `Origin: null` even on a same-origin
 * form post, and `null` is refused (a sandboxed frame of any site sends it too).
 */
export function sameOrigin(c: Context): boolean {
  const origin = c.req.header('origin');
  const own = new URL(c.req.url).origin;
  if (origin !== undefined && origin !== 'null' && origin !== own) return false;
  const site = c.req.header('sec-fetch-site');
  if (site !== undefined) return site === 'same-origin';
  return origin === own;
}

export async function createSession(db: Db, tokenId: string, nowMs = Date.now()): Promise<{ secret: string; maxAge: number }> {
  const secret = newSecret();
  await db.insert(sessions).values({
    secretHash: await sha256Hex(secret),
    tokenId,
    createdAt: new Date(nowMs).toISOString(),
    expiresAt: new Date(nowMs + SESSION_TTL_SECONDS * 1000).toISOString(),
  });
  return { secret, maxAge: SESSION_TTL_SECONDS };
}

/**
 * The reader a session cookie stands for, or null: unknown, expired, or its token revoked. Only the
 * reading scopes of the token carry over (runner work is never done from a browser).
 */
export async function sessionPrincipal(db: Db, secret: string, nowMs = Date.now()): Promise<Principal | null> {
  const [row] = await db
    .select({ token: tokens, expiresAt: sessions.expiresAt })
    .from(sessions)
    .innerJoin(tokens, eq(tokens.id, sessions.tokenId))
    .where(and(eq(sessions.secretHash, await sha256Hex(secret)), isNull(tokens.revokedAt)))
    .limit(1);
  if (!row || Date.parse(row.expiresAt) <= nowMs) return null;
  const scopes = row.token.scopes.filter((s) => s !== 'runner');
  return { tokenId: row.token.id, owner: row.token.owner, scopes: new Set(scopes), rateLimitPerMinute: row.token.rateLimitPerMinute, via: 'session' };
}

export const sessionSecret = (c: Context<AppEnv>) => getCookie(c, SESSION_COOKIE);

export async function endSession(db: Db, secret: string) {
  await db.delete(sessions).where(eq(sessions.secretHash, await sha256Hex(secret)));
}

/** Revoking a token ends its sessions (they are also refused on use, by the join above). */
export async function endSessionsOf(db: Db, tokenId: string) {
  await db.delete(sessions).where(eq(sessions.tokenId, tokenId));
}

/** Expired sessions are useless; the cron drops them. */
export async function pruneSessions(db: Db, nowMs = Date.now()) {
  await db.delete(sessions).where(lt(sessions.expiresAt, new Date(nowMs).toISOString()));
}
