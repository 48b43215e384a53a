/**
 * The part that in-graph statistics share (square-sums.ts, gram.ts): each captured tensor cast to
 * float and reshaped to token rows [-1, d], rows of padding zeroed by the attention mask when one is
 * given, then a reduction of the caller's that becomes a new graph output. Nothing reaches
 * JavaScript but the reduced outputs.
 */
import { DataType, onnx, type GraphMessage, type ModelProto, type NodeProto, type TensorProto, type ValueInfoProto } from './proto.js';

type Attribute = ReturnType<typeof onnx.AttributeProto.create>;

export const intAttribute = (name: string, i: number) => onnx.AttributeProto.create({ name, type: onnx.AttributeProto.AttributeType.INT, i });
export const intsAttribute = (name: string, ints: number[]) => onnx.AttributeProto.create({ name, type: onnx.AttributeProto.AttributeType.INTS, ints });

export function int64Const(name: string, values: number[]): TensorProto {
  return onnx.TensorProto.create({ name, dataType: DataType.INT64, dims: [values.length], int64Data: values });
}

/** A float graph output of the given static shape. */
export function floatOutput(name: string, dims: number[]): ValueInfoProto {
  return onnx.ValueInfoProto.create({
    name,
    type: onnx.TypeProto.create({
      tensorType: onnx.TypeProto.Tensor.create({
        elemType: DataType.FLOAT,
        shape: onnx.TensorShapeProto.create({ dim: dims.map((v) => onnx.TensorShapeProto.Dimension.create({ dimValue: v })) }),
      }),
    }),
  });
}

export interface RowGraph {
  /** a node named under the surgery's prefix */
  node(opType: string, inputs: string[], outputs: string[], attrs?: Attribute[]): NodeProto;
  nodes: NodeProto[];
  inits: TensorProto[];
}

/**
 * `reduce(g, rows, p, tensor)` appends the nodes that turn `rows` ([-1, d] float) into an output and
 * returns that output's declaration; `p` is a per-tensor name prefix.
 */
export function addRowOutputs(
  proto: ModelProto,
  prefix: string,
  tensors: { name: string; width: number }[],
  maskInput: string | undefined,
  reduce: (g: RowGraph, rows: string, p: string, tensor: { name: string; width: number }) => ValueInfoProto,
  init: (g: RowGraph) => void = () => {},
): ModelProto {
  const g: RowGraph = {
    nodes: [],
    inits: [],
    node: (opType, inputs, outputs, attrs = []) =>
      onnx.NodeProto.create({ opType, input: inputs, output: outputs, name: `${prefix}/${outputs[0]}`, attribute: attrs }),
  };
  const outputs: ValueInfoProto[] = [];
  init(g);
  let maskCol: string | undefined;
  if (maskInput) {
    g.inits.push(int64Const(`${prefix}/shape_col`, [-1, 1]));
    g.nodes.push(g.node('Cast', [maskInput], [`${prefix}/mask_f`], [intAttribute('to', DataType.FLOAT)]));
    g.nodes.push(g.node('Reshape', [`${prefix}/mask_f`, `${prefix}/shape_col`], [`${prefix}/mask_col`]));
    maskCol = `${prefix}/mask_col`;
  }
  const widths = new Set<number>();
  for (const t of tensors) {
    if (!widths.has(t.width)) {
      g.inits.push(int64Const(`${prefix}/shape_${t.width}`, [-1, t.width]));
      widths.add(t.width);
    }
    const p = `${prefix}/${t.name}`;
    g.nodes.push(g.node('Cast', [t.name], [`${p}/f`], [intAttribute('to', DataType.FLOAT)]));
    g.nodes.push(g.node('Reshape', [`${p}/f`, `${prefix}/shape_${t.width}`], [`${p}/rows`]));
    let rows = `${p}/rows`;
    if (maskCol) {
      g.nodes.push(g.node('Mul', [rows, maskCol], [`${p}/masked`]));
      rows = `${p}/masked`;
    }
    outputs.push(reduce(g, rows, p, t));
  }
  const graph = proto.graph!;
  return onnx.ModelProto.create({
    ...proto,
    graph: onnx.GraphProto.create({
      ...(graph as GraphMessage),
      node: [...(graph.node ?? []), ...g.nodes],
      initializer: [...(graph.initializer ?? []), ...g.inits],
      output: [...(graph.output ?? []), ...outputs],
    }),
  });
}
