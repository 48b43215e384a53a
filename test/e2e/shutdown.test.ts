/**
 * Shutdown signalled the way a user signals it, to the process the user started: Ctrl-C in the
 * terminal of `npm run runner` (SIGINT to its whole process group), `kill` of that npm process
 * (SIGTERM to npm alone), and Ctrl-C in the terminal of `npm start`. Each time the job that was
 * mid-step must be back in the queue, handed back by the runner as a retryable failure (the lease is
 * long: its expiry cannot be what requeues it), and everything started must be gone.
 *
 * POLYPRUNE_STEP_DELAY_MS lengthens each step so that "mid-step" is a state the test can wait for.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PolypruneApi } from '@polyprune/cli/api';
import { freePort, newAdminToken, repoRoot, startWorker, waitForHealth } from '../../scripts/lib/stack';
import { pruneSpec, seed, type Seeded, startTestStack, type TestStack, waitJob } from './helpers';

const midStep = (stage: string | undefined) => !!stage && stage !== 'leased';
const STEP_DELAY = { POLYPRUNE_STEP_DELAY_MS: '2000' };

/** Starts an npm script as a shell does a foreground job: npm leads a process group of its own. */
function npm(args: string[], env: NodeJS.ProcessEnv) {
  const child = spawn('npm', args, { cwd: repoRoot, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, exited, output: () => out };
}

function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Resolves once no process of the group is left; rejects with `what` (and kills the group) otherwise. */
async function groupGone(child: ChildProcess, what: string, timeoutMs = 120_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (groupAlive(child.pid!) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  if (!groupAlive(child.pid!)) return;
  process.kill(-child.pid!, 'SIGKILL');
  throw new Error(`${what}: processes of its group were still running ${timeoutMs} ms after the signal`);
}

describe('npm run runner', () => {
  let t: TestStack;
  let s: Seeded;
  beforeAll(async () => {
    t = await startTestStack({ runners: 0, vars: { LEASE_SECONDS: '600' } });
    s = await seed(t.api);
  });
  afterAll(async () => {
    await t?.close();
  });

  const runnerEnv = (id: string) => ({
    POLYPRUNE_API: t.stack.url,
    POLYPRUNE_RUNNER_TOKEN: t.stack.runnerToken,
    POLYPRUNE_WORKDIR: path.join(t.tmp, id),
    POLYPRUNE_DEVICE: 'cpu',
    POLYPRUNE_POLL_SECONDS: '0.5',
    POLYPRUNE_RUNNER_ID: id,
    ...STEP_DELAY,
  });

  for (const [how, signal, toGroup] of [
    ['Ctrl-C in its terminal (SIGINT to the process group)', 'SIGINT', true],
    ['kill of the npm process (SIGTERM to npm alone)', 'SIGTERM', false],
  ] as const) {
    it(`${how}: hands the job back as retryable and exits 0`, async () => {
      const runner = npm(['run', 'runner'], runnerEnv(`npm-${signal}`));
      const job = await t.api.createJob(pruneSpec(s));
      try {
        await waitJob(t.api, job.id, (j) => j.status === 'running' && midStep(j.progress?.stage), 120_000);
        process.kill(toGroup ? -runner.child.pid! : runner.child.pid!, signal);
        await groupGone(runner.child, `npm run runner after ${signal}`);
        expect(await runner.exited, runner.output()).toBe(0);
        expect(runner.output()).toMatch(new RegExp(`${signal}: finishing the current step`));
        expect(runner.output()).toMatch(/failed \(retryable\): runner shutting down/);
        // Reported by the runner before it left, not requeued by a lease expiry (600 s away).
        const back = await t.api.getJob(job.id);
        expect(back.status).toBe('queued');
        expect(back.error).toMatch(/shutting down/);
        expect(back.attempts).toBe(1);
      } finally {
        if (groupAlive(runner.child.pid!)) process.kill(-runner.child.pid!, 'SIGKILL');
        await t.api.cancelJob(job.id).catch(() => undefined);
      }
    });
  }
});

describe('npm start', () => {
  let tmp: string;
  beforeAll(async () => {
    tmp = await mkdtemp(path.join(os.tmpdir(), 'polyprune-e2e-start-'));
  });
  afterAll(async () => {
    await rm(tmp, { recursive: true, force: true });
  });

  it('Ctrl-C in its terminal: the runner hands its job back before wrangler stops', async () => {
    const port = await freePort();
    const adminToken = newAdminToken();
    const persistTo = path.join(tmp, 'state');
    const url = `http://127.0.0.1:${port}`;
    const vars = { ADMIN_TOKEN: adminToken, RATE_LIMIT_PER_MINUTE: '100000', LEASE_SECONDS: '600' };
    const args = ['start', '--', '--port', String(port), '--persist-to', persistTo];
    for (const [k, v] of Object.entries(vars)) args.push('--var', `${k}:${v}`);
    const stack = npm(args, STEP_DELAY);
    let jobId = '';
    try {
      await waitForHealth(url, 180_000);
      const api = new PolypruneApi({ baseUrl: url, token: adminToken, retry: { retries: 2 } });
      const s = await seed(api);
      jobId = (await api.createJob(pruneSpec(s))).id;
      await waitJob(api, jobId, (j) => j.status === 'running' && midStep(j.progress?.stage), 120_000);
      process.kill(-stack.child.pid!, 'SIGINT');
      await groupGone(stack.child, 'npm start after Ctrl-C');
      expect(await stack.exited, stack.output()).toBe(0);
      expect(stack.output()).toMatch(/failed \(retryable\): runner shutting down/);
      expect(stack.output()).not.toMatch(/interrupting the current step/);
    } finally {
      if (groupAlive(stack.child.pid!)) process.kill(-stack.child.pid!, 'SIGKILL');
    }
    // The API comes back on the same state: the job waits in the queue for the next runner.
    const worker = await startWorker({ port, persistTo, vars });
    try {
      const api = new PolypruneApi({ baseUrl: url, token: adminToken });
      const back = await api.getJob(jobId);
      expect(back.status).toBe('queued');
      expect(back.error).toMatch(/shutting down/);
    } finally {
      await worker.stop();
    }
  });
});
