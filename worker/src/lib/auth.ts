import { and, eq, isNull, lt, or, type SQL } from 'drizzle-orm';
import type { SQLiteColumn } from 'drizzle-orm/sqlite-core';
import { createMiddleware } from 'hono/factory';
import type { Scope } from '@polyprune/shared/api/common';
import { tokens } from '../db/schema';
import type { AppEnv } from '../env';
import { safeEqual, sha256Hex } from './crypto';
import type { Db } from './db';
import { formatVersions, versionKeysOfRequest, versionsQuery } from './data-versions';
import { ApiError } from './errors';
import { defaultLimit, ipKey, limitRequest } from './rate-limit';
import type { Principal } from './principal';
import { sessionMethods, sessionPrincipal, sessionSecret } from './sessions';

export type { Principal } from './principal';

export const ADMIN_OWNER = 'admin';

/** Resolves the bearer token, if any. An unknown or revoked token is a 401 even on public routes. */
export const authenticate = createMiddleware<AppEnv>(async (c, next) => {
  const header = c.req.header('authorization');
  if (!header) {
    // A session cookie counts on reads only; an unknown or ended one leaves the caller anonymous (pages say so).
    const secret = sessionMethods.has(c.req.method) ? sessionSecret(c) : undefined;
    c.set('principal', secret ? await sessionPrincipal(c.var.db, secret) : null);
    return next();
  }
  const m = /^Bearer\s+(\S+)$/i.exec(header);
  // Guessing tokens costs the caller's IP its rate limit like any anonymous request.
  const refuse = async (message: string) => {
    await limitRequest(c, ipKey(c), defaultLimit(c));
    return new ApiError(401, 'unauthorized', message);
  };
  if (!m) throw await refuse('Authorization header must be "Bearer <token>"');
  const secret = m[1]!;
  const admin = c.var.config.adminToken;
  if (admin && admin.length >= 16 && (await safeEqual(secret, admin))) {
    c.set('principal', { tokenId: 'admin', owner: ADMIN_OWNER, scopes: new Set(['read', 'write', 'admin', 'runner']), rateLimitPerMinute: null });
    return next();
  }
  const db = c.var.db;
  const find = db
    .select()
    .from(tokens)
    .where(eq(tokens.secretHash, await sha256Hex(secret)))
    .limit(1);
  // A cached answer's versions ride along with the token: one D1 round trip for both.
  const keys = versionKeysOfRequest(c.req.method, c.req.url);
  let found: Awaited<typeof find>;
  if (keys) {
    const [rows, versions] = await db.batch([find, versionsQuery(db, keys)]);
    found = rows;
    c.set('versions', { keys: keys.join(','), versions: formatVersions(keys, versions) });
  } else found = await find;
  const row = found[0];
  if (!row || row.revokedAt) throw await refuse('unknown or revoked token');
  await noteUse(db, row);
  c.set('principal', { tokenId: row.id, owner: row.owner, scopes: new Set(row.scopes), rateLimitPerMinute: row.rateLimitPerMinute });
  return next();
});

/** `lastUsedAt` is kept to the minute: a token costs at most one D1 write a minute, not one a request. */
export const LAST_USED_EVERY_MS = 60_000;

async function noteUse(db: Db, row: typeof tokens.$inferSelect, nowMs = Date.now()) {
  if (row.lastUsedAt && nowMs - Date.parse(row.lastUsedAt) < LAST_USED_EVERY_MS) return;
  const stale = new Date(nowMs - LAST_USED_EVERY_MS).toISOString();
  // Guarded, so that of the requests racing past the check above only those a minute apart write.
  await db
    .update(tokens)
    .set({ lastUsedAt: new Date(nowMs).toISOString() })
    .where(and(eq(tokens.id, row.id), or(isNull(tokens.lastUsedAt), lt(tokens.lastUsedAt, stale))));
}

/** admin implies every scope; write implies read. */
export function hasScope(p: Principal | null, s: Scope): boolean {
  if (!p) return false;
  if (p.scopes.has('admin')) return true;
  if (s === 'read') return p.scopes.has('read') || p.scopes.has('write');
  return p.scopes.has(s);
}

export function requireScope(p: Principal | null, s: Scope): Principal {
  if (!p) throw new ApiError(401, 'unauthorized', `this route needs a token with scope "${s}"`);
  if (!hasScope(p, s)) throw new ApiError(403, 'forbidden', `this token lacks scope "${s}"`);
  return p;
}

interface Owned {
  owner: string;
  visibility: string;
}

/** Private resources of others are reported as missing, so ids of private work don't leak. */
export function canRead(p: Principal | null, r: Owned): boolean {
  if (r.visibility === 'public') return true;
  if (!p || !hasScope(p, 'read')) return false;
  return p.scopes.has('admin') || p.owner === r.owner;
}

export function assertReadable<T extends Owned>(p: Principal | null, r: T | undefined, what: string): T {
  if (!r || !canRead(p, r)) throw new ApiError(404, 'not_found', `${what} not found`);
  return r;
}

/** Only the owner (or an admin) with write scope may change a resource. */
export function assertWritable<T extends Owned>(p: Principal | null, r: T | undefined, what: string): T {
  const principal = requireScope(p, 'write');
  const found = assertReadable(principal, r, what);
  if (!principal.scopes.has('admin') && principal.owner !== found.owner) {
    throw new ApiError(403, 'forbidden', `${what} belongs to another owner`);
  }
  return found;
}

/** SQL filter for list endpoints: public rows, plus the caller's own (everything for admins). */
export function visibleTo(p: Principal | null, cols: { visibility: SQLiteColumn; owner: SQLiteColumn }): SQL | undefined {
  if (p?.scopes.has('admin')) return undefined;
  if (p && hasScope(p, 'read')) return or(eq(cols.visibility, 'public'), eq(cols.owner, p.owner));
  return eq(cols.visibility, 'public');
}
