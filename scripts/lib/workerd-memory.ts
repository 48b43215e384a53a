/**
 * The resident memory of the workerd process(es) under a `wrangler dev` (Linux /proc), sampled
 * while a request runs: how much one upload raises the worker's peak above idle. workerd runs the
 * local R2 and D1 simulators too, so the figure is an upper bound on what the isolate itself holds.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { type HeapUsage, type IsolateHeap, isolateBytes, usedBytes } from './isolate-heap';

function children(): Map<number, number[]> {
  const kids = new Map<number, number[]>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      // stat: "pid (comm) state ppid …"; comm may hold spaces, so split after its closing paren
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      kids.set(ppid, [...(kids.get(ppid) ?? []), Number(name)]);
    } catch {
      // exited meanwhile
    }
  }
  return kids;
}

/** The workerd processes below `root` (wrangler's pid). */
export function workerdPids(root: number): number[] {
  const kids = children();
  const out: number[] = [];
  const walk = (pid: number) => {
    for (const k of kids.get(pid) ?? []) {
      try {
        if (readFileSync(`/proc/${k}/comm`, 'utf8').trim() === 'workerd') out.push(k);
      } catch {
        // exited
      }
      walk(k);
    }
  };
  walk(root);
  return out;
}

/** VmRSS in bytes, summed over the processes (one that has exited counts 0: a crashed workerd is told apart by its caller). */
export function rssBytes(pids: number[]): number {
  let sum = 0;
  for (const pid of pids) {
    let status: string;
    try {
      status = readFileSync(`/proc/${pid}/status`, 'utf8');
    } catch {
      continue;
    }
    const m = /VmRSS:\s+(\d+) kB/.exec(status);
    if (m) sum += Number(m[1]) * 1024;
  }
  return sum;
}

/**
 * Runs `fn` while sampling the RSS every `everyMs`; answers the peak above the RSS just before it.
 * (VmHWM would give the true peak, but it cannot be reset between uploads; 10 ms sampling of a
 * transfer that takes seconds misses little.)
 */
export async function peakAbove<T>(pids: number[], fn: () => Promise<T>, everyMs = 10): Promise<{ result: T; idle: number; peak: number; above: number }> {
  // let the allocator settle after the previous request
  await new Promise((r) => setTimeout(r, 300));
  const idle = rssBytes(pids);
  let peak = idle;
  const timer = setInterval(() => {
    peak = Math.max(peak, rssBytes(pids));
  }, everyMs);
  try {
    const result = await fn();
    peak = Math.max(peak, rssBytes(pids));
    return { result, idle, peak, above: peak - idle };
  } finally {
    clearInterval(timer);
  }
}

export const MiB = 1024 * 1024;

export interface Peak {
  /** the sample at the peak */
  peak: HeapUsage;
  /** the peak above idle */
  above: number;
}

export interface Measured<T> {
  result: T;
  /** workerd's resident memory, summed over its processes, and per process */
  rss: { idle: number; peak: number; above: number; byPid: { pid: number; idle: number; peak: number }[] };
  /** the Worker isolate (isolate-heap.ts); `idle` is read after two collections */
  isolate: {
    idle: HeapUsage;
    /** usedBytes right after a collection: what the upload holds (only with `live`) */
    live?: Peak;
    /**
     * isolateBytes before the collection: the committed heap, which does not shrink without one, so
     * it keeps the high-water mark of work the sampler cannot interrupt (one long synchronous parse)
     */
    footprint: Peak;
    samples: number;
    /** why sampling stopped early (the devtools socket went away: workerd crashed or restarted) */
    error?: Error;
  };
}

/**
 * Runs `fn` while sampling both the workerd processes' RSS (every `everyMs`) and the isolate's heap
 * (as fast as the devtools socket answers: between the tasks the isolate runs, not within one).
 * With `live`, each heap sample is followed by two collections and a second reading (IsolateHeap.collect).
 */
export async function measure<T>(pids: number[], heap: IsolateHeap, fn: () => Promise<T>, o: { live?: boolean; everyMs?: number } = {}): Promise<Measured<T>> {
  const everyMs = o.everyMs ?? 10;
  await new Promise((r) => setTimeout(r, 300));
  const one = (pid: number) => rssBytes([pid]);
  const byPid = pids.map((pid) => ({ pid, idle: one(pid), peak: one(pid) }));
  const rss = { idle: rssBytes(pids), peak: rssBytes(pids) };
  const sampleRss = () => {
    let sum = 0;
    for (const p of byPid) {
      const v = one(p.pid);
      p.peak = Math.max(p.peak, v);
      sum += v;
    }
    rss.peak = Math.max(rss.peak, sum);
  };
  if (o.live) {
    // a second collection finishes the first one's sweep of ArrayBuffers, which would else still count
    await heap.collect();
    await heap.collect();
  }
  const idle = await heap.usage();
  let footprint = idle;
  let live = idle;
  let samples = 0;
  const sample = async () => {
    const u = await heap.usage();
    if (isolateBytes(u) > isolateBytes(footprint)) footprint = u;
    if (o.live) {
      // Two, as for idle: objects a collection found dead still count until its sweep is done (with a
      // plain gc(), +32 MiB "live" once where a second collection in the same pause found +0.1).
      await heap.collect();
      await heap.collect();
      const l = await heap.usage();
      if (usedBytes(l) > usedBytes(live)) live = l;
    }
    samples++;
  };
  let running = true;
  let error: Error | undefined;
  const sampleHeap = (async () => {
    while (running) {
      await sample();
      await new Promise((r) => setTimeout(r, everyMs));
    }
  })().catch((e: unknown) => {
    error = e as Error;
  });
  const timer = setInterval(sampleRss, everyMs);
  let result: T;
  try {
    result = await fn();
    sampleRss();
  } finally {
    clearInterval(timer);
    running = false;
    await sampleHeap;
  }
  // once more after the answer: the committed heap still shows a peak in the last synchronous stretch
  if (!error) await sample().catch((e: unknown) => (error = e as Error));
  return {
    result,
    rss: { ...rss, above: rss.peak - rss.idle, byPid },
    isolate: {
      idle,
      live: o.live ? { peak: live, above: usedBytes(live) - usedBytes(idle) } : undefined,
      footprint: { peak: footprint, above: isolateBytes(footprint) - isolateBytes(idle) },
      samples,
      error,
    },
  };
}
