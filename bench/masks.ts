/**
 * Mask selection throughput (issue 4 benchmark): weights per second of the per-neuron Wanda mask
 * (radix selection + stable tie pass) against the same mask computed with a full sort of every
 * neuron's scores, side by side in one run on the same scores. Figures only, no asserts. A quickselect
 * variant (the obvious alternative to radix selection) is timed too, to show why radix was chosen.
 *
 * The baseline sorts a copy of each neuron's scores with the native numeric TypedArray sort (the
 * fastest full sort JS has, the analogue of the reference's torch.sort per row) and then applies the
 * same tie pass, so the two differ only in select vs sort. A comparator sort of (score, index) pairs,
 * the literal stable-argsort, is also timed on a subset of neurons since it is much slower.
 */
import { pathToFileURL } from 'node:url';
import { defaultMaskThreads, releaseMaskThreads, selectRowMasksThreaded } from '@polyprune/gpu-runner/prune/mask-threads';
import { selectNmMask, selectRowMask } from '@polyprune/gpu-runner/prune/masks';
import { sharedArray } from '@polyprune/gpu-runner/prune/wasm-heap';
import { scoreWanda } from '@polyprune/gpu-runner/prune/scores';
import { kthSmallest } from '@polyprune/gpu-runner/prune/select';

const D_IN = 4096;
const D_OUT = 4096;
const SPARSITY = 0.5;
const ROUNDS = 2;

function gaussianish(n: number, seed: number): Float32Array {
  let s = seed >>> 0;
  const next = () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 4294967296;
  };
  // Sum of uniforms: cheap bell shape, enough to make realistic |W|·√s distributions.
  return Float32Array.from({ length: n }, () => next() + next() + next() - 1.5);
}

/**
 * The same mask as selectRowMask with the threshold taken by `threshold` from a scratch copy of the
 * neuron's scores: a full sort, or quickselect.
 */
function thresholdRowMask(scores: Float32Array, dIn: number, dOut: number, p: number, threshold: (scratch: Float32Array, k: number) => number): Uint8Array {
  const k = Math.floor(dIn * p);
  const keep = new Uint8Array(dIn * dOut).fill(1);
  const row = new Float32Array(dIn);
  const sorted = new Float32Array(dIn);
  for (let o = 0; o < dOut; o++) {
    for (let i = 0; i < dIn; i++) row[i] = scores[i * dOut + o]!;
    sorted.set(row);
    const t = threshold(sorted, k - 1);
    let below = 0;
    for (let i = 0; i < dIn; i++) if (row[i]! < t) below++;
    let ties = k - below;
    for (let i = 0; i < dIn; i++) {
      const v = row[i]!;
      if (v < t || (v === t && ties-- > 0)) keep[i * dOut + o] = 0;
    }
  }
  return keep;
}

/** Literal stable argsort per neuron with a JS comparator, on the first `cols` neurons. */
function argsortRowMask(scores: Float32Array, dIn: number, dOut: number, p: number, cols: number): Uint8Array {
  const k = Math.floor(dIn * p);
  const keep = new Uint8Array(dIn * dOut).fill(1);
  const idx = new Uint32Array(dIn);
  const row = new Float32Array(dIn);
  for (let o = 0; o < cols; o++) {
    for (let i = 0; i < dIn; i++) {
      row[i] = scores[i * dOut + o]!;
      idx[i] = i;
    }
    idx.sort((a, b) => row[a]! - row[b]! || a - b);
    for (let q = 0; q < k; q++) keep[idx[q]! * dOut + o] = 0;
  }
  return keep;
}

const bySort = (scratch: Float32Array, k: number) => scratch.sort()[k]!;

function time<T>(f: () => T): { value: T; seconds: number } {
  const t0 = process.hrtime.bigint();
  const value = f();
  return { value, seconds: Number(process.hrtime.bigint() - t0) / 1e9 };
}

const fmt = (x: number) => `${(x / 1e6).toFixed(1)} M weights/s`;

export async function run(): Promise<void> {
  const n = D_IN * D_OUT;
  const w = { dIn: D_IN, dOut: D_OUT, data: gaussianish(n, 1) };
  const sqNorm = Float64Array.from(gaussianish(D_IN, 2), (v) => (v * 10) ** 2);
  const scores = scoreWanda(w, sqNorm);
  const shape = { dIn: D_IN, dOut: D_OUT };

  // Warm-up on a slice so both paths are compiled before timing.
  const warm = scores.subarray(0, 256 * D_OUT);
  selectRowMask(warm, { dIn: 256, dOut: D_OUT }, SPARSITY);
  thresholdRowMask(warm, 256, D_OUT, SPARSITY, bySort);
  thresholdRowMask(warm, 256, D_OUT, SPARSITY, kthSmallest);

  // Interleaved rounds, best time of each: on a shared machine load drifts during a run, and
  // interleaving keeps the ratios fair.
  const variants = {
    sel: () => selectRowMask(scores, shape, SPARSITY),
    qs: () => thresholdRowMask(scores, D_IN, D_OUT, SPARSITY, kthSmallest),
    srt: () => thresholdRowMask(scores, D_IN, D_OUT, SPARSITY, bySort),
  };
  const best: Record<keyof typeof variants, { value: Uint8Array; seconds: number }> = {
    sel: { value: new Uint8Array(0), seconds: Infinity },
    qs: { value: new Uint8Array(0), seconds: Infinity },
    srt: { value: new Uint8Array(0), seconds: Infinity },
  };
  for (let round = 0; round < ROUNDS; round++) {
    for (const name of Object.keys(variants) as (keyof typeof variants)[]) {
      const r = time(variants[name]);
      if (r.seconds < best[name].seconds) best[name] = r;
    }
  }
  const { sel, qs, srt } = best;
  const argCols = 128;
  const arg = time(() => argsortRowMask(scores, D_IN, D_OUT, SPARSITY, argCols));
  const nm = time(() => selectNmMask(scores, shape, 2, 4));

  let same = true;
  for (let x = 0; x < n; x++) if (sel.value[x] !== srt.value[x] || sel.value[x] !== qs.value[x]) same = false;
  for (let x = 0; x < n && same; x++) {
    if (x % D_OUT < argCols && sel.value[x] !== arg.value[x]) same = false;
  }

  const selRate = n / sel.seconds;
  const sortRate = n / srt.seconds;
  const argRate = (D_IN * argCols) / arg.seconds;
  console.log(`mask selection, wanda scores [${D_IN}, ${D_OUT}] at sparsity ${SPARSITY} (${n.toLocaleString('en')} weights), best of ${ROUNDS}`);
  console.log(`  radix select per neuron  ${sel.seconds.toFixed(3)} s  ${fmt(selRate)}`);
  console.log(`  quickselect per neuron   ${qs.seconds.toFixed(3)} s  ${fmt(n / qs.seconds)}`);
  console.log(`  full sort per neuron     ${srt.seconds.toFixed(3)} s  ${fmt(sortRate)}  (native TypedArray sort)`);
  console.log(`  stable argsort per neuron ${fmt(argRate)}  (JS comparator, ${argCols} neurons)`);
  console.log(`  2:4 N:M                  ${nm.seconds.toFixed(3)} s  ${fmt(n / nm.seconds)}`);
  console.log(`  speed-up vs full sort ×${(selRate / sortRate).toFixed(2)}, vs argsort ×${(selRate / argRate).toFixed(2)}`);
  console.log(`  masks identical: ${same}`);
  await heldBlock();
}

/** XGLM-564M's block: q, k, v, o (1024 × 1024), fc1 (1024 × 4096), fc2 (4096 × 1024). */
const BLOCK: Array<[number, number]> = [
  [1024, 1024],
  [1024, 1024],
  [1024, 1024],
  [1024, 1024],
  [1024, 4096],
  [4096, 1024],
];

/**
 * The sequential-calibration form: a block's held weights in the shared heap, Wanda scores
 * computed as they are read, dropped weights zeroed in place, the block's six layers handed to the
 * mask threads at once — on one thread, then on every mask thread, best of ROUNDS + 1 each.
 */
async function heldBlock(): Promise<void> {
  const weights = BLOCK.map(([dIn, dOut], l) => {
    const w = sharedArray(Float32Array, dIn * dOut);
    w.set(gaussianish(dIn * dOut, 10 + l));
    return { w, original: w.slice(), factor: Float64Array.from(gaussianish(dIn, 20 + l), (v) => Math.abs(v) * 10) };
  });
  const n = BLOCK.reduce((s, [dIn, dOut]) => s + dIn * dOut, 0);
  const items = () =>
    weights.map(({ w, original, factor }, l) => {
      w.set(original);
      const [dIn, dOut] = BLOCK[l]!;
      return { scores: { weight: w, factor, zeroMasked: true }, shape: { dIn, dOut }, sparsity: SPARSITY };
    });
  const all = defaultMaskThreads();
  const seconds: Record<number, number> = {};
  for (const threads of [1, all]) {
    seconds[threads] = Infinity;
    for (let round = 0; round <= ROUNDS; round++) {
      const batch = items();
      const t0 = process.hrtime.bigint();
      await selectRowMasksThreaded(batch, threads);
      seconds[threads] = Math.min(seconds[threads]!, Number(process.hrtime.bigint() - t0) / 1e9);
    }
  }
  await releaseMaskThreads();
  console.log(
    `a block of XGLM-564M held in the heap (${n.toLocaleString('en')} weights, scores |W|·√s as read, dropped weights zeroed), best of ${ROUNDS + 1}`,
  );
  for (const [threads, s] of Object.entries(seconds)) {
    console.log(`  ${threads} thread${threads === '1' ? ' ' : 's'}  ${(s * 1e3).toFixed(1)} ms  ${fmt(n / s)}  ${((s * 1e9) / n).toFixed(2)} ns a weight`);
  }
  if (all > 1) console.log(`  ${all} threads ÷ 1 thread: ×${(seconds[1]! / seconds[all]!).toFixed(2)}`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await run();
