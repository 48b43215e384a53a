import { env } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import { ADMIN, call, expectErrorShape, makeToken, sha256 } from '../helpers';

describe('tokens', () => {
  it('creates a token whose secret is shown once and stored only as a hash', async () => {
    const r = await call('POST', '/v1/tokens', { token: ADMIN, json: { owner: 'alice', scopes: ['read', 'write'], name: 'laptop' } });
    expect(r.status).toBe(201);
    expect(r.body.secret).toMatch(/^pp_[A-Za-z0-9_-]{43}$/); // 32 random bytes, base64url
    const row = await env.DB.prepare('SELECT * FROM tokens WHERE id = ?').bind(r.body.id).first<Record<string, unknown>>();
    expect(row!.secret_hash).toBe(await sha256(r.body.secret));
    expect(JSON.stringify(row)).not.toContain(r.body.secret);

    const list = await call('GET', '/v1/tokens', { token: ADMIN });
    expect(list.status).toBe(200);
    const listed = list.body.items.find((t: { id: string }) => t.id === r.body.id);
    expect(listed.owner).toBe('alice');
    expect(listed.secret).toBeUndefined();
    expect(JSON.stringify(list.body)).not.toContain(r.body.secret);
  });

  it('authenticates a new token and revokes it at once', async () => {
    const secret = await makeToken('bob', ['write']);
    expect((await call('POST', '/v1/models', { token: secret, json: { name: 'm', family: 'gpt2' } })).status).toBe(201);
    const id = (await call('GET', '/v1/tokens', { token: ADMIN })).body.items.find((t: any) => t.owner === 'bob').id;
    const del = await call('DELETE', `/v1/tokens/${id}`, { token: ADMIN });
    expect(del.status).toBe(200);
    expect(del.body.revokedAt).toBeTruthy();
    const after = await call('POST', '/v1/models', { token: secret, json: { name: 'm', family: 'gpt2' } });
    expect(after.status).toBe(401);
    expectErrorShape(after);
  });

  it('answers 401 for unknown tokens and malformed headers, 403 for a missing scope', async () => {
    const unknown = await call('GET', '/v1/models', { token: 'pp_not_a_real_token' });
    expect(unknown.status).toBe(401);
    expect(unknown.body.error.code).toBe('unauthorized');
    const malformed = await call('GET', '/v1/models', { headers: { authorization: 'Basic abc' } });
    expect(malformed.status).toBe(401);
    const reader = await makeToken('carol', ['read']);
    const forbidden = await call('POST', '/v1/tokens', { token: reader, json: { owner: 'x', scopes: ['read'] } });
    expect(forbidden.status).toBe(403);
    expect(forbidden.body.error.code).toBe('forbidden');
  });

  it('rejects bad token requests with 400 and a named field', async () => {
    const r = await call('POST', '/v1/tokens', { token: ADMIN, json: { owner: 'dave', scopes: ['root'] } });
    expect(r.status).toBe(400);
    expect(r.body.error.message).toContain('scopes');
    const notJson = await call('POST', '/v1/tokens', { token: ADMIN, body: '{nope', headers: { 'content-type': 'application/json' } });
    expect(notJson.status).toBe(400);
    expect(notJson.body.error.code).toBe('invalid_json');
  });

  it('rate-limits per token with 429 and Retry-After', async () => {
    const secret = await makeToken('erin', ['read'], { rateLimitPerMinute: 3 });
    // 8 calls against a limit of 3: even if a minute boundary splits them, one window sees ≥ 4.
    const results = [];
    for (let i = 0; i < 8; i++) results.push(await call('GET', '/v1/models', { token: secret }));
    const limited = results.filter((r) => r.status === 429);
    expect(limited.length).toBeGreaterThanOrEqual(1);
    expect(results.filter((r) => r.status !== 200 && r.status !== 429)).toEqual([]);
    const retry = Number(limited[0]!.headers.get('retry-after'));
    expect(retry).toBeGreaterThanOrEqual(1);
    expect(retry).toBeLessThanOrEqual(60);
    expectErrorShape(limited[0]!);
    expect(limited[0]!.body.error.code).toBe('rate_limited');
    // Another token is unaffected.
    const other = await makeToken('frank', ['read'], { rateLimitPerMinute: 3 });
    expect((await call('GET', '/v1/models', { token: other })).status).toBe(200);
  });
});
