/**
 * `npm run bench -- api`: bounded loopback load on a local stack (wrangler dev, no runner) — 50
 * connections for 10 s per route — on a bare route, a model list, a leaderboard query and a corpus
 * upload. Prints requests/s, p99 and each route's ratio to the bare route measured in the same run.
 * `--seconds N` and `--connections N` change the load.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createToken, freePort, newAdminToken, startStack } from '../scripts/lib/stack';

const arg = (name: string, dflt: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : dflt;
};

interface Load {
  name: string;
  path: string;
  method?: string;
  body?: string;
}

async function hammer(base: string, token: string, l: Load, seconds: number, connections: number) {
  const latencies: number[] = [];
  let errors = 0;
  const end = performance.now() + seconds * 1000;
  const one = async () => {
    while (performance.now() < end) {
      const t0 = performance.now();
      const res = await fetch(base + l.path, { method: l.method ?? 'GET', headers: { authorization: `Bearer ${token}` }, body: l.body });
      await res.arrayBuffer();
      if (res.status >= 400) errors++;
      latencies.push(performance.now() - t0);
    }
  };
  const t0 = performance.now();
  await Promise.all(Array.from({ length: connections }, one));
  const elapsed = (performance.now() - t0) / 1000;
  latencies.sort((a, b) => a - b);
  const p99 = latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * 0.99))] ?? 0;
  return { rps: latencies.length / elapsed, p99, errors, n: latencies.length };
}

export async function run() {
  const seconds = arg('seconds', 10);
  const connections = arg('connections', 50);
  const tmp = await mkdtemp(path.join(os.tmpdir(), 'polyprune-bench-api-'));
  const adminToken = newAdminToken();
  const stack = await startStack({
    port: await freePort(),
    persistTo: path.join(tmp, 'state'),
    adminToken,
    runners: 0,
    vars: { RATE_LIMIT_PER_MINUTE: '10000000' },
  });
  try {
    const base = stack.url;
    // A client's token (looked up in D1 like any caller's), not the admin secret.
    const token = await createToken(base, adminToken, { owner: 'bench', name: 'bench', scopes: ['write'], rateLimitPerMinute: 100_000 });
    const api = (p: string, init: RequestInit = {}) =>
      fetch(base + p, { ...init, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', ...init.headers } }).then((r) => r.json());
    // 20 models with 3 files each: one page of the list holds all of them.
    let model = '';
    for (let i = 0; i < 20; i++) {
      model = (
        (await api('/v1/models', { method: 'POST', body: JSON.stringify({ name: `bench-${i}`, family: 'xglm', visibility: 'public' }) })) as { id: string }
      ).id;
      for (const f of ['tokenizer.json', 'config.json', 'notes.txt'])
        await fetch(`${base}/v1/models/${model}/files/${f}`, {
          method: 'PUT',
          headers: { authorization: `Bearer ${token}` },
          body: `{"file":"${f}","i":${i}}`,
        });
    }
    const corpus = Array.from({ length: 200 }, (_, i) => `Phrase numéro ${i} pour le banc.\tSentence number ${i} for the bench.`).join('\n');
    const loads: Load[] = [
      { name: 'bare (GET /v1/health)', path: '/v1/health' },
      { name: 'GET /v1/models (20 models)', path: '/v1/models?limit=50' },
      { name: 'GET /v1/leaderboards', path: `/v1/leaderboards?model=${model}` },
      { name: 'POST /v1/corpora (200 pairs, 11 KB)', path: '/v1/corpora?src=fr&tgt=en', method: 'POST', body: corpus },
    ];
    console.log(`${connections} connections × ${seconds} s per route on ${base}`);
    let bare = 0;
    for (const l of loads) {
      const r = await hammer(base, token, l, seconds, connections);
      if (!bare) bare = r.rps;
      console.log(
        `${l.name.padEnd(38)} ${r.rps.toFixed(0).padStart(6)} req/s  p99 ${r.p99.toFixed(1).padStart(7)} ms  ${(r.rps / bare).toFixed(2)}× bare  (${r.n} requests, ${r.errors} errors)`,
      );
    }
  } finally {
    await stack.stop();
    await rm(tmp, { recursive: true, force: true });
  }
}
