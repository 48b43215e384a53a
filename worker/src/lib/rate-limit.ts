import { sql } from 'drizzle-orm';
import type { Context } from 'hono';
import { createMiddleware } from 'hono/factory';
import { rateLimits } from '../db/schema';
import type { AppEnv } from '../env';
import type { Db } from './db';
import { ApiError } from './errors';

/** Pending counts are written to D1 at least this often (per key and isolate) while requests come. */
export const FLUSH_MS = 5_000;
/** Keys held per isolate; past it, slots of earlier windows are dropped. */
const MAX_SLOTS = 10_000;

interface Slot {
  window: number;
  /** the window's count in D1 as of our last write (other isolates' requests included) */
  shared: number;
  /** requests counted here and not yet written to D1 */
  pending: number;
  flushedAt: number;
}

const slots = new Map<string, Slot>();

/**
 * Write to D1 once per this many requests of a key: a generous limit tolerates the counts other
 * isolates have not written yet; a small one is checked against D1 on every request.
 */
export const flushEvery = (limit: number) => Math.min(32, Math.max(1, Math.floor(limit / 20)));

/**
 * Fixed one-minute windows per token (per client IP for anonymous callers and unknown tokens).
 * Each isolate counts in memory and adds its count to the shared one in D1 every few requests or
 * seconds, so a request does not cost a D1 write; across isolates the limit holds to within the
 * counts not yet written. (The Workers Rate Limiting binding has one fixed limit per binding and
 * no remaining count, and tokens here carry their own limits and RateLimit headers.)
 */
export async function consume(db: Db, key: string, limit: number, nowMs = Date.now()) {
  const window = Math.floor(nowMs / 60_000);
  let slot = slots.get(key);
  if (!slot || slot.window !== window) {
    if (slots.size >= MAX_SLOTS) for (const [k, s] of slots) if (s.window !== window) slots.delete(k);
    slot = { window, shared: 0, pending: 0, flushedAt: nowMs };
    slots.set(key, slot);
  }
  slot.pending++;
  if (slot.pending >= flushEvery(limit) || nowMs - slot.flushedAt >= FLUSH_MS) {
    const add = slot.pending;
    slot.pending = 0;
    slot.flushedAt = nowMs;
    const [row] = await db
      .insert(rateLimits)
      .values({ key, window, count: add })
      .onConflictDoUpdate({ target: [rateLimits.key, rateLimits.window], set: { count: sql`${rateLimits.count} + ${add}` } })
      .returning({ count: rateLimits.count });
    slot.shared = Math.max(slot.shared + add, row?.count ?? 0);
  }
  const count = slot.shared + slot.pending;
  return { count, resetSeconds: (window + 1) * 60 - Math.floor(nowMs / 1000) };
}

export const defaultLimit = (c: Context<AppEnv>) => c.var.config.rateLimitPerMinute;

/**
 * The address an anonymous request (or one with an unknown token) is counted against.
 * - `TRUST_CF_CONNECTING_IP = "true"` (wrangler.toml: the deployment runs on Cloudflare): the
 *   CF-Connecting-IP header, which the edge sets and a client cannot choose.
 * - Otherwise the header is whatever the client sent and is never read. The socket address workerd
 *   reports (`request.cf.clientIp`, "ip:port"; the port differs per connection) is used where there
 *   is one; wrangler dev replaces `request.cf` and passes the address only as that same header, so
 *   there every caller without a token shares one key, and one limit.
 */
export function clientAddress(req: Request, trustCfConnectingIp: boolean): string {
  if (trustCfConnectingIp) {
    const ip = req.headers.get('cf-connecting-ip')?.trim();
    if (ip) return ip;
  }
  const socket = (req.cf as { clientIp?: unknown } | undefined)?.clientIp;
  if (typeof socket === 'string' && socket) return withoutPort(socket);
  return 'unknown';
}

/** "[2001:db8::1]:443" → "2001:db8::1", "192.0.2.1:5000" → "192.0.2.1"; a bare address stays. */
export function withoutPort(addr: string): string {
  const v6 = /^\[([^\]]+)\](?::\d+)?$/.exec(addr);
  if (v6) return v6[1]!;
  const v4 = /^([^:]+):\d+$/.exec(addr);
  return v4 ? v4[1]! : addr;
}

export const ipKey = (c: Context<AppEnv>) => `ip:${clientAddress(c.req.raw, c.var.config.trustCfConnectingIp)}`;

/** Counts one request against `key`; sets the RateLimit headers and throws 429 past the limit. */
export async function limitRequest(c: Context<AppEnv>, key: string, limit: number) {
  const { count, resetSeconds } = await consume(c.var.db, key, limit);
  const remaining = String(Math.max(0, limit - count));
  c.header('RateLimit-Limit', String(limit));
  c.header('RateLimit-Remaining', remaining);
  c.header('RateLimit-Reset', String(resetSeconds));
  c.header('X-RateLimit-Limit', String(limit));
  c.header('X-RateLimit-Remaining', remaining);
  if (count > limit) {
    throw new ApiError(
      429,
      'rate_limited',
      `rate limit of ${limit} requests per minute exceeded`,
      { limit, retryAfterSeconds: resetSeconds },
      { 'Retry-After': String(resetSeconds), 'RateLimit-Limit': String(limit), 'RateLimit-Remaining': '0', 'RateLimit-Reset': String(resetSeconds) },
    );
  }
}

export const rateLimit = createMiddleware<AppEnv>(async (c, next) => {
  const p = c.get('principal');
  await limitRequest(c, p ? `token:${p.tokenId}` : ipKey(c), p?.rateLimitPerMinute ?? defaultLimit(c));
  return next();
});

/** Windows before the previous one are useless; the cron drops them. */
export async function pruneRateLimits(db: Db, nowMs = Date.now()) {
  await db.delete(rateLimits).where(sql`${rateLimits.window} < ${Math.floor(nowMs / 60_000) - 1}`);
}
