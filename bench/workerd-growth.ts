/**
 * `npm run bench -- workerd-growth [--routes drain,r2,r2-tap] [--mib 95]`: whether the workerd
 * process's growth on a first large upload belongs to the Worker's isolate. A trivial Worker
 * (bench/workerd-growth/) takes the same body twice per route, each route in a fresh `wrangler dev`:
 * read and dropped (no R2), handed to R2 untouched, or passed through a SHA-256 tap to R2 as the
 * API does. Printed for each request: the isolate's live memory above idle (collected before each
 * reading, scripts/lib/isolate-heap.ts) beside workerd's RSS above idle.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { IsolateHeap } from '../scripts/lib/isolate-heap';
import { freePort, repoRoot, startWorker } from '../scripts/lib/stack';
import { MiB, measure, workerdPids } from '../scripts/lib/workerd-memory';

const ROUTES = ['drain', 'r2', 'r2-tap'];

export async function run(): Promise<void> {
  const args = process.argv.slice(2);
  const flag = (name: string) => {
    const i = args.indexOf(name);
    return i >= 0 ? args[i + 1] : undefined;
  };
  const routes = (flag('--routes') ?? ROUTES.join(',')).split(',');
  const bad = routes.filter((r) => !ROUTES.includes(r));
  if (bad.length) throw new Error(`unknown route(s) ${bad.join(', ')}; known: ${ROUTES.join(', ')}`);
  const size = Number(flag('--mib') ?? 95) * MiB;
  const body = new Uint8Array(size).fill(7);
  const f = (b: number) => `${b >= 0 ? '+' : ''}${(b / MiB).toFixed(1)}`;
  console.log(`body: ${(size / MiB).toFixed(0)} MiB, twice per route, each route in a fresh workerd`);
  for (const route of routes) {
    const tmp = await mkdtemp(path.join(os.tmpdir(), 'workerd-growth-'));
    const worker = await startWorker({
      port: await freePort(),
      persistTo: path.join(tmp, 'state'),
      config: path.join(repoRoot, 'bench/workerd-growth/wrangler.toml'),
      workerdV8Flags: ['--expose-gc'],
    });
    const heap = await IsolateHeap.connect(worker.inspectorPort);
    try {
      const pids = workerdPids(worker.child.pid!);
      for (const which of ['first', 'second']) {
        const m = await measure(
          pids,
          heap,
          async () => {
            const res = await fetch(`${worker.url}/${route}`, { method: 'POST', body });
            if (!res.ok) throw new Error(`${route}: HTTP ${res.status} ${await res.text()}`);
            return res.text();
          },
          { live: true },
        );
        console.log(
          `${route.padEnd(7)} ${which.padEnd(6)} isolate live ${f(m.isolate.live!.above)} MiB, workerd RSS ${f(m.rss.above)} MiB above idle (${(m.rss.idle / MiB).toFixed(0)} MiB)`,
        );
      }
    } finally {
      heap.close();
      await worker.stop();
      await rm(tmp, { recursive: true, force: true });
    }
  }
}
