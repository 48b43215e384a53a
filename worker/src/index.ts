import { createRoute, z } from '@hono/zod-openapi';
import type { Bindings } from './env';
import { CODE_VERSION } from './jobs/complete';
import { requeueExpired } from './jobs/store';
import { authenticate } from './lib/auth';
import { createDb } from './lib/db';
import { errorResponse, onError } from './lib/errors';
import { abortAbandonedUploads } from './lib/abandoned-uploads';
import { ApiApp, json, openApiDocument } from './lib/openapi';
import { pruneRateLimits, rateLimit } from './lib/rate-limit';
import { requestContext } from './lib/request-context';
import { securityHeaders } from './lib/security-headers';
import { corpusRoutes } from './routes/corpora';
import { jobRoutes, sweepRoutes } from './routes/jobs';
import { leaderboardPages, leaderboardRoutes } from './routes/leaderboards';
import { modelRoutes } from './routes/models';
import { runnerRoutes } from './routes/runner';
import { runPages } from './routes/run-pages';
import { runRoutes } from './routes/runs';
import { suiteRoutes } from './routes/suites';
import { sweepPages } from './routes/sweep-pages';
import { tokenRoutes } from './routes/tokens';
import { frontDoorPages } from './routes/front-door';
import { signInRoutes } from './routes/sign-in';
import { pruneSessions } from './lib/sessions';

const meta = { tags: ['meta'] };
const health = createRoute({
  ...meta,
  operationId: 'getHealth',
  security: [],
  method: 'get',
  path: '/health',
  summary: 'Liveness and version',
  responses: { 200: json('ok', z.object({ ok: z.boolean(), version: z.string() })) },
});
const document = createRoute({
  ...meta,
  operationId: 'getOpenApiDocument',
  security: [],
  method: 'get',
  path: '/openapi.json',
  summary: 'This document',
  responses: { 200: json('OpenAPI 3.1', z.record(z.string(), z.unknown())) },
});

/** Every route below, for the document. */
export const app = new ApiApp();

const v1 = new ApiApp()
  .openapi(health, (c) => c.json({ ok: true, version: c.var.config.codeVersion ?? CODE_VERSION }, 200))
  .openapi(document, (c) => c.json(openApiDocument(app, c.var.config.codeVersion ?? CODE_VERSION) as Record<string, unknown>, 200))
  .route('/tokens', tokenRoutes)
  .route('/models', modelRoutes)
  .route('/corpora', corpusRoutes)
  .route('/suites', suiteRoutes)
  .route('/jobs', jobRoutes)
  .route('/sweeps', sweepRoutes)
  .route('/runner', runnerRoutes)
  .route('/runs', runRoutes)
  .route('/leaderboards', leaderboardRoutes);

app.use(securityHeaders, requestContext, authenticate, rateLimit);
app
  .route('/', frontDoorPages)
  .route('/', signInRoutes)
  .route('/v1', v1)
  .route('/leaderboards', leaderboardPages)
  .route('/runs', runPages)
  .route('/sweeps', sweepPages)
  .notFound((c) => errorResponse(c, 404, 'not_found', `no route for ${c.req.method} ${new URL(c.req.url).pathname}`))
  .onError(onError);

export default {
  fetch: app.fetch,
  // Leases of runners that died are also requeued here, not only when another runner asks for work;
  // multipart uploads left unfinished are aborted (their R2 parts freed), old rate windows and expired
  // sessions dropped.
  async scheduled(_event: ScheduledController, env: Bindings, ctx: ExecutionContext) {
    const db = createDb(env.DB);
    ctx.waitUntil(Promise.all([requeueExpired(db), abortAbandonedUploads(db, env.BLOBS), pruneRateLimits(db), pruneSessions(db)]).then(() => undefined));
  },
} satisfies ExportedHandler<Bindings>;
