/**
 * Calibration cost against a plain forward pass over the same tokens, in this process: forward
 * (logits), oneshot statistics and sequential statistics (masks chosen per block, as a job does)
 * run interleaved `reps` times; each repetition gives one ratio per mode, and the median and range
 * are reported. Every run includes opening its session, as a job's does, and sequential masks are
 * chosen as a job chooses them (blockMasker). Each mode's peak RSS (VmHWM, reset before it) is
 * reported too. fp16 models on CPU also run both calibration modes as before onnx/cpu-fp16.ts
 * (`before`: onnxruntime's own fp16 handling, configureSessions({ cpuFp16: false }), a folded fp32
 * copy per session and fed weights cast every run), interleaved with the rest, so the two compare
 * side by side.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { open, readdir } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { CalibrationSample } from '@polyprune/gpu-runner/calibrate/batches';
import { makeBatches } from '@polyprune/gpu-runner/calibrate/batches';
import { tokenFeeds } from '@polyprune/gpu-runner/calibrate/feeds';
import { collectStats } from '@polyprune/gpu-runner/calibrate/stats';
import type { SequentialProfile } from '@polyprune/gpu-runner/calibrate/sequential';
import { discoverStructure, preflight } from '@polyprune/gpu-runner/model/preflight';
import { openSession } from '@polyprune/gpu-runner/onnx/session';
import type { ActivationStats } from '@polyprune/gpu-runner/types';
import { allMasks, blockMasker, type MaskPolicy } from '@polyprune/gpu-runner/prune/policy';
import { releaseMaskThreads } from '@polyprune/gpu-runner/prune/mask-threads';
import { DataType } from '@polyprune/gpu-runner/onnx/proto';
import { configureSessions } from '@polyprune/gpu-runner/ort';

export interface Ratio {
  median: number;
  min: number;
  max: number;
}

export interface CalibrationCost {
  forwardSeconds: number[];
  oneshot: Ratio;
  /** the oneshot job's next step: every linear's Wanda mask from those statistics (allMasks, a block at a time) */
  oneshotMasks: Ratio;
  sequential: Ratio;
  /** the same ratios by this process's CPU time (steadier when neighbours load the machine) */
  oneshotCpu: Ratio;
  sequentialCpu: Ratio;
  /** the last sequential run: seconds per stage and per block */
  profile?: SequentialProfile;
  /** 1-minute load average after each repetition (the machine is shared) */
  load: number[];
  /** peak RSS (VmHWM, reset before each run) ÷ the model's weight bytes, largest over repetitions, by mode */
  peakRss: Record<string, number>;
  /** fp16 on CPU: the same ratios as before onnx/cpu-fp16.ts (onnxruntime's own fp16 handling) */
  onnxruntimeFp16?: { oneshot: Ratio; sequential: Ratio; oneshotCpu: Ratio; sequentialCpu: Ratio; profile?: SequentialProfile };
}

/**
 * Reads every file of the model once, so that the first repetition's forward pass does not also
 * read it from disk: a cold first forward pass (11–16 s against 7 s warm for XGLM-564M, measured)
 * made that repetition's ratios 0.7–0.9 and pulled the median down.
 */
async function warmPageCache(dir: string): Promise<void> {
  const chunk = new Uint8Array(8 << 20);
  for (const name of await readdir(dir)) {
    const fh = await open(path.join(dir, name));
    try {
      while ((await fh.read(chunk, 0, chunk.length)).bytesRead > 0);
    } finally {
      await fh.close();
    }
  }
}

/** Resets this process's peak RSS (Linux; a no-op elsewhere) and gives back collectable memory first. */
function resetPeak(): void {
  (globalThis as { gc?: () => void }).gc?.();
  try {
    writeFileSync('/proc/self/clear_refs', '5');
  } catch {
    // not Linux, or not permitted: the peak then covers the process so far
  }
}

function peakBytes(): number {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'));
    return m ? Number(m[1]) * 1024 : Number.NaN;
  } catch {
    return Number.NaN;
  }
}

const BATCH = 4;

function ratio(xs: number[]): Ratio {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
  return { median: mid, min: s[0]!, max: s[s.length - 1]! };
}

export async function measureCalibration(dir: string, cal: { samples: number; maxLength: number }, reps: number, modelBytes: number): Promise<CalibrationCost> {
  await warmPageCache(dir);
  const checked = await preflight({ dir, graphFile: 'model.onnx', scoring: false });
  const { working, structure } = discoverStructure(checked.model, 'model.onnx');
  const model = working.model;
  const config = checked.side.config;
  const vocab = checked.tokenizer.vocabSize;
  let seed = 7;
  const next = () => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return 4 + (seed % (vocab - 4));
  };
  const samples: CalibrationSample[] = Array.from({ length: cal.samples }, () => ({
    inputIds: BigInt64Array.from({ length: cal.maxLength }, () => BigInt(next())),
    attentionMask: new BigInt64Array(cal.maxLength).fill(1n),
  }));
  const session = { device: 'cpu' as const };
  const fp16 = model.initializers.get(structure.linears[0]!.weightName)?.dataType === DataType.FLOAT16;
  const peakRss: Record<string, number> = {};
  // Wall seconds; this process's CPU seconds (onnxruntime's threads included) go to `lastCpu`.
  let lastCpu = 0;
  const timed = async (fn: () => Promise<unknown>, mode = '') => {
    resetPeak();
    const t0 = performance.now();
    const c0 = process.cpuUsage();
    await fn();
    const c = process.cpuUsage(c0);
    lastCpu = (c.user + c.system) / 1e6;
    if (mode) peakRss[mode] = Math.max(peakRss[mode] ?? 0, peakBytes() / modelBytes);
    return (performance.now() - t0) / 1000;
  };
  const forward = () =>
    timed(async () => {
      const open = await openSession(model.proto, model.dir, session);
      try {
        for (const batch of makeBatches(samples, BATCH))
          await open.session.run(tokenFeeds(open.session, batch, new Set(), { maskPadding: false, config }), ['logits']);
      } finally {
        await open.release();
      }
    }, 'forward');
  const fw: number[] = [];
  const one: number[] = [];
  const seq: number[] = [];
  const load: number[] = [];
  const oneCpu: number[] = [];
  const seqCpu: number[] = [];
  const ort = { one: [] as number[], seq: [] as number[], oneCpu: [] as number[], seqCpu: [] as number[], profile: undefined as SequentialProfile | undefined };
  let profile: SequentialProfile | undefined;
  let oneStats: ActivationStats | undefined;
  const oneshot = async () => {
    oneStats = (await collectStats(model, structure.linears, samples, { mode: 'oneshot', batchSize: BATCH, session, config })).stats;
  };
  const policy: MaskPolicy = { method: 'wanda', sparsity: 0.5, pattern: 'unstructured', seed: 0, dropTop: false, magnitudeScope: 'row' };
  const oneshotMasks = async () => {
    await allMasks(model, policy, structure.linears, { main: oneStats });
    await releaseMaskThreads();
  };
  const oneMasks: number[] = [];
  const sequential = async () => {
    const r = await collectStats(model, structure.linears, samples, {
      mode: 'sequential',
      batchSize: BATCH,
      session,
      config,
      maskBlock: blockMasker(model, policy, structure.linears, {}),
    });
    // As a job does once its masks are chosen: shared memory the mask threads have seen (a block's
    // weights, held for feeding) is freed only when they end, so later runs would count it.
    await releaseMaskThreads();
    return r.profile;
  };
  for (let r = 0; r < reps; r++) {
    const f = await forward();
    const fCpu = lastCpu;
    fw.push(f);
    one.push((await timed(oneshot, 'oneshot')) / f);
    oneCpu.push(lastCpu / fCpu);
    oneMasks.push((await timed(oneshotMasks, 'oneshot masks')) / f);
    seq.push((await timed(async () => (profile = await sequential()), 'sequential')) / f);
    seqCpu.push(lastCpu / fCpu);
    if (fp16) {
      configureSessions({ cpuFp16: false });
      try {
        ort.one.push((await timed(oneshot, 'oneshot (before)')) / f);
        ort.oneCpu.push(lastCpu / fCpu);
        ort.seq.push((await timed(async () => (ort.profile = await sequential()), 'sequential (before)')) / f);
        ort.seqCpu.push(lastCpu / fCpu);
      } finally {
        configureSessions({ cpuFp16: true });
      }
    }
    load.push(os.loadavg()[0]!);
    process.stdout.write(`${path.basename(dir)} rep ${r + 1}/${reps} (forward ${f.toFixed(1)} s, load ${load[r]!.toFixed(1)}) `);
  }
  return {
    forwardSeconds: fw,
    oneshot: ratio(one),
    oneshotMasks: ratio(oneMasks),
    sequential: ratio(seq),
    oneshotCpu: ratio(oneCpu),
    sequentialCpu: ratio(seqCpu),
    profile,
    load,
    peakRss,
    ...(fp16
      ? {
          onnxruntimeFp16: {
            oneshot: ratio(ort.one),
            sequential: ratio(ort.seq),
            oneshotCpu: ratio(ort.oneCpu),
            sequentialCpu: ratio(ort.seqCpu),
            profile: ort.profile,
          },
        }
      : {}),
  };
}

/** The profile as lines: each stage's share of a forward pass, and the per-block seconds. */
export function describeProfile(cost: CalibrationCost, p = cost.profile): string[] {
  if (!p) return [];
  const f = cost.forwardSeconds[cost.forwardSeconds.length - 1]!;
  const total = Object.values(p.stages).reduce((a, b) => a + b, 0);
  const stages = Object.entries(p.stages)
    .sort((a, b) => b[1] - a[1])
    .map(([k, v]) => `${k} ${v.toFixed(2)} s (${(v / f).toFixed(2)}× forward)`);
  const blocks = p.blocks.map((v) => v.toFixed(2));
  const hidden = Object.entries(p.hidden ?? {})
    .sort((a, b) => b[1] - a[1])
    .map(([k, v]) => `${k} ${v.toFixed(2)} s`);
  return [
    `  last sequential run, ${total.toFixed(1)} s = ${(total / f).toFixed(2)}× its forward pass (${f.toFixed(1)} s): ${stages.join(', ')}`,
    ...(hidden.length ? [`  beside those, setting the next block up while masks were selected (elapsed, not in the sum): ${hidden.join(', ')}`] : []),
    `  seconds per block: ${blocks.join(' ')}`,
  ];
}
