/**
 * The resident memory of the workerd process(es) under a `wrangler dev` (Linux /proc), sampled
 * while a request runs: how much one upload raises the worker's peak above idle. workerd runs the
 * local R2 and D1 simulators too, so the figure is an upper bound on what the isolate itself holds.
 */
import { readdirSync, readFileSync } from 'node:fs';

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

/** VmRSS in bytes, summed over the processes. */
export function rssBytes(pids: number[]): number {
  let sum = 0;
  for (const pid of pids) {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
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
