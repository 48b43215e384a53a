/**
 * `npm run demo`: the paper's experiment in miniature on the embedded demo model. Uploads the model,
 * the calibration corpora and the suites, runs one sweep — dense evaluation and, per language pair,
 * Wanda calibrated on translation demonstrations, Wanda on monolingual text, plus magnitude and
 * random pruning, all at 50%, and an analysis comparing the Wanda masks of every pair — watches it,
 * and prints the leaderboards and the pair-by-pair mask overlap matrix.
 *
 *   npm run demo -- [--url URL --token TOKEN] [--pairs fr-en,de-en,es-en,ru-en] [--samples N]
 *                   [--skip-mt] [--mt-rows 16] [--suite-rows 48] [--port 8787] [--model-dir demo/model]
 *                   [--persist-to DIR] [--exit]
 * Translation suites are cut to --mt-rows rows (the first 4 are the demonstrations): greedy decoding
 * on the CPU dominates the run time, and 12 sentences per language already rank the variants.
 * Without --url it uses a stack on 127.0.0.1:8787 when one answers, else starts one; that one stays
 * up after the tables (for the page) in a terminal until Ctrl-C, and stops at once with --exit or
 * without a TTY.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { PolypruneApi, type PruneJobBody } from '@polyprune/cli/api';
import { label as jobLabel, overallLine } from '@polyprune/cli/commands/jobs';
import { methodVerdict, renderAnalysis, renderLeaderboard } from '@polyprune/cli/table';
import type { AnalysisSummary } from '@polyprune/shared/api/analysis';
import { ensureDevVars, repoRoot, startStack, type Stack } from './lib/stack';

const { values: args } = parseArgs({
  options: {
    url: { type: 'string' },
    token: { type: 'string' },
    port: { type: 'string', default: '8787' },
    pairs: { type: 'string', default: 'fr-en,de-en,es-en,ru-en' },
    samples: { type: 'string', default: '32' },
    shots: { type: 'string', default: '4' },
    'max-length': { type: 'string', default: '128' },
    'suite-rows': { type: 'string', default: '48' },
    sparsity: { type: 'string', default: '0.5' },
    mode: { type: 'string', default: 'sequential' },
    'skip-mt': { type: 'boolean', default: false },
    'mt-rows': { type: 'string', default: '16' },
    runners: { type: 'string', default: '1' },
    'model-dir': { type: 'string' },
    exit: { type: 'boolean', default: false },
    'persist-to': { type: 'string' },
  },
});

const started = Date.now();
const say = (s: string) => console.log(`[demo ${((Date.now() - started) / 1000).toFixed(0).padStart(4)}s] ${s}`);
const modelDir = path.resolve(args['model-dir'] ?? path.join(repoRoot, 'demo/model'));
const dataDir = path.join(repoRoot, 'demo/data');
const pairs = args
  .pairs!.split(',')
  .map((p) => p.trim())
  .filter(Boolean);
const langs = ['en', ...pairs.map((p) => p.split('-')[0]!)];

function lines(file: string, n: number): Uint8Array {
  const all = readFileSync(path.join(dataDir, file), 'utf8')
    .split('\n')
    .filter((l) => l.trim());
  return new TextEncoder().encode(`${all.slice(0, n).join('\n')}\n`);
}

say(`node ${process.version}`);

async function connect(): Promise<{ api: PolypruneApi; stack?: Stack }> {
  if (args.url) {
    if (!args.token) throw new Error('--url needs --token (a token with write scope)');
    return { api: new PolypruneApi({ baseUrl: args.url, token: args.token }) };
  }
  const url = `http://127.0.0.1:${args.port}`;
  const { adminToken } = await ensureDevVars();
  const api = new PolypruneApi({ baseUrl: url, token: args.token ?? adminToken, retry: { retries: 0 } });
  if (
    await api.health().then(
      () => true,
      () => false,
    )
  ) {
    say(`using the stack at ${url}`);
    return { api: new PolypruneApi({ baseUrl: url, token: args.token ?? adminToken }) };
  }
  say(`no stack at ${url}: starting one (wrangler dev + ${args.runners} CPU runner)…`);
  const stack = await startStack({ port: Number(args.port), runners: Number(args.runners), persistTo: args['persist-to'] });
  say(`stack up: API on port ${stack.ports.api}, wrangler inspector on ${stack.ports.inspector}`);
  return { api: new PolypruneApi({ baseUrl: stack.url, token: stack.adminToken }), stack };
}

async function upload(api: PolypruneApi) {
  if (!existsSync(path.join(modelDir, 'model.onnx'))) throw new Error(`the demo model is missing: ${modelDir}/model.onnx (see scripts/demo-model/README.md)`);
  const config = JSON.parse(readFileSync(path.join(modelDir, 'config.json'), 'utf8')) as { model_type?: string };
  const family = (['xglm', 'bloom', 'gpt2', 'llama'] as const).find((f) => f === config.model_type) ?? 'other';
  const model = await api.createModel({ name: 'polyprune demo', family, visibility: 'public', license: 'MIT' });
  for (const f of ['model.onnx', 'model.onnx.data', 'tokenizer.json', 'tokenizer_config.json', 'config.json']) {
    if (existsSync(path.join(modelDir, f))) await api.uploadModelFile(model.id, path.join(modelDir, f));
  }
  say(`model ${model.id} uploaded (${family})`);
  const corpora: { corpusId: string }[] = [];
  for (const p of pairs) {
    const [src, tgt] = p.split('-') as [string, string];
    const c = await api.uploadCorpus(lines(`corpus.${p}.tsv`, Infinity), { src, tgt, format: 'tsv', name: `demo ${p}`, visibility: 'public' });
    corpora.push({ corpusId: c.id });
  }
  const rows = Number(args['suite-rows']);
  const suites: string[] = [];
  for (const l of langs) {
    suites.push((await api.uploadSuite(lines(`suite.mc.${l}.jsonl`, rows), { format: 'mc', lang: l, name: `demo mc ${l}`, visibility: 'public' })).id);
    suites.push((await api.uploadSuite(lines(`mono.${l}.txt`, rows), { format: 'ppl', lang: l, name: `demo ppl ${l}`, visibility: 'public' })).id);
  }
  if (!args['skip-mt']) {
    for (const p of pairs)
      suites.push(
        (
          await api.uploadSuite(lines(`suite.mt.${p}.jsonl`, Number(args['mt-rows'])), {
            format: 'mt',
            lang: p.split('-')[0]!,
            name: `demo mt ${p}`,
            visibility: 'public',
          })
        ).id,
      );
  }
  say(`${corpora.length} corpora and ${suites.length} suites uploaded`);
  return { modelId: model.id, corpora, suites };
}

async function watch(api: PolypruneApi, sweepId: string, total: number) {
  const seen = new Map<string, string>();
  let overall = '';
  const width = 24;
  for (;;) {
    const jobs = (await api.listJobs({ sweep: sweepId, limit: 200 })).items;
    if (overallLine(jobs) !== overall) {
      overall = overallLine(jobs);
      say(overall);
    }
    for (const j of jobs) {
      const p = j.progress ? ` ${j.progress.stage} ${j.progress.total > 1 ? `${j.progress.done}/${j.progress.total}` : ''}`.trimEnd() : '';
      const line = `${j.status}${j.status === 'running' ? p : ''}`;
      if (seen.get(j.id) !== line && (j.status !== 'running' || seen.get(j.id)?.split(' ')[1] !== j.progress?.stage)) {
        say(`${j.id} ${jobLabel(j).padEnd(width)} ${line}${j.error && j.status !== 'succeeded' ? ` — ${j.error}` : ''}`);
      }
      seen.set(j.id, line);
    }
    const done = jobs.filter((j) => ['succeeded', 'failed', 'canceled'].includes(j.status));
    if (done.length === total) return jobs;
    await new Promise((r) => setTimeout(r, 1000));
  }
}

async function main() {
  const { api, stack } = await connect();
  let sweepJobs: string[] = [];
  const stop = async () => {
    // An interrupted demo must not leave its jobs queued for the next run of the stack.
    for (const id of sweepJobs) await api.cancelJob(id).catch(() => undefined);
    if (stack) {
      say('stopping the stack this demo started…');
      await stack.stop();
    }
  };
  process.once('SIGINT', () => void stop().then(() => process.exit(130)));
  try {
    const seeded = await upload(api);
    const sweep = await api.createSweep({
      modelId: seeded.modelId,
      pairs: seeded.corpora,
      sparsities: [Number(args.sparsity)],
      methods: [{ method: 'wanda', dataType: 'mt' }, { method: 'wanda', dataType: 'mono' }, { method: 'magnitude' }, { method: 'random' }],
      base: {
        suites: seeded.suites,
        // the API validates it (a 400 names a wrong --mode)
        mode: args.mode as PruneJobBody['mode'],
        visibility: 'public',
        calibration: { samples: Number(args.samples), shots: Number(args.shots), maxLength: Number(args['max-length']) },
      },
      includeDense: true,
      // One analyze job compares the Wanda masks (mt and mono, every pair) once they are all done.
      analyze: true,
    });
    say(`sweep ${sweep.sweepId}: ${sweep.jobs.length} jobs queued`);
    sweepJobs = sweep.jobs.map((j) => j.id);
    const jobs = await watch(api, sweep.sweepId, sweep.jobs.length);
    const failed = jobs.filter((j) => j.status !== 'succeeded');
    sweepJobs = [];
    const formats = ['mc', 'ppl', ...(args['skip-mt'] ? [] : ['mt'])];
    // Each format's own metric (acc, ppl, chrf) is the server's default.
    for (const format of formats) {
      const board = await api.leaderboard({ model: seeded.modelId, format });
      console.log(`\n${renderLeaderboard(board)}`);
    }
    // What the data does and does not show, one line per format, so that noise is not read as a result.
    console.log('\nmethods compared on the same (pair, sparsity, suite) cells:');
    for (const format of formats) console.log(`  ${methodVerdict(await api.methodSummary({ model: seeded.modelId, format }))}`);
    const analysisJob = jobs.find((j) => j.kind === 'analyze');
    if (analysisJob?.runId) {
      const run = await api.getRun(analysisJob.runId);
      console.log(`\n${renderAnalysis(run.extra.analysis as AnalysisSummary)}`);
      console.log(`\nAnalysis page: ${api.pageUrl('runs', run.id)}`);
    }
    console.log(`\nLeaderboard page: ${api.leaderboardPageUrl(seeded.modelId)}`);
    console.log(`Sweep page: ${api.pageUrl('sweeps', sweep.sweepId)}`);
    say(`finished in ${((Date.now() - started) / 1000).toFixed(0)} s${failed.length ? `; ${failed.length} job(s) did not succeed` : ''}`);
    // A stack this demo started stays up in a terminal so that the page can be opened; scripts
    // (no TTY) and --exit get their prompt back.
    if (stack && process.stdout.isTTY && !args.exit) {
      say('the stack stays up for the page above; Ctrl-C stops it');
      process.once('SIGTERM', () => void stop().then(() => process.exit(0)));
      return;
    }
    await stop();
    process.exit(failed.length ? 1 : 0);
  } catch (err) {
    console.error(`[demo] ${(err as Error).message}`);
    await stop();
    process.exit(1);
  }
}

await main();
