/**
 * A tiny protobuf writer for ONNX test graphs: workerd tests cannot read fixture files, and the
 * layouts of real exports (names, external data, subgraphs, quantized ops) are what matter, not
 * the weights. Field numbers as in onnx.proto.
 */
type Value = number | string | Uint8Array | Msg;
export type Msg = [field: number, value: Value][];

function varint(n: number): number[] {
  const out: number[] = [];
  while (n >= 0x80) {
    out.push((n % 0x80) | 0x80);
    n = Math.floor(n / 0x80);
  }
  out.push(n);
  return out;
}

/** Serialises fields in the order given: numbers as varints, everything else length-delimited. */
export function encode(msg: Msg): Uint8Array {
  const parts: Uint8Array[] = [];
  for (const [field, v] of msg) {
    if (typeof v === 'number') {
      parts.push(new Uint8Array([...varint(field * 8), ...varint(v)]));
      continue;
    }
    const body = typeof v === 'string' ? new TextEncoder().encode(v) : v instanceof Uint8Array ? v : encode(v);
    parts.push(new Uint8Array([...varint(field * 8 + 2), ...varint(body.byteLength)]), body);
  }
  const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.byteLength;
  }
  return out;
}

const FLOAT = 1;

/** TensorProto: dims=1, data_type=2, name=8, raw_data=9, external_data=13, data_location=14. */
export function tensor(name: string, opts: { dims?: number[]; raw?: Uint8Array; location?: string; offset?: number } = {}): Msg {
  const m: Msg = [...(opts.dims ?? [2, 2]).map((d): [number, number] => [1, d]), [2, FLOAT], [8, name]];
  if (opts.raw) m.push([9, opts.raw]);
  if (opts.location) {
    m.push([
      13,
      [
        [1, 'location'],
        [2, opts.location],
      ],
    ]);
    m.push([
      13,
      [
        [1, 'offset'],
        [2, String(opts.offset ?? 0)],
      ],
    ]);
    m.push([
      13,
      [
        [1, 'length'],
        [2, '16'],
      ],
    ]);
    m.push([14, 1]);
  }
  return m;
}

/** NodeProto: input=1, output=2, name=3, op_type=4, attribute=5, domain=7; subgraphs as AttributeProto g=6 (type GRAPH=5). */
export function node(op: string, opts: { domain?: string; inputs?: string[]; outputs?: string[]; graphs?: Record<string, Msg> } = {}): Msg {
  const m: Msg = [...(opts.inputs ?? ['x']).map((i): [number, string] => [1, i]), ...(opts.outputs ?? ['y']).map((o): [number, string] => [2, o])];
  m.push([3, `/${op}`], [4, op]);
  for (const [name, g] of Object.entries(opts.graphs ?? {}))
    m.push([
      5,
      [
        [1, name],
        [6, g],
        [20, 5],
      ],
    ]);
  if (opts.domain) m.push([7, opts.domain]);
  return m;
}

/** ValueInfoProto with a float tensor type: name=1, type=2 (TypeProto tensor_type=1, elem_type=1). */
const valueInfo = (name: string): Msg => [
  [1, name],
  [2, [[1, [[1, FLOAT]]]]],
];

/** GraphProto: node=1, name=2, initializer=5, input=11, output=12. */
export function graph(opts: { nodes?: Msg[]; initializers?: Msg[]; inputs?: string[]; outputs?: string[] } = {}): Msg {
  return [
    ...(opts.nodes ?? [node('MatMul', { inputs: ['input_ids', 'w'], outputs: ['logits'] })]).map((n): [number, Msg] => [1, n]),
    [2, 'g'],
    ...(opts.initializers ?? []).map((t): [number, Msg] => [5, t]),
    ...(opts.inputs ?? ['input_ids', 'attention_mask']).map((i): [number, Msg] => [11, valueInfo(i)]),
    ...(opts.outputs ?? ['logits']).map((o): [number, Msg] => [12, valueInfo(o)]),
  ];
}

/** ModelProto: ir_version=1, producer_name=2, graph=7, opset_import=8 (OperatorSetIdProto version=2). */
export function model(g: Msg = graph()): Uint8Array {
  return encode([
    [1, 8],
    [2, 'polyprune-test'],
    [7, g],
    [8, [[2, 17]]],
  ]);
}

/** A decoder whose weight lives in `location` (an external-data file), as exporters write it. */
export const externalModel = (location: string, ops: Msg[] = []) =>
  model(
    graph({
      nodes: [node('MatMul', { inputs: ['input_ids', 'w'], outputs: ['logits'] }), ...ops],
      initializers: [tensor('w', { location }), tensor('b', { raw: new Uint8Array(16) })],
    }),
  );

/** The smallest valid model with inline weights. */
export const tinyOnnx = () => model(graph({ initializers: [tensor('w', { raw: new Uint8Array(16) })] }));
