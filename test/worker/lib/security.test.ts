/**
 * Hardening of what leaves the worker (exports, headers) and of who a request is counted against:
 * LaTeX and CSV exports of hostile names, security and cache headers on every route family, token
 * audit, the admin secret's comparison, and rate limiting by an address the client cannot choose.
 */
import { createExecutionContext } from 'cloudflare:test';
import { env } from 'cloudflare:workers';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { app } from '@polyprune/worker/index';
import { safeEqual } from '@polyprune/worker/lib/crypto';
import { ADMIN, call, type CallResult, makeToken } from '../helpers';
import { leaseJob, makeWorld, type World } from '../fixtures';
import { tinyOnnx } from '../onnx-writer';
import wranglerToml from '../../../wrangler.toml?raw';

const FORMULA = '=HYPERLINK("http://evil.example/x","click")';
const TEX_NAME = 'evil\n\\input{/etc/passwd}\n\n%';

let w: World;
let formulaModel: string;
let texModel: string;
let suite: string;
const runIds: string[] = [];

async function publicModel(name: string) {
  const id = (await call('POST', '/v1/models', { token: w.writer, json: { name, family: 'xglm', visibility: 'public' } })).body.id as string;
  await call('PUT', `/v1/models/${id}/files/model.onnx`, { token: w.writer, body: tinyOnnx() });
  await call('PUT', `/v1/models/${id}/files/tokenizer.json`, { token: w.writer, body: '{"model":{}}' });
  return id;
}

/** A finished job of `spec` whose runner reports accuracy `value` on the suite. */
async function finished(spec: Record<string, unknown>, value: number) {
  const job = await call('POST', '/v1/jobs', { token: w.writer, json: { suites: [suite], visibility: 'public', ...spec } });
  expect(job.status, JSON.stringify(job.body)).toBe(201);
  const l = await leaseJob(w.runner, job.body.id);
  await call('PUT', `/v1/runner/jobs/${job.body.id}/artifacts/samples.jsonl.gz`, {
    token: w.runner,
    body: new Uint8Array([31, 139]),
    headers: { 'x-lease-token': l.leaseToken },
  });
  const scores = ['acc', '@acc'].map((metric) => ({ suiteId: suite, format: 'xnli', lang: 'fr', scoring: 'paper', metric, value, n: 100 }));
  const done = await call('POST', `/v1/runner/jobs/${job.body.id}/complete`, {
    token: w.runner,
    json: { leaseToken: l.leaseToken, result: { scores, artifacts: ['samples.jsonl.gz'] } },
  });
  expect(done.status, JSON.stringify(done.body)).toBe(200);
  runIds.push(done.body.runId);
  return done.body.runId as string;
}

beforeAll(async () => {
  w = await makeWorld('sec', 'public');
  // A suite named to start a formula and to close a LaTeX group.
  const s = await call('POST', `/v1/suites?format=xnli&lang=fr&visibility=public&name=${encodeURIComponent('+SUM(A1)}\\input{x}')}`, {
    token: w.writer,
    body: JSON.stringify({ premise: 'p', hypothesis: 'h', label: 0 }),
  });
  expect(s.status).toBe(201);
  suite = s.body.id;
  formulaModel = await publicModel(FORMULA);
  texModel = await publicModel(TEX_NAME);
  for (const model of [formulaModel, texModel]) {
    await finished({ kind: 'evaluate', modelId: model }, 0.62);
    await finished({ kind: 'prune', modelId: model, method: 'magnitude' }, 0.55);
  }
});

/** RFC 4180, written here independently of the worker's writer. */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let cell = '';
  let quoted = false;
  let wasQuoted = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (quoted) {
      if (ch === '"' && text[i + 1] === '"') {
        cell += '"';
        i++;
      } else if (ch === '"') quoted = false;
      else cell += ch;
    } else if (ch === '"') {
      quoted = true;
      wasQuoted = true;
    } else if (ch === ',') {
      row.push(cell);
      cell = '';
      wasQuoted = false;
    } else if (ch === '\r' && text[i + 1] === '\n') {
      row.push(cell);
      rows.push(row);
      row = [];
      cell = '';
      wasQuoted = false;
      i++;
    } else cell += ch;
  }
  expect(cell === '' && !wasQuoted && row.length === 0, 'the CSV ends with CRLF').toBe(true);
  return rows;
}

describe('LaTeX export', () => {
  const commandLines = (tex: string) => tex.split('\n').filter((l) => /^\s*\\(input|include|write|immediate|openout|catcode|def)\b/.test(l));

  it('a format from the query cannot leave the comment line (the reported request)', async () => {
    const r = await call('GET', '/v1/leaderboards?format=%0A%5Cinput%7B%2Fetc%2Fpasswd%7D&as=latex');
    expect(r.status).toBe(200);
    const tex = r.body as string;
    expect(commandLines(tex)).toEqual([]);
    expect(tex).not.toContain('\\input');
    // The comment is still one line, with the value escaped in it.
    expect(tex.split('\n')[0]).toBe('% polyprune leaderboard:  \\textbackslash{}input\\{/etc/passwd\\}, metric acc, scoring paper');
  });

  it('a metric from the query is escaped too', async () => {
    const r = await call('GET', `/v1/leaderboards?metric=${encodeURIComponent('x\n\\write18{rm -rf ~}')}&as=latex`);
    expect(r.status).toBe(200);
    expect(commandLines(r.body)).toEqual([]);
    expect(r.body).not.toContain('\\write');
    expect(r.body.split('\n')[0]).toContain('metric x \\textbackslash{}write18\\{rm -rf \\textasciitilde{}\\}');
  });

  it('model and suite names: line breaks become spaces, specials are escaped, the table keeps its shape', async () => {
    const r = await call('GET', `/v1/leaderboards?format=xnli&as=latex`);
    expect(r.status).toBe(200);
    const tex = r.body as string;
    expect(commandLines(tex)).toEqual([]);
    expect(tex).not.toMatch(/\\input\{/);
    // No blank line (a paragraph break inside the tabular), and every row between the rules ends with \\.
    expect(
      tex
        .split('\n')
        .slice(0, -1)
        .filter((l) => l.trim() === ''),
    ).toEqual([]);
    const body = tex.split('\n').slice(tex.split('\n').indexOf('\\midrule') + 1, tex.split('\n').indexOf('\\bottomrule'));
    for (const line of body) if (line !== '\\midrule') expect(line.endsWith('\\\\'), line).toBe(true);
    expect(tex).toContain('evil \\textbackslash{}input\\{/etc/passwd\\}  \\%');
    expect(tex).toContain('+SUM(A1)\\}\\textbackslash{}input\\{x\\}');
  });
});

describe('CSV export', () => {
  it('a public model named like a formula comes out as text; numbers, negative ones included, stay numbers', async () => {
    const r = await call('GET', `/v1/leaderboards?format=xnli&as=csv`);
    expect(r.status).toBe(200);
    const rows = parseCsv(r.body as string);
    const header = rows[0]!;
    const col = (name: string) => header.indexOf(name);
    const mine = rows.slice(1).filter((x) => x[col('model')] === formulaModel);
    expect(mine.length).toBe(2);
    for (const x of mine) {
      expect(x[col('model_name')]).toBe(`'${FORMULA}`);
      expect(x[col('suite')]).toBe("'+SUM(A1)}\\input{x}");
    }
    // The raw line quotes the neutralised cell, so no spreadsheet reads a formula there.
    expect(r.body).toContain(`"'=HYPERLINK(""http://evil.example/x"",""click"")"`);
    const pruned = mine.find((x) => x[col('variant')] !== 'dense')!;
    expect(Number(pruned[col('delta_vs_dense')])).toBeCloseTo(0.55 - 0.62, 12);
    expect(pruned[col('delta_vs_dense')]).toMatch(/^-0\.0[67]\d*$/);
    // No cell of the whole file starts a formula, except numbers.
    for (const x of rows) for (const cell of x) if (/^[=+\-@\t\r]/.test(cell)) expect(Number.isFinite(Number(cell)), `cell ${JSON.stringify(cell)}`).toBe(true);
  });

  it('a metric from the query is neutralised like any text cell', async () => {
    // The runner reports a metric of that name, so rows carry it.
    const r = await call('GET', `/v1/leaderboards?format=xnli&metric=${encodeURIComponent('@acc')}&as=csv`);
    expect(r.status).toBe(200);
    const rows = parseCsv(r.body as string);
    const metric = rows[0]!.indexOf('metric');
    expect(rows.slice(1).map((x) => x[metric])).toEqual(Array(4).fill("'@acc"));
    for (const x of rows) for (const cell of x) expect(cell.startsWith('@')).toBe(false);
  });
});

const CSP_SCRIPT_SELF = /(^|;)\s*script-src 'self'\s*(;|$)/;

function expectSecurityHeaders(r: CallResult, what: string, withToken: boolean) {
  const csp = r.headers.get('content-security-policy') ?? '';
  expect(csp, `${what}: CSP`).toMatch(CSP_SCRIPT_SELF);
  expect(csp, `${what}: CSP`).toContain("default-src 'none'");
  expect(csp, `${what}: CSP`).toContain("frame-ancestors 'none'");
  expect(r.headers.get('x-content-type-options'), what).toBe('nosniff');
  expect(r.headers.get('referrer-policy'), what).toBe('no-referrer');
  expect(r.headers.get('x-frame-options'), what).toBe('DENY');
  if (withToken) expect(r.headers.get('cache-control'), `${what}: Cache-Control`).toBe('private, no-store');
  else expect(r.headers.get('cache-control') ?? '', `${what}: Cache-Control`).not.toContain('no-store');
  expect(r.headers.get('vary') ?? '', what).toContain('Authorization');
}

describe('security headers', () => {
  it('every GET route of the OpenAPI document, with and without a token, answers with them', async () => {
    const doc = (await call('GET', '/v1/openapi.json')).body;
    const ids: Record<string, string> = { model: formulaModel, id: runIds[0]!, name: 'samples.jsonl.gz' };
    let seen = 0;
    for (const [path, ops] of Object.entries<Record<string, unknown>>(doc.paths)) {
      if (!('get' in ops)) continue;
      // A run id where a run is asked for; other resources answer 404, which carries the headers too.
      const url = path.replace(/\{(\w+)\}/g, (_, p: string) => ids[p] ?? 'x');
      for (const token of [null, ADMIN]) {
        const r = await call('GET', url, { token });
        expect(r.status, `${url}: ${r.status}`).toBeLessThan(500);
        expectSecurityHeaders(r, `GET ${url} ${token ? 'with' : 'without'} a token`, token !== null);
        seen++;
      }
    }
    expect(seen).toBeGreaterThan(30);
  });

  it('pages, artifacts, exports and errors: with a token private and never stored; pages need no script and get their inline styles', async () => {
    const run = runIds[0]!;
    const targets: [string, string][] = [
      ['page', `/leaderboards/${formulaModel}`],
      ['page', '/leaderboards'],
      ['page', `/runs/${run}`],
      ['artifact', `/v1/runs/${run}/artifacts/samples.jsonl.gz`],
      ['csv', '/v1/leaderboards?format=xnli&as=csv'],
      ['latex', '/v1/leaderboards?format=xnli&as=latex'],
      ['json', `/v1/runs/${run}`],
      ['not found', '/nowhere'],
    ];
    for (const [kind, url] of targets) {
      for (const token of [null, w.writer]) {
        const r = await call('GET', url, { token });
        expect(r.status, `${kind} ${url}`).toBe(kind === 'not found' ? 404 : 200);
        expectSecurityHeaders(r, `${kind} ${url}`, token !== null);
        if (kind === 'page') {
          const html = r.body as string;
          expect(html).not.toMatch(/<script/i);
          expect(html).not.toMatch(/\son[a-z]+=/i);
          // The pages style themselves inline: the policy must allow it or they render unstyled.
          expect(html).toMatch(/<style|style="/);
          expect(r.headers.get('content-security-policy')).toContain("style-src 'self' 'unsafe-inline'");
        }
      }
    }
    // A refusal before any route (unknown token) carries them too.
    const bad = await call('GET', '/v1/models', { token: 'pp_nope' });
    expect(bad.status).toBe(401);
    expectSecurityHeaders(bad, 'unknown token', true);
  });
});

describe('token audit', () => {
  const lastUsed = async (id: string) => {
    const list = await call('GET', '/v1/tokens?limit=200', { token: ADMIN });
    return (list.body.items as { id: string; lastUsedAt: string | null }[]).find((t) => t.id === id)!.lastUsedAt;
  };

  it('lastUsedAt is set on use, shown in GET /v1/tokens, and written at most once a minute', async () => {
    const created = await call('POST', '/v1/tokens', { token: ADMIN, json: { owner: 'audited', scopes: ['read'] } });
    const { id, secret } = created.body as { id: string; secret: string };
    expect(await lastUsed(id)).toBeNull();
    const before = Date.now();
    expect((await call('GET', '/v1/models', { token: secret })).status).toBe(200);
    const first = await lastUsed(id);
    expect(first).not.toBeNull();
    expect(Date.parse(first!)).toBeGreaterThanOrEqual(before - 1000);
    expect(Date.parse(first!)).toBeLessThanOrEqual(Date.now() + 1000);

    // Used again within the minute: no write (a value set 30 s ago stays as it is).
    const halfMinute = new Date(Date.now() - 30_000).toISOString();
    await env.DB.prepare('UPDATE tokens SET last_used_at = ? WHERE id = ?').bind(halfMinute, id).run();
    for (let i = 0; i < 5; i++) await call('GET', '/v1/models', { token: secret });
    expect(await lastUsed(id)).toBe(halfMinute);

    // A minute later, the next use writes it again.
    await env.DB.prepare('UPDATE tokens SET last_used_at = ? WHERE id = ?')
      .bind(new Date(Date.now() - 61_000).toISOString(), id)
      .run();
    const again = Date.now();
    await call('GET', '/v1/models', { token: secret });
    expect(Date.parse((await lastUsed(id))!)).toBeGreaterThanOrEqual(again - 1000);
  });

  it('every token used is audited, runner and write tokens alike', async () => {
    const secrets = await Promise.all([1, 2, 3, 4].map((i) => makeToken(`audit-${i}`, i % 2 ? ['write'] : ['runner'])));
    for (const s of secrets) await call('GET', '/v1/health', { token: s });
    const list = await call('GET', '/v1/tokens?limit=200', { token: ADMIN });
    const mine = (list.body.items as { owner: string; lastUsedAt: string | null }[]).filter((t) => t.owner.startsWith('audit-'));
    expect(mine).toHaveLength(4);
    expect(mine.every((t) => t.lastUsedAt !== null)).toBe(true);
  });
});

describe('admin secret comparison', () => {
  afterEach(() => vi.restoreAllMocks());

  it('compares fixed-size digests whatever the lengths, and still tells equal from unequal', async () => {
    const spy = vi.spyOn(crypto.subtle, 'timingSafeEqual');
    const secret = ADMIN;
    const guesses = ['p', secret.slice(0, -1), `${secret}x`, 'x'.repeat(secret.length), secret];
    const results = [];
    for (const g of guesses) results.push(await safeEqual(g, secret));
    expect(results).toEqual([false, false, false, false, true]);
    // One constant-time comparison per call, always of two 32-byte digests: a shorter or longer guess takes the same path.
    expect(spy).toHaveBeenCalledTimes(guesses.length);
    for (const [a, b] of spy.mock.calls) {
      expect((a as ArrayBuffer).byteLength).toBe(32);
      expect((b as ArrayBuffer).byteLength).toBe(32);
    }
  });

  it('the admin token works, a guess of another length is a 401', async () => {
    expect((await call('GET', '/v1/tokens', { token: ADMIN })).status).toBe(200);
    expect((await call('GET', '/v1/tokens', { token: `${ADMIN}0` })).status).toBe(401);
    expect((await call('GET', '/v1/tokens', { token: ADMIN.slice(0, 20) })).status).toBe(401);
  });
});

describe('rate limiting by client address', () => {
  const request = (headers: Record<string, string>, cf?: Record<string, unknown>) =>
    new Request('http://polyprune.test/v1/health', { headers, ...(cf ? { cf } : {}) } as RequestInit);
  const send = (req: Request, vars: Record<string, string>) => app.request(req, undefined, { ...env, ...vars }, createExecutionContext());
  const untrusted = { RATE_LIMIT_PER_MINUTE: '5', TRUST_CF_CONNECTING_IP: 'false' };
  const trusted = { RATE_LIMIT_PER_MINUTE: '5', TRUST_CF_CONNECTING_IP: 'true' };

  it('off Cloudflare, bad-token requests with a rotating CF-Connecting-IP are limited all the same', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 40; i++) {
      const r = await send(request({ authorization: 'Bearer pp_guess_rotating', 'cf-connecting-ip': `192.0.2.${i}` }), untrusted);
      statuses.push(r.status);
    }
    expect(statuses.filter((s) => s !== 401 && s !== 429)).toEqual([]);
    // 5 a minute: a minute boundary may fall inside the loop, so at most 10 get through.
    expect(statuses.filter((s) => s === 429).length).toBeGreaterThanOrEqual(30);
  });

  it('anonymous requests alike', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 40; i++) statuses.push((await send(request({ 'cf-connecting-ip': `198.18.0.${i}` }), untrusted)).status);
    expect(statuses.filter((s) => s === 429).length).toBeGreaterThanOrEqual(30);
  });

  it('off Cloudflare, the socket address workerd reports is the key, whatever the port and the header', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 12; i++) {
      const r = await send(request({ 'cf-connecting-ip': `203.0.113.${i}` }, { clientIp: `198.51.100.7:${50_000 + i}` }), untrusted);
      statuses.push(r.status);
    }
    expect(statuses.filter((s) => s === 429).length).toBeGreaterThanOrEqual(2);
    // Another address has its own limit.
    expect((await send(request({}, { clientIp: '[2001:db8::9]:4433' }), untrusted)).status).toBe(200);
    const row = await env.DB.prepare('SELECT count(*) AS n FROM rate_limits WHERE key LIKE ?').bind('ip:203.0.113.%').first<{ n: number }>();
    expect(row?.n).toBe(0);
  });

  it('behind Cloudflare (TRUST_CF_CONNECTING_IP = "true"), the edge-set header is the key', async () => {
    const one: number[] = [];
    for (let i = 0; i < 12; i++) one.push((await send(request({ 'cf-connecting-ip': '203.0.113.200' }), trusted)).status);
    expect(one.filter((s) => s === 429).length).toBeGreaterThanOrEqual(1);
    // Other addresses are other callers.
    for (let i = 0; i < 8; i++) expect((await send(request({ 'cf-connecting-ip': `203.0.113.${210 + i}` }), trusted)).status).toBe(200);
  });

  it('wrangler.toml trusts the header (the deployment runs behind Cloudflare); a missing setting does not', async () => {
    expect(wranglerToml).toMatch(/^TRUST_CF_CONNECTING_IP = "true"$/m);
    const statuses: number[] = [];
    for (let i = 0; i < 20; i++)
      statuses.push((await send(request({ 'cf-connecting-ip': `100.64.0.${i}` }), { RATE_LIMIT_PER_MINUTE: '5', TRUST_CF_CONNECTING_IP: '' })).status);
    expect(statuses.filter((s) => s === 429).length).toBeGreaterThanOrEqual(10);
  });
});
