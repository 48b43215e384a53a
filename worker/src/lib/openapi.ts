/**
 * One declaration per route: a `createRoute` config is at once the OpenAPI entry, the validation of
 * its path, query and JSON body, and its scope check (`x-scope`). `apiApp()` makes a resource's
 * sub-app; `openApiDocument` builds the document from the mounted app, once per isolate.
 */
import { OpenAPIHono, type RouteConfig } from '@hono/zod-openapi';
import type { Context, MiddlewareHandler, Next, TypedResponse } from 'hono';
import type { JSONParsed } from 'hono/utils/types';
import { createMiddleware } from 'hono/factory';
import { z } from 'zod';
import { errorBody, type Scope } from '@polyprune/shared/api/common';
import { limits } from '@polyprune/shared/api/limits';
import { type BodyDoc, suiteRowDocs } from '@polyprune/shared/api/dataset-docs';
import type { AppEnv } from '../env';
import { requireScope } from './auth';
import { isPagePath } from './errors';
import { SESSION_COOKIE } from './sessions';
import { invalidInput, parseJson } from './validate';

/** What a route declares beyond zod-to-openapi's RouteConfig. */
export interface ApiRouteExtras {
  /** null or absent: anonymous callers allowed (public resources only). Checked before any validation. */
  'x-scope'?: Scope;
  /** The handler reads the JSON body itself (Idempotency-Key replays compare the raw body first). */
  'x-raw-body'?: true;
}

/**
 * Who may call a route, for the document (clients and "Authorize" buttons): a scoped route takes the
 * bearer token with its scope; a public one is open, and a token (or, for GETs, the session cookie of
 * the pages) widens what it sees. The cookie never authorises a method other than GET.
 */
export function securityOf(r: { method: string; 'x-scope'?: Scope }) {
  const get = r.method === 'get';
  const scope = r['x-scope'];
  // A session never carries the runner scope (sign-in drops it), so runner routes take tokens only.
  if (scope) return [{ bearer: [scope] }, ...(get && scope !== 'runner' ? [{ session: [scope] }] : [])];
  return [{}, { bearer: [] }, ...(get ? [{ session: [] }] : [])];
}

/** operationIds are written where routes are declared: stable, camelCase, unique (generated clients name methods by them). */
const OPERATION_ID = /^[a-z][a-zA-Z0-9]*$/;

const jsonType = 'application/json';

export const json = <S extends z.ZodType>(description: string, schema: S) => ({
  description,
  content: { [jsonType]: { schema } } as { 'application/json': { schema: S } },
});
export const jsonBody = <S extends z.ZodType>(schema: S, required = true) => ({
  required,
  content: { [jsonType]: { schema } } as { 'application/json': { schema: S } },
});
const binary = { type: 'string' as const, format: 'binary' };
export const rawBody = (contentType = 'application/octet-stream') => ({ required: true, content: { [contentType]: { schema: binary } } });
export const raw = (description = 'raw bytes', contentType = 'application/octet-stream') => ({ description, content: { [contentType]: { schema: binary } } });
export const err = (description: string) => json(description, errorBody);
const errorJson = err;
/** A server-rendered page. */
export const html = (description: string) => ({ description, content: { 'text/html': { schema: { type: 'string' as const } } } });

/**
 * A dataset upload: every accepted body type with its examples (a row schema where there is one).
 * None is JSON, so the handler streams the body itself (c.req.raw); this is for the document only.
 */
export const datasetBody = (bodies: Record<string, BodyDoc>) => ({
  required: true,
  content: Object.fromEntries(
    Object.entries(bodies).map(([type, d]) => [type, { schema: d.schema ?? { type: 'string' as const, description: d.description }, examples: d.examples }]),
  ),
});

/** A stored JSON document streamed as is (never parsed in the worker), answering as the route's JSON schema. */
export const streamedJson = <T>(res: Response) => res as unknown as TypedResponse<JSONParsed<T>, 200, 'json'>;

const where = { param: 'path', query: 'query', json: 'body' } as Record<string, string>;

/** Validation failures of path and query answer the API's 400 invalid_request body. */
const defaultHook = (result: { success: boolean; error?: z.ZodError; target: string }) => {
  if (!result.success) throw invalidInput(where[result.target] ?? result.target, result.error!);
};

const scopeGuard = (scope: Scope): MiddlewareHandler<AppEnv> =>
  createMiddleware<AppEnv>(async (c, next) => {
    requireScope(c.get('principal'), scope);
    await next();
  });

function jsonSchemaOf(route: RouteConfig): z.ZodType | undefined {
  const media = route.request?.body?.content?.[jsonType];
  const s = media && 'schema' in media ? media.schema : undefined;
  return s instanceof z.ZodType ? s : undefined;
}

/** The statuses every route of a kind can answer, whatever its own declaration lists. */
export function withErrorResponses<R extends RouteConfig>(r: R & ApiRouteExtras): R {
  const responses: RouteConfig['responses'] = { ...r.responses };
  // Pages answer their errors as HTML (lib/errors.ts); the API as the JSON error body.
  const err = isPagePath(r.path) ? (d: string) => html(d.replace(/^[a-z_]+: /, '')) : errorJson;
  const scope = r['x-scope'];
  const pathParams = /\{\w+\}/.test(r.path);
  const hasBody = r.request?.body !== undefined;
  const hasJsonBody = jsonSchemaOf(r) !== undefined;
  if (pathParams || r.request?.query || hasBody) responses[400] ??= err('invalid_request: a path parameter, query or body is malformed');
  responses[401] ??= err(scope ? 'missing, malformed or unknown token' : 'malformed or unknown token (anonymous calls need none)');
  if (scope) responses[403] ??= err(`token lacks scope "${scope}"`);
  if (pathParams) responses[404] ??= err('unknown, or not visible to this token');
  if (r.path.startsWith('/v1/runner/jobs/'))
    responses[409] ??= err('lease_lost: the lease expired, was re-leased or canceled, or belongs to another runner token');
  if (hasBody) responses[413] ??= err(`payload_too_large${hasJsonBody ? ` (JSON bodies ≤ ${limits.jsonBodyBytes} bytes)` : ''}`);
  if (responses[206]) responses[416] ??= err('range outside the object');
  responses[429] = err('rate limited (Retry-After, RateLimit-Reset)');
  return { ...r, security: r.security ?? securityOf(r), responses };
}

/**
 * A resource's sub-app. Its `openapi(route, handler)` is the library's, wrapped (apiRoute below): it
 * registers the route for the document (with the statuses every route can answer), checks `x-scope`
 * first, validates path and query (library) and then the JSON body under the size and depth caps of
 * validate.ts, exposed as `c.req.valid('json')`. JSON bodies are read whatever their Content-Type, as
 * before the library was adopted. The signature stays the library's, so routes keep their types.
 */
export class ApiApp extends OpenAPIHono<AppEnv> {
  // The library's `openapi` is an instance property, not a method (there is no `super.openapi`): it
  // is read here, set by the library's constructor, and wrapped.
  override openapi: OpenAPIHono<AppEnv>['openapi'] = apiRoute(this, (this as OpenAPIHono<AppEnv>).openapi);

  constructor() {
    super({ defaultHook });
  }
}

/** What the wrapper sees of a handler and a hook: nothing in it depends on a route's own types. */
type AnyHandler = (c: Context<AppEnv>, next: Next) => unknown;
type Register = (route: RouteConfig, handler: AnyHandler, hook?: unknown) => unknown;

/**
 * ApiApp's `openapi`. The library's is generic over each route (typed context, typed responses); this
 * wrapper works the same for every route, so it is written over the untyped shapes and handed back
 * under the library's signature: the one cast below, between two spellings of the same function.
 */
function apiRoute(app: OpenAPIHono<AppEnv>, libraryOpenapi: OpenAPIHono<AppEnv>['openapi']): OpenAPIHono<AppEnv>['openapi'] {
  const register = libraryOpenapi as unknown as Register;
  const wrapped = (route: RouteConfig & ApiRouteExtras, handler: AnyHandler, hook?: unknown) => {
    const scope = route['x-scope'];
    const body = jsonSchemaOf(route);
    const { request, middleware, ...rest } = route;
    const own = middleware ? (Array.isArray(middleware) ? middleware : [middleware]) : [];
    // The library would refuse JSON without a JSON Content-Type (415) and skip the size cap; the body is ours.
    const served = { ...rest, hide: true, middleware: [...(scope ? [scopeGuard(scope)] : []), ...own], request: { ...request, body: undefined } };
    const handle: AnyHandler =
      body && !route['x-raw-body']
        ? async (c, next) => {
            c.req.addValidatedData('json', (await parseJson(c, body)) as object); // a route's JSON body is an object schema
            return handler(c, next);
          }
        : handler;
    register(served, handle, hook);
    const { 'x-raw-body': _, ...documented } = route;
    app.openAPIRegistry.registerPath(documented);
    return app;
  };
  return wrapped as unknown as OpenAPIHono<AppEnv>['openapi'];
}

/** Completes every route's statuses, on full paths (after mounting). */
function complete(registry: OpenAPIHono['openAPIRegistry']) {
  const ids = new Set<string>();
  for (const d of registry.definitions) {
    if (d.type !== 'route') continue;
    const id = d.route.operationId;
    if (!id || !OPERATION_ID.test(id) || ids.has(id))
      throw new Error(`${d.route.method} ${d.route.path}: operationId ${id} is missing, not camelCase or taken`);
    ids.add(id);
    d.route = withErrorResponses(d.route);
  }
  registry.registerComponent('securitySchemes', 'bearer', {
    type: 'http',
    scheme: 'bearer',
    description: 'An API token (`pp_…`). A route with a scope names it; admin implies every scope and write implies read.',
  });
  registry.registerComponent('securitySchemes', 'session', {
    type: 'apiKey',
    in: 'cookie',
    name: SESSION_COOKIE,
    description: 'The session of the pages (POST /login with a token). It authorises GET requests only, with what its token may read.',
  });
  // The stored row of every suite format, with an example row.
  for (const d of suiteRowDocs) {
    const schema = z.toJSONSchema(d.schema, { target: 'draft-2020-12', io: 'input', unrepresentable: 'any' }) as Record<string, unknown>;
    delete schema.$schema;
    registry.registerComponent('schemas', d.name, { ...schema, examples: [d.example] } as never);
  }
}

const built = new Map<string, unknown>();

/** The document of `app` for a version, built once per isolate: it only depends on the declarations. */
export function openApiDocument(app: OpenAPIHono<AppEnv>, version: string) {
  let doc = built.get(version);
  if (!doc) {
    if (built.size === 0) complete(app.openAPIRegistry);
    doc = app.getOpenAPI31Document({
      openapi: '3.1.0',
      info: { title: 'polyprune', version, description: 'Prune multilingual LMs for language pairs and rank the results.', 'x-limits': limits },
      // Relative: the document is served by the API it describes, whatever its origin.
      servers: [{ url: '/', description: 'this server' }],
    });
    built.set(version, doc);
  }
  return doc;
}
