/**
 * The Worker's settings (wrangler.toml [vars] and secrets), parsed once per env object: a bad
 * value fails every request with one log line naming it, instead of a NaN lease or limit.
 */
import { z } from 'zod';

export interface WorkerConfig {
  /** Requests per minute per token (per client address for anonymous callers). */
  rateLimitPerMinute: number;
  /** Whether CF-Connecting-IP is the client's address (the Worker runs behind Cloudflare's edge). */
  trustCfConnectingIp: boolean;
  leaseSeconds: number;
  maxAttempts: number;
  /** Absent or empty: no admin secret. */
  adminToken: string | undefined;
  codeVersion: string | undefined;
}

export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** An unset or empty variable takes its default. */
const unset = (v: unknown) => (v === '' ? undefined : v);
const count = (fallback: number) =>
  z.preprocess(
    unset,
    z
      .string()
      .regex(/^\s*\d+\s*$/, 'must be a whole number ≥ 1')
      .default(String(fallback))
      .transform(Number)
      .pipe(z.number().int().min(1, 'must be a whole number ≥ 1')),
  );

const schema = z.object({
  RATE_LIMIT_PER_MINUTE: count(600),
  TRUST_CF_CONNECTING_IP: z.preprocess(unset, z.enum(['true', 'false'], { error: 'must be "true" or "false"' }).default('false')),
  LEASE_SECONDS: count(120),
  MAX_ATTEMPTS: count(3),
  ADMIN_TOKEN: z.string().optional(),
  CODE_VERSION: z.string().optional(),
});

/** Pure: the settings from the variables, or a ConfigError naming each bad variable and its value. */
export function parseWorkerConfig(vars: ConfigVars): WorkerConfig {
  const r = schema.safeParse(vars);
  if (!r.success) {
    const problems = r.error.issues.map((i) => {
      const name = String(i.path[0]);
      return `${name} ${i.message}, got ${JSON.stringify(vars[name as VarName])}`;
    });
    throw new ConfigError(`bad Worker setting: ${problems.join('; ')}`);
  }
  const v = r.data;
  return {
    rateLimitPerMinute: v.RATE_LIMIT_PER_MINUTE,
    trustCfConnectingIp: v.TRUST_CF_CONNECTING_IP === 'true',
    leaseSeconds: v.LEASE_SECONDS,
    maxAttempts: v.MAX_ATTEMPTS,
    adminToken: v.ADMIN_TOKEN,
    codeVersion: v.CODE_VERSION,
  };
}

/** The variables as the env object has them (wrangler [vars] are strings; tests may pass anything). */
type VarName = keyof z.input<typeof schema>;
export type ConfigVars = { [K in VarName]?: unknown };

const cache = new WeakMap<object, WorkerConfig>();

/** The settings of this env object (parsed on first use; a bad one throws ConfigError each time). */
export function workerConfig(env: ConfigVars): WorkerConfig {
  let c = cache.get(env);
  if (!c) {
    c = parseWorkerConfig(env);
    cache.set(env, c);
  }
  return c;
}
