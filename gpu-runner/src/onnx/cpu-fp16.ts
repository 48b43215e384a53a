/**
 * fp16 weights on onnxruntime's CPU provider, which has no fp16 MatMul or Gemm kernel: it wraps
 * such nodes in Casts, and the Cast of a constant weight is folded when the session starts, so a
 * session holds an fp32 copy of every fp16 weight (2 × the fp16 file, anonymous memory) for as long
 * as it lives; a weight fed as an input is instead cast again on every run. Two rewrites of the
 * graph a session opens on avoid both (docs/runner.md, "fp16 models on CPU"):
 *
 * - `castWeightsPerRun`: the fp16 initializers that MatMul/Gemm read become graph inputs whose
 *   initializer is their default value (overridable, IR ≥ 4). onnxruntime does not fold those, so a
 *   run casts each weight just before its node and frees the copy after it: one weight's fp32 copy
 *   at a time next to the fp16 bytes, which stay memory-mapped from the external-data file. The price
 *   is a cast per weight per run; for sessions with few, large runs (calibration statistics, the
 *   LMF residual stream).
 * - `feedFp32`: weights the runner feeds (sequential calibration masks a block's weights between its
 *   two passes) are declared fp32 and fed widened once per block; the MatMul/Gemm reading one reads
 *   the fp32 tensor as fed, computing what onnxruntime's own Cast insertion computes, bit for bit,
 *   without casting the weights on every batch.
 *
 * Both are pure functions of the graph; the caller decides when the session runs on CPU.
 */
import { DataType, dimsOf, onnx, type GraphMessage, type GraphProto, type ModelProto, type NodeProto, type ValueInfoProto } from './proto.js';

const MATMUL_OPS = new Set(['MatMul', 'Gemm']);

/** Whether a node is an ONNX-domain op of `ops` (a com.microsoft op of the same name is another op). */
function isOp(n: NodeProto, ops: Set<string>): boolean {
  return ops.has(n.opType ?? '') && (!n.domain || n.domain === 'ai.onnx');
}

function castTo(n: NodeProto): number | undefined {
  const a = (n.attribute ?? []).find((x) => x.name === 'to');
  return a ? Number(a.i) : undefined;
}

/** Every node of the graph and of its subgraphs (If/Loop bodies read outer-scope initializers). */
function* allNodes(nodes: NodeProto[]): Generator<NodeProto> {
  for (const n of nodes) {
    yield n;
    for (const a of n.attribute ?? []) for (const sub of [a.g, ...(a.graphs ?? [])]) if (sub) yield* allNodes(sub.node ?? []);
  }
}

function consumersOf(nodes: NodeProto[]): Map<string, NodeProto[]> {
  const out = new Map<string, NodeProto[]>();
  for (const n of allNodes(nodes)) {
    for (const i of n.input ?? []) {
      if (!i) continue;
      const list = out.get(i);
      if (list) list.push(n);
      else out.set(i, [n]);
    }
  }
  return out;
}

/**
 * Whether `name` reaches a MatMul/Gemm as its weight (input B), directly or through a Transpose or
 * a Cast: the nodes onnxruntime would compute in fp32 from a folded copy.
 */
function readByMatMul(name: string, consumers: Map<string, NodeProto[]>, depth = 0): boolean {
  return (consumers.get(name) ?? []).some(
    (n) =>
      (isOp(n, MATMUL_OPS) && n.input?.[1] === name) ||
      (depth < 2 && (n.opType === 'Transpose' || n.opType === 'Cast') && readByMatMul(n.output?.[0] ?? '', consumers, depth + 1)),
  );
}

function tensorInput(name: string, elemType: number, dims: number[]): ValueInfoProto {
  const shape = onnx.TensorShapeProto.create({ dim: dims.map((d) => onnx.TensorShapeProto.Dimension.create({ dimValue: d })) });
  return onnx.ValueInfoProto.create({ name, type: onnx.TypeProto.create({ tensorType: onnx.TypeProto.Tensor.create({ elemType, shape }) }) });
}

/** The fp16 initializers (2-D or more, not graph inputs) that a MatMul/Gemm reads (see `readByMatMul`). */
export function fp16MatMulWeights(proto: ModelProto): string[] {
  const g = proto.graph!;
  const consumers = consumersOf(g.node ?? []);
  const declared = new Set((g.input ?? []).map((i) => i.name));
  return (g.initializer ?? [])
    .filter((t) => t.dataType === DataType.FLOAT16 && !declared.has(t.name) && dimsOf(t).length >= 2 && readByMatMul(t.name!, consumers))
    .map((t) => t.name!);
}

/**
 * The graph with every fp16 initializer that a MatMul/Gemm reads (see `readByMatMul`) also declared
 * as a graph input, so that onnxruntime casts it per run instead of folding an fp32 copy; `weights`
 * names them. Unchanged (and `weights` empty) for IR < 4, where every initializer is a constant.
 *
 * A Cast of a graph input depends on nothing else, and onnxruntime's execution order runs some of
 * them long before their MatMul (the o_proj and down_proj casts of every block at the start, measured
 * on LLaMA): their fp32 copies would then all be alive at once. So a MatMul/Gemm reading such a
 * weight directly reads it through a Reshape to its own shape, computed from the shape of the
 * node's activation: a view that cannot run before the activation exists, which pins the Cast
 * onnxruntime inserts after it to just before the node. The values are the weight's.
 */
export function castWeightsPerRun(proto: ModelProto): { proto: ModelProto; weights: string[] } {
  const g = proto.graph!;
  if (Number(proto.irVersion ?? 0) < 4) return { proto, weights: [] };
  const inits = new Map((g.initializer ?? []).map((t) => [t.name ?? '', t]));
  const weights = fp16MatMulWeights(proto);
  if (!weights.length) return { proto, weights: [] };
  const extra = weights.map((name) => tensorInput(name, DataType.FLOAT16, dimsOf(inits.get(name)!)));
  const graph = onnx.GraphProto.create({ ...(g as GraphMessage), input: [...(g.input ?? []), ...extra] });
  if (opsetOf(proto) >= 10) pinAfterActivations(graph, new Map(weights.map((w) => [w, dimsOf(inits.get(w)!)])));
  return { proto: onnx.ModelProto.create({ ...proto, graph }), weights };
}

function opsetOf(proto: ModelProto): number {
  return Number((proto.opsetImport ?? []).find((o) => !o.domain || o.domain === 'ai.onnx')?.version ?? 0);
}

/**
 * See castWeightsPerRun: each direct MatMul/Gemm read of a weight goes through a Reshape whose target
 * shape is computed from the node's activation. The shape is read off an Mul of the activation by 0,
 * not off the activation itself: Mul has no fp16 kernel on CPU (as the MatMul), so onnxruntime still
 * computes the activation's producer in fp32 when all its readers need a Cast (a Shape reading it
 * would make it round to fp16 and change the numbers). The Cast pair after the Reshape makes
 * onnxruntime widen the weight there, after the Reshape, and cancels against its own in front of the
 * MatMul.
 */
function pinAfterActivations(g: GraphProto, weights: Map<string, number[]>): void {
  const I64 = DataType.INT64;
  const int64s = (name: string, values: number[]) => onnx.TensorProto.create({ name, dims: [values.length], dataType: I64, int64Data: values });
  const initializer = [...(g.initializer ?? [])];
  const zero = '/pp_pin/zero_fp16';
  initializer.push(
    onnx.TensorProto.create({ name: zero, dims: [], dataType: DataType.FLOAT16, rawData: new Uint8Array(2) }),
    int64s('/pp_pin/first', [0]),
    int64s('/pp_pin/one', [1]),
    int64s('/pp_pin/zeros', [0, 0]),
  );
  const out: NodeProto[] = [];
  // One probe of each activation: its first (dynamic) dimension, times 0, as int64 [0, 0].
  const probes = new Map<string, string>();
  const probe = (a: string): string => {
    let z = probes.get(a);
    if (z) return z;
    const p = `${a}/pp_pin_${probes.size}`;
    z = `${p}/zeros`;
    out.push(
      onnx.NodeProto.create({ opType: 'Mul', name: `${p}/probe`, input: [a, zero], output: [`${p}/probe`] }),
      onnx.NodeProto.create({ opType: 'Shape', name: `${p}/shape`, input: [`${p}/probe`], output: [`${p}/shape`] }),
      onnx.NodeProto.create({ opType: 'Slice', name: `${p}/first`, input: [`${p}/shape`, '/pp_pin/first', '/pp_pin/one'], output: [`${p}/first`] }),
      onnx.NodeProto.create({ opType: 'Mul', name: `${p}/zeros`, input: [`${p}/first`, '/pp_pin/zeros'], output: [z] }),
    );
    probes.set(a, z);
    return z;
  };
  let k = 0;
  for (const n of g.node ?? []) {
    const w = n.input?.[1];
    const dims = w ? weights.get(w) : undefined;
    const a = n.input?.[0];
    if (dims?.length !== 2 || !isOp(n, MATMUL_OPS) || !a) {
      out.push(n);
      continue;
    }
    const zeros = probe(a);
    const p = `${w}/pp_pin_${k++}`;
    initializer.push(int64s(`${p}/dims0`, dims));
    out.push(
      onnx.NodeProto.create({ opType: 'Add', name: `${p}/dims`, input: [zeros, `${p}/dims0`], output: [`${p}/dims`] }),
      onnx.NodeProto.create({ opType: 'Reshape', name: `${p}/view`, input: [w!, `${p}/dims`], output: [`${p}/view`] }),
      onnx.NodeProto.create({ opType: 'Cast', name: `${p}/wide`, input: [`${p}/view`], output: [`${p}/wide`], attribute: [attrTo(DataType.FLOAT)] }),
      onnx.NodeProto.create({ opType: 'Cast', name: `${p}/narrow`, input: [`${p}/wide`], output: [`${p}/narrow`], attribute: [attrTo(DataType.FLOAT16)] }),
      onnx.NodeProto.create({ ...(n as object), input: [a, `${p}/narrow`, ...n.input!.slice(2)] }),
    );
  }
  g.node = out;
  g.initializer = initializer;
}

const attrTo = (to: number) => onnx.AttributeProto.create({ name: 'to', type: onnx.AttributeProto.AttributeType.INT, i: to });

/**
 * The graph with the fp16 graph inputs among `names` declared fp32 and narrowed back by a Cast in
 * front of their readers, when every reader is a MatMul/Gemm reading it as its weight, a Cast to
 * fp32, or a 2-D Transpose in front of such nodes (which then transposes the fp32 input). onnxruntime
 * wraps the MatMul in a Cast to fp32 and drops that Cast together with ours (a narrowing followed by
 * a widening cancels out there), so the node reads the fp32 input as fed; nothing else in the graph
 * changes, so it computes what the fp16 graph computes, bit for bit (fp16 values widen exactly).
 * `widened` names the inputs to feed as fp32; the others stay fp16 (cast on every run, as before).
 */
export function feedFp32(proto: ModelProto, names: Iterable<string>): { proto: ModelProto; widened: Set<string> } {
  const g = proto.graph!;
  const nodes = g.node ?? [];
  const consumers = consumersOf(nodes);
  // Only main-graph nodes are rewired: a weight an If/Loop body reads stays fp16.
  const topLevel = new Set(nodes);
  const inputs = new Map((g.input ?? []).map((i) => [i.name ?? '', i]));
  const takesFp32 = (n: NodeProto, tensor: string) =>
    topLevel.has(n) && ((isOp(n, MATMUL_OPS) && n.input?.[1] === tensor && n.input?.[0] !== tensor) || (n.opType === 'Cast' && castTo(n) === DataType.FLOAT));
  const widened = new Set<string>();
  // Tensors that become fp32 (the weights and Transposes of them): their readers read a narrowing Cast.
  const narrowed = new Set<string>();
  for (const name of names) {
    if (inputs.get(name)?.type?.tensorType?.elemType !== DataType.FLOAT16) continue;
    const readers = consumers.get(name) ?? [];
    const transposes = readers.filter((n) => n.opType === 'Transpose' && topLevel.has(n) && (n.output ?? []).length === 1);
    const ok =
      readers.length > 0 &&
      readers.every((n) => takesFp32(n, name) || transposes.includes(n)) &&
      transposes.every((t) => {
        const out = t.output![0]!;
        const after = consumers.get(out) ?? [];
        return after.length > 0 && after.every((n) => takesFp32(n, out)) && !(g.output ?? []).some((o) => o.name === out);
      });
    if (!ok) continue;
    widened.add(name);
    if (readers.some((n) => n.opType !== 'Transpose')) narrowed.add(name);
    for (const t of transposes) narrowed.add(t.output![0]!);
  }
  if (!widened.size) return { proto, widened };

  const fp16Of = (t: string) => `${t}/pp_fp16`;
  const narrow = (t: string) =>
    onnx.NodeProto.create({ opType: 'Cast', name: `${t}/pp_cast_fp16`, input: [t], output: [fp16Of(t)], attribute: [attrTo(DataType.FLOAT16)] });
  const out: NodeProto[] = [];
  // The Casts of the weights come first (they read graph inputs); those of Transposes follow them.
  for (const w of widened) if (narrowed.has(w)) out.push(narrow(w));
  for (const n of nodes) {
    const reads = (n.input ?? []).map((i) => (narrowed.has(i) && !(n.opType === 'Transpose' && widened.has(i)) ? fp16Of(i) : i));
    out.push(reads.some((r, k) => r !== n.input![k]) ? onnx.NodeProto.create({ ...(n as object), input: reads }) : n);
    for (const o of n.output ?? []) if (narrowed.has(o)) out.push(narrow(o));
  }
  const input = (g.input ?? []).map((i) => (widened.has(i.name ?? '') ? tensorInput(i.name!, DataType.FLOAT, dimsOfInput(i)) : i));
  // A Transpose of a widened weight now outputs fp32: a recorded fp16 type for it would clash.
  const valueInfo = (g.valueInfo ?? []).filter((v) => !narrowed.has(v.name ?? '') || widened.has(v.name ?? ''));
  const graph = onnx.GraphProto.create({ ...(g as GraphMessage), node: out, input, valueInfo });
  return { proto: onnx.ModelProto.create({ ...proto, graph }), widened };
}

function dimsOfInput(i: ValueInfoProto): number[] {
  return (i.type?.tensorType?.shape?.dim ?? []).map((d) => Number(d.dimValue ?? 0));
}
