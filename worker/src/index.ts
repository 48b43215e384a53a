import { Hono } from 'hono';
import { buildOpenApi } from '../../shared/src/api/registry';
import type { AppEnv, Bindings } from './env';
import { authenticate } from './lib/auth';
import { ApiError, errorResponse, onError } from './lib/errors';
import { rateLimit } from './lib/rate-limit';
import { corpusRoutes } from './routes/corpora';
import { modelRoutes } from './routes/models';
import { suiteRoutes } from './routes/suites';
import { tokenRoutes } from './routes/tokens';

export const CODE_VERSION = '0.1.0';

const v1 = new Hono<AppEnv>()
  .use(authenticate, rateLimit)
  .get('/health', (c) => c.json({ ok: true, version: c.env.CODE_VERSION ?? CODE_VERSION }))
  .get('/openapi.json', (c) => c.json(buildOpenApi(c.env.CODE_VERSION ?? CODE_VERSION)))
  .route('/tokens', tokenRoutes)
  .route('/models', modelRoutes)
  .route('/corpora', corpusRoutes)
  .route('/suites', suiteRoutes);

const app = new Hono<AppEnv>()
  .get('/', (c) => c.redirect('/v1/openapi.json'))
  .route('/v1', v1)
  .notFound((c) => errorResponse(c, 404, 'not_found', `no route for ${c.req.method} ${new URL(c.req.url).pathname}`))
  .onError(onError);

export default {
  fetch: app.fetch,
  async scheduled(_event: ScheduledController, _env: Bindings, _ctx: ExecutionContext) {},
} satisfies ExportedHandler<Bindings>;

export { app, ApiError };
