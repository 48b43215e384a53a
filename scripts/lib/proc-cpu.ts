/**
 * CPU time of processes (Linux /proc), to say where a transfer's time goes whatever else the
 * machine runs: a busy machine stretches wall time, not the CPU seconds a byte costs.
 */
import { readFileSync } from 'node:fs';

/** USER_HZ, the unit of /proc/<pid>/stat's times: 100 on every Linux this runs on. */
const TICKS_PER_SECOND = 100;

/** User + system CPU seconds the processes (all their threads) have used so far; 0 for one that is gone. */
export function cpuSeconds(pids: number[]): number {
  let ticks = 0;
  for (const pid of pids) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      // Fields after "pid (comm) ": state is 0, utime 11, stime 12 (comm may hold spaces).
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      ticks += Number(f[11]) + Number(f[12]);
    } catch {
      // exited
    }
  }
  return ticks / TICKS_PER_SECOND;
}

/** This process's own CPU seconds (all threads, libuv's file and crypto pool included). */
export const ownCpuSeconds = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
};
