import { sql } from 'drizzle-orm';
import { createMiddleware } from 'hono/factory';
import { rateLimits } from '../db/schema';
import type { AppEnv } from '../env';
import { createDb } from './db';
import { ApiError } from './errors';

/**
 * Fixed one-minute windows per token (per client IP for anonymous callers), counted in D1 with
 * one upsert so concurrent isolates agree on the count.
 */
export const rateLimit = createMiddleware<AppEnv>(async (c, next) => {
  const p = c.get('principal');
  const limit = p?.rateLimitPerMinute ?? Number(c.env.RATE_LIMIT_PER_MINUTE ?? '600');
  const key = p ? `token:${p.tokenId}` : `ip:${c.req.header('cf-connecting-ip') ?? 'local'}`;
  const nowSec = Math.floor(Date.now() / 1000);
  const window = Math.floor(nowSec / 60);
  const db = createDb(c.env.DB);
  const [row] = await db
    .insert(rateLimits)
    .values({ key, window, count: 1 })
    .onConflictDoUpdate({ target: [rateLimits.key, rateLimits.window], set: { count: sql`${rateLimits.count} + 1` } })
    .returning({ count: rateLimits.count });
  const count = row?.count ?? 1;
  c.header('X-RateLimit-Limit', String(limit));
  c.header('X-RateLimit-Remaining', String(Math.max(0, limit - count)));
  if (count > limit) {
    const retryAfter = (window + 1) * 60 - nowSec;
    throw new ApiError(
      429,
      'rate_limited',
      `rate limit of ${limit} requests per minute exceeded`,
      { limit, retryAfterSeconds: retryAfter },
      { 'Retry-After': String(retryAfter) },
    );
  }
  // Old windows are useless; prune them now and then rather than with a cron.
  if (count === 1 && Math.random() < 0.05)
    c.executionCtx.waitUntil(
      db
        .delete(rateLimits)
        .where(sql`${rateLimits.window} < ${window - 1}`)
        .run()
        .then(() => undefined),
    );
  return next();
});
