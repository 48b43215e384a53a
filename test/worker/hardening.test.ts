import { beforeAll, describe, expect, it } from 'vitest';
import { call, expectErrorShape } from './helpers';
import { makeWorld, pruneSpec, type World } from './fixtures';

let w: World;
beforeAll(async () => {
  w = await makeWorld('hard');
});

describe('deeply nested JSON in a suite line', () => {
  it('is a 422 naming the line, not a 500', async () => {
    const deep = `{"premise":${'['.repeat(200_000)}${']'.repeat(200_000)},"hypothesis":"h","label":0}`;
    const body = `${JSON.stringify({ premise: 'p', hypothesis: 'h', label: 0 })}\n${deep}\n`;
    const r = await call('POST', '/v1/suites?format=xnli&lang=fr', { token: w.writer, body });
    expect(r.status).toBe(422);
    expectErrorShape(r);
    expect(r.body.error.details.problems[0].line).toBe(2);
    expect(r.body.error.message).toContain('line 2');
  });

  it('moderately nested values are checked for control characters at any depth within the bound', async () => {
    const row = { premise: 'p', hypothesis: 'h', label: 0, extra: [[['bad\u0001']]] };
    const r = await call('POST', '/v1/suites?format=xnli&lang=fr', { token: w.writer, body: JSON.stringify(row) });
    expect(r.status).toBe(422);
    expect(r.body.error.details.problems[0]).toMatchObject({ line: 1, reason: 'control_chars' });
  });
});

describe('Idempotency-Key reuse', () => {
  it('with a different body is a 422, with the same body a replay', async () => {
    const headers = { 'idempotency-key': 'hard-1' };
    const a = await call('POST', '/v1/jobs', { token: w.writer, json: pruneSpec(w, { sparsity: 0.3 }), headers });
    expect(a.status).toBe(201);
    // Same content, other key order and spacing: still the same request.
    const same = JSON.stringify(Object.fromEntries(Object.entries(pruneSpec(w, { sparsity: 0.3 })).reverse()), null, 2);
    const b = await call('POST', '/v1/jobs', { token: w.writer, body: same, headers: { ...headers, 'content-type': 'application/json' } });
    expect(b.status).toBe(200);
    expect(b.body.id).toBe(a.body.id);
    const c = await call('POST', '/v1/jobs', { token: w.writer, json: pruneSpec(w, { sparsity: 0.4 }), headers });
    expect(c.status).toBe(422);
    expect(c.body.error.code).toBe('idempotency_key_reused');
    const d = await call('POST', '/v1/jobs', { token: w.writer, body: '{not json', headers: { ...headers, 'content-type': 'application/json' } });
    expect(d.status).toBe(422);
    expectErrorShape(d);
  });
});

describe('JSON body size', () => {
  it('a large JSON body is a 413 before it is parsed', async () => {
    const big = JSON.stringify({ ...pruneSpec(w), pad: 'x'.repeat(3 * 1024 * 1024) });
    const r = await call('POST', '/v1/jobs', { token: w.writer, body: big, headers: { 'content-type': 'application/json' } });
    expect(r.status).toBe(413);
    expect(r.body.error.code).toBe('payload_too_large');
  });

  it('a streamed body without Content-Length is cut off too', async () => {
    const chunk = new TextEncoder().encode(' '.repeat(64 * 1024));
    let sent = 0;
    const stream = new ReadableStream<Uint8Array>({
      pull(ctl) {
        if (sent++ < 64) ctl.enqueue(chunk);
        else ctl.close();
      },
    });
    const r = await call('POST', '/v1/models', { token: w.writer, body: stream, headers: { 'content-type': 'application/json' } });
    expect(r.status).toBe(413);
  });
});
