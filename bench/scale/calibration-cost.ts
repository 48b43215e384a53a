/**
 * Calibration cost against a plain forward pass over the same tokens, in this process: forward
 * (logits), oneshot statistics and sequential statistics (masks chosen per block, as a job does)
 * run interleaved `reps` times; each repetition gives one ratio per mode, and the median and range
 * are reported. Every run includes opening its session, as a job's does.
 */
import path from 'node:path';
import type { CalibrationSample } from '../../gpu-runner/src/calibrate/batches.js';
import { makeBatches } from '../../gpu-runner/src/calibrate/batches.js';
import { tokenFeeds } from '../../gpu-runner/src/calibrate/feeds.js';
import { collectStats } from '../../gpu-runner/src/calibrate/stats.js';
import { discoverStructure, preflight } from '../../gpu-runner/src/model/preflight.js';
import { openSession } from '../../gpu-runner/src/onnx/session.js';
import { selectMask } from '../../gpu-runner/src/prune/masks.js';
import { computeScores } from '../../gpu-runner/src/prune/scores.js';
import { canonicalWeight } from '../../gpu-runner/src/prune/policy.js';

export interface Ratio {
  median: number;
  min: number;
  max: number;
}

export interface CalibrationCost {
  forwardSeconds: number[];
  oneshot: Ratio;
  sequential: Ratio;
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
  const timed = async (fn: () => Promise<unknown>) => {
    const t0 = performance.now();
    await fn();
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
  const mask = async (l: (typeof structure.linears)[number], stats: Map<string, { sqNorm: Float64Array }>) => {
    const w = await canonicalWeight(model, l);
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
  for (let r = 0; r < reps; r++) {
    const f = await forward();
    fw.push(f);
    one.push((await timed(() => collectStats(model, structure.linears, samples, { mode: 'oneshot', batchSize: BATCH, session, config }))) / f);
    seq.push(
      (await timed(() =>
        collectStats(model, structure.linears, samples, {
          mode: 'sequential',
          batchSize: BATCH,
          session,
          config,
          maskBlock: (b, stats) => Promise.all(structure.linears.filter((l) => l.block === b).map((l) => mask(l, stats))),
        }),
      )) / f,
    );
    process.stdout.write(`${path.basename(dir)} rep ${r + 1}/${reps} `);
  }
  return { forwardSeconds: fw, oneshot: ratio(one), sequential: ratio(seq) };
}
