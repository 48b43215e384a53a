/**
 * onnxruntime's WebGPU provider against its CPU provider on every real-export layout: the same
 * graph, the same feeds, the first output compared (logits; the last hidden state where the export
 * has no head). fp32: within 1e-4 of the output's scale (max |webgpu − cpu| / max |cpu|). fp16:
 * WebGPU computes in fp16 where CPU folds to fp32, so only fp16 precision is asked. Wanda masks from
 * statistics collected on each device are equal except for swaps between scores that lie within
 * float noise of each other. Runs only in the webgpu project (vitest.webgpu.config.ts).
 */
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { makeBatches } from '@polyprune/gpu-runner/calibrate/batches';
import { tokenFeeds } from '@polyprune/gpu-runner/calibrate/feeds';
import { scoreRequests } from '@polyprune/gpu-runner/evaluate/batching';
import { openEvalModel } from '@polyprune/gpu-runner/evaluate/model';
import { withDeviceCut } from '@polyprune/gpu-runner/onnx/session';
import { createSession, deviceUse, type Device, resetDeviceUse } from '@polyprune/gpu-runner/ort';
import { canonicalWeight } from '@polyprune/gpu-runner/prune/policy';
import { computeScores } from '@polyprune/gpu-runner/prune/scores';
import { calibration, LAYOUTS, masksFor, open, REAL } from '../runner/real-exports/layouts.js';

async function firstOutput(file: string, device: Device, o: Awaited<ReturnType<typeof open>>): Promise<Float32Array> {
  const { session, device: ran } = await createSession(file, await withDeviceCut(o.uploaded.proto, { device, intraOpThreads: 1 }));
  expect(ran).toBe(device);
  try {
    const batch = makeBatches(calibration(o.tokenizer, false), 5)[0]!;
    const out = await session.run(tokenFeeds(session, batch, new Set(), { maskPadding: false, config: o.config }));
    const t = out[session.outputNames[0]!]!;
    const data = t.data as Float32Array | Uint16Array;
    return data instanceof Float32Array ? Float32Array.from(data) : Float32Array.from(new Float16Array(data.buffer, data.byteOffset, data.length));
  } finally {
    await session.release();
  }
}

function scaledDiff(a: Float32Array, b: Float32Array): number {
  let d = 0;
  let s = 0;
  for (let i = 0; i < b.length; i++) {
    d = Math.max(d, Math.abs(a[i]! - b[i]!));
    s = Math.max(s, Math.abs(b[i]!));
  }
  return d / s;
}

describe.each(LAYOUTS)('$dir on webgpu', (layout) => {
  it('first output equals the CPU provider’s', async () => {
    const o = await open(path.join(REAL, layout.dir), layout.graph);
    const file = path.join(REAL, layout.dir, layout.graph);
    const cpu = await firstOutput(file, 'cpu', o);
    resetDeviceUse();
    const gpu = await firstOutput(file, 'webgpu', o);
    expect(gpu.length).toBe(cpu.length);
    expect(scaledDiff(gpu, cpu)).toBeLessThan(layout.fp16 ? 2e-2 : 1e-4);
    // what ran where is recorded (profiled first run)
    const use = await deviceUse();
    expect(use.providers).toEqual(['webgpu']);
    expect(use.webgpu!.placement!.nodes.webgpu).toBeGreaterThan(0);
  });

  it.runIf(layout.scorable)('scores through the engine (cache, padding, batching) equal the CPU provider’s', async () => {
    const score = async (device: Device) => {
      const m = await openEvalModel(path.join(REAL, layout.dir), { device, graphFile: layout.graph, intraOpThreads: 1 });
      try {
        // a 9-token context: where MultiHeadAttention's WebGPU kernel diverged (onnx/device-cut.ts)
        const ctx = m.tokenizer.encode('Question: Where is the cat? Answer:');
        const reqs = [' on the sofa.', ' in the garden today.', ' yes'].map((c) => ({
          tokens: Int32Array.from([...ctx, ...m.tokenizer.encode(c)]),
          scoreFrom: ctx.length,
          group: 0,
        }));
        return (await scoreRequests(m, reqs, { maxBatchSize: 2 })).logprobs;
      } finally {
        await m.session.release();
      }
    };
    const cpu = await score('cpu');
    const gpu = await score('webgpu');
    for (const [i, lp] of cpu.entries())
      for (let k = 0; k < lp.length; k++) expect(Math.abs(gpu[i]![k]! - lp[k]!), `request ${i} token ${k}`).toBeLessThan(layout.fp16 ? 1e-1 : 1e-4);
  });

  it('Wanda masks equal the CPU ones up to swaps of near-tied scores', async () => {
    const o = await open(path.join(REAL, layout.dir), layout.graph);
    const pattern = { kind: 'unstructured', sparsity: 0.5 } as const;
    const cpu = await masksFor(o, 'wanda', 'oneshot', pattern, false, false, undefined, 'cpu');
    const gpu = await masksFor(o, 'wanda', 'oneshot', pattern, false, false, undefined, 'webgpu');
    const noise = layout.fp16 ? 5e-2 : 1e-4;
    let differing = 0;
    let total = 0;
    for (const [k, m] of cpu.masks.entries()) {
      const g = gpu.masks[k]!;
      const l = o.linears.find((x) => x.id === m.id)!;
      const scores = computeScores(await canonicalWeight(o.model, l), { method: 'wanda', sqNorm: cpu.stats!.get(l.id)!.sqNorm });
      // entries kept by one device only; each must have a partner kept by the other only whose
      // score is within float noise of its own (the two sides of one near-tie)
      const onlyCpu: number[] = [];
      const onlyGpu: number[] = [];
      for (let i = 0; i < m.keep.length; i++) {
        if (m.keep[i] === g.keep[i]) continue;
        (m.keep[i] ? onlyCpu : onlyGpu).push(scores[i]!);
      }
      expect(onlyCpu.length, m.id).toBe(onlyGpu.length);
      onlyCpu.sort((a, b) => a - b);
      onlyGpu.sort((a, b) => a - b);
      for (const [j, s] of onlyCpu.entries()) expect(Math.abs(s - onlyGpu[j]!) / Math.max(s, 1e-12), `${m.id} swap ${j}`).toBeLessThan(noise);
      differing += onlyCpu.length * 2;
      total += m.keep.length;
    }
    expect(differing / total).toBeLessThan(layout.fp16 ? 2e-2 : 1e-3);
  });
});
