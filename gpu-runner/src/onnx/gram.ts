/**
 * Graph surgery for SparseGPT's Hessians: like square-sums.ts, but the graph returns the whole Gram
 * matrix Σ_tokens x·xᵀ of a linear's input ([d, d] float32, one batch) instead of its diagonal, so
 * that no activation reaches JavaScript and the O(tokens·d²) product runs in onnxruntime's MatMul.
 *
 *   x ─Cast(float)─Reshape[-1,d]─(·mask[-1,1])─┬─Transpose─MatMul→ `${x}__pp_xtx` [d, d]
 *                                               └────────────┘
 */
import type { ModelProto } from './proto.js';
import { addRowOutputs, floatOutput, intsAttribute } from './row-outputs.js';

export const gramName = (tensor: string) => `${tensor}__pp_xtx`;

/** Adds one `[d, d]` float output per tensor; `maskInput` zeroes padded rows (see square-sums.ts). */
export function addGramOutputs(proto: ModelProto, tensors: { name: string; width: number }[], maskInput?: string): ModelProto {
  return addRowOutputs(proto, 'pp_xtx', tensors, maskInput, (g, rows, p, { name, width }) => {
    g.nodes.push(g.node('Transpose', [rows], [`${p}/t`], [intsAttribute('perm', [1, 0])]));
    g.nodes.push(g.node('MatMul', [`${p}/t`, rows], [gramName(name)]));
    return floatOutput(gramName(name), [width, width]);
  });
}
