import { createExecutionContext, waitOnExecutionContext } from 'cloudflare:test';
import { env } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import { limits } from '@polyprune/shared/api/limits';
import worker, { app } from '@polyprune/worker/index';
import { call, makeToken } from '../helpers';
import { tinyOnnx } from '../onnx-writer';

/** The worker with other settings than wrangler.toml's (here: a small default rate limit). */
const withEnv = (path: string, headers: Record<string, string>, vars: Record<string, string>) =>
  app.request(path, { headers }, { ...env, ...vars }, createExecutionContext());

describe('rate limiting', () => {
  it('counts unknown tokens against the caller IP', async () => {
    const headers = { authorization: 'Bearer pp_guess_0000', 'cf-connecting-ip': '203.0.113.7' };
    const statuses = [];
    for (let i = 0; i < 6; i++) statuses.push((await withEnv('/v1/health', headers, { RATE_LIMIT_PER_MINUTE: '3' })).status);
    // A minute boundary may split the six calls; one window still sees ≥ 4 of them.
    expect(statuses.filter((s) => s === 429).length).toBeGreaterThanOrEqual(1);
    expect(statuses.filter((s) => s !== 401 && s !== 429)).toEqual([]);
  });

  it('answers RateLimit-Limit, -Remaining and -Reset', async () => {
    const r = await call('GET', '/v1/health', { headers: { 'cf-connecting-ip': '203.0.113.8' } });
    expect(r.headers.get('ratelimit-limit')).toBe('100000');
    expect(Number(r.headers.get('ratelimit-remaining'))).toBeLessThan(100000);
    const reset = Number(r.headers.get('ratelimit-reset'));
    expect(reset).toBeGreaterThanOrEqual(1);
    expect(reset).toBeLessThanOrEqual(60);
  });

  it('does not write to D1 on every request', async () => {
    const ip = '203.0.113.9';
    for (let i = 0; i < 20; i++) expect((await call('GET', '/v1/health', { headers: { 'cf-connecting-ip': ip } })).status).toBe(200);
    const row = await env.DB.prepare('SELECT sum(count) AS n FROM rate_limits WHERE key = ?').bind(`ip:${ip}`).first<{ n: number | null }>();
    // Counts reach D1 in batches (every 32 requests at this limit, or every few seconds).
    expect(row?.n ?? 0).toBeLessThan(20);
  });
});

describe('abandoned multipart uploads', () => {
  it('the cron aborts uploads older than the TTL and frees their R2 parts', async () => {
    const writer = await makeToken('mp-owner', ['write']);
    const model = (await call('POST', '/v1/models', { token: writer, json: { name: 'mp', family: 'xglm' } })).body.id;
    const start = async () => (await call('POST', `/v1/models/${model}/files/model.onnx/uploads`, { token: writer })).body.uploadId as string;
    const old = await start();
    const fresh = await start();
    expect((await call('PUT', `/v1/models/${model}/files/model.onnx/uploads/${old}/parts/1`, { token: writer, body: tinyOnnx() })).status).toBe(200);
    const past = new Date(Date.now() - (limits.uploadTtlHours + 1) * 3600_000).toISOString();
    await env.DB.prepare('UPDATE uploads SET created_at = ? WHERE id = ?').bind(past, old).run();
    const u = await env.DB.prepare('SELECT r2_key, r2_upload_id FROM uploads WHERE id = ?').bind(old).first<{ r2_key: string; r2_upload_id: string }>();

    const ctx = createExecutionContext();
    await worker.scheduled({ cron: '* * * * *', scheduledTime: Date.now(), noRetry() {} } as ScheduledController, env as never, ctx);
    await waitOnExecutionContext(ctx);

    expect((await call('PUT', `/v1/models/${model}/files/model.onnx/uploads/${old}/parts/2`, { token: writer, body: tinyOnnx() })).status).toBe(404);
    expect(await env.DB.prepare('SELECT count(*) AS n FROM upload_parts WHERE upload_id = ?').bind(old).first('n')).toBe(0);
    // R2 no longer knows the upload: its parts are gone.
    await expect(env.BLOBS.resumeMultipartUpload(u!.r2_key, u!.r2_upload_id).uploadPart(3, new Uint8Array([1]))).rejects.toThrow();
    expect((await call('PUT', `/v1/models/${model}/files/model.onnx/uploads/${fresh}/parts/1`, { token: writer, body: tinyOnnx() })).status).toBe(200);
  });
});

describe('OpenAPI document and limits', () => {
  it('lists the error statuses every route can answer and states the limits', async () => {
    const doc = (await call('GET', '/v1/openapi.json')).body;
    expect(doc.info['x-limits']).toEqual(limits);
    for (const [path, ops] of Object.entries<Record<string, { responses: Record<string, unknown>; requestBody?: unknown }>>(doc.paths)) {
      for (const [method, op] of Object.entries(ops)) {
        const at = `${method} ${path}`;
        expect(op.responses['401'], at).toBeDefined();
        expect(op.responses['429'], at).toBeDefined();
        if (path.includes('{')) expect(op.responses['404'], at).toBeDefined();
        if (op.requestBody) expect(op.responses['413'], at).toBeDefined();
        if (op.responses['206']) expect(op.responses['416'], at).toBeDefined();
      }
    }
    expect(doc.paths['/v1/runner/jobs/{id}/complete'].post.responses['422']).toBeDefined();
    expect(doc.paths['/v1/suites'].post.description).toContain(String(limits.datasetLines));
  });
});
