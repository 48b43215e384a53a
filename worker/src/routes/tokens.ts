import { and, desc, eq, isNull, lt } from 'drizzle-orm';
import { Hono } from 'hono';
import { boolQuery, idParam, paginationQuery } from '../../../shared/src/api/common';
import { createTokenBody, type TokenInfo } from '../../../shared/src/api/tokens';
import { tokens } from '../db/schema';
import type { AppEnv } from '../env';
import { requireScope } from '../lib/auth';
import { newId, newSecret, sha256Hex } from '../lib/crypto';
import { createDb, nowIso } from '../lib/db';
import { notFound } from '../lib/errors';
import { nextCursor } from '../lib/pagination';
import { parseJson, parseParams, parseQuery } from '../lib/validate';

type Row = typeof tokens.$inferSelect;
const view = (r: Row): TokenInfo => ({
  id: r.id,
  owner: r.owner,
  name: r.name,
  scopes: r.scopes as TokenInfo['scopes'],
  rateLimitPerMinute: r.rateLimitPerMinute,
  createdAt: r.createdAt,
  lastUsedAt: r.lastUsedAt,
  revokedAt: r.revokedAt,
});

export const tokenRoutes = new Hono<AppEnv>()
  .post('/', async (c) => {
    requireScope(c.get('principal'), 'admin');
    const body = await parseJson(c, createTokenBody);
    const secret = newSecret();
    const row: Row = {
      id: newId('tok'),
      owner: body.owner,
      name: body.name ?? null,
      scopes: [...new Set(body.scopes)],
      secretHash: await sha256Hex(secret),
      rateLimitPerMinute: body.rateLimitPerMinute ?? null,
      createdAt: nowIso(),
      lastUsedAt: null,
      revokedAt: null,
    };
    await createDb(c.env.DB).insert(tokens).values(row);
    // The secret is returned exactly once; only its hash is stored.
    return c.json({ ...view(row), secret }, 201);
  })
  .get('/', async (c) => {
    requireScope(c.get('principal'), 'admin');
    const q = parseQuery(c, paginationQuery.extend({ includeRevoked: boolQuery }));
    const db = createDb(c.env.DB);
    const conds = [q.cursor ? lt(tokens.id, q.cursor) : undefined, q.includeRevoked ? undefined : isNull(tokens.revokedAt)];
    const rows = await db
      .select()
      .from(tokens)
      .where(and(...conds))
      .orderBy(desc(tokens.id))
      .limit(q.limit + 1);
    const p = nextCursor(rows, q.limit);
    return c.json({ items: p.items.map(view), nextCursor: p.nextCursor });
  })
  .delete('/:id', async (c) => {
    requireScope(c.get('principal'), 'admin');
    const { id } = parseParams(c, idParam);
    const db = createDb(c.env.DB);
    const row = await db.query.tokens.findFirst({ where: eq(tokens.id, id) });
    if (!row) throw notFound('token');
    const revokedAt = row.revokedAt ?? nowIso();
    if (!row.revokedAt) await db.update(tokens).set({ revokedAt }).where(eq(tokens.id, id));
    return c.json(view({ ...row, revokedAt }));
  });
