/**
 * The list routes and boards answer from the isolate's memory until what they read changes
 * (lib/versioned-cache.ts): no stale answer after a write, no answer of one caller's class handed to
 * another, ETag and 304; and every query those routes issue uses an index (EXPLAIN QUERY PLAN).
 */
import { env } from 'cloudflare:test';
import { beforeAll, describe, expect, it } from 'vitest';
import { app } from '@polyprune/worker/index';
import { acceptsGzip, GZIP_FROM_CHARS } from '@polyprune/worker/lib/versioned-cache';
import { ADMIN, call, makeToken } from '../helpers';
import { completeWithScores, makeWorld, type World } from '../fixtures';

let pub: World;
let priv: World;
let reader: string;

/** A completed job whose XNLI scores in fr, de and en all equal `value`. */
const complete = (w: World, spec: Record<string, unknown>, value: number) =>
  completeWithScores(
    w,
    spec,
    (['fr', 'de', 'en'] as const).map((lang) => ({ suiteId: w.suites[lang], format: 'xnli', lang, scoring: 'paper', metric: 'acc', value, n: 100 })),
  );

const variants = (b: { rows: { variant: string; runId: string }[] }) => b.rows.map((r) => r.runId).sort();

beforeAll(async () => {
  pub = await makeWorld('cache-public', 'public');
  priv = await makeWorld('cache-private');
  reader = await makeToken('cache-reader', ['read']);
  await complete(pub, { kind: 'evaluate', modelId: pub.model, suites: Object.values(pub.suites), visibility: 'public' }, 0.6);
});

describe('versioned answers', () => {
  it('a repeated board is the same bytes with one ETag; If-None-Match answers 304 without a body', async () => {
    const path = `/v1/leaderboards?model=${pub.model}&format=xnli`;
    const a = await call('GET', path);
    const b = await call('GET', path);
    expect(a.status).toBe(200);
    expect(a.headers.get('content-type')).toBe('application/json');
    const etag = a.headers.get('etag');
    expect(etag).toMatch(/^"[0-9a-f]{32}"$/);
    expect(b.headers.get('etag')).toBe(etag);
    expect(new TextDecoder().decode(b.bytes)).toBe(new TextDecoder().decode(a.bytes));
    const nm = await call('GET', path, { headers: { 'if-none-match': `W/"other", ${etag}` } });
    expect(nm.status).toBe(304);
    expect(nm.bytes.byteLength).toBe(0);
    expect(nm.headers.get('etag')).toBe(etag);
    // another query of the same board is another answer
    const other = await call('GET', `${path}&order=asc`, { headers: { 'if-none-match': etag! } });
    expect(other.status).toBe(200);
    expect(other.headers.get('etag')).not.toBe(etag);
    // an export is keyed by its format too
    const csv = await call('GET', path, { headers: { accept: 'text/csv', 'if-none-match': etag! } });
    expect(csv.status).toBe(200);
    expect(csv.headers.get('content-type')).toContain('text/csv');
  });

  it('a new run changes the model board, the board across models and the run list at once (no stale answer)', async () => {
    const board = `/v1/leaderboards?model=${pub.model}&format=xnli`;
    const across = '/v1/leaderboards?format=xnli';
    const before = await call('GET', board);
    const beforeAcross = await call('GET', across);
    const beforeRuns = await call('GET', '/v1/runs?limit=50');
    const runId = await complete(pub, { kind: 'prune', modelId: pub.model, method: 'magnitude', suites: Object.values(pub.suites), visibility: 'public' }, 0.4);
    const after = await call('GET', board, { headers: { 'if-none-match': before.headers.get('etag')! } });
    expect(after.status).toBe(200);
    expect(variants(after.body)).toEqual([...variants(before.body), runId].sort());
    const afterAcross = await call('GET', across, { headers: { 'if-none-match': beforeAcross.headers.get('etag')! } });
    expect(afterAcross.status).toBe(200);
    expect(variants(afterAcross.body)).toContain(runId);
    const afterRuns = await call('GET', '/v1/runs?limit=50');
    expect(afterRuns.body.items.map((r: { id: string }) => r.id)).toEqual([runId, ...beforeRuns.body.items.map((r: { id: string }) => r.id)]);
  });

  it('the run list carries each run’s scores as GET /v1/runs/{id} does (one batch, not a query per run)', async () => {
    const list = await call('GET', `/v1/runs?model=${pub.model}`);
    expect(list.body.items.length).toBeGreaterThanOrEqual(2);
    for (const item of list.body.items) {
      const one = await call('GET', `/v1/runs/${item.id}`);
      expect(item).toEqual(one.body);
      expect(item.scores).toHaveLength(3);
    }
  });

  it('a private run shows to its owner only, whoever asked first', async () => {
    // The owner's private model: anonymous and another reader asked first, and again after.
    const path = '/v1/leaderboards?format=xnli';
    const anonBefore = await call('GET', path);
    const runId = await complete(priv, { kind: 'evaluate', modelId: priv.model, suites: Object.values(priv.suites) }, 0.7);
    const anon = await call('GET', path);
    const other = await call('GET', path, { token: reader });
    const owner = await call('GET', path, { token: priv.writer });
    const anonAgain = await call('GET', path);
    const otherAgain = await call('GET', path, { token: reader });
    expect(owner.body.rows.map((r: { runId: string }) => r.runId)).toContain(runId);
    for (const r of [anon, other, anonAgain, otherAgain]) expect(r.body.rows.map((x: { runId: string }) => x.runId)).not.toContain(runId);
    // a tag of the owner's answer is not the anonymous one's: no 304 across classes
    const cross = await call('GET', path, { headers: { 'if-none-match': owner.headers.get('etag')! } });
    expect(cross.status).toBe(200);
    expect(cross.headers.get('etag')).not.toBe(owner.headers.get('etag'));
    expect(anonBefore.headers.get('etag')).not.toBe(anon.headers.get('etag'));
    // the model's own board: 404 to others, the row to its owner
    expect((await call('GET', `/v1/leaderboards?model=${priv.model}`)).status).toBe(404);
    expect((await call('GET', `/v1/leaderboards?model=${priv.model}`, { token: reader })).status).toBe(404);
    expect(variants((await call('GET', `/v1/leaderboards?model=${priv.model}`, { token: priv.writer })).body)).toEqual([runId]);
    // the run list too
    const ids = (r: { body: { items: { id: string }[] } }) => r.body.items.map((x) => x.id);
    expect(ids(await call('GET', '/v1/runs?limit=100'))).not.toContain(runId);
    expect(ids(await call('GET', '/v1/runs?limit=100', { token: priv.writer }))).toContain(runId);
    expect(ids(await call('GET', '/v1/runs?limit=100'))).not.toContain(runId);
  });

  it('making a model private takes it off every cached answer of other callers', async () => {
    const w = await makeWorld('cache-flip', 'public');
    const runId = await complete(w, { kind: 'evaluate', modelId: w.model, suites: Object.values(w.suites), visibility: 'public' }, 0.5);
    const across = '/v1/leaderboards?format=xnli';
    expect(variants((await call('GET', across)).body)).toContain(runId);
    expect((await call('GET', '/v1/models?limit=100')).body.items.map((m: { id: string }) => m.id)).toContain(w.model);
    const patched = await call('PATCH', `/v1/models/${w.model}`, { token: w.writer, json: { visibility: 'private' } });
    expect(patched.status).toBe(200);
    expect(variants((await call('GET', across)).body)).not.toContain(runId);
    expect((await call('GET', '/v1/models?limit=100')).body.items.map((m: { id: string }) => m.id)).not.toContain(w.model);
    expect((await call('GET', `/v1/leaderboards?model=${w.model}`)).status).toBe(404);
    expect((await call('GET', `/v1/leaderboards?model=${w.model}`, { token: w.writer })).status).toBe(200);
  });

  it('an uploaded file changes the model list (its files and completeness)', async () => {
    const m = (await call('POST', '/v1/models', { token: pub.writer, json: { name: 'cache-files', family: 'xglm', visibility: 'public' } })).body.id;
    const find = async () => (await call('GET', '/v1/models?limit=100')).body.items.find((x: { id: string }) => x.id === m);
    const before = await call('GET', '/v1/models?limit=100');
    expect((await find()).files).toEqual([]);
    expect((await call('PUT', `/v1/models/${m}/files/config.json`, { token: pub.writer, body: '{"a":1}' })).status).toBe(201);
    expect((await find()).files.map((f: { name: string }) => f.name)).toEqual(['config.json']);
    const after = await call('GET', '/v1/models?limit=100', { headers: { 'if-none-match': before.headers.get('etag')! } });
    expect(after.status).toBe(200);
  });

  it('the versions move in the same D1 transaction as the scores, by trigger', async () => {
    const read = async () =>
      Object.fromEntries(
        (await env.DB.prepare('SELECT key, version FROM data_versions').all<{ key: string; version: string }>()).results.map((r) => [r.key, r.version]),
      );
    const v0 = await read();
    await complete(pub, { kind: 'prune', modelId: pub.model, method: 'random', suites: Object.values(pub.suites), visibility: 'public' }, 0.3);
    const v1 = await read();
    for (const k of ['boards', `model:${pub.model}`, 'runs']) expect(v1[k], k).not.toBe(v0[k]);
    expect(v1[`model:${priv.model}`]).toBe(v0[`model:${priv.model}`]);
    expect(v1.models).toBe(v0.models);
  });
});

/** A D1 binding that records every statement it prepares, with the values bound to it. */
function recordingDb(seen: { sql: string; params: unknown[] }[]): D1Database {
  const db = env.DB;
  return {
    prepare(sql: string) {
      const stmt = db.prepare(sql);
      const rec = { sql, params: [] as unknown[] };
      seen.push(rec);
      return new Proxy(stmt, {
        get(target, prop) {
          if (prop === 'bind')
            return (...params: unknown[]) => {
              rec.params = params;
              return target.bind(...params);
            };
          const v = Reflect.get(target, prop, target);
          return typeof v === 'function' ? v.bind(target) : v;
        },
      });
    },
    batch: (stmts: D1PreparedStatement[]) => db.batch(stmts),
    exec: (sql: string) => db.exec(sql),
    withSession: () => db.withSession(),
    dump: () => db.dump(),
  } as D1Database;
}

/** Tables that grow with use; the rest (tokens by hash, data_versions, rate windows) are read by key anyway. */
const LARGE = ['scores', 'runs', 'models', 'model_files', 'suites', 'jobs'];

/**
 * What a plan may do with a large table: SEARCH it by an index, or scan a covering index; or, in a
 * page query (ORDER BY id … LIMIT), walk its primary-key index in that order, which stops after
 * `limit` rows the filters keep. Anything else — a full SCAN, a scan of another index — fails.
 */
function planProblems(sql: string, plan: { detail: string }[]): string[] {
  const out: string[] = [];
  const page = /order by "(\w+)"\."id" desc limit \?/i.exec(sql)?.[1];
  // One model's scores are searched by model, never by a (scoring, metric) shared by every model.
  if (/"scores"\."model_id" = \?/.test(sql) && !plan.some((p) => /^SEARCH scores USING (COVERING )?INDEX \w+ \(model_id=\?/.test(p.detail)))
    out.push(`scores of one model not searched by model_id   in   ${sql}`);
  for (const { detail } of plan) {
    const m = /^(SCAN|SEARCH) (\w+)(?: USING (.*))?$/.exec(detail);
    if (!m || !LARGE.includes(m[2]!)) continue;
    const [, op, table, using] = m;
    if (op === 'SEARCH' && using) continue;
    if (op === 'SCAN' && using?.startsWith('COVERING INDEX')) continue;
    if (op === 'SCAN' && page === table && using === `INDEX sqlite_autoindex_${table}_1`) continue;
    out.push(`${detail}   in   ${sql}`);
  }
  return out;
}

const ctx = { waitUntil() {}, passThroughOnException() {}, props: {} } as unknown as ExecutionContext;

/** The app's own answer, in this isolate, with the given bindings. */
const direct = (path: string, headers: Record<string, string> = {}, bindings: object = env) =>
  app.fetch(new Request(`http://polyprune.test${path}`, { headers }), bindings, ctx);

describe('every query of the board, model list and run list routes uses an index', () => {
  it('EXPLAIN QUERY PLAN of each statement they prepare', async () => {
    const admin = ADMIN;
    const requests: [string, string | null][] = [];
    for (const token of [null, reader, priv.writer, admin]) {
      requests.push(
        ['/v1/leaderboards?format=xnli&sort=sparsity', token],
        ['/v1/leaderboards?sort=sparsity', token],
        [`/v1/leaderboards?model=${pub.model}&format=xnli&sort=sparsity`, token],
        [`/v1/leaderboards?model=${pub.model}&sort=sparsity`, token],
        // an empty board checks the model: 404
        ['/v1/leaderboards?model=mdl_unknown&sort=sparsity', token],
        ['/v1/leaderboards?format=xnli&metric=rankc&sort=sparsity', token],
        [`/v1/leaderboards/sparsity?model=${pub.model}&format=xnli`, token],
        ['/v1/leaderboards/methods?format=xnli', token],
        ['/v1/models?limit=7', token],
        ['/v1/models?limit=7&owner=cache-public', token],
        ['/v1/runs?limit=7', token],
        [`/v1/runs?limit=7&model=${pub.model}`, token],
        ['/v1/runs?limit=7&kind=prune', token],
      );
    }
    const cursor = (await call('GET', '/v1/runs?limit=1')).body.nextCursor;
    requests.push([`/v1/runs?limit=7&cursor=${cursor}`, null], [`/v1/models?limit=7&cursor=${pub.model}`, null]);
    const seen: { sql: string; params: unknown[] }[] = [];
    const recEnv = { ...env, DB: recordingDb(seen) };
    for (const [path, token] of requests) {
      const res = await direct(path, token ? { authorization: `Bearer ${token}` } : {}, recEnv);
      expect([200, 404], `${path} ${token}: ${res.status}`).toContain(res.status);
    }
    const selects = [...new Map(seen.filter((s) => /^\s*select/i.test(s.sql)).map((s) => [s.sql, s])).values()];
    // the builds ran (the answers were not all cached): each route's main query is among them
    expect(selects.some((s) => /from "scores" inner join "runs"/.test(s.sql))).toBe(true);
    expect(selects.some((s) => /from "model_files" where "model_files"\."model_id" in \(select/.test(s.sql))).toBe(true);
    expect(selects.some((s) => /from "scores" where "scores"\."run_id" in \(select/.test(s.sql))).toBe(true);
    const problems: string[] = [];
    for (const s of selects) {
      const plan = await env.DB.prepare(`EXPLAIN QUERY PLAN ${s.sql}`)
        .bind(...s.params)
        .all<{ detail: string }>();
      problems.push(...planProblems(s.sql, plan.results));
    }
    expect(problems).toEqual([]);
  });

  it('the plan check itself fails a full scan and a scan of a secondary index', () => {
    expect(planProblems('select * from scores', [{ detail: 'SCAN scores' }])).toHaveLength(1);
    expect(planProblems('select * from runs order by "runs"."id" desc limit ?', [{ detail: 'SCAN runs USING INDEX runs_model' }])).toHaveLength(1);
    expect(planProblems('select * from runs order by "runs"."id" desc limit ?', [{ detail: 'SCAN runs USING INDEX sqlite_autoindex_runs_1' }])).toEqual([]);
    expect(planProblems('select * from runs', [{ detail: 'SCAN runs USING INDEX sqlite_autoindex_runs_1' }])).toHaveLength(1);
    expect(planProblems('select 1', [{ detail: 'SEARCH scores USING INDEX scores_board (model_id=?)' }])).toEqual([]);
    const oneModel = 'select * from "scores" where "scores"."model_id" = ? and "scores"."scoring" = ?';
    expect(planProblems(oneModel, [{ detail: 'SEARCH scores USING INDEX scores_across (scoring=? AND metric=?)' }])).toHaveLength(1);
    expect(planProblems(oneModel, [{ detail: 'SEARCH scores USING INDEX scores_board (model_id=? AND scoring=? AND metric=?)' }])).toEqual([]);
  });
});

describe('the cost of a cached answer', () => {
  it('is the token and the versions in one D1 batch (anonymous: the versions alone); nothing else is read', async () => {
    const path = `/v1/leaderboards?model=${pub.model}&format=xnli&sort=mean`;
    for (const token of [reader, null]) {
      const headers: Record<string, string> = token ? { authorization: `Bearer ${token}` } : {};
      expect((await direct(path, headers)).status).toBe(200);
      const seen: { sql: string; params: unknown[] }[] = [];
      const batches: number[] = [];
      const rec = recordingDb(seen);
      const res = await direct(path, headers, {
        ...env,
        DB: {
          ...rec,
          batch: (s: D1PreparedStatement[]) => {
            batches.push(s.length);
            return env.DB.batch(s);
          },
        },
      });
      expect(res.status).toBe(200);
      const reads = seen.filter((s) => /^\s*select/i.test(s.sql)).map((s) => /from "(\w+)"/.exec(s.sql)?.[1]);
      expect(reads).toEqual(token ? ['tokens', 'data_versions'] : ['data_versions']);
      expect(batches).toEqual(token ? [2] : []);
    }
  });
});

describe('large answers', () => {
  it('are kept gzipped once and sent as such to a client that accepts gzip', async () => {
    // A run with a large config makes the run list larger than GZIP_FROM_CHARS (a direct insert: the trigger bumps "runs").
    const note = 'x'.repeat(GZIP_FROM_CHARS);
    await env.DB.prepare(
      `INSERT INTO runs (id, job_id, owner, kind, visibility, model_id, variant, config, code_version, layers, artifacts, timings, extra, created_at)
       VALUES ('run_zzzzzzzzzlarge', 'job_large', 'cache-public', 'prune', 'public', ?1, 'large', ?2, '0.1.0', '[]', '[]', '{}', '{}', '2026-01-01T00:00:00Z')`,
    )
      .bind(pub.model, JSON.stringify({ note }))
      .run();
    const plain = await call('GET', '/v1/runs?limit=3');
    expect(plain.headers.get('content-encoding')).toBeNull();
    expect(plain.body.items[0].config.note).toBe(note);
    // The worker's answer itself (a service binding, like an HTTP client, would decode it on the way).
    const gz = await direct('/v1/runs?limit=3', { 'accept-encoding': 'br, gzip;q=0.8' });
    expect(gz.headers.get('content-encoding')).toBe('gzip');
    expect(gz.headers.get('vary')).toContain('Accept-Encoding');
    const raw = new Uint8Array(await gz.arrayBuffer());
    expect(raw.byteLength).toBeLessThan(plain.bytes.byteLength / 10);
    const unzipped = await new Response(new Blob([raw]).stream().pipeThrough(new DecompressionStream('gzip'))).arrayBuffer();
    expect(new Uint8Array(unzipped)).toEqual(plain.bytes);
    expect((await call('GET', '/v1/runs?limit=3', { headers: { 'accept-encoding': 'gzip;q=0' } })).headers.get('content-encoding')).toBeNull();
  });

  it('Accept-Encoding is read as RFC 9110 says', () => {
    expect(acceptsGzip(undefined)).toBe(false);
    expect(acceptsGzip('gzip')).toBe(true);
    expect(acceptsGzip('deflate, GZIP;q=0.5')).toBe(true);
    expect(acceptsGzip('gzip;q=0, br')).toBe(false);
    expect(acceptsGzip('br')).toBe(false);
    expect(acceptsGzip('*')).toBe(true);
    expect(acceptsGzip('identity')).toBe(false);
  });
});
