/**
 * `npm run bench -- board-scale`: the boards and the run list at the size of a public service. D1 of
 * a local stack (wrangler dev) is seeded directly — `wrangler d1 execute --local` with a generated
 * SQL file — with 500 models × 200 score rows (10 runs × 5 suites × 4 metrics: 100,000 rows, 5,000
 * runs; one model in ten private), then each route is asked 200 times, one request at a time, and
 * p50/p99 printed: the board across models, one model's board (the same model: answered from the
 * isolate's cache; and 200 different models: each built from D1), the run list, the model list.
 * `--models N` changes the number of models (200 rows each).
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { applyMigrations, createToken, freePort, newAdminToken, repoRoot, runCommand, startStack, wranglerEnv } from '../scripts/lib/stack';

const arg = (name: string, dflt: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : dflt;
};

const RUNS_PER_MODEL = 10;
const LANGS = ['en', 'fr', 'de', 'sw', 'zh'];
const METRICS = ['acc', 'acc_lo', 'acc_hi', 'acc_delta_p'];
const q = (s: string | null) => (s === null ? 'NULL' : `'${s.replace(/'/g, "''")}'`);
const pad = (n: number) => n.toString(36).padStart(6, '0');

/** The seed as SQL: models, suites, runs and scores in multi-row INSERTs (the score triggers fire per row). */
export function seedSql(nModels: number): string {
  const out: string[] = [];
  const now = '2026-01-01T00:00:00.000Z';
  const suiteIds = LANGS.map((l) => `ste_bench${l}`);
  out.push(
    `INSERT INTO suites (id, owner, name, format, lang, task, visibility, sha256, size, r2_key, stats, created_at) VALUES ${LANGS.map(
      (l, i) => `(${q(suiteIds[i]!)}, 'bench-0', 'xnli-${l}', 'xnli', '${l}', 'xnli', 'public', '${'0'.repeat(64)}', 0, 'none', '{}', '${now}')`,
    ).join(', ')};`,
  );
  const variants = [
    { variant: 'dense', method: 'dense', sparsity: null as number | null },
    ...['wanda', 'magnitude', 'random'].flatMap((m) => [0.3, 0.5, 0.7].map((s) => ({ variant: `${m} ${s * 100}%`, method: m, sparsity: s }))),
  ];
  for (let m = 0; m < nModels; m++) {
    const model = `mdl_bench${pad(m)}`;
    const owner = `bench-${m % 10}`;
    const visibility = m % 10 === 0 ? 'private' : 'public';
    out.push(
      `INSERT INTO models (id, owner, name, family, license, visibility, graph, created_at) VALUES (${q(model)}, ${q(owner)}, 'bench-lm-${m}', 'xglm', NULL, ${q(visibility)}, NULL, '${now}');`,
    );
    const runRows: string[] = [];
    const scoreRows: string[] = [];
    for (const [r, v] of variants.slice(0, RUNS_PER_MODEL).entries()) {
      const run = `run_bench${pad(m * RUNS_PER_MODEL + r)}`;
      const kind = v.sparsity === null ? 'evaluate' : 'prune';
      runRows.push(
        `(${q(run)}, ${q(`job_${run}`)}, ${q(owner)}, '${kind}', ${q(visibility)}, ${q(model)}, NULL, NULL, ${q(v.variant)}, '{}', '0.1.0', ${v.sparsity ?? 'NULL'}, '[]', '[]', '{}', '{}', '${now}')`,
      );
      for (const [s, suite] of suiteIds.entries()) {
        const acc = 0.7 - (v.sparsity ?? 0) * 0.4 - s * 0.02 + ((m * 7 + r) % 13) / 1000;
        const values = [acc, acc - 0.05, acc + 0.05, 0.01];
        for (const [k, metric] of METRICS.entries())
          scoreRows.push(
            `(${q(run)}, ${q(model)}, ${q(visibility)}, ${q(owner)}, ${q(v.variant)}, ${q(v.method)}, ${v.sparsity ?? 'NULL'}, NULL, NULL, ${q(suite)}, 'xnli', '${LANGS[s]}', 'paper', '${metric}', ${values[k]!.toFixed(4)}, 500)`,
          );
      }
    }
    out.push(
      `INSERT INTO runs (id, job_id, owner, kind, visibility, model_id, model_sha256, corpus_sha256, variant, config, code_version, overall_sparsity, layers, artifacts, timings, extra, created_at) VALUES ${runRows.join(', ')};`,
    );
    out.push(
      `INSERT INTO scores (run_id, model_id, visibility, owner, variant, method, sparsity, pattern, calibration, suite_id, format, lang, scoring, metric, value, n) VALUES ${scoreRows.join(', ')};`,
    );
  }
  return `${out.join('\n')}\n`;
}

async function time(base: string, token: string, paths: string[]) {
  const ms: number[] = [];
  let bytes = 0;
  let encoding = 'identity';
  for (const p of paths) {
    const t0 = performance.now();
    const res = await fetch(base + p, { headers: { authorization: `Bearer ${token}` } });
    const body = await res.arrayBuffer();
    ms.push(performance.now() - t0);
    if (res.status !== 200) throw new Error(`${p}: ${res.status} ${new TextDecoder().decode(body).slice(0, 300)}`);
    bytes = body.byteLength;
    encoding = res.headers.get('content-encoding') ?? 'identity';
  }
  const first = ms[0]!;
  const s = [...ms].sort((a, b) => a - b);
  const at = (f: number) => s[Math.min(s.length - 1, Math.ceil(s.length * f) - 1)]!;
  return { first, p50: at(0.5), p99: at(0.99), max: s[s.length - 1]!, bytes, encoding };
}

export async function run() {
  const nModels = arg('models', 500);
  const tmp = await mkdtemp(path.join(os.tmpdir(), 'polyprune-bench-board-'));
  const persistTo = path.join(tmp, 'state');
  const adminToken = newAdminToken();
  try {
    let t0 = performance.now();
    await applyMigrations(persistTo);
    const file = path.join(tmp, 'seed.sql');
    await writeFile(file, seedSql(nModels));
    await runCommand(
      path.join(repoRoot, 'node_modules/.bin/wrangler'),
      ['d1', 'execute', 'DB', '--local', '--persist-to', persistTo, '--file', file, '--yes'],
      {
        env: { ...wranglerEnv(), CI: 'true' },
        timeoutMs: 600_000,
      },
    );
    console.log(
      `seeded ${nModels} models, ${nModels * RUNS_PER_MODEL} runs, ${nModels * RUNS_PER_MODEL * LANGS.length * METRICS.length} score rows in ${((performance.now() - t0) / 1000).toFixed(1)} s`,
    );
    t0 = performance.now();
    const stack = await startStack({ port: await freePort(), persistTo, adminToken, runners: 0, vars: { RATE_LIMIT_PER_MINUTE: '10000000' } });
    try {
      const base = stack.url;
      // A reader of one owner: public rows and its own private ones (a class of its own in the cache).
      const token = await createToken(base, adminToken, { owner: 'bench-0', name: 'bench', scopes: ['read'], rateLimitPerMinute: 100_000 });
      const N = 200;
      const model = (i: number) => `mdl_bench${pad((i * 37 + 1) % nModels)}`;
      const loads: [string, string[]][] = [
        ['board across models (?format=xnli)', Array.from({ length: N }, () => '/v1/leaderboards?format=xnli')],
        ['one model’s board, same model', Array.from({ length: N }, () => `/v1/leaderboards?model=${model(0)}&format=xnli`)],
        ['one model’s board, 200 models (built)', Array.from({ length: N }, (_, i) => `/v1/leaderboards?model=${model(i)}&format=xnli`)],
        ['run list (?limit=50)', Array.from({ length: N }, () => '/v1/runs?limit=50')],
        ['run list of a model', Array.from({ length: N }, (_, i) => `/v1/runs?model=${model(i)}`)],
        ['model list (?limit=50)', Array.from({ length: N }, () => '/v1/models?limit=50')],
      ];
      console.log(`${N} requests per route, one at a time, token of owner bench-0 (read), load average ${os.loadavg()[0]!.toFixed(2)} at the start`);
      for (const [name, paths] of loads) {
        const r = await time(base, token, paths);
        console.log(
          `${name.padEnd(40)} first ${r.first.toFixed(0).padStart(5)} ms  p50 ${r.p50.toFixed(1).padStart(6)} ms  p99 ${r.p99.toFixed(1).padStart(6)} ms  max ${r.max.toFixed(0).padStart(5)} ms  ${(r.bytes / 1024).toFixed(0).padStart(6)} KiB (sent ${r.encoding})  (load ${os.loadavg()[0]!.toFixed(2)})`,
        );
      }
    } finally {
      await stack.stop();
    }
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}
