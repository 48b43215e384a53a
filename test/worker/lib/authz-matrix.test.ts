import { beforeAll, describe, expect, it } from 'vitest';
import { ADMIN, call, makeToken } from '../helpers';
import { tinyOnnx } from '../onnx-writer';

/**
 * Every route × caller → expected status, from one table. Callers: "read"/"write"/"runner" are
 * tokens of the owner of the private fixtures; "other" is another owner with write scope.
 * Private resources of others answer 404 (their existence is not revealed).
 */
type Caller = 'anon' | 'read' | 'write' | 'runner' | 'admin' | 'other';
const callers: Caller[] = ['anon', 'read', 'write', 'runner', 'admin', 'other'];

interface Fixtures {
  model: string;
  publicModel: string;
  corpus: string;
  suite: string;
  tokenId: () => Promise<string>;
  job: () => Promise<string>;
  sweep: () => Promise<string>;
}

interface Row {
  name: string;
  method: string;
  path: (f: Fixtures) => string | Promise<string>;
  body?: () => BodyInit;
  json?: () => unknown;
  expect: Record<Caller, number>;
}

// The expectation shapes the table repeats; each names who may call and what the rest get.
/** Public: every caller, signed in or not, gets 200. */
const everyone: Record<Caller, number> = { anon: 200, read: 200, write: 200, runner: 200, admin: 200, other: 200 };
/** The owner's private resource: its read/write tokens and admin see it; to everyone else it does not exist. */
const ownerOnly: Record<Caller, number> = { anon: 404, read: 200, write: 200, runner: 404, admin: 200, other: 404 };
/** Nothing there, whoever asks. */
const missing: Record<Caller, number> = { anon: 404, read: 404, write: 404, runner: 404, admin: 404, other: 404 };
/** Admin only: `status` for the admin, 401 without a token, 403 for any other token. */
const adminOnly = (status: number): Record<Caller, number> => ({ anon: 401, read: 403, write: 403, runner: 403, admin: status, other: 403 });
/** Runner scope (admin included): `status` for them, 401 without a token, 403 for other scopes. */
const runnerScope = (status: number): Record<Caller, number> => ({ anon: 401, read: 403, write: 403, runner: status, admin: status, other: 403 });
/** Write scope: `status` for the owner's write token and admin, `other` for another owner's write token. */
const writeScope = (status: number, other: number): Record<Caller, number> => ({ anon: 401, read: 403, write: status, runner: 403, admin: status, other });

/** A job's path under the runner API; the fixture hands out the public `/v1/jobs/<id>` path. */
const runnerJobPath = async (f: Fixtures, rest: string) => `/v1/runner/jobs/${(await f.job()).split('/').pop()}/${rest}`;

const matrix: Row[] = [
  { name: 'list tokens', method: 'GET', path: () => '/v1/tokens', expect: adminOnly(200) },
  { name: 'create token', method: 'POST', path: () => '/v1/tokens', json: () => ({ owner: 'z', scopes: ['read'] }), expect: adminOnly(201) },
  { name: 'revoke token', method: 'DELETE', path: async (f) => `/v1/tokens/${await f.tokenId()}`, expect: adminOnly(200) },
  { name: 'create model', method: 'POST', path: () => '/v1/models', json: () => ({ name: 'm', family: 'bloom' }), expect: writeScope(201, 201) },
  { name: 'list models', method: 'GET', path: () => '/v1/models', expect: everyone },
  { name: 'get private model', method: 'GET', path: (f) => `/v1/models/${f.model}`, expect: ownerOnly },
  { name: 'get public model', method: 'GET', path: (f) => `/v1/models/${f.publicModel}`, expect: everyone },
  { name: 'patch private model', method: 'PATCH', path: (f) => `/v1/models/${f.model}`, json: () => ({ license: 'mit' }), expect: writeScope(200, 404) },
  { name: 'patch public model', method: 'PATCH', path: (f) => `/v1/models/${f.publicModel}`, json: () => ({ license: 'mit' }), expect: writeScope(200, 403) },
  { name: 'put model file', method: 'PUT', path: (f) => `/v1/models/${f.model}/files/config.json`, body: () => '{"a":1}', expect: writeScope(201, 404) },
  { name: 'get model file', method: 'GET', path: (f) => `/v1/models/${f.model}/files/tokenizer.json`, expect: ownerOnly },
  { name: 'start multipart', method: 'POST', path: (f) => `/v1/models/${f.model}/files/model.onnx.data/uploads`, expect: writeScope(201, 404) },
  { name: 'upload corpus', method: 'POST', path: () => '/v1/corpora?src=fr&tgt=en', body: () => 'a\tb\n', expect: writeScope(201, 201) },
  { name: 'list corpora', method: 'GET', path: () => '/v1/corpora', expect: everyone },
  { name: 'get private corpus', method: 'GET', path: (f) => `/v1/corpora/${f.corpus}`, expect: ownerOnly },
  { name: 'get private corpus data', method: 'GET', path: (f) => `/v1/corpora/${f.corpus}/data`, expect: ownerOnly },
  { name: 'upload suite', method: 'POST', path: () => '/v1/suites?format=ppl&lang=fr', body: () => 'Une phrase.\n', expect: writeScope(201, 201) },
  { name: 'get private suite', method: 'GET', path: (f) => `/v1/suites/${f.suite}`, expect: ownerOnly },
  { name: 'get private suite data', method: 'GET', path: (f) => `/v1/suites/${f.suite}/data`, expect: ownerOnly },
  {
    name: 'create job',
    method: 'POST',
    path: () => '/v1/jobs',
    json: () => ({ kind: 'evaluate', modelId: fixtures.model, suites: [fixtures.suite] }),
    expect: writeScope(201, 422),
  },
  { name: 'get private job', method: 'GET', path: (f) => f.job(), expect: ownerOnly },
  { name: 'cancel job', method: 'POST', path: async (f) => `${await f.job()}/cancel`, expect: writeScope(200, 404) },
  { name: 'list jobs', method: 'GET', path: () => '/v1/jobs', expect: everyone },
  {
    name: 'heartbeat without a lease',
    method: 'POST',
    path: (f) => runnerJobPath(f, 'heartbeat'),
    json: () => ({ leaseToken: 'pp_nope' }),
    expect: runnerScope(409),
  },
  { name: 'list runs', method: 'GET', path: () => '/v1/runs', expect: everyone },
  { name: 'leaderboard of a private model', method: 'GET', path: (f) => `/v1/leaderboards?model=${f.model}`, expect: ownerOnly },
  { name: 'leaderboard page of a public model', method: 'GET', path: (f) => `/leaderboards/${f.publicModel}`, expect: everyone },
  { name: 'list suites', method: 'GET', path: () => '/v1/suites', expect: everyone },
  {
    name: 'create sweep',
    method: 'POST',
    path: () => '/v1/sweeps',
    json: () => ({
      modelId: fixtures.model,
      pairs: [{ corpusId: fixtures.corpus }],
      sparsities: [0.5],
      methods: [{ method: 'magnitude' }],
      base: { suites: [fixtures.suite] },
    }),
    expect: writeScope(201, 422),
  },
  {
    name: 'start artifact upload without a lease',
    method: 'POST',
    path: (f) => runnerJobPath(f, 'artifacts/model.onnx.data/uploads'),
    expect: runnerScope(400),
  },
  { name: 'queue figures', method: 'GET', path: () => '/v1/runner/queue', expect: runnerScope(200) },
  { name: 'input without a lease', method: 'GET', path: (f) => runnerJobPath(f, 'inputs/model.onnx'), expect: runnerScope(400) },
  { name: 'unknown run', method: 'GET', path: () => '/v1/runs/run_missing', expect: missing },
  { name: 'analysis of an unknown run', method: 'GET', path: () => '/v1/runs/run_missing/analysis', expect: missing },
  { name: 'run page of an unknown run', method: 'GET', path: () => '/runs/run_missing', expect: missing },
  { name: 'get private sweep', method: 'GET', path: async (f) => `/v1/sweeps/${await f.sweep()}`, expect: ownerOnly },
  { name: 'page of a private sweep', method: 'GET', path: async (f) => `/sweeps/${await f.sweep()}`, expect: ownerOnly },
  { name: 'openapi', method: 'GET', path: () => '/v1/openapi.json', expect: everyone },
];

const tokens: Record<Caller, string | null> = { anon: null, read: '', write: '', runner: '', admin: ADMIN, other: '' };
let fixtures: Fixtures;

beforeAll(async () => {
  tokens.read = await makeToken('owner-a', ['read']);
  tokens.write = await makeToken('owner-a', ['write']);
  tokens.runner = await makeToken('owner-a', ['runner']);
  tokens.other = await makeToken('owner-b', ['write']);
  const w = tokens.write;
  const model = (await call('POST', '/v1/models', { token: w, json: { name: 'private', family: 'xglm' } })).body.id;
  await call('PUT', `/v1/models/${model}/files/tokenizer.json`, { token: w, body: '{}' });
  await call('PUT', `/v1/models/${model}/files/model.onnx`, { token: w, body: tinyOnnx() });
  const publicModel = (await call('POST', '/v1/models', { token: w, json: { name: 'public', family: 'xglm', visibility: 'public' } })).body.id;
  const corpus = (await call('POST', '/v1/corpora?src=de&tgt=en', { token: w, body: 'x\ty\n' })).body.id;
  const suite = (await call('POST', '/v1/suites?format=ppl&lang=de', { token: w, body: 'Ein Satz.\n' })).body.id;
  const tokenId = async () => (await call('POST', '/v1/tokens', { token: ADMIN, json: { owner: 'victim', scopes: ['read'] } })).body.id;
  const job = async () => `/v1/jobs/${(await call('POST', '/v1/jobs', { token: w, json: { kind: 'evaluate', modelId: model, suites: [suite] } })).body.id}`;
  const sweep = async () =>
    (
      await call('POST', '/v1/sweeps', {
        token: w,
        json: { modelId: model, pairs: [{ corpusId: corpus }], sparsities: [0.5], methods: [{ method: 'magnitude' }], includeDense: false },
      })
    ).body.sweepId;
  fixtures = { model, publicModel, corpus, suite, tokenId, job, sweep };
});

describe('authorization matrix', () => {
  for (const row of matrix) {
    for (const caller of callers) {
      it(`${row.name} as ${caller} → ${row.expect[caller]}`, async () => {
        const path = await row.path(fixtures);
        const r = await call(row.method, path, { token: tokens[caller], body: row.body?.(), json: row.json?.() });
        expect(r.status).toBe(row.expect[caller]);
        // The API refuses in JSON; pages (outside /v1) in HTML.
        if (r.status >= 400 && path.startsWith('/v1/')) expect(r.body.error.code).toBeTypeOf('string');
        else if (r.status >= 400) expect(r.headers.get('content-type')).toContain('text/html');
      });
    }
  }
});
