/**
 * Scoring reads the logits of a few positions per sequence (a harness continuation, a greedy
 * step's last token), yet a decoder graph sends every position through the LM head: for a 256k
 * vocabulary that head is about as costly as all the blocks of a 0.5 B model. This rewrite puts a
 * Gather of the wanted positions in front of the head, so onnxruntime computes logits only for
 * them: the hidden states [batch, tokens, hidden] are flattened to [batch × tokens, hidden], the
 * rows named by a new int64 input [1, n] are gathered ([1, n, hidden]) and the head and whatever
 * elementwise ops follow it (a bias, a Cast, a soft-cap) run on those n rows: logits [1, n, vocab].
 *
 * The rows are those of the same computation, so each logit is the one the full head gives (to the
 * GEMM's float rounding, which does not depend on how many rows it multiplies). Feeding every row
 * 0 … batch × tokens − 1 gives the full logits in their usual layout.
 */
import { onnx, type GraphMessage, type ModelProto, type NodeProto } from './proto.js';

/** The int64 [1, n] input naming the flattened (batch × tokens) rows whose logits are computed. */
export const LOGIT_ROWS_INPUT = 'polyprune_logit_rows';

const isOnnxDomain = (d: string | null | undefined) => !d || d === 'ai.onnx';
/** Ops between the head's MatMul and the logits output that act per element (any constant operand broadcasts over the vocabulary). */
const ELEMENTWISE = new Set(['Cast', 'Add', 'Sub', 'Mul', 'Div', 'Tanh', 'Identity', 'Softcap']);

/**
 * The graph with the head's input gathered, or undefined when the head is not recognised (the
 * logits not produced by MatMul/FusedMatMul on a constant weight followed only by elementwise ops
 * with constant operands, e.g. inside an If branch); callers then use the graph as it is.
 */
export function gatherHeadRows(proto: ModelProto, logits: string): ModelProto | undefined {
  const g = proto.graph!;
  if ((g.input ?? []).some((i) => i.name === LOGIT_ROWS_INPUT)) return undefined;
  const inits = new Set((g.initializer ?? []).map((t) => t.name ?? ''));
  const producer = new Map<string, NodeProto>();
  for (const n of g.node ?? []) for (const o of n.output ?? []) producer.set(o, n);
  const constant = new Map<string, boolean>();
  const isConstant = (name: string, depth = 0): boolean => {
    if (inits.has(name)) return true;
    const known = constant.get(name);
    if (known !== undefined) return known;
    const p = producer.get(name);
    const c = !!p && depth < 8 && (p.opType === 'Constant' || (p.input ?? []).every((i) => !i || isConstant(i, depth + 1)));
    constant.set(name, c);
    return c;
  };

  let tensor = logits;
  let head: NodeProto | undefined;
  for (let hops = 0; hops < 8 && !head; hops++) {
    const n = producer.get(tensor);
    if (!n) return undefined;
    const matmul = (n.opType === 'MatMul' && isOnnxDomain(n.domain)) || (n.opType === 'FusedMatMul' && n.domain === 'com.microsoft');
    if (matmul) {
      if (!isConstant(n.input?.[1] ?? '') || isConstant(n.input?.[0] ?? '')) return undefined;
      if (n.opType === 'FusedMatMul' && (n.attribute ?? []).some((a) => (a.name === 'transA' || a.name === 'transBatchA') && Number(a.i) !== 0))
        return undefined;
      head = n;
    } else if (ELEMENTWISE.has(n.opType ?? '') && isOnnxDomain(n.domain)) {
      const moving = (n.input ?? []).filter((i) => i && !isConstant(i));
      if (moving.length !== 1) return undefined;
      tensor = moving[0]!;
    } else return undefined;
  }
  if (!head) return undefined;

  const hidden = head.input![0]!;
  const flat = `${LOGIT_ROWS_INPUT}/flat`;
  const picked = `${LOGIT_ROWS_INPUT}/hidden`;
  const A = onnx.AttributeProto.AttributeType;
  const opset = Number((proto.opsetImport ?? []).find((o) => isOnnxDomain(o.domain))?.version ?? 0);
  const added = [
    onnx.NodeProto.create({
      opType: 'Flatten',
      name: flat,
      input: [hidden],
      output: [flat],
      // [batch, tokens, hidden] → [batch × tokens, hidden]; negative axes need opset 11
      attribute: [onnx.AttributeProto.create({ name: 'axis', type: A.INT, i: opset >= 11 ? -1 : 2 })],
    }),
    onnx.NodeProto.create({
      opType: 'Gather',
      name: picked,
      input: [flat, LOGIT_ROWS_INPUT],
      output: [picked],
      attribute: [onnx.AttributeProto.create({ name: 'axis', type: A.INT, i: 0 })],
    }),
  ];
  const node = (g.node ?? []).flatMap((n) =>
    n === head ? [...added, onnx.NodeProto.create({ ...(n as Parameters<typeof onnx.NodeProto.create>[0]), input: [picked, ...n.input!.slice(1)] })] : [n],
  );
  const rowsInput = onnx.ValueInfoProto.create({
    name: LOGIT_ROWS_INPUT,
    type: onnx.TypeProto.create({
      tensorType: onnx.TypeProto.Tensor.create({
        elemType: onnx.TensorProto.DataType.INT64,
        shape: onnx.TensorShapeProto.create({ dim: [{ dimValue: 1 }, { dimParam: 'logit_rows' }].map((d) => onnx.TensorShapeProto.Dimension.create(d)) }),
      }),
    }),
  });
  // The logits are now [1, n, vocab]: the declared batch and sequence dims no longer hold.
  const output = (g.output ?? []).map((o) => {
    if (o.name !== logits) return o;
    const elemType = o.type?.tensorType?.elemType ?? onnx.TensorProto.DataType.FLOAT;
    return onnx.ValueInfoProto.create({ name: o.name, type: onnx.TypeProto.create({ tensorType: onnx.TypeProto.Tensor.create({ elemType }) }) });
  });
  // Shapes inferred for the old head path would contradict the new ones.
  const after = new Set<string>([head.output![0]!]);
  for (const n of g.node ?? []) if ((n.input ?? []).some((i) => after.has(i))) for (const o of n.output ?? []) after.add(o);
  const valueInfo = (g.valueInfo ?? []).filter((v) => !after.has(v.name ?? ''));
  const graph = onnx.GraphProto.create({ ...(g as GraphMessage), node, input: [...(g.input ?? []), rowsInput], output, valueInfo });
  return onnx.ModelProto.create({ ...proto, graph });
}
