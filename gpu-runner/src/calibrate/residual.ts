/**
 * The residual stream after each decoder block, batch by batch, for the large-magnitude-feature
 * report: only the block outputs are exposed as graph outputs (not every linear's input, which
 * the statistics need and the report does not), so a pass costs about a forward pass and its
 * memory stays within the activation budget.
 *
 * The graph is fed as the statistics' pass is (feeds.ts: a mask of ones unless maskPadding). The
 * report counts real tokens only, whatever maskPadding says: it compares texts, and pads are none;
 * rows are right-padded and attention causal, so the real tokens' residuals do not depend on it.
 */
import type { ModelConfig } from '../onnx/graph-io.js';
import type { OnnxModel } from '../onnx/read.js';
import { openSession } from '../onnx/session.js';
import type { BlockOutput } from '../onnx/structure.js';
import { exposeTensors } from '../onnx/surgery.js';
import { onlyOutputs } from '../onnx/subgraph.js';
import { initializerBytes } from '../onnx/write.js';
import type { SessionOptions } from '../ort.js';
import type { ProgressFn } from '../types.js';
import { asFloat32 } from './accumulate.js';
import { chooseBatchSize, makeBatches, splitSamples, type TokenizedCalibration } from './batches.js';
import { tokenFeeds } from './feeds.js';

export interface ResidualOptions {
  /** as the job's statistics: false feeds a mask of ones (the reference's call), true the padding mask */
  maskPadding?: boolean;
  session?: SessionOptions;
  config?: ModelConfig;
  onProgress?: ProgressFn;
  /** the weights' element type (activations share it) */
  elemType: number;
  /** the residual width (the blocks' input width) */
  hidden: number;
  /** The memory this runner may use; the batch size stays within it. */
  memoryLimitBytes?: number;
}

export async function collectResidualStream(
  model: OnnxModel,
  outputs: BlockOutput[],
  calibration: TokenizedCalibration,
  onBlockOutput: (block: number, x: Float32Array, dims: number[], attentionMask: BigInt64Array) => void,
  o: ResidualOptions,
): Promise<void> {
  const samples = splitSamples(calibration);
  const { batchSize } = chooseBatchSize({
    weightBytes: initializerBytes(model),
    seqLen: calibration.maxLength,
    capturedWidth: outputs.length * o.hidden,
    hidden: o.hidden,
    samples: samples.length,
    limitBytes: o.memoryLimitBytes,
  });
  const names = outputs.map((b) => b.name);
  // As the statistics' pass: fp16 weights cast per run on CPU, no fp32 copy held (onnx/cpu-fp16.ts).
  const open = await openSession(onlyOutputs(exposeTensors(model.proto, names, o.elemType), names), model.dir, { fp16Weights: 'per-run', ...o.session });
  try {
    const batches = makeBatches(samples, batchSize);
    for (const [k, batch] of batches.entries()) {
      const out = await open.session.run(tokenFeeds(open.session, batch, new Set(), { maskPadding: o.maskPadding ?? false, config: o.config }), names);
      for (const b of outputs) {
        const t = out[b.name]!;
        onBlockOutput(b.block, asFloat32(t.data), [...t.dims], batch.attentionMask);
      }
      o.onProgress?.('lmf', k + 1, batches.length);
    }
  } finally {
    await open.release();
  }
}
