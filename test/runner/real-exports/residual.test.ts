/**
 * The residual-stream pass (LMF report) and oneshot statistics run on a graph cut down to the
 * tensors they fetch (onnx/subgraph.ts onlyOutputs). On every real layout, with batches of
 * several samples: fused attention (the model builder's GroupQueryAttention) must keep its present
 * outputs, or onnxruntime fails reusing the past buffer for them.
 */
import { describe, expect, it } from 'vitest';
import { collectResidualStream } from '@polyprune/gpu-runner/calibrate/residual';
import { collectStats } from '@polyprune/gpu-runner/calibrate/stats';
import { DataType } from '@polyprune/gpu-runner/onnx/proto';
import { findBlockOutputs } from '@polyprune/gpu-runner/onnx/structure';
import { maxAbsDiff } from '../helpers/tiny.js';
import { LAYOUTS, REAL, calibration, open } from './layouts.js';
import path from 'node:path';

describe.each(LAYOUTS.filter((l) => l.scorable))('cut graphs on $dir', (layout) => {
  it('residual stream and oneshot statistics in batches of 4', async () => {
    const m = await open(path.join(REAL, layout.dir), layout.graph);
    const samples = calibration(m.tokenizer, false, 12).slice(0, 4);
    const elemType = layout.fp16 ? DataType.FLOAT16 : DataType.FLOAT;
    const outputs = findBlockOutputs(m.model, m.linears);
    const seen = new Set<number>();
    const tokens = {
      samples: 4,
      maxLength: 12,
      inputIds: BigInt64Array.from(samples.flatMap((s) => Array.from(s.inputIds))),
      attentionMask: BigInt64Array.from(samples.flatMap((s) => Array.from(s.attentionMask))),
    };
    await collectResidualStream(
      m.model,
      outputs,
      tokens,
      (block, x, dims) => {
        expect(dims).toEqual([4, 12, m.linears[0]!.dIn]);
        expect(x.every(Number.isFinite)).toBe(true);
        seen.add(block);
      },
      { config: m.config, elemType, hidden: m.linears[0]!.dIn, session: { device: 'cpu' } },
    );
    expect(seen.size).toBe(outputs.length);
    const r = await collectStats(m.model, m.linears, samples, { mode: 'oneshot', batchSize: 4, config: m.config, session: { device: 'cpu' } });
    expect(r.runs).toBe(1);
    expect(r.stats.size).toBe(m.linears.length);
  });
});

describe.each(LAYOUTS.filter((l) => l.scorable))('LMF pass on $dir follows the calibration feeds', (layout) => {
  it('maskPadding false feeds the reference call: real tokens as with the padding mask (causal, right padding), pad rows not', async () => {
    const m = await open(path.join(REAL, layout.dir), layout.graph);
    const samples = calibration(m.tokenizer, true).slice(0, 4);
    const tokens = {
      samples: 4,
      maxLength: 16,
      inputIds: BigInt64Array.from(samples.flatMap((s) => Array.from(s.inputIds))),
      attentionMask: BigInt64Array.from(samples.flatMap((s) => Array.from(s.attentionMask))),
    };
    const outputs = findBlockOutputs(m.model, m.linears);
    const last = outputs[outputs.length - 1]!.block;
    const residual = async (maskPadding: boolean) => {
      let x: Float32Array | undefined;
      let mask: BigInt64Array | undefined;
      await collectResidualStream(
        m.model,
        outputs,
        tokens,
        (block, data, _dims, am) => {
          if (block !== last) return;
          x = Float32Array.from(data);
          mask = am;
        },
        { maskPadding, config: m.config, elemType: layout.fp16 ? DataType.FLOAT16 : DataType.FLOAT, hidden: m.linears[0]!.dIn, session: { device: 'cpu' } },
      );
      return { x: x!, mask: mask! };
    };
    const ref = await residual(false);
    const clean = await residual(true);
    // the report counts real tokens by the padding mask in both modes
    expect(Array.from(ref.mask)).toEqual(Array.from(tokens.attentionMask));
    const d = m.linears[0]!.dIn;
    const rowsOf = (x: Float32Array, keep: boolean) =>
      Array.from(tokens.attentionMask).flatMap((v, r) => ((v !== 0n) === keep ? Array.from(x.subarray(r * d, (r + 1) * d)) : []));
    const pads = rowsOf(ref.x, false);
    expect(pads.length).toBeGreaterThan(0);
    expect(maxAbsDiff(rowsOf(ref.x, true), rowsOf(clean.x, true))).toBeLessThan(layout.fp16 ? 1e-2 : 1e-5);
    // a graph without attention_mask is fed the same in both modes
    const takesMask = (m.model.proto.graph!.input ?? []).some((i) => i.name === 'attention_mask');
    if (takesMask) expect(maxAbsDiff(pads, rowsOf(clean.x, false))).toBeGreaterThan(1e-3);
    else expect(maxAbsDiff(pads, rowsOf(clean.x, false))).toBe(0);
  });
});
