/**
 * Calibration cost against a plain forward pass over the same tokens, in this process: forward
 * (logits), oneshot statistics and sequential statistics (masks chosen per block, as a job does)
 * run interleaved `reps` times; each repetition gives one ratio per mode, and the median and range
 * are reported. Every run includes opening its session, as a job's does.
 */
import os from 'node:os';
import path from 'node:path';
import type { CalibrationSample } from '@polyprune/gpu-runner/calibrate/batches';
import { makeBatches } from '@polyprune/gpu-runner/calibrate/batches';
import { tokenFeeds } from '@polyprune/gpu-runner/calibrate/feeds';
import { collectStats } from '@polyprune/gpu-runner/calibrate/stats';
import type { SequentialProfile } from '@polyprune/gpu-runner/calibrate/sequential';
import { discoverStructure, preflight } from '@polyprune/gpu-runner/model/preflight';
import { openSession } from '@polyprune/gpu-runner/onnx/session';
import { selectMask } from '@polyprune/gpu-runner/prune/masks';
import { computeScores } from '@polyprune/gpu-runner/prune/scores';
import { canonicalWeight, type StoredWeights } from '@polyprune/gpu-runner/prune/policy';

export interface Ratio {
  median: number;
  min: number;
  max: number;
}

export interface CalibrationCost {
  forwardSeconds: number[];
  oneshot: Ratio;
  sequential: Ratio;
  /** the same ratios by this process's CPU time (steadier when neighbours load the machine) */
  oneshotCpu: Ratio;
  sequentialCpu: Ratio;
  /** the last sequential run: seconds per stage and per block */
  profile?: SequentialProfile;
  /** 1-minute load average after each repetition (the machine is shared) */
  load: number[];
}

const BATCH = 4;

function ratio(xs: number[]): Ratio {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
  return { median: mid, min: s[0]!, max: s[s.length - 1]! };
}

export async function measureCalibration(dir: string, cal: { samples: number; maxLength: number }, reps: number): Promise<CalibrationCost> {
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
  // Wall seconds; this process's CPU seconds (onnxruntime's threads included) go to `lastCpu`.
  let lastCpu = 0;
  const timed = async (fn: () => Promise<unknown>) => {
    const t0 = performance.now();
    const c0 = process.cpuUsage();
    await fn();
    const c = process.cpuUsage(c0);
    lastCpu = (c.user + c.system) / 1e6;
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
    });
  const mask = async (l: (typeof structure.linears)[number], stats: Map<string, { sqNorm: Float64Array }>, stored: StoredWeights) => {
    const w = await canonicalWeight(model, l, stored);
    return selectMask(
      l.id,
      computeScores(w, { method: 'wanda', sqNorm: stats.get(l.id)!.sqNorm }),
      { dIn: l.dIn, dOut: l.dOut },
      { pattern: { kind: 'unstructured', sparsity: 0.5 } },
    );
  };
  const fw: number[] = [];
  const one: number[] = [];
  const seq: number[] = [];
  const load: number[] = [];
  const oneCpu: number[] = [];
  const seqCpu: number[] = [];
  let profile: SequentialProfile | undefined;
  for (let r = 0; r < reps; r++) {
    const f = await forward();
    const fCpu = lastCpu;
    fw.push(f);
    one.push((await timed(() => collectStats(model, structure.linears, samples, { mode: 'oneshot', batchSize: BATCH, session, config }))) / f);
    oneCpu.push(lastCpu / fCpu);
    seq.push(
      (await timed(async () => {
        profile = (
          await collectStats(model, structure.linears, samples, {
            mode: 'sequential',
            batchSize: BATCH,
            session,
            config,
            maskBlock: (b, stats, stored) => Promise.all(structure.linears.filter((l) => l.block === b).map((l) => mask(l, stats, stored))),
          })
        ).profile;
      })) / f,
    );
    seqCpu.push(lastCpu / fCpu);
    load.push(os.loadavg()[0]!);
    process.stdout.write(`${path.basename(dir)} rep ${r + 1}/${reps} (forward ${f.toFixed(1)} s, load ${load[r]!.toFixed(1)}) `);
  }
  return { forwardSeconds: fw, oneshot: ratio(one), sequential: ratio(seq), oneshotCpu: ratio(oneCpu), sequentialCpu: ratio(seqCpu), profile, load };
}

/** The profile as lines: each stage's share of a forward pass, and the per-block seconds. */
export function describeProfile(cost: CalibrationCost): string[] {
  const p = cost.profile;
  if (!p) return [];
  const f = cost.forwardSeconds[cost.forwardSeconds.length - 1]!;
  const total = Object.values(p.stages).reduce((a, b) => a + b, 0);
  const stages = Object.entries(p.stages)
    .sort((a, b) => b[1] - a[1])
    .map(([k, v]) => `${k} ${v.toFixed(2)} s (${(v / f).toFixed(2)}× forward)`);
  const blocks = p.blocks.map((v) => v.toFixed(2));
  return [
    `  last sequential run, ${total.toFixed(1)} s = ${(total / f).toFixed(2)}× its forward pass (${f.toFixed(1)} s): ${stages.join(', ')}`,
    `  seconds per block: ${blocks.join(' ')}`,
  ];
}
