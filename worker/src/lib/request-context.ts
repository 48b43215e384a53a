import { createMiddleware } from 'hono/factory';
import { workerConfig } from '../config';
import type { AppEnv } from '../env';
import { createDb } from './db';

/** First middleware after the security headers: everything later reads `c.var.config` and `c.var.db`. */
export const requestContext = createMiddleware<AppEnv>(async (c, next) => {
  c.set('config', workerConfig(c.env));
  c.set('db', createDb(c.env.DB));
  return next();
});
