import { describe, expect, it } from 'vitest';
import { routes } from '../../shared/src/api/registry';
import { suiteFormats, suiteRowSchemas } from '../../shared/src/suites';
import { call, makeToken } from './helpers';

describe('OpenAPI document', () => {
  it('is generated from the route table and describes every route', async () => {
    const r = await call('GET', '/v1/openapi.json');
    expect(r.status).toBe(200);
    expect(r.body.openapi).toBe('3.1.0');
    for (const route of routes) {
      expect(r.body.paths[route.path]?.[route.method], `${route.method} ${route.path}`).toBeDefined();
    }
    const createToken = r.body.paths['/v1/tokens'].post;
    expect(createToken.requestBody.content['application/json'].schema.properties.scopes.items.enum).toEqual(['read', 'write', 'admin', 'runner']);
  });

  it('every documented route is served (no 404 from the router)', async () => {
    for (const route of routes) {
      const path = route.path.replace(/\{(\w+)\}/g, (_, n) => (n === 'n' ? '1' : `x${n}`));
      const r = await call(route.method.toUpperCase(), path);
      expect(r.body?.error?.message ?? '', `${route.method} ${path}`).not.toMatch(/^no route for/);
    }
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
