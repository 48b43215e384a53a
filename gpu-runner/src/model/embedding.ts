/**
 * The token-embedding tables a graph looks token ids up in, in every form real exports write them,
 * so that a tokenizer producing ids past the table is refused before any compute instead of failing
 * inside onnxruntime ("indices element out of data bounds", "input index out of range").
 */
import type { GraphProto, NodeProto, TensorProto } from '../onnx/proto.js';
import { dimsOf } from '../onnx/proto.js';
import type { OnnxModel } from '../onnx/read.js';

/** Ops that index a table with token ids: which input carries the ids and which the table. */
const LOOKUPS: { domain: string; op: string; ids: number; table: number }[] = [
  { domain: '', op: 'Gather', ids: 1, table: 0 },
  // onnxruntime's transformer optimizer fuses word + position embedding and the first LayerNorm
  // (BERT; GPT-2 with an embedding_sum output): inputs [input_ids, segment_ids, word_embedding, …].
  { domain: 'com.microsoft', op: 'EmbedLayerNormalization', ids: 0, table: 2 },
];

// Ops that carry the same ids (or the same table values) through unchanged in count: an int64→int32
// Cast of input_ids (ORT's GPT-2 helper, the EmbedLayerNormalization fusion), a reshape to 1-D, an
// fp16→fp32 Cast of the table.
const PASS_THROUGH = new Set(['Cast', 'Reshape', 'Identity', 'Unsqueeze', 'Squeeze', 'Flatten']);
const MAX_HOPS = 6;

export interface EmbeddingTable {
  /** the table's initializer (or Constant output) name */
  table: string;
  rows: number;
  /** the op that looks ids up in it, e.g. "Gather /model/embed_tokens/Gather" */
  lookup: string;
}

/** Names visible in one graph: its own producers and tensors, then the enclosing graphs' (ONNX outer scope). */
interface Scope {
  producer: Map<string, NodeProto>;
  tensors: Map<string, TensorProto>;
  outer?: Scope;
}

function lookupIn<T>(scope: Scope | undefined, pick: (s: Scope) => Map<string, T>, name: string): T | undefined {
  for (let s = scope; s; s = s.outer) {
    const v = pick(s).get(name);
    if (v !== undefined) return v;
  }
  return undefined;
}

const isDomain = (n: NodeProto, domain: string) => (n.domain ?? '') === domain || (domain === '' && n.domain === 'ai.onnx');

function fromIds(scope: Scope, name: string): boolean {
  let t = name;
  for (let hop = 0; hop <= MAX_HOPS; hop++) {
    if (t === 'input_ids') return true;
    const p = lookupIn(scope, (s) => s.producer, t);
    if (!p || !PASS_THROUGH.has(p.opType ?? '') || !isDomain(p, '')) return false;
    t = p.input?.[0] ?? '';
  }
  return false;
}

/** The 2-D tensor a table input resolves to: an initializer or a Constant, possibly behind Cast/Identity. */
function tableTensor(scope: Scope, name: string): { name: string; tensor: TensorProto } | undefined {
  let t = name;
  for (let hop = 0; hop <= MAX_HOPS; hop++) {
    const tensor = lookupIn(scope, (s) => s.tensors, t);
    if (tensor) return dimsOf(tensor).length === 2 ? { name: t, tensor } : undefined;
    const p = lookupIn(scope, (s) => s.producer, t);
    if (!p || !isDomain(p, '') || !['Cast', 'Identity'].includes(p.opType ?? '')) return undefined;
    t = p.input?.[0] ?? '';
  }
  return undefined;
}

function scopeOf(g: GraphProto, outer?: Scope): Scope {
  const producer = new Map<string, NodeProto>();
  const tensors = new Map<string, TensorProto>();
  for (const t of g.initializer ?? []) tensors.set(t.name ?? '', t);
  for (const n of g.node ?? []) {
    for (const o of n.output ?? []) if (o) producer.set(o, n);
    const value = n.opType === 'Constant' && isDomain(n, '') ? n.attribute?.find((a) => a.name === 'value')?.t : undefined;
    if (value && n.output?.[0]) tensors.set(n.output[0], value);
  }
  return { producer, tensors, outer };
}

function* walk(g: GraphProto, outer?: Scope): Generator<EmbeddingTable> {
  const scope = scopeOf(g, outer);
  for (const n of g.node ?? []) {
    for (const l of LOOKUPS) {
      if (n.opType !== l.op || !isDomain(n, l.domain)) continue;
      const ids = n.input?.[l.ids];
      const table = n.input?.[l.table];
      if (!ids || !table || !fromIds(scope, ids)) continue;
      const found = tableTensor(scope, table);
      if (found) yield { table: found.name, rows: dimsOf(found.tensor)[0]!, lookup: `${l.op} ${n.name || '(unnamed)'}` };
    }
    // optimum's merged decoder looks ids up inside both branches of its If
    for (const a of n.attribute ?? []) for (const sub of [a.g, ...(a.graphs ?? [])]) if (sub) yield* walk(sub, scope);
  }
}

/** Every table the graph (subgraphs included) looks input_ids up in. */
export function embeddingTables(model: OnnxModel): EmbeddingTable[] {
  return [...walk(model.proto.graph!)];
}

/** The smallest such table: the bound every token id must stay under. */
export function smallestEmbedding(model: OnnxModel): EmbeddingTable | undefined {
  return embeddingTables(model).reduce<EmbeddingTable | undefined>((min, t) => (!min || t.rows < min.rows ? t : min), undefined);
}
