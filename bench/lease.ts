/**
 * `npm run bench -- lease`: the lease protocol under 50 concurrent runners on a local stack
 * (wrangler dev, local D1), simulated over HTTP with one runner token as real runners share one.
 * Two phases: idle polling (every lease answers 204, as runners waiting for work do), then a deep
 * queue drained by lease → heartbeat → complete cycles. It also checks that no job was handed out
 * twice. `--connections N`, `--seconds N` (per phase), `--jobs N` change the load; under a minute
 * with the defaults.
 */
import { readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createToken, repoRoot } from '../scripts/lib/stack';
import { withApiStack } from './api-stack';

const arg = (name: string, dflt: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : dflt;
};

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(s.length * p))] ?? 0;
};

export async function run() {
  const connections = arg('connections', 50);
  const seconds = arg('seconds', 8);
  const jobCount = arg('jobs', 400);
  return withApiStack('lease', async ({ base, adminToken }) => {
    const writer = await createToken(base, adminToken, { owner: 'bench', scopes: ['write'], rateLimitPerMinute: 100_000 });
    const runner = await createToken(base, adminToken, { owner: 'bench-runner', scopes: ['runner'], rateLimitPerMinute: 100_000 });
    const call = async (token: string, p: string, body?: unknown) => {
      const r = await fetch(base + p, {
        method: body === undefined ? 'GET' : 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      const text = await r.text();
      return { status: r.status, body: (text ? JSON.parse(text) : null) as any };
    };
    const model = (await call(writer, '/v1/models', { name: 'bench-lease', family: 'gpt2' })).body.id as string;
    const fixture = path.join(repoRoot, 'test/fixtures/models/gpt2');
    for (const f of ['model.onnx', 'tokenizer.json', 'config.json'])
      await fetch(`${base}/v1/models/${model}/files/${f}`, {
        method: 'PUT',
        headers: { authorization: `Bearer ${writer}` },
        body: await readFile(path.join(fixture, f)),
      });
    const suiteRes = await fetch(`${base}/v1/suites?format=ppl&lang=en`, {
      method: 'POST',
      headers: { authorization: `Bearer ${writer}` },
      body: 'A sentence.\n',
    });
    const suite = ((await suiteRes.json()) as { id: string }).id;
    const load = os
      .loadavg()
      .map((x) => x.toFixed(1))
      .join(' ');
    console.log(`${connections} runners (one token), ${seconds} s per phase, ${jobCount} jobs; load average before: ${load}; ${os.cpus().length} cores`);

    // Phase 1: an empty queue, every runner polling back to back (a real one waits POLYPRUNE_POLL_SECONDS).
    const idle: number[] = [];
    let idleOther = 0;
    const end1 = performance.now() + seconds * 1000;
    const t1 = performance.now();
    await Promise.all(
      Array.from({ length: connections }, async (_, i) => {
        while (performance.now() < end1) {
          const t0 = performance.now();
          const r = await call(runner, '/v1/runner/lease', { runnerId: `bench-${i}`, device: 'cpu' });
          idle.push(performance.now() - t0);
          if (r.status !== 204) idleOther++;
        }
      }),
    );
    const idleRate = idle.length / ((performance.now() - t1) / 1000);
    console.log(
      `idle polling (204):  ${idleRate.toFixed(0).padStart(5)} lease calls/s  p50 ${pct(idle, 0.5).toFixed(0)} ms  p99 ${pct(idle, 0.99).toFixed(0)} ms  (${idle.length} calls, ${idleOther} not 204)`,
    );

    // Phase 2: a deep queue (evaluate jobs: nothing to compute, the complete call records an empty result).
    for (let k = 0; k < jobCount; k += connections) {
      const made = await Promise.all(
        Array.from({ length: Math.min(connections, jobCount - k) }, () => call(writer, '/v1/jobs', { kind: 'evaluate', modelId: model, suites: [suite] })),
      );
      const bad = made.find((r) => r.status !== 201);
      if (bad) throw new Error(`bench seeding: job creation answered ${bad.status} ${JSON.stringify(bad.body)}`);
    }
    const leases: number[] = [];
    const cycles: number[] = [];
    const seen = new Map<string, number>();
    let errors = 0;
    const end2 = performance.now() + seconds * 1000;
    const t2 = performance.now();
    await Promise.all(
      Array.from({ length: connections }, async (_, i) => {
        while (performance.now() < end2) {
          const c0 = performance.now();
          const l = await call(runner, '/v1/runner/lease', { runnerId: `bench-${i}`, device: 'cpu' });
          leases.push(performance.now() - c0);
          if (l.status === 204) break;
          if (l.status !== 200) {
            errors++;
            continue;
          }
          const id = l.body.job.id as string;
          seen.set(id, (seen.get(id) ?? 0) + 1);
          const hb = await call(runner, `/v1/runner/jobs/${id}/heartbeat`, { leaseToken: l.body.leaseToken, progress: { stage: 'bench', done: 1, total: 1 } });
          const done = await call(runner, `/v1/runner/jobs/${id}/complete`, { leaseToken: l.body.leaseToken, result: {} });
          if (hb.status !== 200 || done.status !== 200) errors++;
          else cycles.push(performance.now() - c0);
        }
      }),
    );
    const elapsed = (performance.now() - t2) / 1000;
    const twice = [...seen.values()].filter((n) => n > 1).length;
    console.log(
      `deep queue:          ${(leases.length / elapsed).toFixed(0).padStart(5)} lease calls/s  p50 ${pct(leases, 0.5).toFixed(0)} ms  p99 ${pct(leases, 0.99).toFixed(0)} ms`,
    );
    console.log(
      `  lease+heartbeat+complete: ${(cycles.length / elapsed).toFixed(1)} jobs/s, cycle p50 ${pct(cycles, 0.5).toFixed(0)} ms p99 ${pct(cycles, 0.99).toFixed(0)} ms; ` +
        `${seen.size} jobs leased, ${twice} leased twice, ${errors} errors`,
    );
    const q = await call(runner, '/v1/runner/queue');
    console.log(
      `queue after: ${JSON.stringify(q.body)}; load average after: ${os
        .loadavg()
        .map((x) => x.toFixed(1))
        .join(' ')}`,
    );
    if (twice) throw new Error(`${twice} jobs were leased more than once`);
  });
}
