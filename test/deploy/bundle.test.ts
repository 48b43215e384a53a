/**
 * The production build, offline: `wrangler deploy --dry-run` bundles the worker for each
 * environment without a Cloudflare account or network (a dead proxy makes any attempt fail), and
 * the bundle must fit the Workers size limit. The production environment must name everything the
 * local one does, because wrangler does not inherit bindings or vars into an environment.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { gzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { unstable_readConfig } from 'wrangler';
import { repoRoot } from '../../scripts/lib/stack';

/** Workers Free plan: 3 MB after compression (Paid: 10 MB). The stricter one keeps both open. */
const WORKER_GZIP_LIMIT = 3_000_000;

const wrangler = path.join(repoRoot, 'node_modules/.bin/wrangler');
const dead = 'http://127.0.0.1:9';
const offlineEnv = (): NodeJS.ProcessEnv => {
  const e: NodeJS.ProcessEnv = { ...process.env, WRANGLER_SEND_METRICS: 'false', HTTPS_PROXY: dead, HTTP_PROXY: dead, https_proxy: dead, http_proxy: dead };
  delete e.CLOUDFLARE_API_TOKEN;
  delete e.CLOUDFLARE_ACCOUNT_ID;
  return e;
};

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

async function dryRun(envName?: string) {
  const out = await mkdtemp(path.join(os.tmpdir(), 'polyprune-bundle-'));
  dirs.push(out);
  const args = ['deploy', '--dry-run', '--outdir', out, ...(envName ? ['--env', envName] : [])];
  const { stdout, stderr } = await promisify(execFile)(wrangler, args, { cwd: repoRoot, env: offlineEnv(), timeout: 90_000 });
  const bundle = await readFile(path.join(out, 'index.js'));
  return { log: `${stdout}\n${stderr}`, bundle };
}

const kib = (s: string) => Number(s) * 1024;

describe('wrangler deploy --dry-run', () => {
  for (const envName of [undefined, 'production']) {
    it(`bundles ${envName ?? 'the default environment'} offline, under the Workers size limit`, async () => {
      const { log, bundle } = await dryRun(envName);
      expect(log).toMatch(/--dry-run: exiting now/);
      for (const binding of ['env.DB', 'env.BLOBS', 'env.LEASE_SECONDS', 'env.MAX_ATTEMPTS', 'env.RATE_LIMIT_PER_MINUTE']) expect(log).toContain(binding);
      const gz = gzipSync(bundle).length;
      expect(gz).toBeLessThan(WORKER_GZIP_LIMIT);
      // Our measure is wrangler's: "Total Upload: X KiB / gzip: Y KiB".
      const m = /Total Upload: ([\d.]+) KiB \/ gzip: ([\d.]+) KiB/.exec(log);
      expect(m, log).not.toBeNull();
      expect(Math.abs(kib(m![1]!) - bundle.length)).toBeLessThan(2048);
      expect(Math.abs(kib(m![2]!) - gz) / gz).toBeLessThan(0.05);
      // The cron entry point is in the bundle (requeue of expired leases).
      expect(bundle.toString('utf8')).toMatch(/scheduled\s*\(/);
    });
  }
});

interface D1 {
  binding: string;
  database_name?: string;
  database_id?: string;
  migrations_dir?: string;
}
interface R2 {
  binding: string;
  bucket_name?: string;
}

describe('wrangler.toml [env.production]', () => {
  const base = unstable_readConfig({ config: path.join(repoRoot, 'wrangler.toml') }, { hideWarnings: true });
  const prod = unstable_readConfig({ config: path.join(repoRoot, 'wrangler.toml'), env: 'production' }, { hideWarnings: true });

  it('names the same D1 and R2 bindings and vars as the local environment', () => {
    const d1 = (c: typeof base) => c.d1_databases.map((d: D1) => [d.binding, d.database_name, d.migrations_dir]);
    const r2 = (c: typeof base) => c.r2_buckets.map((b: R2) => [b.binding, b.bucket_name]);
    expect(d1(prod)).toEqual(d1(base));
    expect(r2(prod)).toEqual(r2(base));
    expect(Object.keys(prod.vars).sort()).toEqual(Object.keys(base.vars).sort());
    expect(prod.main).toBe(base.main);
    expect(prod.compatibility_flags).toEqual(base.compatibility_flags);
  });

  it('has the cron trigger and a placeholder for the database id, and no admin token in vars', () => {
    expect(prod.triggers.crons).toEqual(['* * * * *']);
    expect((prod.d1_databases[0] as D1).database_id).toMatch(/REPLACE/);
    expect(Object.keys(prod.vars)).not.toContain('ADMIN_TOKEN');
  });
});
