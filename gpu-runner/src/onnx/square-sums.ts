/**
 * Graph surgery for oneshot statistics: instead of returning every linear's input [B, T, d] to
 * JavaScript, the graph itself computes Σ_tokens x_j² per channel and returns a [d] vector. On CUDA
 * this keeps activations on the device; on CPU it replaces a JS loop with onnxruntime's kernels.
 *
 *   x ─Cast(float)─Reshape[-1,d]─(·mask[-1,1])─Mul(x,x)─ReduceSum(axis 0)→ `${x}__pp_sqsum` [d]
 *
 * Sums are float32 within one batch (a few thousand tokens at most); batches are added in float64.
 */
import type { ModelProto } from './proto.js';
import { addRowOutputs, floatOutput, int64Const, intAttribute, intsAttribute } from './row-outputs.js';

export const sqSumName = (tensor: string) => `${tensor}__pp_sqsum`;

function opsetOf(proto: ModelProto): number {
  const d = (proto.opsetImport ?? []).find((o) => !o.domain || o.domain === 'ai.onnx');
  return Number(d?.version ?? 13);
}

/**
 * Adds one `[d]` float output per tensor. `maskInput` names the graph's attention-mask input when
 * padded positions must not count (their rows are multiplied by 0 before squaring).
 */
export function addSquareSumOutputs(proto: ModelProto, tensors: { name: string; width: number }[], maskInput?: string): ModelProto {
  // ReduceSum takes axes as an input from opset 13 on, as an attribute before.
  const axesInput = opsetOf(proto) >= 13;
  return addRowOutputs(
    proto,
    'pp_sqsum',
    tensors,
    maskInput,
    (g, rows, p, { name, width }) => {
      g.nodes.push(g.node('Mul', [rows, rows], [`${p}/sq`]));
      const out = sqSumName(name);
      g.nodes.push(
        axesInput
          ? g.node('ReduceSum', [`${p}/sq`, 'pp_sqsum/axes0'], [out], [intAttribute('keepdims', 0)])
          : g.node('ReduceSum', [`${p}/sq`], [out], [intsAttribute('axes', [0]), intAttribute('keepdims', 0)]),
      );
      return floatOutput(out, [width]);
    },
    (g) => {
      if (axesInput) g.inits.push(int64Const('pp_sqsum/axes0', [0]));
    },
  );
}
