/**
 * Cutting a graph down to what a set of outputs needs, with chosen internal tensors turned into
 * graph inputs. Sequential calibration uses it to run one decoder block at a time on the stored
 * (already pruned) residual stream instead of re-running every earlier block.
 */
import { onnx, type GraphMessage, type ModelProto, type NodeMessage, type NodeProto, type TensorProto, type ValueInfoProto } from './proto.js';

export interface CutInput {
  name: string;
  elemType: number;
}

export interface Subgraph {
  proto: ModelProto;
  /** Nodes kept, in graph order. */
  nodes: NodeProto[];
}

/** Names a node's graph attributes (If/Loop bodies) read from the enclosing scope, over-approximated. */
function implicitInputs(node: NodeProto): string[] {
  const out: string[] = [];
  for (const a of node.attribute ?? []) {
    for (const sub of [a.g, ...(a.graphs ?? [])]) {
      for (const n of sub?.node ?? []) out.push(...(n.input ?? []), ...implicitInputs(n));
    }
  }
  return out;
}

function valueInfo(name: string, elemType: number): ValueInfoProto {
  return onnx.ValueInfoProto.create({ name, type: onnx.TypeProto.create({ tensorType: onnx.TypeProto.Tensor.create({ elemType }) }) });
}

/**
 * Keeps the nodes `outputs` depend on, walking back from them (ONNX node lists are topologically
 * sorted) and stopping at graph inputs, initializers and the `cut` tensors, which become inputs.
 * Graph inputs and initializers nobody needs are dropped.
 */
export function extractSubgraph(proto: ModelProto, cut: CutInput[], outputs: Array<{ name: string; elemType: number }>): Subgraph {
  const g = proto.graph!;
  const cutNames = new Set(cut.map((c) => c.name));
  const needed = new Set(outputs.map((o) => o.name));
  const kept: NodeProto[] = [];
  const nodes = g.node ?? [];
  for (let k = nodes.length - 1; k >= 0; k--) {
    const n = nodes[k]!;
    if (!(n.output ?? []).some((o) => needed.has(o) && !cutNames.has(o))) continue;
    // A kept node that also produces a cut tensor would clash with the new input of that name.
    const outs = (n.output ?? []).map((o) => (cutNames.has(o) ? `${o}__cut_unused` : o));
    kept.push(outs.some((o, i) => o !== n.output![i]) ? onnx.NodeProto.create({ ...(n as NodeMessage), output: outs }) : n);
    for (const i of [...(n.input ?? []), ...implicitInputs(n)]) if (i && !cutNames.has(i)) needed.add(i);
  }
  kept.reverse();
  const produced = new Set(kept.flatMap((n) => n.output ?? []));
  for (const o of outputs) {
    if (!produced.has(o.name) && !cutNames.has(o.name) && !(g.input ?? []).some((i) => i.name === o.name)) {
      throw new Error(`cannot extract a subgraph: no node produces ${o.name}`);
    }
  }
  const initializer: TensorProto[] = (g.initializer ?? []).filter((t) => needed.has(t.name ?? ''));
  const inits = new Set(initializer.map((t) => t.name));
  const input = [...(g.input ?? []).filter((i) => needed.has(i.name ?? '') && !inits.has(i.name)), ...cut.map((c) => valueInfo(c.name, c.elemType))];
  const graph = onnx.GraphProto.create({
    ...(g as GraphMessage),
    node: kept,
    initializer,
    input,
    output: outputs.map((o) => valueInfo(o.name, o.elemType)),
    valueInfo: (g.valueInfo ?? []).filter((v) => produced.has(v.name ?? '')),
  });
  return { proto: onnx.ModelProto.create({ ...proto, graph }), nodes: kept };
}

/**
 * The graph cut down to the named outputs, which it must already declare. onnxruntime runs every
 * node of a graph whatever a run fetches, so a calibration pass over the whole graph would also
 * compute the LM head: [batch, tokens, vocab] logits (1 GB for 8 × 128 tokens of a 250k
 * vocabulary) and, for a tied head, every row of the embedding pulled into memory. Graph inputs
 * the outputs do not need are dropped; feed only what the session declares.
 */
export function onlyOutputs(proto: ModelProto, names: string[]): ModelProto {
  const declared = new Map((proto.graph!.output ?? []).map((o) => [o.name ?? '', o]));
  const outputs = names.map((name) => {
    const o = declared.get(name);
    if (!o) throw new Error(`cannot cut the graph to ${name}: it is not a graph output`);
    return { name, elemType: o.type?.tensorType?.elemType ?? 0 };
  });
  const { proto: cut, nodes } = extractSubgraph(proto, [], outputs);
  // Outputs of nodes that stay (a cache's present.* of the attention nodes) stay outputs: fused
  // attention such as GroupQueryAttention fails when its present output may share the past input's
  // buffer ("Shape mismatch attempting to re-use buffer"), which onnxruntime allows once the
  // tensor is no graph output. They cost one batch's keys and values, not the logits.
  const produced = new Set(nodes.flatMap((n) => n.output ?? []));
  const wanted = new Set(names);
  const kept = (proto.graph!.output ?? []).filter((o) => !wanted.has(o.name ?? '') && produced.has(o.name ?? ''));
  // Keep the declared output types and shapes rather than the bare element types.
  cut.graph!.output = [...names.map((n) => declared.get(n)!), ...kept];
  return cut;
}
