import type { WorkerConfig } from './config';
import type { PrefetchedVersions } from './lib/data-versions';
import type { Db } from './lib/db';
import type { Principal } from './lib/principal';

/** Bindings named in wrangler.toml, plus secrets from .dev.vars / `wrangler secret put`. */
export interface Bindings {
  DB: D1Database;
  BLOBS: R2Bucket;
  ADMIN_TOKEN?: string;
  RATE_LIMIT_PER_MINUTE?: string;
  /** "true" only where the Worker runs behind Cloudflare's edge, which sets CF-Connecting-IP (lib/rate-limit.ts). */
  TRUST_CF_CONNECTING_IP?: string;
  LEASE_SECONDS?: string;
  MAX_ATTEMPTS?: string;
  CODE_VERSION?: string;
}

export interface Variables {
  /** Parsed settings (config.ts), set before anything else reads them. */
  config: WorkerConfig;
  /** drizzle over the DB binding, one per request */
  db: Db;
  principal: Principal | null;
  /** read with the bearer token for cached GET routes (lib/data-versions.ts) */
  versions?: PrefetchedVersions;
}

export type AppEnv = { Bindings: Bindings; Variables: Variables };
