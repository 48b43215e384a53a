/**
 * The residual-stream pass (LMF report) and oneshot statistics run on a graph cut down to the
 * tensors they fetch (onnx/subgraph.ts onlyOutputs). On every real layout, with batches of
 * several samples: fused attention (the model builder's GroupQueryAttention) must keep its present
 * outputs, or onnxruntime fails reusing the past buffer for them.
 */
import { describe, expect, it } from 'vitest';
import { collectResidualStream } from '../../../gpu-runner/src/calibrate/residual.js';
import { collectStats } from '../../../gpu-runner/src/calibrate/stats.js';
import { DataType } from '../../../gpu-runner/src/onnx/proto.js';
import { findBlockOutputs } from '../../../gpu-runner/src/onnx/structure.js';
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
