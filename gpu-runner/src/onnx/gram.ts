/**
 * Graph surgery for SparseGPT's Hessians: like square-sums.ts, but the graph returns the whole Gram
 * matrix Σ_tokens x·xᵀ of a linear's input ([d, d] float32, one batch) instead of its diagonal, so
 * that no activation reaches JavaScript and the O(tokens·d²) product runs in onnxruntime's MatMul.
 *
 *   x ─Cast(float)─Reshape[-1,d]─(·mask[-1,1])─┬─Transpose─MatMul→ `${x}__pp_xtx` [d, d]
 *                                               └────────────┘
 */
import { DataType, onnx, type GraphMessage, type ModelProto, type NodeProto, type TensorProto, type ValueInfoProto } from './proto.js';

export const gramName = (tensor: string) => `${tensor}__pp_xtx`;

type Attribute = ReturnType<typeof onnx.AttributeProto.create>;

function node(opType: string, inputs: string[], outputs: string[], attrs: Attribute[] = []): NodeProto {
  return onnx.NodeProto.create({ opType, input: inputs, output: outputs, name: `pp_xtx/${outputs[0]}`, attribute: attrs });
}

function int64Const(name: string, values: number[]): TensorProto {
  return onnx.TensorProto.create({ name, dataType: DataType.INT64, dims: [values.length], int64Data: values });
}

const dim = (v: number) => onnx.TensorShapeProto.Dimension.create({ dimValue: v });

/** Adds one `[d, d]` float output per tensor; `maskInput` zeroes padded rows (see square-sums.ts). */
export function addGramOutputs(proto: ModelProto, tensors: { name: string; width: number }[], maskInput?: string): ModelProto {
  const nodes: NodeProto[] = [];
  const inits: TensorProto[] = [];
  const outputs: ValueInfoProto[] = [];
  let maskCol: string | undefined;
  if (maskInput) {
    inits.push(int64Const('pp_xtx/shape_col', [-1, 1]));
    nodes.push(
      node(
        'Cast',
        [maskInput],
        ['pp_xtx/mask_f'],
        [onnx.AttributeProto.create({ name: 'to', type: onnx.AttributeProto.AttributeType.INT, i: DataType.FLOAT })],
      ),
    );
    nodes.push(node('Reshape', ['pp_xtx/mask_f', 'pp_xtx/shape_col'], ['pp_xtx/mask_col']));
    maskCol = 'pp_xtx/mask_col';
  }
  const widths = new Set<number>();
  for (const { name, width } of tensors) {
    if (!widths.has(width)) {
      inits.push(int64Const(`pp_xtx/shape_${width}`, [-1, width]));
      widths.add(width);
    }
    const p = `pp_xtx/${name}`;
    nodes.push(node('Cast', [name], [`${p}/f`], [onnx.AttributeProto.create({ name: 'to', type: onnx.AttributeProto.AttributeType.INT, i: DataType.FLOAT })]));
    nodes.push(node('Reshape', [`${p}/f`, `pp_xtx/shape_${width}`], [`${p}/rows`]));
    let rows = `${p}/rows`;
    if (maskCol) {
      nodes.push(node('Mul', [rows, maskCol], [`${p}/masked`]));
      rows = `${p}/masked`;
    }
    nodes.push(
      node('Transpose', [rows], [`${p}/t`], [onnx.AttributeProto.create({ name: 'perm', type: onnx.AttributeProto.AttributeType.INTS, ints: [1, 0] })]),
    );
    nodes.push(node('MatMul', [`${p}/t`, rows], [gramName(name)]));
    outputs.push(
      onnx.ValueInfoProto.create({
        name: gramName(name),
        type: onnx.TypeProto.create({
          tensorType: onnx.TypeProto.Tensor.create({ elemType: DataType.FLOAT, shape: onnx.TensorShapeProto.create({ dim: [dim(width), dim(width)] }) }),
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
