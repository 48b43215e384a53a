/**
 * The stack the API benches load: `wrangler dev` with no runner and no effective rate limit, its
 * state in a temporary folder that goes with it.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { freePort, newAdminToken, startStack } from '../scripts/lib/stack';

export async function withApiStack<T>(name: string, fn: (s: { base: string; adminToken: string }) => Promise<T>): Promise<T> {
  const tmp = await mkdtemp(path.join(os.tmpdir(), `polyprune-bench-${name}-`));
  const adminToken = newAdminToken();
  const stack = await startStack({
    port: await freePort(),
    persistTo: path.join(tmp, 'state'),
    adminToken,
    runners: 0,
    vars: { RATE_LIMIT_PER_MINUTE: '10000000' },
  });
  try {
    return await fn({ base: stack.url, adminToken });
  } finally {
    await stack.stop();
    await rm(tmp, { recursive: true, force: true });
  }
}
