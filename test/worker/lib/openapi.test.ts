import { describe, expect, it } from 'vitest';
import { errorCodes } from '@polyprune/shared/api/errors';
import { app } from '@polyprune/worker/index';
import { suiteFormats, suiteRowSchemas } from '@polyprune/shared/suites';
import { call, makeToken } from '../helpers';

type Doc = { paths: Record<string, Record<string, { 'x-scope'?: string; responses: Record<string, unknown>; parameters?: { name: string; in: string }[] }>> };

/** Every method and path the app answers, from Hono's own route list (middleware excluded). */
function servedRoutes() {
  const seen = new Set<string>();
  for (const r of app.routes) {
    if (r.method === 'ALL') continue;
    seen.add(`${r.method.toLowerCase()} ${r.path.replace(/:(\w+)/g, '{$1}')}`);
  }
  return [...seen].map((k) => {
    const [method, path] = k.split(' ') as [string, string];
    return { method, path };
  });
}

function documented(doc: Doc) {
  return Object.entries(doc.paths).flatMap(([path, ops]) => Object.keys(ops).map((method) => ({ method, path })));
}

describe('OpenAPI document', () => {
  it('documents every served route, from the route declarations', async () => {
    const r = await call<Doc & { openapi: string }>('GET', '/v1/openapi.json');
    expect(r.status).toBe(200);
    expect(r.body.openapi).toBe('3.1.0');
    const served = servedRoutes();
    expect(served.length).toBeGreaterThan(40);
    for (const { method, path } of served) expect(r.body.paths[path]?.[method], `${method} ${path}`).toBeDefined();
    // Pages and exports are declared like the JSON routes, with their own media types.
    const media = (path: string) => Object.keys((r.body.paths[path]!.get!.responses['200'] as { content: object }).content).sort();
    for (const page of ['/leaderboards', '/leaderboards/{model}', '/runs/{id}', '/sweeps/{id}']) expect(media(page), page).toEqual(['text/html']);
    expect(media('/v1/leaderboards')).toEqual(['application/json', 'application/x-latex', 'text/csv']);
    // The error body names every code the API answers, from the shared closed set.
    expect((r.body as unknown as { components: { schemas: { Error: any } } }).components.schemas.Error.properties.error.properties.code.enum).toEqual([
      ...errorCodes,
    ]);
    const createToken = (r.body.paths['/v1/tokens']!.post as unknown as { requestBody: any }).requestBody;
    expect(createToken.content['application/json'].schema.properties.scopes.items.enum).toEqual(['read', 'write', 'admin', 'runner']);
  });

  it('every documented route is served (no 404 from the router)', async () => {
    const r = await call<Doc>('GET', '/v1/openapi.json');
    const routes = documented(r.body);
    expect(routes.length).toBe(servedRoutes().length);
    for (const route of routes) {
      const path = route.path.replace(/\{(\w+)\}/g, (_: string, n: string) => (n === 'n' ? '1' : `x${n}`));
      const res = await call(route.method.toUpperCase(), path);
      expect(res.body?.error?.message ?? '', `${route.method} ${path}`).not.toMatch(/^no route for/);
    }
  });

  it('states the scope, path parameters and the error statuses a route can answer', async () => {
    const { body: doc } = await call<Doc>('GET', '/v1/openapi.json');
    const heartbeat = doc.paths['/v1/runner/jobs/{id}/heartbeat']!.post!;
    expect(heartbeat['x-scope']).toBe('runner');
    expect(Object.keys(heartbeat.responses).sort()).toEqual(['200', '400', '401', '403', '404', '409', '413', '429']);
    expect(heartbeat.parameters?.map((p) => `${p.in}:${p.name}`)).toEqual(['path:id']);
    const download = doc.paths['/v1/models/{id}/files/{name}']!.get!;
    expect(download['x-scope']).toBeUndefined();
    expect(Object.keys(download.responses).sort()).toEqual(['200', '206', '400', '401', '404', '416', '429']);
  });

  it('says who may call each route: the bearer scheme with its scope, optional credentials on public routes, none where none count', async () => {
    const { body: doc } = await call('GET', '/v1/openapi.json');
    expect(doc.servers).toEqual([{ url: '/', description: 'this server' }]);
    expect(doc.components.securitySchemes.bearer).toMatchObject({ type: 'http', scheme: 'bearer' });
    expect(doc.components.securitySchemes.session).toMatchObject({ type: 'apiKey', in: 'cookie', name: 'pp_session' });
    expect(doc.paths['/v1/runner/jobs/{id}/heartbeat'].post.security).toEqual([{ bearer: ['runner'] }]);
    expect(doc.paths['/v1/models'].post.security).toEqual([{ bearer: ['write'] }]);
    expect(doc.paths['/v1/tokens'].get.security).toEqual([{ bearer: ['admin'] }, { session: ['admin'] }]);
    expect(doc.paths['/v1/models/{id}'].get.security).toEqual([{}, { bearer: [] }, { session: [] }]);
    expect(doc.paths['/v1/health'].get.security).toEqual([]);
    expect(doc.paths['/login'].post.security).toEqual([]);
    expect(doc.paths['/v1/models/{id}'].get.operationId).toBe('getModel');
    // Every operation says it, and names a scheme the document defines.
    for (const [path, ops] of Object.entries<Record<string, { security?: Record<string, string[]>[] }>>(doc.paths)) {
      for (const [method, op] of Object.entries(ops)) {
        expect(op.security, `${method} ${path}`).toBeInstanceOf(Array);
        for (const req of op.security!) for (const scheme of Object.keys(req)) expect(doc.components.securitySchemes[scheme], scheme).toBeDefined();
      }
    }
  });

  it('refuses a caller without the declared scope before validating anything', async () => {
    const r = await call('POST', '/v1/runner/jobs/x/heartbeat', { json: { leaseToken: '' } });
    expect(r.status).toBe(401);
    const bad = await call('GET', '/v1/jobs?limit=0');
    expect(bad.status).toBe(400);
    expect(bad.body.error.code).toBe('invalid_request');
    expect(bad.body.error.message).toMatch(/^invalid query: limit:/);
  });

  it('carries the row schema of every suite format and every dataset body type, each example accepted by the API', async () => {
    const doc = (await call('GET', '/v1/openapi.json')).body;
    for (const f of suiteFormats) {
      const row = doc.components.schemas[`SuiteRow${f[0]!.toUpperCase()}${f.slice(1)}`];
      expect(row?.type, f).toBe('object');
      expect(suiteRowSchemas[f].safeParse(row.examples[0]).success, f).toBe(true);
    }
    const writer = await makeToken('openapi-examples', ['write']);
    const suiteBody = doc.paths['/v1/suites'].post.requestBody.content;
    const seen = new Set<string>();
    for (const [type, c] of Object.entries<{ examples: Record<string, { value: string }> }>(suiteBody)) {
      expect(Object.keys(c.examples).length, type).toBeGreaterThan(0);
      for (const [name, ex] of Object.entries(c.examples)) {
        const format = name.split('-')[0]!;
        seen.add(format);
        const r = await call('POST', `/v1/suites?format=${format}&lang=fr`, { token: writer, body: ex.value, headers: { 'content-type': type } });
        expect(r.status, `${name}: ${JSON.stringify(r.body)}`).toBe(201);
      }
    }
    expect([...seen].sort()).toEqual([...suiteFormats].sort());
    const corpusBody = doc.paths['/v1/corpora'].post.requestBody.content;
    expect(Object.keys(corpusBody).sort()).toEqual(['application/x-ndjson', 'multipart/form-data', 'text/tab-separated-values']);
    for (const [type, c] of Object.entries<{ examples: Record<string, { value: string }> }>(corpusBody)) {
      for (const [name, ex] of Object.entries(c.examples)) {
        const contentType = type === 'multipart/form-data' ? 'multipart/form-data; boundary=b' : type;
        const r = await call('POST', '/v1/corpora?src=fr&tgt=en', { token: writer, body: ex.value, headers: { 'content-type': contentType } });
        expect(r.status, `${name}: ${JSON.stringify(r.body)}`).toBe(201);
      }
    }
  });
});
