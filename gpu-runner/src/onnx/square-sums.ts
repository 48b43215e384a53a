/**
 * Graph surgery for oneshot statistics: instead of returning every linear's input [B, T, d] to
 * JavaScript, the graph itself computes Σ_tokens x_j² per channel and returns a [d] vector. On CUDA
 * this keeps activations on the device; on CPU it replaces a JS loop with onnxruntime's kernels.
 *
 *   x ─Cast(float)─Reshape[-1,d]─(·mask[-1,1])─Mul(x,x)─ReduceSum(axis 0)→ `${x}__pp_sqsum` [d]
 *
 * Sums are float32 within one batch (a few thousand tokens at most); batches are added in float64.
 */
import { DataType, onnx, type GraphMessage, type ModelProto, type NodeProto, type TensorProto, type ValueInfoProto } from './proto.js';

export const sqSumName = (tensor: string) => `${tensor}__pp_sqsum`;

function int64Const(name: string, values: number[]): TensorProto {
  return onnx.TensorProto.create({ name, dataType: DataType.INT64, dims: [values.length], int64Data: values });
}

type Attribute = ReturnType<typeof onnx.AttributeProto.create>;

function node(opType: string, inputs: string[], outputs: string[], attrs: Attribute[] = []): NodeProto {
  return onnx.NodeProto.create({ opType, input: inputs, output: outputs, name: `pp_sqsum/${outputs[0]}`, attribute: attrs });
}

const intAttribute = (name: string, i: number) => onnx.AttributeProto.create({ name, type: onnx.AttributeProto.AttributeType.INT, i });
const intsAttribute = (name: string, ints: number[]) => onnx.AttributeProto.create({ name, type: onnx.AttributeProto.AttributeType.INTS, ints });

function opsetOf(proto: ModelProto): number {
  const d = (proto.opsetImport ?? []).find((o) => !o.domain || o.domain === 'ai.onnx');
  return Number(d?.version ?? 13);
}

/**
 * Adds one `[d]` float output per tensor. `maskInput` names the graph's attention-mask input when
 * padded positions must not count (their rows are multiplied by 0 before squaring).
 */
export function addSquareSumOutputs(proto: ModelProto, tensors: { name: string; width: number }[], maskInput?: string): ModelProto {
  const opset = opsetOf(proto);
  const nodes: NodeProto[] = [];
  const inits: TensorProto[] = [];
  const outputs: ValueInfoProto[] = [];
  // ReduceSum takes axes as an input from opset 13 on, as an attribute before.
  const axesInput = opset >= 13;
  if (axesInput) inits.push(int64Const('pp_sqsum/axes0', [0]));
  let maskCol: string | undefined;
  if (maskInput) {
    inits.push(int64Const('pp_sqsum/shape_col', [-1, 1]));
    nodes.push(node('Cast', [maskInput], ['pp_sqsum/mask_f'], [intAttribute('to', DataType.FLOAT)]));
    nodes.push(node('Reshape', ['pp_sqsum/mask_f', 'pp_sqsum/shape_col'], ['pp_sqsum/mask_col']));
    maskCol = 'pp_sqsum/mask_col';
  }
  const widths = new Set<number>();
  for (const { name, width } of tensors) {
    if (!widths.has(width)) {
      inits.push(int64Const(`pp_sqsum/shape_${width}`, [-1, width]));
      widths.add(width);
    }
    const p = `pp_sqsum/${name}`;
    nodes.push(node('Cast', [name], [`${p}/f`], [intAttribute('to', DataType.FLOAT)]));
    nodes.push(node('Reshape', [`${p}/f`, `pp_sqsum/shape_${width}`], [`${p}/rows`]));
    let rows = `${p}/rows`;
    if (maskCol) {
      nodes.push(node('Mul', [rows, maskCol], [`${p}/masked`]));
      rows = `${p}/masked`;
    }
    nodes.push(node('Mul', [rows, rows], [`${p}/sq`]));
    const out = sqSumName(name);
    nodes.push(
      axesInput
        ? node('ReduceSum', [`${p}/sq`, 'pp_sqsum/axes0'], [out], [intAttribute('keepdims', 0)])
        : node('ReduceSum', [`${p}/sq`], [out], [intsAttribute('axes', [0]), intAttribute('keepdims', 0)]),
    );
    outputs.push(
      onnx.ValueInfoProto.create({
        name: out,
        type: onnx.TypeProto.create({
          tensorType: onnx.TypeProto.Tensor.create({
            elemType: DataType.FLOAT,
            shape: onnx.TensorShapeProto.create({ dim: [onnx.TensorShapeProto.Dimension.create({ dimValue: width })] }),
          }),
        }),
      }),
    );
  }
  const g = proto.graph!;
  const graph = onnx.GraphProto.create({
    ...(g as GraphMessage),
    node: [...(g.node ?? []), ...nodes],
    initializer: [...(g.initializer ?? []), ...inits],
    output: [...(g.output ?? []), ...outputs],
  });
  return onnx.ModelProto.create({ ...proto, graph });
}
