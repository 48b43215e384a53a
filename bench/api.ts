/**
 * `npm run bench -- api`: bounded loopback load on a local stack (wrangler dev, no runner) — 50
 * connections, 10 s per route in all — on a bare route, a model list, a leaderboard query (over
 * seeded runs and scores) and corpus uploads: the same file each time (stored before, the re-upload
 * path) and a new file each time. The routes take turns in short windows (A B C D E A B C D E …) and
 * each ratio to the bare route is the median over rounds, with its spread, so that a
 * busy machine slows every route alike instead of whichever ran while it was busy.
 * `--seconds N`, `--rounds N` and `--connections N` change the load.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { createToken, repoRoot } from '../scripts/lib/stack';
import { withApiStack } from './api-stack';

const arg = (name: string, dflt: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : dflt;
};

interface Load {
  name: string;
  path: string;
  method?: string;
  /** a function: a new body for each request */
  body?: string | (() => string);
}

async function hammer(base: string, token: string, l: Load, seconds: number, connections: number) {
  const latencies: number[] = [];
  let errors = 0;
  const end = performance.now() + seconds * 1000;
  const one = async () => {
    while (performance.now() < end) {
      const t0 = performance.now();
      const res = await fetch(base + l.path, {
        method: l.method ?? 'GET',
        headers: { authorization: `Bearer ${token}` },
        body: typeof l.body === 'function' ? l.body() : l.body,
      });
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

type Api = (p: string, init?: RequestInit) => Promise<{ status: number; body: any }>;

/**
 * A leaderboard worth querying: a real (tiny) model, four suites, a dense run and twelve pruned
 * runs, each with scores on every suite — completed through the runner protocol like real jobs.
 */
async function seedLeaderboard(api: Api, runnerApi: Api): Promise<string> {
  const dir = path.join(repoRoot, 'test/fixtures/models/gpt2');
  const model = (await api('/v1/models', { method: 'POST', body: JSON.stringify({ name: 'bench-board', family: 'gpt2', visibility: 'public' }) })).body.id;
  for (const f of ['model.onnx', 'tokenizer.json', 'config.json'])
    await api(`/v1/models/${model}/files/${f}`, {
      method: 'PUT',
      body: await readFile(path.join(dir, f)),
      headers: { 'content-type': 'application/octet-stream' },
    });
  const langs = ['en', 'fr', 'de', 'sw'];
  const suites: string[] = [];
  for (const lang of langs) {
    const rows = Array.from({ length: 50 }, (_, i) => JSON.stringify({ premise: `p${i} ${lang}`, hypothesis: `h${i}`, label: i % 3 })).join('\n');
    suites.push((await api(`/v1/suites?format=xnli&lang=${lang}&visibility=public`, { method: 'POST', body: rows })).body.id);
  }
  const specs = [
    { kind: 'evaluate', modelId: model, suites },
    ...[0.2, 0.3, 0.4, 0.5, 0.6, 0.7].flatMap((sparsity) =>
      ['magnitude', 'random'].map((method) => ({ kind: 'prune', modelId: model, method, sparsity, suites })),
    ),
  ];
  for (const [k, spec] of specs.entries()) {
    const job = (await api('/v1/jobs', { method: 'POST', body: JSON.stringify(spec) })).body;
    const lease = (await runnerApi('/v1/runner/lease', { method: 'POST', body: JSON.stringify({ runnerId: 'bench' }) })).body;
    if (lease?.job?.id !== job.id) throw new Error(`bench seeding: expected to lease ${job.id}`);
    const scores = suites.map((suiteId, i) => ({
      suiteId,
      format: 'xnli',
      lang: langs[i],
      scoring: 'paper',
      metric: 'acc',
      value: 0.6 - k * 0.01 - i * 0.02,
      n: 50,
    }));
    const done = await runnerApi(`/v1/runner/jobs/${job.id}/complete`, {
      method: 'POST',
      body: JSON.stringify({ leaseToken: lease.leaseToken, result: { scores, ...('sparsity' in spec ? { overallSparsity: spec.sparsity } : {}) } }),
    });
    if (done.status !== 200) throw new Error(`bench seeding: complete ${job.id}: ${JSON.stringify(done.body)}`);
  }
  return model;
}

export async function run() {
  const seconds = arg('seconds', 10);
  const rounds = arg('rounds', 5);
  const connections = arg('connections', 50);
  return withApiStack('api', async ({ base, adminToken }) => {
    // A client's token (looked up in D1 like any caller's), not the admin secret.
    const token = await createToken(base, adminToken, { owner: 'bench', name: 'bench', scopes: ['write'], rateLimitPerMinute: 100_000 });
    const runnerToken = await createToken(base, adminToken, { owner: 'bench-runner', name: 'bench-runner', scopes: ['runner'], rateLimitPerMinute: 100_000 });
    const client =
      (t: string): Api =>
      async (p, init = {}) => {
        const r = await fetch(base + p, { ...init, headers: { authorization: `Bearer ${t}`, 'content-type': 'application/json', ...init.headers } });
        const text = await r.text();
        return { status: r.status, body: text ? JSON.parse(text) : null };
      };
    const api = client(token);
    // 20 models with 3 files each: one page of the list holds all of them.
    let model = '';
    for (let i = 0; i < 20; i++) {
      model = (await api('/v1/models', { method: 'POST', body: JSON.stringify({ name: `bench-${i}`, family: 'xglm', visibility: 'public' }) })).body.id;
      for (const f of ['tokenizer.json', 'config.json', 'notes.txt'])
        await fetch(`${base}/v1/models/${model}/files/${f}`, {
          method: 'PUT',
          headers: { authorization: `Bearer ${token}` },
          body: `{"file":"${f}","i":${i}}`,
        });
    }
    const board = await seedLeaderboard(api, client(runnerToken));
    let fresh = 0;
    const corpus = Array.from({ length: 200 }, (_, i) => `Phrase numéro ${i} pour le banc.\tSentence number ${i} for the bench.`).join('\n');
    const loads: Load[] = [
      { name: 'bare (GET /v1/health)', path: '/v1/health' },
      { name: 'GET /v1/models (20 models)', path: '/v1/models?limit=50' },
      { name: 'GET /v1/leaderboards (13 runs × 4)', path: `/v1/leaderboards?model=${board}&format=xnli` },
      { name: 'POST /v1/corpora (200 pairs, 11 KB)', path: '/v1/corpora?src=fr&tgt=en', method: 'POST', body: corpus },
      // a file no upload sent before: parsed, both objects stored, the row inserted
      {
        name: 'POST /v1/corpora, a new file each time',
        path: '/v1/corpora?src=fr&tgt=en',
        method: 'POST',
        body: () => `${corpus}\nPhrase ${++fresh}.\tSentence ${fresh}.`,
      },
    ];
    const window = seconds / rounds;
    console.log(`${connections} connections, ${seconds} s per route in ${rounds} interleaved windows of ${window.toFixed(1)} s, on ${base}`);
    const results = loads.map(() => [] as Awaited<ReturnType<typeof hammer>>[]);
    for (let r = 0; r < rounds; r++) for (const [i, l] of loads.entries()) results[i]!.push(await hammer(base, token, l, window, connections));
    const median = (xs: number[]) => {
      const s = [...xs].sort((a, b) => a - b);
      return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
    };
    for (const [i, l] of loads.entries()) {
      const rs = results[i]!;
      const ratios = rs.map((x, r) => x.rps / results[0]![r]!.rps);
      const n = rs.reduce((a, x) => a + x.n, 0);
      const errors = rs.reduce((a, x) => a + x.errors, 0);
      const rps = median(rs.map((x) => x.rps)).toFixed(0);
      const p99 = median(rs.map((x) => x.p99)).toFixed(1);
      console.log(
        `${l.name.padEnd(40)} ${rps.padStart(6)} req/s  p99 ${p99.padStart(7)} ms  ` +
          `${median(ratios).toFixed(2)}× bare [${Math.min(...ratios).toFixed(2)}–${Math.max(...ratios).toFixed(2)}]  (${n} requests, ${errors} errors)`,
      );
    }
    console.log('req/s and p99: medians over windows; × bare: median of the per-window ratios [min–max]');
  });
}
