import { eq, isNull } from 'drizzle-orm';
import { createRoute } from '@hono/zod-openapi';
import { boolQuery, idParam, page, paginationQuery } from '@polyprune/shared/api/common';
import { createdToken, createTokenBody, type TokenInfo, tokenInfo } from '@polyprune/shared/api/tokens';
import { tokens } from '../db/schema';
import { newId, newSecret, sha256Hex } from '../lib/crypto';
import { nowIso } from '../lib/db';
import { notFound } from '../lib/errors';
import { listPage } from '../lib/pagination';
import { endSessionsOf } from '../lib/sessions';
import { ApiApp, err, json, jsonBody } from '../lib/openapi';

type Row = typeof tokens.$inferSelect;
const view = (r: Row): TokenInfo => ({
  id: r.id,
  owner: r.owner,
  name: r.name,
  scopes: r.scopes,
  rateLimitPerMinute: r.rateLimitPerMinute,
  createdAt: r.createdAt,
  lastUsedAt: r.lastUsedAt,
  revokedAt: r.revokedAt,
});

const tags = ['tokens'];

const create = createRoute({
  operationId: 'createToken',
  method: 'post',
  path: '/',
  summary: 'Create an API token (secret shown once)',
  tags,
  'x-scope': 'admin',
  request: { body: jsonBody(createTokenBody) },
  responses: { 201: json('created', createdToken) },
});

const list = createRoute({
  operationId: 'listTokens',
  method: 'get',
  path: '/',
  summary: 'List tokens (no secrets)',
  tags,
  'x-scope': 'admin',
  request: { query: paginationQuery.extend({ includeRevoked: boolQuery }) },
  responses: { 200: json('page', page(tokenInfo)) },
});

const revoke = createRoute({
  operationId: 'revokeToken',
  method: 'delete',
  path: '/{id}',
  summary: 'Revoke a token at once (its page sessions end with it)',
  tags,
  'x-scope': 'admin',
  request: { params: idParam },
  responses: { 200: json('revoked', tokenInfo), 404: err('unknown token') },
});

export const tokenRoutes = new ApiApp()
  .openapi(create, async (c) => {
    const body = c.req.valid('json');
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
    await c.var.db.insert(tokens).values(row);
    // The secret is returned exactly once; only its hash is stored.
    return c.json({ ...view(row), secret }, 201);
  })
  .openapi(list, async (c) => {
    const q = c.req.valid('query');
    // Admin only: every owner's tokens, no visibility filter.
    const page = await listPage(c.var.db, tokens, q, [q.includeRevoked ? undefined : isNull(tokens.revokedAt)]);
    return c.json({ ...page, items: page.items.map(view) }, 200);
  })
  .openapi(revoke, async (c) => {
    const { id } = c.req.valid('param');
    const db = c.var.db;
    const row = await db.query.tokens.findFirst({ where: eq(tokens.id, id) });
    if (!row) throw notFound('token');
    const revokedAt = row.revokedAt ?? nowIso();
    if (!row.revokedAt) await db.update(tokens).set({ revokedAt }).where(eq(tokens.id, id));
    await endSessionsOf(db, id);
    return c.json(view({ ...row, revokedAt }), 200);
  });
