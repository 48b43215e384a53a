/**
 * Start and stop the local stack: `wrangler dev` (workerd with local D1/R2) and CPU runners.
 * Shared by `npm start`, `npm run demo` and the end-to-end tests.
 *
 * Every child is spawned in its own process group (detached) and stopped by signalling the whole
 * group: wrangler starts workerd as a grandchild, and killing only wrangler would leave workerd
 * holding the port.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { MALLOC_MMAP_THRESHOLD } from '@polyprune/gpu-runner/service/memory-release';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const bin = (name: string) => path.join(repoRoot, 'node_modules', '.bin', name);

/**
 * The pinned Node (devDependency "node") when it is installed, else this process's. npm scripts
 * already find it first on PATH; children get it first on theirs too, so wrangler's and tsx's
 * `#!/usr/bin/env node` run on it however this script was started.
 */
const nodeBin = existsSync(bin('node')) ? bin('node') : process.execPath;
const pinnedPath = (env: NodeJS.ProcessEnv): string => [path.join(repoRoot, 'node_modules', '.bin'), env.PATH ?? ''].join(path.delimiter);

export type Log = (line: string) => void;

/** Environment every wrangler call gets: no telemetry, no calls home for request.cf data. */
export function wranglerEnv(): NodeJS.ProcessEnv {
  return { ...process.env, PATH: pinnedPath(process.env), WRANGLER_SEND_METRICS: 'false', CLOUDFLARE_CF_FETCH_ENABLED: 'false', NO_COLOR: '1' };
}

/** The admin token from `.dev.vars`, creating the file with a random token when it is missing. */
export async function ensureDevVars(root = repoRoot): Promise<{ adminToken: string; created: boolean }> {
  const file = path.join(root, '.dev.vars');
  if (existsSync(file)) {
    const text = await readFile(file, 'utf8');
    const m = /^\s*ADMIN_TOKEN\s*=\s*"?([^"\s]+)"?\s*$/m.exec(text);
    if (m) return { adminToken: m[1]!, created: false };
    const adminToken = newAdminToken();
    await writeFile(file, `${text.replace(/\n?$/, '\n')}ADMIN_TOKEN=${adminToken}\n`, { mode: 0o600 });
    return { adminToken, created: true };
  }
  const adminToken = newAdminToken();
  await writeFile(file, `# Written by npm start. Secrets for wrangler dev; never commit.\nADMIN_TOKEN=${adminToken}\n`, { mode: 0o600 });
  return { adminToken, created: true };
}

export const newAdminToken = () => `pp_admin_${randomBytes(24).toString('hex')}`;

/** A TCP port on 127.0.0.1 that nothing listens on right now. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

export async function portInUse(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = net.connect({ port, host: '127.0.0.1' });
    sock.once('connect', () => {
      sock.destroy();
      resolve(true);
    });
    sock.once('error', () => resolve(false));
  });
}

/** Runs a command to completion, returning its combined output; rejects on a non-zero exit. */
export function runCommand(cmd: string, args: string[], opts: { env?: NodeJS.ProcessEnv; cwd?: string; timeoutMs?: number } = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: opts.cwd ?? repoRoot, env: opts.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    let out = '';
    child.stdout!.on('data', (d) => (out += d));
    child.stderr!.on('data', (d) => (out += d));
    const timer = opts.timeoutMs
      ? setTimeout(() => {
          killGroup(child, 'SIGKILL');
          reject(new Error(`${path.basename(cmd)} ${args.join(' ')} timed out after ${opts.timeoutMs} ms\n${out}`));
        }, opts.timeoutMs)
      : undefined;
    child.on('error', reject);
    child.on('exit', (code) => {
      clearTimeout(timer);
      if (code === 0) resolve(out);
      else reject(new Error(`${path.basename(cmd)} ${args.join(' ')} exited with ${code}\n${out}`));
    });
  });
}

export async function applyMigrations(persistTo?: string): Promise<string> {
  const args = ['d1', 'migrations', 'apply', 'DB', '--local', ...(persistTo ? ['--persist-to', persistTo] : [])];
  // Non-interactive (no TTY): wrangler applies without asking.
  return runCommand(bin('wrangler'), args, { env: { ...wranglerEnv(), CI: 'true' }, timeoutMs: 120_000 });
}

/** Signals every process of the child's group; ignores a group that is already gone. */
export function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    try {
      child.kill(signal);
    } catch {
      // already gone
    }
  }
}

function groupAlive(pid: number): boolean {
  try {
    process.kill(-pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * Stops a process group: `signal` first, SIGKILL after `graceMs`. Resolves once no process of the
 * group is left (workerd included), not merely when the leader exited.
 */
export async function stopGroup(child: ChildProcess, signal: NodeJS.Signals = 'SIGTERM', graceMs = 10_000): Promise<void> {
  const pid = child.pid;
  if (pid === undefined) return;
  killGroup(child, signal);
  const deadline = Date.now() + graceMs;
  while (groupAlive(pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  if (groupAlive(pid)) {
    killGroup(child, 'SIGKILL');
    const hard = Date.now() + 5000;
    while (groupAlive(pid) && Date.now() < hard) await new Promise((r) => setTimeout(r, 100));
  }
}

export interface WorkerOptions {
  port: number;
  /** wrangler's devtools port; default a free one (wrangler's own default, 9229, collides between two stacks) */
  inspectorPort?: number;
  /** Local D1/R2 state; default `.wrangler/state` of the repo. */
  persistTo?: string;
  /** Another Worker's wrangler config (the transfer bench's probe); default the repository's wrangler.toml. */
  config?: string;
  /** `--var NAME:VALUE` overrides (e.g. LEASE_SECONDS for fault tests, ADMIN_TOKEN for tests). */
  vars?: Record<string, string>;
  /** V8 flags for workerd (miniflare's MINIFLARE_WORKERD_V8_FLAGS), e.g. --expose-gc for the memory test */
  workerdV8Flags?: string[];
  log?: Log;
}

export interface WorkerProcess {
  url: string;
  inspectorPort: number;
  child: ChildProcess;
  /** Everything wrangler printed so far (for error messages). */
  output: () => string;
  stop: (signal?: NodeJS.Signals) => Promise<void>;
}

export async function startWorker(o: WorkerOptions): Promise<WorkerProcess> {
  if (await portInUse(o.port)) throw new Error(`port ${o.port} on 127.0.0.1 is already in use (another wrangler dev?); choose another with --port`);
  const inspectorPort = o.inspectorPort ?? (await freePort());
  if (o.inspectorPort !== undefined && (await portInUse(inspectorPort)))
    throw new Error(`inspector port ${inspectorPort} on 127.0.0.1 is already in use; choose another with --inspector-port`);
  const args = [
    'dev',
    '--ip',
    '127.0.0.1',
    '--port',
    String(o.port),
    '--inspector-port',
    String(inspectorPort),
    '--show-interactive-dev-session=false',
    '--log-level',
    'warn',
  ];
  if (o.persistTo) args.push('--persist-to', o.persistTo);
  if (o.config) args.push('--config', o.config);
  // wrangler dev is not behind Cloudflare's edge: CF-Connecting-IP there is whatever the client sent.
  const vars = { TRUST_CF_CONNECTING_IP: 'false', ...o.vars };
  for (const [k, v] of Object.entries(vars)) args.push('--var', `${k}:${v}`);
  const env = o.workerdV8Flags?.length ? { ...wranglerEnv(), MINIFLARE_WORKERD_V8_FLAGS: o.workerdV8Flags.join(' ') } : wranglerEnv();
  const child = spawn(bin('wrangler'), args, { cwd: repoRoot, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let out = '';
  const onData = (d: Buffer) => {
    const s = d.toString();
    out = (out + s).slice(-20_000);
    for (const line of s.split('\n')) if (line.trim()) o.log?.(`[wrangler] ${line}`);
  };
  child.stdout!.on('data', onData);
  child.stderr!.on('data', onData);
  const url = `http://127.0.0.1:${o.port}`;
  const w: WorkerProcess = { url, inspectorPort, child, output: () => out, stop: (signal = 'SIGTERM') => stopGroup(child, signal) };
  try {
    await waitForHealth(url, 90_000, child);
  } catch (err) {
    await w.stop('SIGKILL');
    throw new Error(`${(err as Error).message}\n--- wrangler output ---\n${out}`);
  }
  return w;
}

export async function waitForHealth(url: string, timeoutMs: number, child?: ChildProcess): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    if (child && child.exitCode !== null) throw new Error(`wrangler dev exited with ${child.exitCode} before ${url}/v1/health answered`);
    try {
      const res = await fetch(`${url}/v1/health`, { signal: AbortSignal.timeout(3000) });
      if (res.ok) return;
      last = `HTTP ${res.status}`;
    } catch (err) {
      last = (err as Error).message;
    }
    await new Promise((r) => setTimeout(r, 300));
  }
  throw new Error(`${url}/v1/health did not answer within ${timeoutMs} ms (${last})`);
}

/** Creates an API token with the admin token; returns the secret (shown once). */
export async function createToken(
  url: string,
  adminToken: string,
  body: { owner: string; scopes: string[]; name?: string; rateLimitPerMinute?: number },
): Promise<string> {
  const res = await fetch(`${url}/v1/tokens`, {
    method: 'POST',
    headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  if (!res.ok) throw new Error(`creating a ${body.scopes.join('+')} token failed: ${res.status} ${await res.text()}`);
  return ((await res.json()) as { secret: string }).secret;
}

export interface RunnerProcessOptions {
  api: string;
  token: string;
  workdir: string;
  runnerId?: string;
  device?: 'auto' | 'cpu' | 'cuda';
  /** Extra environment (POLYPRUNE_POLL_SECONDS, POLYPRUNE_MAX_JOBS, …). */
  env?: Record<string, string>;
  log?: Log;
}

export interface RunnerProcess {
  child: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
  stop: (signal?: NodeJS.Signals, graceMs?: number) => Promise<void>;
}

export function startRunner(o: RunnerProcessOptions): RunnerProcess {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    POLYPRUNE_API: o.api,
    POLYPRUNE_RUNNER_TOKEN: o.token,
    POLYPRUNE_WORKDIR: o.workdir,
    POLYPRUNE_DEVICE: o.device ?? 'cpu',
    POLYPRUNE_POLL_SECONDS: '0.5',
    // As `npm run runner` and the image: memory freed between steps goes back (memory-release.ts).
    MALLOC_MMAP_THRESHOLD_: MALLOC_MMAP_THRESHOLD,
    ...(o.runnerId ? { POLYPRUNE_RUNNER_ID: o.runnerId } : {}),
    ...o.env,
  };
  env.PATH = pinnedPath(env);
  // One process, as in the runner image: Node with tsx's loader (the tsx CLI would add a parent).
  const child = spawn(nodeBin, ['--expose-gc', '--import', 'tsx', path.join(repoRoot, 'gpu-runner/src/service/main.ts')], {
    cwd: repoRoot,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  let out = '';
  const onData = (d: Buffer) => {
    const s = d.toString();
    out = (out + s).slice(-50_000);
    for (const line of s.split('\n')) if (line.trim()) o.log?.(line);
  };
  child.stdout!.on('data', onData);
  child.stderr!.on('data', onData);
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  // A runner finishes its current step on SIGTERM, which may take a while on a real model.
  return { child, output: () => out, exited, stop: (signal = 'SIGTERM', graceMs = 60_000) => stopGroup(child, signal, graceMs) };
}

export interface StackOptions {
  /** the API's port; 'auto': a free one */
  port: number | 'auto';
  /** wrangler's devtools port; default a free one */
  inspectorPort?: number;
  persistTo?: string;
  /** Defaults to the token in `.dev.vars` (created if missing). */
  adminToken?: string;
  vars?: Record<string, string>;
  workerdV8Flags?: string[];
  /** Number of CPU runners to start (default 1). */
  runners?: number;
  runnerWorkdir?: string;
  runnerEnv?: Record<string, string>;
  log?: Log;
  runnerLog?: Log;
}

export interface Stack {
  url: string;
  /** the ports the stack listens on, for the start banner */
  ports: { api: number; inspector: number };
  adminToken: string;
  runnerToken: string;
  worker: WorkerProcess;
  runners: RunnerProcess[];
  addRunner: (extra?: Partial<RunnerProcessOptions>) => RunnerProcess;
  /** Stops and restarts only the worker on the same state directory. */
  restartWorker: () => Promise<void>;
  /**
   * SIGTERM to every runner (each finishes its step and hands its job back), then the worker once
   * the runners are gone: their last report must reach it. A runner still busy after `runnerGraceMs`
   * is killed.
   */
  stop: (o?: { runnerGraceMs?: number }) => Promise<void>;
}

export async function startStack(o: StackOptions): Promise<Stack> {
  const log = o.log ?? (() => {});
  const adminToken = o.adminToken ?? (await ensureDevVars()).adminToken;
  const vars = { ...(o.adminToken ? { ADMIN_TOKEN: o.adminToken } : {}), ...o.vars };
  log('applying D1 migrations (local)…');
  await applyMigrations(o.persistTo);
  const port = o.port === 'auto' ? await freePort() : o.port;
  log(`starting wrangler dev on 127.0.0.1:${port}…`);
  let worker = await startWorker({ port, inspectorPort: o.inspectorPort, persistTo: o.persistTo, vars, workerdV8Flags: o.workerdV8Flags, log: o.log });
  const runnerToken = await createToken(worker.url, adminToken, {
    owner: 'runner',
    name: `local runner ${new Date().toISOString()}`,
    scopes: ['runner'],
    rateLimitPerMinute: 100_000,
  });
  const workdir = o.runnerWorkdir ?? path.join(repoRoot, '.polyprune', 'runner');
  const runners: RunnerProcess[] = [];
  const addRunner = (extra: Partial<RunnerProcessOptions> = {}) => {
    const r = startRunner({
      api: worker.url,
      token: runnerToken,
      workdir,
      runnerId: `local-${runners.length + 1}`,
      log: o.runnerLog,
      env: o.runnerEnv,
      ...extra,
    });
    runners.push(r);
    return r;
  };
  for (let i = 0; i < (o.runners ?? 1); i++) addRunner();
  const stack: Stack = {
    get url() {
      return worker.url;
    },
    get ports() {
      return { api: port, inspector: worker.inspectorPort };
    },
    adminToken,
    runnerToken,
    get worker() {
      return worker;
    },
    runners,
    addRunner,
    restartWorker: async () => {
      await worker.stop();
      worker = await startWorker({ port, inspectorPort: worker.inspectorPort, persistTo: o.persistTo, vars, workerdV8Flags: o.workerdV8Flags, log: o.log });
    },
    stop: async ({ runnerGraceMs = 20_000 } = {}) => {
      await Promise.all(runners.map((r) => r.stop('SIGTERM', runnerGraceMs)));
      await worker.stop();
    },
  };
  return stack;
}
