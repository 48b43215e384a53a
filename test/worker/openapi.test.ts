import { describe, expect, it } from 'vitest';
import { routes } from '../../shared/src/api/registry';
import { call } from './helpers';

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
});
