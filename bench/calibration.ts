/**
 * Calibration cost (issue 4 benchmarks; figures printed, nothing asserted):
 *   - oneshot statistics time / plain forward time over the same tokens (goal ≤ 1.15)
 *   - sequential statistics time / plain forward time (goal ≤ 2.5)
 *   - peak resident memory / model size while pruning (load → stats → masks → write; goal ≤ 1.5)
 * Models: demo/model/model.onnx when present, otherwise the largest test fixture, plus a synthetic
 * mid-sized decoder built in memory so the ratios are not dominated by per-run overhead.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { collectStats } from '@polyprune/gpu-runner/calibrate/stats';
import { makeBatches, type CalibrationSample } from '@polyprune/gpu-runner/calibrate/batches';
import { tokenFeeds } from '@polyprune/gpu-runner/calibrate/feeds';
import { writePrunedModel } from '@polyprune/gpu-runner/onnx/apply-mask';
import { onnx } from '@polyprune/gpu-runner/onnx/proto';
import { loadModel, readWeight, type OnnxModel } from '@polyprune/gpu-runner/onnx/read';
import { openSession } from '@polyprune/gpu-runner/onnx/session';
import { findPrunableLinears } from '@polyprune/gpu-runner/onnx/structure';
import { initializerBytes } from '@polyprune/gpu-runner/onnx/write';
import type { Device } from '@polyprune/gpu-runner/ort';
import type { ActivationStats, LayerMask, PrunableLinear } from '@polyprune/gpu-runner/types';
import { buildModel } from '../test/runner/helpers/graph-builder.js';
import { benchDevices } from './device.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const SAMPLES = 16;
const SEQ = 128;
const BATCH = 4;

/** `--reps N`: timed repetitions of each figure (the device check uses 1 to fit its time limit). */
function reps(argv = process.argv): number {
  const i = argv.indexOf('--reps');
  const n = i < 0 ? 3 : Number(argv[i + 1]);
  if (!Number.isInteger(n) || n < 1) throw new Error(`--reps takes a whole number ≥ 1, got "${argv[i + 1] ?? ''}"`);
  return n;
}

function modelFiles(): string[] {
  const demo = path.join(ROOT, 'demo/model/model.onnx');
  if (existsSync(demo)) return [demo];
  const dir = path.join(ROOT, 'test/fixtures/models');
  if (!existsSync(dir)) return [];
  const size = (f: string) => statSync(f).size + (existsSync(`${f}.data`) ? statSync(`${f}.data`).size : 0);
  const files = readdirSync(dir)
    .map((d) => path.join(dir, d, 'model.onnx'))
    .filter((f) => existsSync(f));
  files.sort((a, b) => size(b) - size(a));
  return files.slice(0, 1);
}

function tokens(vocab: number): CalibrationSample[] {
  let seed = 12345;
  const next = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31);
  return Array.from({ length: SAMPLES }, (_, k) => {
    const len = SEQ - (k % 4) * 16; // some right padding, as real calibration has
    return {
      inputIds: BigInt64Array.from({ length: SEQ }, (_, t) => BigInt(t < len ? 3 + (next() % (vocab - 3)) : 1)),
      attentionMask: BigInt64Array.from({ length: SEQ }, (_, t) => (t < len ? 1n : 0n)),
    };
  });
}

function vocabOf(model: OnnxModel): number {
  for (const node of model.proto.graph!.node ?? []) {
    if (node.opType === 'Gather' && model.initializers.has(node.input![0]!)) return Number(model.initializers.get(node.input![0]!)!.dims![0]);
  }
  return 100;
}

async function plainForward(model: OnnxModel, samples: CalibrationSample[], device: Device = 'cpu'): Promise<number> {
  const t0 = performance.now();
  const open = await openSession(model.proto, model.dir, { device });
  try {
    for (const batch of makeBatches(samples, BATCH)) await open.session.run(tokenFeeds(open.session, batch, new Set(), { maskPadding: false }));
  } finally {
    await open.release();
  }
  return (performance.now() - t0) / 1000;
}

/** maskBlock callback that also adds the time spent choosing masks to `spent.seconds`. */
function maskBlockWith(model: OnnxModel, linears: PrunableLinear[], spent: { seconds: number }) {
  return async (b: number, stats: ActivationStats): Promise<LayerMask[]> => {
    const t0 = performance.now();
    const out: LayerMask[] = [];
    for (const l of linears.filter((x) => x.block === b)) out.push(await wandaMask(model, l, stats));
    spent.seconds += (performance.now() - t0) / 1000;
    return out;
  };
}

/**
 * Wanda 50% per output neuron, written locally so the benchmark measures calibration only: score
 * |W_io|·√s_i, drop the lower half of each output's inputs (one sort of a column per output).
 */
async function wandaMask(model: OnnxModel, l: PrunableLinear, stats: ActivationStats): Promise<LayerMask> {
  const w = await readWeight(model, l.weightName);
  const s = stats.get(l.id)!.sqNorm;
  const keep = new Uint8Array(l.dIn * l.dOut).fill(1);
  const col = new Float32Array(l.dIn);
  const order = new Uint32Array(l.dIn);
  for (let o = 0; o < l.dOut; o++) {
    for (let i = 0; i < l.dIn; i++) {
      col[i] = Math.abs(w.data[l.storedTransposed ? o * l.dIn + i : i * l.dOut + o]!) * Math.sqrt(s[i]!);
      order[i] = i;
    }
    order.sort((a, b) => col[a]! - col[b]! || a - b);
    for (let k = 0; k < l.dIn >> 1; k++) keep[order[k]! * l.dOut + o] = 0;
  }
  return { id: l.id, dIn: l.dIn, dOut: l.dOut, keep };
}

async function benchOne(label: string, file: string, devices: Device[]): Promise<void> {
  const model = await loadModel(file);
  const { linears, family, blocks } = findPrunableLinears(model);
  const samples = tokens(vocabOf(model));
  const weightBytes = initializerBytes(model);
  console.log(`\n${label}: ${family}, ${blocks} blocks, ${(weightBytes / 2 ** 20).toFixed(1)} MiB of weights, ${SAMPLES}x${SEQ} tokens, batch ${BATCH}`);
  // Best of --reps (default 3): the machine is shared, the minimum is the least disturbed measurement.
  const best = async <T extends { seconds: number }>(f: () => Promise<T>): Promise<T> => {
    let r = await f();
    for (let k = 1; k < reps(); k++) {
      const s = await f();
      if (s.seconds < r.seconds) r = s;
    }
    return r;
  };
  const figures: Array<{ device: Device; plain: number; one: number; seq: number }> = [];
  for (const device of devices) {
    const session = { device };
    await plainForward(model, samples.slice(0, BATCH), device); // warm-up (thread pools, page cache, shaders)
    const plain = (await best(async () => ({ seconds: await plainForward(model, samples, device) }))).seconds;
    const one = await best(() => collectStats(model, linears, samples, { mode: 'oneshot', batchSize: BATCH, session }));
    // Mask selection happens inside sequential calibration; it is timed apart and taken out.
    const seq = await best(async () => {
      const spent = { seconds: 0 };
      const r = await collectStats(model, linears, samples, { mode: 'sequential', batchSize: BATCH, maskBlock: maskBlockWith(model, linears, spent), session });
      return { ...r, seconds: r.seconds - spent.seconds, maskSeconds: spent.seconds };
    });
    const tag = devices.length > 1 ? `[${device}] ` : '';
    console.log(`  ${tag}plain forward         ${plain.toFixed(3)} s`);
    console.log(`  ${tag}oneshot statistics    ${one.seconds.toFixed(3)} s   ratio ${(one.seconds / plain).toFixed(2)} (goal ≤ 1.15)`);
    console.log(
      `  ${tag}sequential statistics ${seq.seconds.toFixed(3)} s   ratio ${(seq.seconds / plain).toFixed(2)} (goal ≤ 2.5), ${seq.strategy}, ${seq.runs} runs, excluding ${seq.maskSeconds.toFixed(3)} s of mask selection`,
    );
    figures.push({ device, plain, one: one.seconds, seq: seq.seconds });
  }
  const [cpu, other] = figures;
  if (cpu && other) {
    const r = (a: number, b: number) => (a / b).toFixed(2);
    console.log(
      `  ${other.device} time / cpu time: plain forward ×${r(other.plain, cpu.plain)}, oneshot ×${r(other.one, cpu.one)}, sequential ×${r(other.seq, cpu.seq)}`,
    );
  }
}

/**
 * This process's peak RSS. Linux keeps getrusage's maxrss across exec, so a child spawned by a big
 * parent would report the parent's peak; VmHWM belongs to the process's own address space.
 */
function peakRss(): number {
  try {
    const m = readFileSync('/proc/self/status', 'utf8').match(/VmHWM:\s+(\d+) kB/);
    if (m) return Number(m[1]) * 1024;
  } catch {
    // not Linux
  }
  return process.resourceUsage().maxRSS * 1024;
}

/** The pruning pipeline whose memory is measured, run in a fresh process (see the end of this file). */
async function pruneForMemory(file: string, outDir: string): Promise<number> {
  const model = await loadModel(file);
  const { linears } = findPrunableLinears(model);
  const { stats } = await collectStats(model, linears, tokens(vocabOf(model)).slice(0, 8), { mode: 'oneshot', batchSize: BATCH });
  const masks: LayerMask[] = [];
  for (const l of linears) masks.push(await wandaMask(model, l, stats));
  await writePrunedModel(model, linears, masks, path.join(outDir, 'pruned.onnx'));
  return initializerBytes(model);
}

/**
 * A fresh process so that its peak RSS (getrusage maxrss) belongs to this pipeline alone; the base
 * is its RSS after onnxruntime is loaded and before the model is read.
 */
async function benchMemory(label: string, file: string): Promise<void> {
  const out = await mkdtemp(path.join(os.tmpdir(), 'pp-bench-'));
  try {
    const child = spawnSync(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url), '--memory-child', file, out], { encoding: 'utf8' });
    const line = child.stdout.split('\n').find((l) => l.startsWith('{'));
    if (child.status !== 0 || !line) throw new Error(`memory child failed: ${child.stderr.slice(-500)}`);
    const { peak, base, bytes } = JSON.parse(line) as { peak: number; base: number; bytes: number };
    const mib = (v: number) => (v / 2 ** 20).toFixed(0);
    console.log(
      `  ${label}: model ${(bytes / 2 ** 20).toFixed(1)} MiB, peak RSS ${mib(peak)} MiB (runtime base ${mib(base)} MiB): ` +
        `(peak − base) / model = ${((peak - base) / bytes).toFixed(2)} (goal ≤ 1.5), peak / model = ${(peak / bytes).toFixed(2)}`,
    );
  } finally {
    await rm(out, { recursive: true, force: true });
  }
}

export async function run(): Promise<void> {
  console.log('# calibration (statistics with onnxruntime)');
  const tmp = await mkdtemp(path.join(os.tmpdir(), 'pp-bench-model-'));
  try {
    const synthetic = path.join(tmp, 'model.onnx');
    await writeFile(synthetic, onnx.ModelProto.encode(buildModel({ family: 'xglm', hidden: 512, ffn: 2048, blocks: 6, vocab: 2000, seed: 3 }).proto).finish());
    const fixtures = modelFiles().map((f): [string, string] => [path.relative(ROOT, f), f]);
    const targets: Array<[string, string]> = [...fixtures, ['synthetic xglm-shaped (512/2048, 6 blocks)', synthetic]];
    const devices = benchDevices();
    for (const [label, file] of targets) await benchOne(label, file, devices);
    // Host memory is a CPU-run figure; with --device it is left out.
    if (devices.length > 1) return;
    // Memory needs weights that dominate activations and the runtime's fixed cost: a larger model.
    await mkdir(path.join(tmp, 'large'));
    const large = path.join(tmp, 'large', 'model.onnx');
    await writeFile(large, onnx.ModelProto.encode(buildModel({ family: 'xglm', hidden: 1024, ffn: 4096, blocks: 4, vocab: 8000, seed: 5 }).proto).finish());
    console.log('\n# peak memory while pruning (oneshot stats → wanda 50% masks → write)');
    for (const [label, file] of [...fixtures, ['synthetic xglm-shaped (1024/4096, 4 blocks)', large] as [string, string]]) await benchMemory(label, file);
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}

if (process.argv[2] === '--memory-child') {
  const base = process.memoryUsage().rss;
  const bytes = await pruneForMemory(process.argv[3]!, process.argv[4]!);
  console.log(JSON.stringify({ peak: peakRss(), base, bytes }));
} else if (import.meta.url === `file://${process.argv[1]}`) {
  await run();
}
