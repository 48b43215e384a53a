/**
 * The lease loop: claim a job, run it with a heartbeat that extends the lease and reports progress,
 * then complete or fail it. Three ways a job stops early:
 * - the lease is lost (409 on any call): work stops at once and nothing more is reported, because
 *   the job now belongs to someone else (or was canceled);
 * - shutdown (SIGTERM): the current step finishes, then the job is failed as retryable so another
 *   runner picks it up, and the loop exits;
 * - an error: the job is failed; only a complete result is ever reported with `complete`.
 */
import { mkdir, rm } from 'node:fs/promises';
import path from 'node:path';
import type { RunnerFailureCode } from '@polyprune/shared/api/errors';
import type { MemoryLimit } from '../model/memory';
import { UnsupportedModel } from '../model/preflight';
import { BlocksNotSeparable } from '../onnx/structure';
import { InputCache } from './cache';
import { CorruptInputError, IntegrityError, LeaseLostError, type RunnerClient } from './client';
import { ApiRequestError, sleep, UnreachableError } from '@polyprune/shared/http';
import type { UploadSource } from '@polyprune/shared/multipart-upload';
import { etaSeconds, type StageOrigin } from './eta';
import { collectGarbage } from './memory-release';
import type { ArtifactInfoT, JobInfo, JobInputT, JobSpec, LeaseResponse, ProgressT, RunResult } from './protocol';
import { runResult } from './protocol';

/** Thrown at a step boundary once shutdown was requested. */
export class ShutdownError extends Error {
  constructor() {
    super('runner shutting down (SIGTERM); the job goes back to the queue');
    this.name = 'ShutdownError';
  }
}

/** An error worth another attempt on any runner (flaky network, corrupt download, …). */
export class RetryableError extends Error {
  override name = 'RetryableError';
}

export interface JobContext {
  job: JobInfo;
  spec: JobSpec;
  leaseToken: string;
  inputs: JobInputT[];
  /** Scratch directory of this attempt, removed afterwards. */
  dir: string;
  /** Aborted when the lease is lost or shutdown is forced. */
  signal: AbortSignal;
  device: string;
  /** The memory this job may use; a model that cannot fit is refused before it is loaded. */
  memoryLimit?: MemoryLimit;
  log: (msg: string) => void;
  /**
   * Records progress for the next heartbeat. Throws (LeaseLostError) when the lease is gone, so an
   * engine loop that reports progress stops inside the step, not after it.
   */
  progress: (stage: string, done: number, total: number) => void;
  /** Runs one named step; shutdown requested during it takes effect when it returns. */
  step: <T>(name: string, fn: () => Promise<T> | T) => Promise<T>;
  /** Path of an input, downloaded once per content and shared across jobs. */
  input: (name: string) => Promise<string>;
  /** Downloads an input and links it at `dest` (a hard link into the cache). */
  place: (name: string, dest: string) => Promise<void>;
  /** Downloads every input of a role into `dir` under its own name (model files side by side). */
  inputsOfRole: (role: string, dir: string, rename?: (name: string) => string) => Promise<JobInputT[]>;
  upload: (name: string, data: UploadSource) => Promise<ArtifactInfoT>;
}

export type JobHandler = (ctx: JobContext) => Promise<RunResult>;

export interface RunnerOptions {
  client: RunnerClient;
  handler: JobHandler;
  workdir: string;
  runnerId: string;
  device: string;
  pollMs?: number;
  maxJobs?: number;
  cacheMaxBytes?: number;
  log?: (msg: string) => void;
  /** Heartbeat period; by default a third of the lease, at most 15 s. */
  heartbeatMs?: number;
  /** See RunnerEnv.stepDelayMs (fault tests only). */
  stepDelayMs?: number;
  memoryLimit?: MemoryLimit;
}

export type JobOutcome = 'succeeded' | 'failed' | 'requeued' | 'lease-lost';

export class Runner {
  private stopping = false;
  private forceAbort: AbortController | null = null;
  private readonly idle = new AbortController();
  readonly cache: InputCache;
  readonly log: (msg: string) => void;
  jobsDone = 0;

  constructor(private readonly o: RunnerOptions) {
    this.cache = new InputCache(path.join(o.workdir, 'cache'), o.cacheMaxBytes ?? 0);
    this.log = o.log ?? ((m) => console.error(`[runner ${new Date().toISOString()}] ${m}`));
  }

  /**
   * First call: finish the current step, report a retryable failure, leave. Second call: abort the
   * current step too.
   */
  requestStop(): void {
    if (this.stopping) {
      this.forceAbort?.abort(new ShutdownError());
      return;
    }
    this.stopping = true;
    this.idle.abort();
  }

  get isStopping() {
    return this.stopping;
  }

  async run(): Promise<void> {
    await mkdir(this.o.workdir, { recursive: true });
    await this.cache.sweepTemp();
    let backoff = 0;
    while (!this.stopping) {
      let lease: LeaseResponse | null;
      try {
        // Not aborted on shutdown: a lease the API granted must be answered, not left to expire.
        lease = await this.o.client.lease(this.o.runnerId, this.o.device);
        backoff = 0;
      } catch (err) {
        if (this.stopping) break;
        backoff = Math.min(backoff + 1, 6);
        this.log(`lease failed (${(err as Error).message}); retrying`);
        await sleep(1000 * 2 ** backoff, this.idle.signal).catch(() => undefined);
        continue;
      }
      if (!lease) {
        await sleep(this.o.pollMs ?? 2000, this.idle.signal).catch(() => undefined);
        continue;
      }
      if (this.stopping) {
        await this.o.client.fail(lease.job.id, lease.leaseToken, new ShutdownError().message, true, 'shutting_down').catch(() => undefined);
        break;
      }
      await this.runJob(lease);
      this.jobsDone++;
      if (this.o.maxJobs && this.jobsDone >= this.o.maxJobs) break;
    }
    this.log('stopped');
  }

  /** Runs one leased job to an outcome; never throws. */
  async runJob(lease: LeaseResponse): Promise<JobOutcome> {
    const { job, leaseToken } = lease;
    const abort = new AbortController();
    this.forceAbort = abort;
    const dir = path.join(this.o.workdir, 'jobs', `${job.id}-${job.attempts}`);
    await mkdir(dir, { recursive: true });
    this.log(`job ${job.id} (${job.kind}, attempt ${job.attempts}/${job.maxAttempts}) leased`);
    const hb = this.heartbeat(lease, abort);
    const ctx = this.jobContext(lease, dir, abort, hb);
    try {
      void hb.beat();
      const raw = await this.o.handler(ctx);
      hb.throwIfAborted();
      // Validate before reporting: a malformed result fails the job rather than half-recording it.
      const result = runResult.parse(raw);
      hb.stop();
      const done = await hb.guard(this.o.client.complete(job.id, leaseToken, result));
      this.log(`job ${job.id} succeeded → run ${done.runId}`);
      return 'succeeded';
    } catch (err) {
      hb.stop();
      if (hb.lost() || err instanceof LeaseLostError) {
        this.log(`job ${job.id} abandoned: lease lost`);
        return 'lease-lost';
      }
      return await this.reportFailure(lease, err);
    } finally {
      this.forceAbort = null;
      await rm(dir, { recursive: true, force: true }).catch(() => undefined);
    }
  }

  /**
   * The lease's heartbeat: extends it on a timer and carries the latest progress; a 409 marks the
   * lease lost and aborts the job's work.
   */
  private heartbeat(lease: LeaseResponse, abort: AbortController) {
    const { job, leaseToken } = lease;
    let progress: ProgressT = { stage: 'leased', done: 0, total: 1 };
    let lostErr: LeaseLostError | null = null;
    const markLost = (err: LeaseLostError) => {
      lostErr ??= err;
      abort.abort(err);
    };
    const leaseMs = Math.max(1000, Date.parse(lease.leaseExpiresAt) - Date.now());
    const period = this.o.heartbeatMs ?? Math.min(15_000, Math.max(500, leaseMs / 3));
    let beating = false;
    // A beat asked for while one is in flight (a new stage) follows it instead of being dropped.
    let again = false;
    // Heartbeats stop before the job is reported: a late one must not read the finished job's
    // 409 as a lost lease.
    const beats = new AbortController();
    abort.signal.addEventListener('abort', () => beats.abort(), { once: true });
    const beat = async (): Promise<void> => {
      if (beats.signal.aborted) return;
      if (beating) {
        again = true;
        return;
      }
      beating = true;
      try {
        await this.o.client.heartbeat(job.id, leaseToken, progress, beats.signal);
      } catch (err) {
        if (beats.signal.aborted) return;
        if (err instanceof LeaseLostError) {
          this.log(`job ${job.id}: ${err.message}; stopping work on it`);
          markLost(err);
        } else if (!abort.signal.aborted) this.log(`job ${job.id}: heartbeat failed (${(err as Error).message}); will retry`);
      } finally {
        beating = false;
      }
      if (again) {
        again = false;
        await beat();
      }
    };
    const timer = setInterval(() => void beat(), period);
    return {
      beat,
      get progress() {
        return progress;
      },
      set progress(p: ProgressT) {
        progress = p;
      },
      lost: () => lostErr !== null,
      stop: () => {
        clearInterval(timer);
        beats.abort();
      },
      throwIfAborted: () => {
        if (abort.signal.aborted) throw abort.signal.reason instanceof Error ? abort.signal.reason : new Error(String(abort.signal.reason));
      },
      /** Awaits a call to the API; its 409 marks the lease lost. */
      guard: async <T>(p: Promise<T>): Promise<T> => {
        try {
          return await p;
        } catch (err) {
          if (err instanceof LeaseLostError) markLost(err);
          throw err;
        }
      },
    };
  }

  /** What the job handler sees: progress, steps, inputs and uploads, all bound to this lease. */
  private jobContext(lease: LeaseResponse, dir: string, abort: AbortController, hb: ReturnType<Runner['heartbeat']>): JobContext {
    const { job, leaseToken } = lease;
    const client = this.o.client;
    let origin: StageOrigin = { stage: 'leased', at: Date.now(), done: 0 };
    const ctx: JobContext = {
      job,
      spec: job.spec,
      leaseToken,
      inputs: lease.inputs,
      dir,
      signal: abort.signal,
      device: this.o.device,
      memoryLimit: this.o.memoryLimit,
      log: (m) => this.log(`job ${job.id}: ${m}`),
      progress: (stage, done, total) => {
        hb.throwIfAborted();
        const changedStage = stage !== hb.progress.stage;
        const now = Date.now();
        if (stage !== origin.stage) origin = { stage, at: now, done };
        const eta = etaSeconds(origin, now, done, total);
        hb.progress = { stage, done, total, ...(eta === undefined ? {} : { etaSeconds: eta }) };
        // A new stage is worth telling at once (watchers see it move); counts ride the timer.
        if (changedStage) void hb.beat();
      },
      step: async (name, fn) => {
        hb.throwIfAborted();
        if (this.stopping) throw new ShutdownError();
        const changedStage = name !== hb.progress.stage;
        hb.progress = { stage: name, done: hb.progress.done, total: hb.progress.total };
        // Told at once, as a progress stage is: a watcher (and bench/scale's per-stage memory) sees
        // preflight and write-model start, not the previous stage's name until the next timer beat.
        if (changedStage) void hb.beat();
        const out = await fn();
        collectGarbage();
        if (this.o.stepDelayMs) await sleep(this.o.stepDelayMs, abort.signal);
        hb.throwIfAborted();
        if (this.stopping) throw new ShutdownError();
        return out;
      },
      input: async (name) => {
        const inp = lease.inputs.find((i) => i.name === name);
        if (!inp) throw new Error(`job ${job.id} has no input named "${name}" (has: ${lease.inputs.map((i) => i.name).join(', ')})`);
        const fetch = () =>
          hb.guard(
            this.cache.get(inp.sha256, inp.size, (tmp) =>
              client.downloadInput(job.id, leaseToken, inp.name, tmp, { sha256: inp.sha256, size: inp.size, signal: abort.signal }),
            ),
          );
        try {
          return (await fetch()).path;
        } catch (first) {
          if (!(first instanceof IntegrityError)) throw first;
          // A multipart upload's sha256 is the uploader's word, checked here where the bytes are read:
          // a second download that hashes to the same other value rules out the transfer.
          const again = await fetch().catch((e: unknown) => e);
          if (!(again instanceof IntegrityError)) {
            if (again instanceof Error) throw again;
            return (again as { path: string }).path;
          }
          if (again.actual === first.actual) throw new CorruptInputError(inp.name, inp.sha256, again.actual);
          throw again;
        }
      },
      place: async (name, dest) => {
        await ctx.input(name);
        await this.cache.materialize(lease.inputs.find((i) => i.name === name)!.sha256, dest);
      },
      inputsOfRole: async (role, target, rename = (n) => n) => {
        const list = lease.inputs.filter((i) => i.role === role);
        for (const inp of list) await ctx.place(inp.name, path.join(target, rename(inp.name)));
        return list;
      },
      upload: (name, data) => hb.guard(client.uploadArtifact(job.id, leaseToken, name, data, abort.signal)),
    };
    return ctx;
  }

  /** fail: retryable on shutdown and for transient errors; the lease requeues it if even that fails. */
  private async reportFailure(lease: LeaseResponse, err: unknown): Promise<JobOutcome> {
    const { job, leaseToken } = lease;
    const shutdown = err instanceof ShutdownError || this.stopping;
    const retryable = shutdown || isRetryable(err);
    const message = shutdown ? new ShutdownError().message : describe(err);
    this.log(`job ${job.id} ${retryable ? 'failed (retryable)' : 'failed'}: ${message}`);
    if (!(err instanceof ShutdownError) && err instanceof Error && err.stack) this.log(err.stack);
    try {
      await this.o.client.fail(job.id, leaseToken, message, retryable, shutdown ? 'shutting_down' : failureCode(err));
    } catch (e) {
      // The lease will expire and requeue the job; nothing else can be done from here.
      this.log(`job ${job.id}: could not report the failure (${(e as Error).message})`);
    }
    return retryable ? 'requeued' : 'failed';
  }
}

function isRetryable(err: unknown): boolean {
  if (err instanceof RetryableError || err instanceof UnreachableError || err instanceof IntegrityError) return true;
  if (err instanceof ApiRequestError) return err.status >= 500 || err.status === 429;
  return false;
}

/** The reason a failure report carries, by the error's type. */
export function failureCode(err: unknown): RunnerFailureCode {
  if (err instanceof ShutdownError) return 'shutting_down';
  if (err instanceof UnsupportedModel || err instanceof BlocksNotSeparable) return 'unsupported_model';
  if (err instanceof CorruptInputError) return 'corrupt_input';
  if (err instanceof IntegrityError) return 'input_mismatch';
  // V8 reports a failed allocation (an ArrayBuffer, a typed array too large for the heap) as a RangeError.
  if (err instanceof RangeError) return 'out_of_memory';
  return 'internal';
}

function describe(err: unknown): string {
  if (err instanceof Error) return `${err.name === 'Error' ? '' : `${err.name}: `}${err.message}`;
  return String(err);
}
