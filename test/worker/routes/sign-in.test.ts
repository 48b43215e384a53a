import { env, exports } from 'cloudflare:workers';
import { beforeAll, describe, expect, it } from 'vitest';
import { makeWorld, type World } from '../fixtures';
import { ADMIN, call, makeToken, sha256 } from '../helpers';

const ORIGIN = 'http://polyprune.test';

interface Sent {
  status: number;
  headers: Headers;
  text: string;
}

/** A browser's request: the cookie, an Origin, no bearer token unless given; redirects are not followed. */
async function browse(
  method: string,
  path: string,
  opts: { cookie?: string | null; origin?: string | null; form?: Record<string, string>; base?: string; headers?: Record<string, string>; body?: string } = {},
): Promise<Sent> {
  const base = opts.base ?? ORIGIN;
  const headers = new Headers(opts.headers);
  if (opts.cookie) headers.set('cookie', `pp_session=${opts.cookie}`);
  const origin = opts.origin === undefined ? (method === 'GET' ? null : base) : opts.origin;
  if (origin) headers.set('origin', origin);
  let body: string | undefined = opts.body;
  if (opts.form) {
    body = new URLSearchParams(opts.form).toString();
    headers.set('content-type', 'application/x-www-form-urlencoded');
  }
  const res: Response = await (exports as any).default.fetch(new Request(`${base}${path}`, { method, headers, body, redirect: 'manual' }));
  return { status: res.status, headers: res.headers, text: await res.text() };
}

/** The session secret of a Set-Cookie answer. */
function cookieOf(r: Sent): string {
  const m = /^pp_session=([^;]+);/.exec(r.headers.get('set-cookie') ?? '');
  if (!m) throw new Error(`no session cookie: ${r.status} ${r.headers.get('set-cookie')} ${r.text.slice(0, 200)}`);
  return m[1]!;
}

async function signIn(token: string, base = ORIGIN): Promise<string> {
  const r = await browse('POST', '/login', { form: { token }, base });
  expect(r.status, r.text.slice(0, 300)).toBe(303);
  return cookieOf(r);
}

const sessionRows = async (token: string) =>
  (
    await env.DB.prepare('SELECT s.secret_hash AS h, s.expires_at AS e FROM sessions s JOIN tokens t ON t.id = s.token_id WHERE t.secret_hash = ?')
      .bind(await sha256(token))
      .all<{ h: string; e: string }>()
  ).results;

let w: World;
let publicWorld: World;

beforeAll(async () => {
  w = await makeWorld('signin-owner');
  publicWorld = await makeWorld('signin-public', 'public');
});

describe('sign-in', () => {
  it('GET /login is a script-free form posting the token to this origin', async () => {
    const r = await browse('GET', '/login');
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toContain('text/html');
    expect(r.text).toMatch(/<form method="post" action="\/login">/);
    expect(r.text).toMatch(/<input id="token" name="token" type="password"/);
    expect(r.text).not.toMatch(/<script/i);
    expect(r.headers.get('content-security-policy')).toContain("form-action 'self'");
  });

  it('POST /login trades a token for an HttpOnly, Secure, SameSite=Lax cookie of a session stored hashed', async () => {
    const token = await makeToken('signin-flags', ['read']);
    const r = await browse('POST', '/login', { form: { token } });
    expect(r.status).toBe(303);
    expect(r.headers.get('location')).toBe('/');
    expect(r.headers.get('cache-control')).toBe('private, no-store');
    const set = r.headers.get('set-cookie')!;
    expect(set.split('; ').slice(1).sort()).toEqual(['HttpOnly', 'Max-Age=604800', 'Path=/', 'SameSite=Lax', 'Secure']);
    const secret = cookieOf(r);
    expect(secret).not.toBe(token);
    expect(r.text).not.toContain(token);
    // Only the hash is stored, and the session expires a week from now.
    const rows = await sessionRows(token);
    expect(rows.map((x) => x.h)).toEqual([await sha256(secret)]);
    const left = Date.parse(rows[0]!.e) - Date.now();
    expect(left).toBeGreaterThan(604800_000 - 60_000);
    expect(left).toBeLessThanOrEqual(604800_000);
  });

  it('on loopback the cookie is not Secure (browsers refuse Secure cookies over plain HTTP elsewhere)', async () => {
    const token = await makeToken('signin-loopback', ['read']);
    for (const base of ['http://127.0.0.1:8787', 'http://localhost:8787', 'http://[::1]:8787']) {
      const r = await browse('POST', '/login', { form: { token }, base });
      expect(r.status, base).toBe(303);
      const set = r.headers.get('set-cookie')!;
      expect(set, base).toContain('HttpOnly');
      expect(set, base).toContain('SameSite=Lax');
      expect(set, base).not.toContain('Secure');
    }
  });

  it('with the cookie, pages and GET reads show what the token may read; without it, they do not', async () => {
    const cookie = await signIn(w.writer);
    expect((await browse('GET', `/v1/models/${w.model}`)).status).toBe(404);
    const read = await browse('GET', `/v1/models/${w.model}`, { cookie });
    expect(read.status).toBe(200);
    expect(JSON.parse(read.text).id).toBe(w.model);
    expect(read.headers.get('cache-control')).toBe('private, no-store');
    expect(read.headers.get('vary')).toContain('Cookie');
    const page = await browse('GET', `/leaderboards/${w.model}`, { cookie });
    expect(page.status).toBe(200);
    expect(page.text).toContain('signin-owner-lm');
    expect(page.headers.get('cache-control')).toBe('private, no-store');
    expect((await browse('GET', `/leaderboards/${w.model}`)).status).toBe(404);
    // Another owner's session sees none of it.
    const other = await signIn(await makeToken('signin-other', ['read']));
    expect((await browse('GET', `/v1/models/${w.model}`, { cookie: other })).status).toBe(404);
  });

  it('a cookie cannot write: POST, PUT, PATCH and DELETE with only the cookie are 401', async () => {
    const cookie = await signIn(w.writer);
    const adminCookie = await signIn(await makeToken('signin-admin', ['admin']));
    const writes: [string, string, string | undefined][] = [
      ['POST', '/v1/models', JSON.stringify({ name: 'by-cookie', family: 'xglm' })],
      ['PATCH', `/v1/models/${w.model}`, JSON.stringify({ visibility: 'public' })],
      ['PUT', `/v1/models/${w.model}/files/tokenizer.json`, '{}'],
      ['POST', '/v1/jobs', JSON.stringify({ kind: 'evaluate', modelId: w.model, suites: [w.suites.fr] })],
    ];
    for (const [method, path, body] of writes) {
      for (const c of [cookie, adminCookie]) {
        const r = await browse(method, path, { cookie: c, body, headers: { 'content-type': 'application/json' } });
        expect(r.status, `${method} ${path}`).toBe(401);
        expect(JSON.parse(r.text).error.code).toBe('unauthorized');
      }
    }
    const victim = await call('POST', '/v1/tokens', { token: ADMIN, json: { owner: 'signin-victim', scopes: ['read'] } });
    expect((await browse('DELETE', `/v1/tokens/${victim.body.id}`, { cookie: adminCookie })).status).toBe(401);
    // Nothing changed: the model is still private, the token not revoked.
    expect((await call('GET', `/v1/models/${w.model}`, { token: w.writer })).body.visibility).toBe('private');
    expect((await call('GET', '/v1/models', { token: victim.body.secret })).status).toBe(200);
  });

  it("a revoked token's session ends at once", async () => {
    const created = await call('POST', '/v1/tokens', { token: ADMIN, json: { owner: 'signin-owner', scopes: ['read'] } });
    const cookie = await signIn(created.body.secret);
    expect((await browse('GET', `/v1/models/${w.model}`, { cookie })).status).toBe(200);
    expect((await call('DELETE', `/v1/tokens/${created.body.id}`, { token: ADMIN })).status).toBe(200);
    expect((await browse('GET', `/v1/models/${w.model}`, { cookie })).status).toBe(404);
    expect(await sessionRows(created.body.secret)).toEqual([]);
    const home = await browse('GET', '/', { cookie });
    expect(home.text).not.toContain('Signed in as');
    // A revoked token cannot sign in again.
    expect((await browse('POST', '/login', { form: { token: created.body.secret } })).status).toBe(401);
  });

  it('a session expires', async () => {
    const token = await makeToken('signin-owner', ['read']);
    const cookie = await signIn(token);
    expect((await browse('GET', `/v1/models/${w.model}`, { cookie })).status).toBe(200);
    await env.DB.prepare('UPDATE sessions SET expires_at = ? WHERE secret_hash = ?')
      .bind(new Date(Date.now() - 1000).toISOString(), await sha256(cookie))
      .run();
    expect((await browse('GET', `/v1/models/${w.model}`, { cookie })).status).toBe(404);
  });

  it('POST /logout ends the session and clears the cookie; only from this origin', async () => {
    const token = await makeToken('signin-owner', ['read']);
    const cookie = await signIn(token);
    const cross = await browse('POST', '/logout', { cookie, origin: 'https://evil.example' });
    expect(cross.status).toBe(403);
    expect(cross.headers.get('content-type')).toContain('text/html');
    expect((await browse('GET', `/v1/models/${w.model}`, { cookie })).status).toBe(200);
    const out = await browse('POST', '/logout', { cookie });
    expect(out.status).toBe(303);
    expect(out.headers.get('location')).toBe('/');
    expect(out.headers.get('set-cookie')).toMatch(/^pp_session=; Path=\/; Max-Age=0; HttpOnly; SameSite=Lax; Secure$/);
    expect(await sessionRows(token)).toEqual([]);
    expect((await browse('GET', `/v1/models/${w.model}`, { cookie })).status).toBe(404);
  });

  it('accepts only a same-origin form post', async () => {
    const token = await makeToken('signin-origin', ['read']);
    for (const origin of ['https://evil.example', 'http://polyprune.test.evil.example', 'null']) {
      const r = await browse('POST', '/login', { form: { token }, origin });
      expect(r.status, origin).toBe(403);
      expect(r.headers.get('set-cookie'), origin).toBeNull();
    }
    // No Origin, or Origin: null (what Chromium sends under Referrer-Policy: no-referrer): only a browser's
    // Sec-Fetch-Site: same-origin vouches for the form.
    for (const origin of [null, 'null']) {
      expect((await browse('POST', '/login', { form: { token }, origin })).status, String(origin)).toBe(403);
      const fetchSite = await browse('POST', '/login', { form: { token }, origin, headers: { 'sec-fetch-site': 'same-origin' } });
      expect(fetchSite.status, String(origin)).toBe(303);
      for (const site of ['cross-site', 'same-site', 'none']) {
        expect((await browse('POST', '/login', { form: { token }, origin, headers: { 'sec-fetch-site': site } })).status, site).toBe(403);
      }
    }
    // Where Sec-Fetch-Site is sent it decides, and a foreign Origin is refused whatever it says.
    expect((await browse('POST', '/login', { form: { token }, headers: { 'sec-fetch-site': 'cross-site' } })).status).toBe(403);
    const foreign = await browse('POST', '/login', { form: { token }, origin: 'https://evil.example', headers: { 'sec-fetch-site': 'same-origin' } });
    expect(foreign.status).toBe(403);
    // JSON is not the form.
    const json = await browse('POST', '/login', { body: JSON.stringify({ token }), headers: { 'content-type': 'application/json' } });
    expect(json.status).toBe(400);
    expect(json.headers.get('set-cookie')).toBeNull();
  });

  it('an unknown token re-shows the form with 401 and costs the address a request of its rate limit, like a bad bearer token', async () => {
    const remaining = (r: Sent) => Number(r.headers.get('ratelimit-remaining'));
    const before = remaining(await browse('GET', '/login'));
    const bad = await browse('POST', '/login', { form: { token: 'pp_not_a_token' } });
    expect(bad.status).toBe(401);
    expect(bad.headers.get('content-type')).toContain('text/html');
    expect(bad.text).toContain('Unknown or revoked token.');
    expect(bad.text).not.toContain('pp_not_a_token');
    expect(bad.headers.get('set-cookie')).toBeNull();
    // One for the request, one for the failed guess.
    expect(remaining(bad)).toBe(before - 2);
    const plain = await browse('GET', '/login');
    expect(remaining(plain)).toBe(before - 3);
  });

  it('refuses the admin secret and runner-only tokens (no session to revoke / nothing to read)', async () => {
    const admin = await browse('POST', '/login', { form: { token: ADMIN } });
    expect(admin.status).toBe(403);
    expect(admin.headers.get('set-cookie')).toBeNull();
    const runner = await browse('POST', '/login', { form: { token: w.runner } });
    expect(runner.status).toBe(403);
  });

  it('returns to a path of this site only', async () => {
    const token = await makeToken('signin-next', ['read']);
    const to = async (next: string) => (await browse('POST', '/login', { form: { token, next } })).headers.get('location');
    expect(await to(`/runs/run_x?pair=1`)).toBe('/runs/run_x?pair=1');
    for (const evil of ['//evil.example/', 'https://evil.example/', '/\\evil.example', 'runs']) expect(await to(evil), evil).toBe('/');
  });
});

describe('front door', () => {
  it('signed out: what polyprune is, public models with their boards, a sign-in link, the API document; no redirect', async () => {
    const r = await browse('GET', '/');
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toContain('text/html');
    expect(r.text).toContain('Prunes multilingual decoder LMs');
    expect(r.text).toContain('<a href="/login">sign in</a>');
    expect(r.text).toContain('href="/v1/openapi.json"');
    expect(r.text).toContain('Public models');
    expect(r.text).toContain('signin-public-lm');
    expect(r.text).toContain(`href="/leaderboards/${publicWorld.model}"`);
    expect(r.text).not.toContain('signin-owner-lm');
    expect(r.text).not.toMatch(/<script/i);
  });

  it("signed in: the owner's models, their recent sweeps and a sign-out button; the same with a bearer token", async () => {
    const sweep = await call('POST', '/v1/sweeps', {
      token: w.writer,
      json: { modelId: w.model, pairs: [{ corpusId: w.corpusFr }], sparsities: [0.5], methods: [{ method: 'magnitude' }], base: { suites: [w.suites.fr] } },
    });
    expect(sweep.status).toBe(201);
    const cookie = await signIn(w.writer);
    const r = await browse('GET', '/', { cookie });
    expect(r.status).toBe(200);
    expect(r.headers.get('cache-control')).toBe('private, no-store');
    expect(r.text).toContain('Signed in as <strong>signin-owner</strong>');
    expect(r.text).toContain('<form class="inline" method="post" action="/logout">');
    expect(r.text).toContain('Your models');
    expect(r.text).toContain('signin-owner-lm');
    expect(r.text).toContain(`href="/leaderboards/${w.model}"`);
    expect(r.text).toContain(`href="/sweeps/${sweep.body.sweepId}"`);
    expect(r.text).not.toContain('signin-public-lm');
    // Someone else's session sees neither the model nor the sweep.
    const other = await browse('GET', '/', { cookie: await signIn(await makeToken('signin-stranger', ['read'])) });
    expect(other.text).not.toContain('signin-owner-lm');
    expect(other.text).not.toContain(sweep.body.sweepId);
    const bearer = await call('GET', '/', { token: w.writer });
    expect(bearer.body).toContain('signin-owner-lm');
    expect(bearer.body).not.toContain('action="/logout"');
  });
});

describe('not found', () => {
  it('a page not found or not yours is an HTML 404 with a sign-in link; /v1 stays JSON', async () => {
    for (const path of ['/nowhere', '/runs/run_missing', `/leaderboards/${w.model}`, `/sweeps/swp_missing`]) {
      const r = await browse('GET', path);
      expect(r.status, path).toBe(404);
      expect(r.headers.get('content-type'), path).toContain('text/html');
      expect(r.text, path).toContain(`href="/login?next=${encodeURIComponent(path)}"`);
      expect(r.text, path).not.toMatch(/<script/i);
    }
    for (const path of ['/v1/nowhere', '/v1/runs/run_missing', `/v1/models/${w.model}`]) {
      const r = await browse('GET', path);
      expect(r.status, path).toBe(404);
      expect(r.headers.get('content-type'), path).toContain('application/json');
      expect(JSON.parse(r.text).error.code, path).toBe('not_found');
    }
  });
});
