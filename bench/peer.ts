/**
 * `npm run bench -- peer`: polyprune side by side with a torch implementation of the reference's
 * sequential Wanda and scoring (bench/peer/wanda_reference.py), on the same weights (a random XGLM
 * built in torch by scripts/demo-model/families.py and exported with torch.onnx), the same
 * calibration tokens (8 × 128) and the same XNLI-shaped prompts, each side in its own process with
 * the same thread count. Prints wall time, CPU time and peak RSS of each, their ratios (median [range] over
 * `--reps`, interleaved), how many mask entries agree and the largest score difference.
 *
 * Default shape: 4 × 1024 layers, ffn 4096, vocabulary 256008 (XGLM-564M's widths, a sixth of its
 * layers: a few minutes here). `--full`: all 24 layers (XGLM-564M). `--threads N` (default 2),
 * `--rows N` XNLI rows (default 8), `--reps N` (default 2). Models are cached in bench/out/peer.
 * `--baseline DIR`: also run DIR's bench/peer/polyprune-run.ts in every repetition (DIR: a copy of
 * an earlier commit, e.g. `git archive <commit> | tar -x -C DIR` with node_modules linked in), for
 * before/after ratios measured side by side. `--reference-sums float64`: the reference's statistics
 * and metric in float64 (wanda_reference.py's Wrapped64), to tell float32 rounding from real mask
 * differences.
 * Needs python3 with torch (scripts/demo-model/README.md); without it the bench says how to get it
 * and exits 0.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadTokenizer } from '@polyprune/gpu-runner/tokenize/index';
import { encodeChoices } from '@polyprune/gpu-runner/evaluate/scoring';
import { renderExample } from '@polyprune/gpu-runner/evaluate/templates';
import { tokenizerJson, xnliRows } from './scale/index.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const OUT = path.join(ROOT, 'bench/out/peer');
const PYTHON = process.env.PEER_PYTHON ?? '/usr/bin/python3';
const PYTHONPATH = process.env.PEER_PYTHONPATH ?? '/tmp/pyextra:/tmp/pydeps';
const flag = (name: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
};

interface Report {
  seconds: Record<string, number>;
  maxRssBytes: number;
  /** user + system CPU time of the process (onnxruntime's and torch's threads included) */
  cpuSeconds: number;
  scores: number[];
  wall: number;
}

function median(xs: number[]): string {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
  return `${mid.toFixed(2)} [${s[0]!.toFixed(2)}–${s[s.length - 1]!.toFixed(2)}]`;
}

async function child(cmd: string, args: string[], env: NodeJS.ProcessEnv, outFile: string, cwd = ROOT): Promise<Report> {
  const t0 = performance.now();
  await new Promise<void>((resolve, reject) => {
    const p = spawn(cmd, args, { cwd, env: { ...process.env, ...env }, stdio: ['ignore', 'inherit', 'inherit'] });
    p.on('error', reject);
    p.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`${cmd} ${args.join(' ')} exited with ${code}`))));
  });
  const wall = (performance.now() - t0) / 1000;
  return { ...(JSON.parse(await readFile(outFile, 'utf8')) as Omit<Report, 'wall'>), wall };
}

export async function run(): Promise<void> {
  const probe = spawnSync(PYTHON, ['-c', 'import torch, onnx'], { env: { ...process.env, PYTHONPATH }, encoding: 'utf8' });
  if (probe.status !== 0) {
    console.log(
      `peer bench skipped: ${PYTHON} cannot import torch and onnx with PYTHONPATH=${PYTHONPATH}. ` +
        'Install them as scripts/demo-model/README.md says (python3-onnx from apt, the torch wheel from /opt/wheels into /tmp/pydeps), ' +
        'or point PEER_PYTHON / PEER_PYTHONPATH at a python that has them.',
    );
    return;
  }
  const full = process.argv.includes('--full');
  const layers = full ? 24 : 4;
  const threads = Number(flag('threads') ?? 2);
  const reps = Number(flag('reps') ?? 2);
  const nRows = Number(flag('rows') ?? 8);
  const baseline = flag('baseline') && path.resolve(flag('baseline')!);
  const sums = flag('reference-sums') ?? 'float32';
  if (baseline && !existsSync(path.join(baseline, 'bench/peer/polyprune-run.ts'))) throw new Error(`--baseline ${baseline} has no bench/peer/polyprune-run.ts`);
  const shape = { layers, d: 1024, ffn: 4096, heads: 16, vocab: 256008 };
  const dir = path.join(OUT, `xglm-${layers}x1024`);
  if (!existsSync(path.join(dir, 'peer.json'))) {
    process.stdout.write(`building ${dir} in torch… `);
    const t0 = performance.now();
    const b = spawnSync(
      PYTHON,
      [
        'bench/peer/wanda_reference.py',
        'build',
        '--out',
        dir,
        ...Object.entries(shape).flatMap(([k, v]) => [`--${k}`, String(v)]),
        '--threads',
        String(threads),
      ],
      { cwd: ROOT, env: { ...process.env, PYTHONPATH }, stdio: ['ignore', 'ignore', 'inherit'] },
    );
    if (b.status !== 0) throw new Error('building the peer model failed');
    console.log(`${((performance.now() - t0) / 1000).toFixed(0)} s`);
  }
  await writeIfChanged(path.join(dir, 'tokenizer.json'), tokenizerJson(shape.vocab));
  await writeIfChanged(
    path.join(dir, 'config.json'),
    JSON.stringify({
      model_type: 'xglm',
      vocab_size: shape.vocab,
      hidden_size: shape.d,
      num_hidden_layers: layers,
      num_attention_heads: shape.heads,
      ffn_dim: shape.ffn,
      max_position_embeddings: 2048,
      bos_token_id: 0,
      pad_token_id: 1,
      eos_token_id: 2,
    }),
  );

  // The same inputs for both: calibration token ids and the rendered, tokenized prompts.
  const tok = await loadTokenizer(dir);
  let seed = 7;
  const next = () => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return 4 + (seed % (shape.vocab - 4));
  };
  const calibration = Array.from({ length: 8 }, () => Array.from({ length: 128 }, next));
  const prompts = xnliRows(nRows)
    .split('\n')
    .flatMap((l) =>
      encodeChoices(tok, renderExample('xnli', JSON.parse(l))!, { emptyContextId: tok.eosId, contextLength: 2048 }).map((c) => Array.from(c.tokens)),
    );
  const work = path.join(OUT, 'run');
  await mkdir(work, { recursive: true });
  const inputsFile = path.join(work, 'inputs.json');
  await writeFile(inputsFile, JSON.stringify({ calibration, sparsity: 0.5, prompts }));
  console.log(
    `XGLM ${layers} × ${shape.d}, ffn ${shape.ffn}, vocab ${shape.vocab} (random weights); sequential Wanda 50 %, 8 × 128 calibration tokens; ` +
      `${prompts.length} prompts (${nRows} XNLI rows), paper scoring; ${threads} threads each; ${reps} interleaved repetitions; ${os.cpus().length} cores` +
      `${baseline ? `; baseline ${baseline}` : ''}${sums !== 'float32' ? `; reference sums in ${sums}` : ''}`,
  );

  const ratios = {
    time: [] as number[],
    cpu: [] as number[],
    rss: [] as number[],
    baseTime: [] as number[],
    baseCpu: [] as number[],
    baseRss: [] as number[],
    vsBase: [] as number[],
    cpuVsBase: [] as number[],
  };
  let last: { torch: Report; ours: Report } | undefined;
  const polyprune = (cwd: string, out: string) =>
    child(
      process.execPath,
      ['--expose-gc', '--import', 'tsx', 'bench/peer/polyprune-run.ts', dir, inputsFile, out, String(threads)],
      { MALLOC_MMAP_THRESHOLD_: '1048576' },
      out,
      cwd,
    );
  const line = (name: string, x: Report) =>
    `${name} ${x.wall.toFixed(1)} s (${fmtStages(x.seconds)}), ${x.cpuSeconds.toFixed(0)} s CPU, ${gib(x.maxRssBytes)} peak`;
  for (let r = 0; r < reps; r++) {
    const torchOut = path.join(work, 'torch.json');
    const loadBefore = os.loadavg()[0]!;
    const torch = await child(
      PYTHON,
      ['bench/peer/wanda_reference.py', 'run', '--model', dir, '--inputs', inputsFile, '--out', torchOut, '--threads', String(threads), '--sums', sums],
      { PYTHONPATH },
      torchOut,
    );
    // Alternating which polyprune goes first, so neither always runs after the reference.
    const base = baseline && r % 2 === 1 ? await polyprune(baseline, path.join(work, 'baseline.json')) : undefined;
    const ours = await polyprune(ROOT, path.join(work, 'polyprune.json'));
    const before = baseline && !base ? await polyprune(baseline, path.join(work, 'baseline.json')) : base;
    ratios.time.push(ours.wall / torch.wall);
    ratios.cpu.push(ours.cpuSeconds / torch.cpuSeconds);
    ratios.rss.push(ours.maxRssBytes / torch.maxRssBytes);
    if (before) {
      ratios.baseTime.push(before.wall / torch.wall);
      ratios.baseCpu.push(before.cpuSeconds / torch.cpuSeconds);
      ratios.cpuVsBase.push(ours.cpuSeconds / before.cpuSeconds);
      ratios.baseRss.push(before.maxRssBytes / torch.maxRssBytes);
      ratios.vsBase.push(ours.wall / before.wall);
    }
    console.log(
      `rep ${r + 1}: ${line('torch', torch)}; ${line('polyprune', ours)}${before ? `; ${line('baseline', before)}` : ''}; ` +
        `load ${loadBefore.toFixed(1)} → ${os.loadavg()[0]!.toFixed(1)}`,
    );
    last = { torch, ours };
  }
  let worst = 0;
  last!.torch.scores.forEach((s, i) => {
    worst = Math.max(worst, Math.abs(s - last!.ours.scores[i]!));
  });
  console.log('\n| figure | polyprune ÷ torch reference, median [min–max] |');
  console.log('| --- | --- |');
  console.log(`| wall time (calibrate, prune, write, score) | ${median(ratios.time)} |`);
  console.log(`| CPU time | ${median(ratios.cpu)} |`);
  console.log(`| peak RSS | ${median(ratios.rss)} |`);
  if (baseline) {
    console.log(`| baseline: wall time | ${median(ratios.baseTime)} |`);
    console.log(`| baseline: CPU time | ${median(ratios.baseCpu)} |`);
    console.log(`| baseline: peak RSS | ${median(ratios.baseRss)} |`);
    console.log(`| polyprune ÷ baseline: wall time | ${median(ratios.vsBase)} |`);
    console.log(`| polyprune ÷ baseline: CPU time | ${median(ratios.cpuVsBase)} |`);
  }
  console.log(
    `masks vs the reference${sums !== 'float32' ? ` (sums in ${sums})` : ''}: ${await agreement(path.join(work, 'torch.json.masks'), path.join(work, 'polyprune.json.masks'))}`,
  );
  if (baseline) console.log(`masks vs the baseline: ${await agreement(path.join(work, 'baseline.json.masks'), path.join(work, 'polyprune.json.masks'))}`);
  console.log(`paper scores (pruned model) differ from the reference's by at most ${worst.toExponential(2)}`);
}

/** The model folder may be another checkout's cache (linked in): left alone when already right. */
async function writeIfChanged(file: string, text: string): Promise<void> {
  const now = await readFile(file, 'utf8').catch(() => undefined);
  if (now !== text) await writeFile(file, text);
}

async function agreement(fileA: string, fileB: string): Promise<string> {
  const a = await readFile(fileA);
  const b = await readFile(fileB);
  if (a.length !== b.length) return `sizes differ (${a.length} vs ${b.length})`;
  let same = 0;
  for (let i = 0; i < a.length; i++) if (a[i] === b[i]) same++;
  return `${same} of ${a.length} entries agree (${a.length - same} differ)`;
}

const gib = (b: number) => `${(b / 2 ** 30).toFixed(2)} GiB`;
const fmtStages = (s: Record<string, number>) =>
  Object.entries(s)
    .filter(([k]) => k !== 'total')
    .map(([k, v]) => `${k} ${v.toFixed(1)}`)
    .join(', ');
