/**
 * The working graph calibration and structure discovery run on, derived from a graph as its
 * exporter wrote it. The uploaded graph itself is never changed: masks are applied to its
 * initializers, so a pruned model keeps its layout (If branches, fused ops, cache I/O).
 *
 * - Nodes are sorted topologically (torch.onnx research exports may list them out of order, and
 *   cutting a block out of the graph walks the list backwards).
 * - An optimum merged decoder's `If` on `use_cache_branch` is replaced by its no-cache branch:
 *   calibration always runs the first step (past length 0), and its linears then live in the main
 *   graph, where taps can be added. The weights were main-graph initializers already.
 * - Fused residual-add + norm ops (`SkipLayerNormalization`, `SkipSimplifiedLayerNormalization`) are
 *   split into the `Add` of the residual stream and the plain norm, so each block ends at an Add that
 *   the sequential cut and the LMF report can use.
 */
import { onnx, type GraphMessage, type GraphProto, type ModelProto, type NodeMessage, type NodeProto, type TensorProto } from './proto.js';
import { modelFromProto, type OnnxModel } from './read.js';

type Attribute = ReturnType<typeof onnx.AttributeProto.create>;

/** Names a graph reads from its enclosing scope (free variables), through nested subgraphs. */
export function outerReads(g: GraphProto): Set<string> {
  const defined = new Set<string>([
    ...(g.input ?? []).map((i) => i.name ?? ''),
    ...(g.initializer ?? []).map((t) => t.name ?? ''),
    ...(g.node ?? []).flatMap((n) => n.output ?? []),
  ]);
  const out = new Set<string>();
  for (const n of g.node ?? []) {
    for (const i of [...(n.input ?? []), ...subgraphReads(n)]) if (i && !defined.has(i)) out.add(i);
  }
  return out;
}

function subgraphReads(n: NodeProto): string[] {
  const out: string[] = [];
  for (const a of n.attribute ?? []) for (const sub of [a.g, ...(a.graphs ?? [])]) if (sub) out.push(...outerReads(sub));
  return out;
}

/**
 * Kahn's algorithm, taking ready nodes in their original order (an already sorted list comes back
 * unchanged). Throws, naming a node, when the graph has a cycle or reads a tensor nothing produces.
 */
export function sortNodes(g: GraphProto): NodeProto[] {
  const nodes = g.node ?? [];
  const producer = new Map<string, number>();
  nodes.forEach((n, k) => {
    for (const o of n.output ?? []) if (o) producer.set(o, k);
  });
  const waiting = new Array<number>(nodes.length).fill(0);
  const dependents: number[][] = nodes.map(() => []);
  nodes.forEach((n, k) => {
    const deps = new Set<number>();
    for (const i of [...(n.input ?? []), ...subgraphReads(n)]) {
      const p = i ? producer.get(i) : undefined;
      if (p !== undefined && p !== k) deps.add(p);
    }
    waiting[k] = deps.size;
    for (const d of deps) dependents[d]!.push(k);
  });
  // A binary heap of indices keeps the original order among ready nodes.
  const heap: number[] = [];
  const push = (v: number) => {
    heap.push(v);
    for (let i = heap.length - 1; i > 0; ) {
      const p = (i - 1) >> 1;
      if (heap[p]! <= heap[i]!) break;
      [heap[p], heap[i]] = [heap[i]!, heap[p]!];
      i = p;
    }
  };
  const pop = (): number => {
    const top = heap[0]!;
    const last = heap.pop()!;
    if (heap.length) {
      heap[0] = last;
      for (let i = 0; ; ) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < heap.length && heap[l]! < heap[m]!) m = l;
        if (r < heap.length && heap[r]! < heap[m]!) m = r;
        if (m === i) break;
        [heap[m], heap[i]] = [heap[i]!, heap[m]!];
        i = m;
      }
    }
    return top;
  };
  waiting.forEach((w, k) => w === 0 && push(k));
  const order: NodeProto[] = [];
  while (heap.length) {
    const k = pop();
    order.push(nodes[k]!);
    for (const d of dependents[k]!) if (--waiting[d]! === 0) push(d);
  }
  if (order.length !== nodes.length) {
    const stuck = nodes.find((_, k) => waiting[k]! > 0)!;
    throw new Error(`the graph has a cycle: node ${stuck.name || stuck.opType} depends on its own output`);
  }
  return order;
}

const isOnnxDomain = (d: string | null | undefined) => !d || d === 'ai.onnx';

/** The If nodes that select an optimum merged decoder's branch. */
function cacheBranchIfs(g: GraphProto): NodeProto[] {
  const inputs = new Set((g.input ?? []).map((i) => i.name));
  const identityOf = new Map<string, string>();
  for (const n of g.node ?? []) if (n.opType === 'Identity' || n.opType === 'Cast') identityOf.set(n.output?.[0] ?? '', n.input?.[0] ?? '');
  const root = (t: string) => {
    for (let k = 0; k < 8 && identityOf.has(t); k++) t = identityOf.get(t)!;
    return t;
  };
  return (g.node ?? []).filter(
    (n) => n.opType === 'If' && isOnnxDomain(n.domain) && root(n.input?.[0] ?? '') === 'use_cache_branch' && inputs.has('use_cache_branch'),
  );
}

function renameIn(g: GraphProto, rename: Map<string, string>): GraphProto {
  const r = (x: string) => rename.get(x) ?? x;
  const node = (g.node ?? []).map((n) =>
    onnx.NodeProto.create({
      ...(n as NodeMessage),
      input: (n.input ?? []).map(r),
      output: (n.output ?? []).map(r),
      attribute: (n.attribute ?? []).map((a) =>
        a.g || a.graphs?.length
          ? onnx.AttributeProto.create({
              ...(a as Attribute),
              ...(a.g ? { g: renameIn(a.g, rename) } : {}),
              graphs: (a.graphs ?? []).map((x) => renameIn(x, rename)),
            })
          : a,
      ),
    }),
  );
  return onnx.GraphProto.create({
    ...(g as GraphMessage),
    node,
    initializer: (g.initializer ?? []).map((t) => (rename.has(t.name ?? '') ? onnx.TensorProto.create({ ...(t as object), name: r(t.name!) }) : t)),
    output: (g.output ?? []).map((o) => (rename.has(o.name ?? '') ? onnx.ValueInfoProto.create({ ...(o as object), name: r(o.name!) }) : o)),
  });
}

/** Replaces each `If(use_cache_branch)` by the nodes of its else (no-cache) branch. */
export function inlineNoCacheBranch(g: GraphProto): { graph: GraphProto; inlined: string[] } {
  const ifs = new Set(cacheBranchIfs(g));
  if (ifs.size === 0) return { graph: g, inlined: [] };
  const taken = new Set<string>([
    ...(g.input ?? []).map((i) => i.name ?? ''),
    ...(g.initializer ?? []).map((t) => t.name ?? ''),
    ...(g.node ?? []).flatMap((n) => [...(n.input ?? []), ...(n.output ?? [])]),
  ]);
  const nodes: NodeProto[] = [];
  const initializer: TensorProto[] = [...(g.initializer ?? [])];
  const inlined: string[] = [];
  for (const n of g.node ?? []) {
    if (!ifs.has(n)) {
      nodes.push(n);
      continue;
    }
    const branch = (n.attribute ?? []).find((a) => a.name === 'else_branch')?.g;
    if (!branch) throw new Error(`If node ${n.name} has no else_branch`);
    // Names the branch defines that the main graph also uses get a suffix.
    const rename = new Map<string, string>();
    const defined = [...(branch.node ?? []).flatMap((x) => x.output ?? []), ...(branch.initializer ?? []).map((t) => t.name ?? '')];
    for (const name of defined) if (name && taken.has(name)) rename.set(name, `${name}__pp_nocache`);
    const b = renameIn(branch, rename);
    nodes.push(...(b.node ?? []));
    initializer.push(...(b.initializer ?? []));
    (n.output ?? []).forEach((out, k) => {
      const from = b.output?.[k]?.name;
      if (out && from) nodes.push(onnx.NodeProto.create({ opType: 'Identity', name: `${n.name}/pp_out${k}`, input: [from], output: [out] }));
    });
    inlined.push(n.name || 'If');
  }
  return { graph: onnx.GraphProto.create({ ...(g as GraphMessage), node: nodes, initializer }), inlined };
}

const SKIP_NORMS: Record<string, { norm: string; betaAt?: number; biasAt: number }> = {
  SkipLayerNormalization: { norm: 'LayerNormalization', betaAt: 3, biasAt: 4 },
  SkipSimplifiedLayerNormalization: { norm: 'SimplifiedLayerNormalization', biasAt: 3 },
};

/** Splits fused residual-add + norm nodes into Add(s) and the norm (see the module comment). */
export function unfuseSkipNorms(g: GraphProto): { graph: GraphProto; unfused: number } {
  const consumed = new Set((g.node ?? []).flatMap((n) => n.input ?? []));
  for (const o of g.output ?? []) consumed.add(o.name ?? '');
  const nodes: NodeProto[] = [];
  let unfused = 0;
  for (const n of g.node ?? []) {
    const spec = SKIP_NORMS[n.opType ?? ''];
    const [out, mean, invStd, sum] = n.output ?? [];
    // The statistics outputs have no plain-op equivalent: leave such a node fused.
    if (!spec || n.domain !== 'com.microsoft' || (mean && consumed.has(mean)) || (invStd && consumed.has(invStd))) {
      nodes.push(n);
      continue;
    }
    const name = n.name || `skipnorm${unfused}`;
    const [x, skip, gamma] = n.input ?? [];
    const beta = spec.betaAt !== undefined ? n.input?.[spec.betaAt] : undefined;
    const bias = n.input?.[spec.biasAt];
    let left = x!;
    if (bias) {
      nodes.push(onnx.NodeProto.create({ opType: 'Add', name: `${name}/pp_bias`, input: [left, bias], output: [`${name}/pp_bias_out`] }));
      left = `${name}/pp_bias_out`;
    }
    const sumName = sum || `${name}/pp_sum`;
    nodes.push(onnx.NodeProto.create({ opType: 'Add', name: `${name}/pp_residual`, input: [left, skip!], output: [sumName] }));
    const eps = (n.attribute ?? []).find((a) => a.name === 'epsilon');
    const attribute = [onnx.AttributeProto.create({ name: 'axis', type: onnx.AttributeProto.AttributeType.INT, i: -1 }), ...(eps ? [eps] : [])];
    nodes.push(
      onnx.NodeProto.create({
        opType: spec.norm,
        domain: '',
        name: `${name}/pp_norm`,
        input: [sumName, gamma!, ...(beta ? [beta] : [])],
        output: [out!],
        attribute,
      }),
    );
    unfused++;
  }
  return { graph: onnx.GraphProto.create({ ...(g as GraphMessage), node: nodes }), unfused };
}

/**
 * A tied LM head exported as MatMul(x, Transpose(embedding)) (optimum re-ties heads this way) makes
 * onnxruntime constant-fold a transposed copy of the whole embedding at session start: +1 GB for a
 * 256k-vocabulary model. com.microsoft.FusedMatMul with transB=1 reads the embedding as it is. Only
 * for float32 (the CPU kernel's type) and a Transpose nothing else reads.
 */
export function fuseTransposedHead(proto: ModelProto): { proto: ModelProto; rewritten: number } {
  const g = proto.graph!;
  const inits = new Map((g.initializer ?? []).map((t) => [t.name ?? '', t]));
  const producer = new Map<string, NodeProto>();
  const uses = new Map<string, number>();
  for (const n of g.node ?? []) {
    for (const o of n.output ?? []) producer.set(o, n);
    for (const i of n.input ?? []) uses.set(i, (uses.get(i) ?? 0) + 1);
  }
  for (const o of g.output ?? []) uses.set(o.name ?? '', (uses.get(o.name ?? '') ?? 0) + 1);
  const drop = new Set<NodeProto>();
  let rewritten = 0;
  const node = (g.node ?? []).map((n) => {
    if (n.opType !== 'MatMul' || !isOnnxDomain(n.domain)) return n;
    const t = producer.get(n.input?.[1] ?? '');
    const perm = t?.attribute?.find((a) => a.name === 'perm')?.ints?.map(Number);
    const w = inits.get(t?.input?.[0] ?? '');
    if (t?.opType !== 'Transpose' || (perm && !(perm.length === 2 && perm[0] === 1 && perm[1] === 0))) return n;
    if (!w || w.dataType !== onnx.TensorProto.DataType.FLOAT || (w.dims ?? []).length !== 2 || uses.get(t.output![0]!) !== 1) return n;
    drop.add(t);
    rewritten++;
    return onnx.NodeProto.create({
      opType: 'FusedMatMul',
      domain: 'com.microsoft',
      name: n.name ? `${n.name}/pp_fused` : undefined,
      input: [n.input![0]!, w.name!],
      output: n.output,
      attribute: [onnx.AttributeProto.create({ name: 'transB', type: onnx.AttributeProto.AttributeType.INT, i: 1 })],
    });
  });
  if (!rewritten) return { proto, rewritten };
  const opsetImport = [...(proto.opsetImport ?? [])];
  if (!opsetImport.some((o) => o.domain === 'com.microsoft')) opsetImport.push(onnx.OperatorSetIdProto.create({ domain: 'com.microsoft', version: 1 }));
  const graph = onnx.GraphProto.create({ ...(g as GraphMessage), node: node.filter((n) => !drop.has(n)) });
  return { proto: onnx.ModelProto.create({ ...proto, opsetImport, graph }), rewritten };
}

export interface WorkingGraph {
  model: OnnxModel;
  /** what was changed, for the job log */
  notes: string[];
}

/** The calibration/discovery view of a model (see the module comment); `model` is not modified. */
export function workingGraph(model: OnnxModel): WorkingGraph {
  const notes: string[] = [];
  let g: GraphProto = model.proto.graph!;
  const { graph: a, inlined } = inlineNoCacheBranch(g);
  if (inlined.length) notes.push(`inlined the no-cache branch of ${inlined.join(', ')}`);
  const { graph: b, unfused } = unfuseSkipNorms(a);
  if (unfused) notes.push(`split ${unfused} fused residual-add + norm node(s)`);
  const before = b.node ?? [];
  const sorted = sortNodes(b);
  if (sorted.some((n, k) => n !== before[k])) notes.push('sorted the nodes topologically');
  g = onnx.GraphProto.create({ ...(b as GraphMessage), node: sorted });
  const fused = fuseTransposedHead(onnx.ModelProto.create({ ...model.proto, graph: g }));
  if (fused.rewritten) notes.push('tied head read through FusedMatMul(transB) instead of a transposed copy');
  const proto: ModelProto = fused.proto;
  const working = modelFromProto(proto, model.dir);
  if (model.selfFile) working.selfFile = model.selfFile;
  return { model: working, notes };
}
