/**
 * What the scale benchmark measures about other processes, read from /proc (Linux): the peak
 * resident set of a process group (VmHWM, resettable through clear_refs) and the bytes a folder
 * holds on disk (hard links counted once: the runner cache links files into job folders).
 */
import { lstatSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';

function groupPids(pgid: number): number[] {
  const out: number[] = [];
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      // stat: "pid (comm) state ppid pgrp …"; comm may hold spaces, so split after the last ')'.
      const stat = readFileSync(`/proc/${e}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(fields[2]) === pgid) out.push(Number(e));
    } catch {
      // the process ended meanwhile
    }
  }
  return out;
}

function largestStatus(pgid: number, field: 'VmHWM' | 'VmRSS'): number {
  let max = 0;
  const re = new RegExp(`${field}:\\s+(\\d+) kB`);
  for (const pid of groupPids(pgid)) {
    try {
      const m = re.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
      if (m) max = Math.max(max, Number(m[1]) * 1024);
    } catch {
      // gone
    }
  }
  return max;
}

/** Largest VmHWM (peak RSS) among the group's processes, in bytes. */
export function groupPeakRss(pgid: number): number {
  return largestStatus(pgid, 'VmHWM');
}

/** Largest current VmRSS among the group's processes, in bytes (sampled: short peaks can be missed). */
export function groupRss(pgid: number): number {
  return largestStatus(pgid, 'VmRSS');
}

/** Resets the peak RSS of every process in the group ("5" > clear_refs, Linux ≥ 4.0). */
export function resetGroupPeakRss(pgid: number): void {
  for (const pid of groupPids(pgid)) {
    try {
      writeFileSync(`/proc/${pid}/clear_refs`, '5');
    } catch {
      // not permitted or gone: the peak then covers the process's lifetime
    }
  }
}

export function treeBytes(dir: string, seen = new Set<string>()): number {
  let total = 0;
  let entries: string[];
  try {
    entries = readdirSync(dir);
  } catch {
    return 0;
  }
  for (const e of entries) {
    const p = path.join(dir, e);
    try {
      const st = lstatSync(p);
      if (st.isDirectory()) total += treeBytes(p, seen);
      else if (st.isFile()) {
        const key = `${st.dev}:${st.ino}`;
        if (!seen.has(key)) {
          seen.add(key);
          total += st.size;
        }
      }
    } catch {
      // removed while walking
    }
  }
  return total;
}
