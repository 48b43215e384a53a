/**
 * Graph surgery on a shallow copy of a model: expose internal tensors as graph outputs (to
 * capture activations) and turn weight initializers into graph inputs (to feed masked weights per
 * run). onnxruntime ignores a feed for a name that is still an initializer, so those weights are
 * removed from the initializers, not merely declared as inputs.
 */
import { DataType, dimsOf, onnx, type GraphMessage, type GraphProto, type ModelProto, type TensorProto, type ValueInfoProto } from './proto.js';

function elemTypeOf(proto: ModelProto, tensor: string): number | undefined {
  const g = proto.graph!;
  for (const list of [g.valueInfo, g.input, g.output]) {
    const vi = (list ?? []).find((v) => v.name === tensor);
    const t = vi?.type?.tensorType?.elemType;
    if (t) return t;
  }
  return undefined;
}

function tensorValueInfo(name: string, elemType: number, dims?: number[]): ValueInfoProto {
  const shape = dims ? onnx.TensorShapeProto.create({ dim: dims.map((d) => onnx.TensorShapeProto.Dimension.create({ dimValue: d })) }) : undefined;
  return onnx.ValueInfoProto.create({
    name,
    type: onnx.TypeProto.create({ tensorType: onnx.TypeProto.Tensor.create({ elemType, ...(shape ? { shape } : {}) }) }),
  });
}

function copyWithGraph(proto: ModelProto, graph: Partial<GraphProto>): ModelProto {
  return onnx.ModelProto.create({ ...proto, graph: onnx.GraphProto.create({ ...(proto.graph as GraphMessage), ...graph }) });
}

/**
 * Adds graph outputs for internal tensors; their element type comes from the graph's value_info
 * when present, otherwise `fallbackElemType` (the activation type, i.e. the weights' type).
 * Shapes are left dynamic.
 */
export function exposeTensors(proto: ModelProto, tensors: string[], fallbackElemType: number = DataType.FLOAT): ModelProto {
  const existing = new Set((proto.graph!.output ?? []).map((o) => o.name));
  const extra: ValueInfoProto[] = [];
  for (const t of new Set(tensors)) {
    if (existing.has(t)) continue;
    extra.push(tensorValueInfo(t, elemTypeOf(proto, t) ?? fallbackElemType));
  }
  return copyWithGraph(proto, { output: [...(proto.graph!.output ?? []), ...extra] });
}

/** Moves the named initializers to graph inputs with their exact dims and element type. */
export function weightsToInputs(proto: ModelProto, weightNames: string[]): ModelProto {
  const wanted = new Set(weightNames);
  const kept: TensorProto[] = [];
  const inputs: ValueInfoProto[] = [];
  for (const t of proto.graph!.initializer ?? []) {
    if (wanted.has(t.name ?? '')) {
      inputs.push(tensorValueInfo(t.name!, t.dataType!, dimsOf(t)));
      wanted.delete(t.name!);
    } else kept.push(t);
  }
  if (wanted.size) throw new Error(`cannot make inputs of ${[...wanted].join(', ')}: no such initializers`);
  // IR < 4 requires every initializer to be listed among the inputs; drop such duplicate entries.
  const moved = new Set(inputs.map((i) => i.name));
  const graphInputs = (proto.graph!.input ?? []).filter((i) => !moved.has(i.name ?? ''));
  return copyWithGraph(proto, { initializer: kept, input: [...graphInputs, ...inputs] });
}
