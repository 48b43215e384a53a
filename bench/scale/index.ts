/**
 * `npm run bench -- scale`: full-size decoders (decoder.ts: XGLM-564M, BLOOM-560m, a 1.1 B LLaMA in
 * fp16; random weights, real shapes, optimum layout) through the real path — local stack, CLI
 * multipart upload, runner download with hash check, oneshot and sequential Wanda at 50 %, the
 * pruned model written with external data and uploaded, 30 XNLI-shaped rows evaluated — and, in
 * this process, calibration cost against a plain forward pass over the same tokens.
 *
 * Measured, not estimated: the runner process group's peak RSS (VmHWM, reset before each job), the
 * runner work folder's peak disk use (polled), upload and download MB/s, each job's stage times.
 * Ratios are medians of interleaved repetitions (forward, oneshot, sequential, forward, …) with
 * their range, so one noisy moment on a shared machine does not make the figure.
 *
 * Flags: `--models xglm-564M,llama-1.1B-fp16` (subset), `--reps N` (default 2), `--full` (the
 * paper's 100 × 512 calibration instead of 8 × 128), `--small` (same pipeline on 2-layer models of
 * the same widths and vocabularies: a smoke run in a few minutes), `--layers N` (N-layer versions,
 * between the two), `--cost-only` (only the in-process calibration cost, no stack), `--no-methods`
 * (skip the SparseGPT and Wanda+OWL jobs that follow the Wanda jobs of each model),
 * `--onnxruntime-fp16` (the runner leaves fp16 weights on CPU to onnxruntime, POLYPRUNE_CPU_FP16=0:
 * the jobs as before onnx/cpu-fp16.ts, for comparison), `--modes oneshot,sequential` (which Wanda jobs
 * run), `--memory-limit 3G` (the runner's POLYPRUNE_MEMORY_LIMIT), `--no-cost` (the jobs only). Models are
 * cached in bench/out/scale.
 */
import { existsSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { type CalibrationBody, type CreateJobBody, PolypruneApi } from '@polyprune/cli/api';
import { freePort, newAdminToken, startStack, type Stack } from '../../scripts/lib/stack.js';
import { parameterCount, SCALE_MODELS, writeDecoder, type DecoderSpec } from './decoder.js';
import { describeProfile, measureCalibration, type CalibrationCost } from './calibration-cost.js';
import { groupPeakRss, groupRss, resetGroupPeakRss, treeBytes } from './measure.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const OUT = path.join(ROOT, 'bench/out/scale');
const GiB = 2 ** 30;

function flag(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? (process.argv[i + 1] ?? '') : undefined;
}
const has = (name: string) => process.argv.includes(`--${name}`);

/** tokenizer.json with the model's vocabulary size: the test fixtures' byte-level BPE, padded out. */
export function tokenizerJson(vocab: number): string {
  const t = JSON.parse(readFileSync(path.join(ROOT, 'test/fixtures/models/xglm/tokenizer.json'), 'utf8')) as { model: { vocab: Record<string, number> } };
  const v = t.model.vocab;
  for (let id = Object.keys(v).length; id < vocab; id++) v[`<extra_${id}>`] = id;
  return JSON.stringify(t);
}

export async function ensureModel(spec: DecoderSpec): Promise<{ dir: string; bytes: number; buildSeconds?: number }> {
  const dir = path.join(OUT, spec.name);
  const done = path.join(dir, '.complete');
  if (!existsSync(done) || readFileSync(done, 'utf8') !== JSON.stringify(spec)) {
    await rm(dir, { recursive: true, force: true });
    await mkdir(dir, { recursive: true });
    const t0 = performance.now();
    process.stdout.write(`building ${spec.name} (${(parameterCount(spec) / 1e9).toFixed(2)} B parameters, ${spec.dtype})… `);
    await writeDecoder(spec, dir);
    await writeFile(path.join(dir, 'tokenizer.json'), tokenizerJson(spec.vocab));
    const config = {
      model_type: spec.family,
      vocab_size: spec.vocab,
      hidden_size: spec.hidden,
      num_hidden_layers: spec.layers,
      num_attention_heads: spec.heads,
      num_key_value_heads: spec.kvHeads,
      intermediate_size: spec.ffn,
      max_position_embeddings: 2048,
      bos_token_id: 0,
      pad_token_id: 1,
      eos_token_id: 2,
      torch_dtype: spec.dtype,
    };
    await writeFile(path.join(dir, 'config.json'), JSON.stringify(config, null, 2));
    await writeFile(done, JSON.stringify(spec));
    const buildSeconds = (performance.now() - t0) / 1000;
    console.log(`${buildSeconds.toFixed(0)} s`);
    return { dir, bytes: modelBytes(dir), buildSeconds };
  }
  return { dir, bytes: modelBytes(dir) };
}

function modelBytes(dir: string): number {
  return ['model.onnx', 'model.onnx_data'].reduce((n, f) => n + statSync(path.join(dir, f)).size, 0);
}

/** `n` (default 30) XNLI-shaped rows (premise, hypothesis, label), as JSON lines. */
export function xnliRows(n = 30): string {
  const premises = [
    'The museum is closed on Mondays',
    'She plays the violin in an orchestra',
    'The bridge was built in 1890',
    'Rain fell all night over the village',
    'He bought bread at the market',
  ];
  const hyps = ['It opens every day', 'She is a musician', 'The bridge is new', 'The streets were wet', 'He went shopping'];
  return Array.from({ length: n }, (_, i) => JSON.stringify({ premise: `${premises[i % 5]} (${i}).`, hypothesis: `${hyps[(i * 3) % 5]}.`, label: i % 3 })).join(
    '\n',
  );
}

interface JobFigures {
  mode: string;
  status: string;
  error?: string;
  wall: number;
  timings: Record<string, number>;
  peakRss: number;
  /** largest RSS sampled (each second) while the job reported each stage: where the peak is */
  stageRss: Record<string, number>;
  peakDisk: number;
  downloadMBs?: number;
}

/** `otherBytes`: what the runner folder held for earlier models (their cached inputs), not counted as this job's disk. */
async function runJob(api: PolypruneApi, stack: Stack, workdir: string, otherBytes: number, body: CreateJobBody, mode: string): Promise<JobFigures> {
  const group = stack.runners[0]!.child.pid!;
  resetGroupPeakRss(group);
  const t0 = performance.now();
  const job = await api.createJob(body);
  let peakDisk = 0;
  const stageRss: Record<string, number> = {};
  let last = '';
  let j = await api.getJob(job.id);
  while (j.status === 'queued' || j.status === 'running') {
    await new Promise((r) => setTimeout(r, 1000));
    peakDisk = Math.max(peakDisk, treeBytes(workdir) - otherBytes);
    // Attributed to the stage the job reported last (its first word: "evaluate xnli.en paper" → evaluate).
    const stage = j.progress?.stage.split(' ')[0] ?? j.status;
    stageRss[stage] = Math.max(stageRss[stage] ?? 0, groupRss(group));
    j = await api.getJob(job.id);
    const p = j.progress ? `${j.progress.stage} ${j.progress.done ?? ''}/${j.progress.total ?? ''}` : j.status;
    if (p !== last) process.stdout.write(`\r  ${mode}: ${p}`.padEnd(90));
    last = p;
  }
  process.stdout.write('\r'.padEnd(92) + '\r');
  const wall = (performance.now() - t0) / 1000;
  const peakRss = groupPeakRss(group);
  if (j.status !== 'succeeded') return { mode, status: j.status, error: j.error ?? undefined, wall, timings: {}, peakRss, stageRss, peakDisk };
  const run = await api.getRun(j.runId!);
  return { mode, status: j.status, wall, timings: (run.timings ?? {}) as Record<string, number>, peakRss, stageRss, peakDisk };
}

const mb = (b: number) => b / 2 ** 20;
const fmt = (x: number | undefined, d = 2) => (x === undefined || !Number.isFinite(x) ? '–' : x.toFixed(d));

export async function run(): Promise<void> {
  const small = has('small');
  const reps = Number(flag('reps') ?? 2);
  const only = flag('models')?.split(',');
  const layers = flag('layers') ? Number(flag('layers')) : undefined;
  const specs = SCALE_MODELS.filter((s) => !only || only.includes(s.name)).map((s) =>
    small ? { ...s, name: `${s.name}-small`, layers: 2 } : layers ? { ...s, name: `${s.name}-${layers}l`, layers } : s,
  );
  const calibration = has('full') ? { samples: 100, maxLength: 512 } : { samples: 8, maxLength: 128 };
  console.log(
    `machine: ${os.cpus().length} cores (${os.cpus()[0]?.model ?? '?'}), ${(os.totalmem() / GiB).toFixed(0)} GiB; Node ${process.version}; ` +
      `calibration ${calibration.samples} × ${calibration.maxLength} tokens; ratios: median of ${reps} interleaved repetitions [min–max]`,
  );
  await mkdir(OUT, { recursive: true });
  const models: Array<{ spec: DecoderSpec; dir: string; bytes: number; buildSeconds?: number }> = [];
  for (const spec of specs) models.push({ spec, ...(await ensureModel(spec)) });

  const rows: Array<{ spec: DecoderSpec; bytes: number; uploadMBs: number; jobs: JobFigures[]; cost?: CalibrationCost; buildSeconds?: number }> = [];
  if (has('cost-only')) {
    for (const m of models) rows.push({ spec: m.spec, bytes: m.bytes, uploadMBs: Number.NaN, jobs: [] });
  } else await endToEnd(models, calibration, rows);
  // In-process calibration cost once the stack is gone (nothing else holds a model in memory).
  for (const r of has('no-cost') ? [] : rows) {
    const m = models.find((x) => x.spec === r.spec)!;
    process.stdout.write(`\ncalibration cost, ${r.spec.name}… `);
    r.cost = await measureCalibration(m.dir, calibration, reps, r.bytes);
    const c = r.cost;
    const range = (x: { median: number; min: number; max: number }) => `${fmt(x.median)}× [${fmt(x.min)}–${fmt(x.max)}]`;
    console.log(
      `oneshot ${range(c.oneshot)} (then its masks ${c.oneshotMasks ? range(c.oneshotMasks) : '–'}), sequential ${range(c.sequential)} a forward pass (wall); by CPU time oneshot ${range(c.oneshotCpu)}, sequential ${range(c.sequentialCpu)}; load ${c.load.map((l) => l.toFixed(1)).join(', ')}`,
    );
    const o = c.onnxruntimeFp16;
    if (o) {
      console.log(
        `  before (onnxruntime's own fp16 handling, side by side): oneshot ${range(o.oneshot)}, sequential ${range(o.sequential)} (wall); by CPU time oneshot ${range(o.oneshotCpu)}, sequential ${range(o.sequentialCpu)}`,
      );
    }
    console.log(
      `  peak RSS ÷ model in this process, largest over repetitions: ${Object.entries(c.peakRss)
        .map(([k, v]) => `${k} ${fmt(v)}`)
        .join(', ')}`,
    );
    for (const line of describeProfile(r.cost)) console.log(line);
    if (o) for (const line of describeProfile(r.cost, o.profile)) console.log(line.replace('last sequential run', 'last sequential run before'));
  }
  printTables(rows);
  writeFileSync(
    path.join(OUT, `last-run${has('cost-only') ? '-cost' : ''}.json`),
    JSON.stringify({ date: new Date().toISOString(), calibration, reps, rows }, null, 2),
  );
}

type Row = { spec: DecoderSpec; bytes: number; uploadMBs: number; jobs: JobFigures[]; methods?: JobFigures[]; cost?: CalibrationCost; buildSeconds?: number };

async function endToEnd(
  models: Array<{ spec: DecoderSpec; dir: string; bytes: number; buildSeconds?: number }>,
  calibration: { samples: number; maxLength: number },
  rows: Row[],
): Promise<void> {
  const tmp = await mkdtemp(path.join(os.tmpdir(), 'polyprune-scale-'));
  const workdir = path.join(tmp, 'runner');
  const stack = await startStack({
    port: await freePort(),
    persistTo: path.join(tmp, 'state'),
    adminToken: newAdminToken(),
    runners: 1,
    runnerWorkdir: workdir,
    vars: { RATE_LIMIT_PER_MINUTE: '100000', LEASE_SECONDS: '600' },
    runnerEnv: {
      ...(has('onnxruntime-fp16') ? { POLYPRUNE_CPU_FP16: '0' } : {}),
      ...(flag('memory-limit') ? { POLYPRUNE_MEMORY_LIMIT: flag('memory-limit')! } : {}),
    },
  });
  const api = new PolypruneApi({ baseUrl: stack.url, token: stack.adminToken, retry: { retries: 2 } });
  try {
    const corpus = await api.uploadCorpus(new Uint8Array(await readFile(path.join(ROOT, 'demo/data/corpus.fr-en.tsv'))), {
      src: 'fr',
      tgt: 'en',
      format: 'tsv',
    });
    const suite = await api.uploadSuite(new TextEncoder().encode(`${xnliRows()}\n`), { format: 'xnli', lang: 'en' });
    for (const m of models) {
      console.log(`\n${m.spec.name}: ${(m.bytes / GiB).toFixed(2)} GiB`);
      const model = await api.createModel({ name: m.spec.name, family: m.spec.family });
      const t0 = performance.now();
      for (const f of readdirSync(m.dir).filter((f) => !f.startsWith('.'))) await api.uploadModelFile(model.id, path.join(m.dir, f));
      const uploadMBs = mb(m.bytes) / ((performance.now() - t0) / 1000);
      console.log(`  upload ${fmt(uploadMBs, 0)} MB/s`);
      const cal: CalibrationBody = { corpusId: corpus.id, dataType: 'mt', shots: 1, ...calibration };
      const jobs: JobFigures[] = [];
      const otherBytes = existsSync(workdir) ? treeBytes(workdir) : 0;
      // The oneshot job evaluates the suite (pruned, then dense for the bootstrap); the sequential one only prunes.
      const modes = flag('modes')?.split(',') ?? ['oneshot', 'sequential'];
      for (const [mode, suites] of (
        [
          ['oneshot', [suite.id]],
          ['sequential', []],
        ] as const
      ).filter(([m]) => modes.includes(m))) {
        const fig = await runJob(
          api,
          stack,
          workdir,
          otherBytes,
          { kind: 'prune', modelId: model.id, method: 'wanda', sparsity: 0.5, mode, calibration: cal, suites: [...suites] },
          mode,
        );
        if (mode === 'oneshot' && fig.timings.download) fig.downloadMBs = mb(m.bytes) / fig.timings.download;
        console.log(
          `  ${mode}: ${fig.status}${fig.error ? ` (${fig.error})` : ''} in ${fmt(fig.wall, 0)} s; peak RSS ${fmt(fig.peakRss / m.bytes)} × model; disk ${fmt(fig.peakDisk / m.bytes)} × model`,
        );
        const byStage = Object.entries(fig.stageRss).map(([stage, b]) => `${stage} ${fmt(b / m.bytes)}`);
        console.log(`    RSS by stage (largest sample each second, × model): ${byStage.join(', ')}`);
        jobs.push(fig);
      }
      // The methods the field compares, on the same model and calibration, pruning only: SparseGPT as
      // upstream drives it (sequential, weights updated), and Wanda with OWL's per-block sparsity.
      const methods: JobFigures[] = [];
      if (!has('no-methods')) {
        for (const [label, body] of [
          ['sparsegpt sequential', { method: 'sparsegpt', mode: 'sequential' }],
          ['wanda+owl oneshot', { method: 'wanda', mode: 'oneshot', layerSparsity: { kind: 'owl' } }],
        ] as const) {
          const fig = await runJob(
            api,
            stack,
            workdir,
            otherBytes,
            { kind: 'prune', modelId: model.id, sparsity: 0.5, calibration: cal, suites: [], ...body },
            label,
          );
          console.log(
            `  ${label}: ${fig.status}${fig.error ? ` (${fig.error})` : ''} in ${fmt(fig.wall, 0)} s; calibrate+masks ${fmt((fig.timings.calibrate ?? 0) + (fig.timings.owl ?? 0) + (fig.timings.masks ?? 0), 1)} s; peak RSS ${fmt(fig.peakRss / m.bytes)} × model`,
          );
          methods.push(fig);
        }
      }
      rows.push({ spec: m.spec, bytes: m.bytes, uploadMBs, jobs, methods, buildSeconds: m.buildSeconds });
    }
  } finally {
    await stack.stop();
    await rm(tmp, { recursive: true, force: true });
  }
}

function printTables(rows: Row[]): void {
  console.log(
    '\n| model | params | size GiB | upload MB/s | download MB/s | oneshot / forward | sequential / forward | peak RSS ÷ size (oneshot job) | peak RSS ÷ size (sequential job) | disk ÷ size |',
  );
  console.log('| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |');
  for (const r of rows) {
    const o = r.jobs.find((j) => j.mode === 'oneshot');
    const s = r.jobs.find((j) => j.mode === 'sequential');
    const c = r.cost;
    const ratio = (x?: { median: number; min: number; max: number }) => (x ? `${fmt(x.median)} [${fmt(x.min)}–${fmt(x.max)}]` : '–');
    console.log(
      `| ${r.spec.name} (${r.spec.dtype}) | ${(parameterCount(r.spec) / 1e9).toFixed(2)} B | ${fmt(r.bytes / GiB)} | ${fmt(r.uploadMBs, 0)} | ${fmt(o?.downloadMBs, 0)} | ${ratio(c?.oneshot)} | ${ratio(c?.sequential)} | ${fmt((o?.peakRss ?? NaN) / r.bytes)} | ${fmt((s?.peakRss ?? NaN) / r.bytes)} | ${fmt(Math.max(o?.peakDisk ?? 0, s?.peakDisk ?? 0) / r.bytes)} |`,
    );
  }
  const stages = ['download', 'preflight', 'calibrate', 'masks', 'upload-masks', 'lmf', 'write-model', 'upload-model', 'evaluate'];
  console.log('\nseconds per stage (and per GiB of model), oneshot job / sequential job:');
  console.log(`| model | ${stages.join(' | ')} | wall |`);
  console.log(`| --- | ${stages.map(() => '---').join(' | ')} | --- |`);
  for (const r of rows) {
    const gib = r.bytes / GiB;
    const cell = (k: string) => r.jobs.map((j) => (j.timings[k] === undefined ? '–' : `${fmt(j.timings[k], 0)} (${fmt(j.timings[k]! / gib, 0)})`)).join(' / ');
    console.log(`| ${r.spec.name} | ${stages.map(cell).join(' | ')} | ${r.jobs.map((j) => fmt(j.wall, 0)).join(' / ')} |`);
  }
  if (!rows.some((r) => r.methods?.length)) return;
  // Time of what differs between methods (calibration, scores, masks; SparseGPT's calibrate stage
  // includes its per-layer solves) against Wanda's job of the same mode on the same model.
  const work = (j: JobFigures) => (j.timings.calibrate ?? 0) + (j.timings.owl ?? 0) + (j.timings.masks ?? 0);
  console.log('\nmethods against Wanda on the same model and calibration (calibrate + masks seconds, ratio; peak RSS ÷ size):');
  console.log('| model | method | seconds | ÷ Wanda (same mode) | peak RSS ÷ size |');
  console.log('| --- | --- | --- | --- | --- |');
  for (const r of rows) {
    for (const j of r.methods ?? []) {
      const base = r.jobs.find((w) => j.mode.endsWith(w.mode));
      console.log(`| ${r.spec.name} | ${j.mode} | ${fmt(work(j), 1)} | ${base ? fmt(work(j) / work(base)) : '–'} | ${fmt(j.peakRss / r.bytes)} |`);
    }
  }
}
