/**
 * Structure discovery: which MatMul/Gemm nodes are the prunable linears of the decoder blocks,
 * and which tensor is each block's residual-stream output. Roles come from node names first
 * (torch.onnx names weights "onnx::MatMul_95"), then from initializer names, via the family table.
 */
import type { LinearRole, PrunableLinear } from '../types.js';
import { FAMILIES, canonicalFamily, matchBlock, matchRole, type FamilyLayout } from './families.js';
import { TOPOLOGY_ROLE_ORDER, linearsByTopology } from './topology.js';
import { dimsOf, intAttr, toNumber, type NodeProto, type TensorProto } from './proto.js';
import { isFloatWeight, type OnnxModel } from './read.js';
import type { Classified, GraphIndex, LinearCandidate } from './graph-types.js';

export function indexGraph(model: OnnxModel): GraphIndex {
  const producer = new Map<string, NodeProto>();
  const consumers = new Map<string, NodeProto[]>();
  for (const node of model.proto.graph!.node ?? []) {
    for (const o of node.output ?? []) producer.set(o, node);
    for (const i of node.input ?? []) {
      if (!i) continue;
      const list = consumers.get(i);
      if (list) list.push(node);
      else consumers.set(i, [node]);
    }
  }
  return { producer, consumers };
}

function transposeIs2dSwap(node: NodeProto): boolean {
  const perm = (node.attribute ?? []).find((a) => a.name === 'perm');
  if (!perm) return true; // default perm reverses the axes
  const p = (perm.ints ?? []).map((v) => toNumber(v as number));
  return p.length === 2 && p[0] === 1 && p[1] === 0;
}

function weight2d(model: OnnxModel, name: string | undefined): TensorProto | undefined {
  const t = name ? model.initializers.get(name) : undefined;
  return t && isFloatWeight(t) && dimsOf(t).length === 2 ? t : undefined;
}

/** The initializer behind a weight input, through a 2-D Transpose and/or a Cast (fp16 weights in fp32 graphs). */
function weightSource(model: OnnxModel, index: GraphIndex, input: string): { t: TensorProto; transposed: boolean } | undefined {
  let transposed = false;
  let name = input;
  for (let hop = 0; hop < 3; hop++) {
    const direct = weight2d(model, name);
    if (direct) return { t: direct, transposed };
    const p = index.producer.get(name);
    if (p?.opType === 'Transpose' && !transposed && transposeIs2dSwap(p)) transposed = true;
    else if (p?.opType !== 'Cast') return undefined;
    name = p.input?.[0] ?? '';
  }
  return undefined;
}

/** Fused attention ops whose input 1 is the packed q/k/v weight [hidden, 3·hidden] applied to input 0. */
const FUSED_QKV = new Set(['Attention']);

export function findLinearCandidates(model: OnnxModel, index = indexGraph(model)): LinearCandidate[] {
  const out: LinearCandidate[] = [];
  for (const node of model.proto.graph!.node ?? []) {
    const [x, b] = node.input ?? [];
    if (!x || !b) continue;
    const base = { nodeName: node.name ?? '', inputName: x, outputName: node.output?.[0] ?? '' };
    if (node.opType === 'MatMul') {
      const src = weightSource(model, index, b);
      if (!src) continue;
      const [r, c] = dimsOf(src.t) as [number, number];
      const [dIn, dOut] = src.transposed ? [c, r] : [r, c];
      out.push({ ...base, op: 'MatMul', weightName: src.t.name!, dIn, dOut, storedTransposed: src.transposed });
    } else if (node.opType === 'Gemm') {
      const w = weight2d(model, b);
      if (!w || intAttr(node, 'transA', 0) !== 0) continue;
      const transB = intAttr(node, 'transB', 0) === 1;
      const [r, c] = dimsOf(w) as [number, number];
      out.push({ ...base, op: 'Gemm', weightName: b, dIn: transB ? c : r, dOut: transB ? r : c, storedTransposed: transB });
    } else if (FUSED_QKV.has(node.opType ?? '') && node.domain === 'com.microsoft') {
      const w = weight2d(model, b);
      if (!w) continue;
      const [dIn, dOut] = dimsOf(w) as [number, number];
      out.push({ ...base, op: 'Attention', weightName: b, dIn, dOut, storedTransposed: false });
    }
  }
  return out;
}

type Classification =
  | { kind: 'linear'; block: number; role: LinearRole }
  | { kind: 'outside' }
  | { kind: 'ignore' }
  | { kind: 'unknown'; block: number; rest: string };

function classify(layout: FamilyLayout, cand: LinearCandidate): Classification {
  let unknown: Classification | undefined;
  for (const name of [cand.nodeName, cand.weightName]) {
    const m = name ? matchBlock(layout, name) : undefined;
    if (!m) continue;
    const role = matchRole(layout, m.rest);
    if (role === 'ignore') return { kind: 'ignore' };
    if (role) return { kind: 'linear', block: m.block, role };
    unknown ??= { kind: 'unknown', block: m.block, rest: m.rest };
  }
  return unknown ?? { kind: 'outside' };
}

function expectedPaths(layout: FamilyLayout): string {
  return layout.roles.map(([p]) => `${layout.blockPrefix}.N.${p}`).join(', ');
}

/** The naming layout that recognises the most linears; the registered family breaks ties. */
function bestLayout(cands: LinearCandidate[], hint: string | undefined): FamilyLayout | undefined {
  let best: FamilyLayout | undefined;
  let bestCount = 0;
  for (const f of FAMILIES) {
    const n = cands.filter((c) => classify(f, c).kind === 'linear').length;
    if (n > bestCount || (n === bestCount && n > 0 && f.family === hint && best?.family !== hint)) {
      best = f;
      bestCount = n;
    }
  }
  return best;
}

/** How the linears were found, recorded with every run. */
export interface Discovery {
  method: 'names' | 'topology';
  /** the naming layout used (names only) */
  layout?: string;
  /** why names were not used, or how they disagree with the registered family */
  note?: string;
}

export interface LinearStructure {
  family: string;
  blocks: number;
  linears: PrunableLinear[];
  discovery: Discovery;
}

function byNames(layout: FamilyLayout, cands: LinearCandidate[]): PrunableLinear[] {
  const found: Classified[] = [];
  for (const cand of cands) {
    const c = classify(layout, cand);
    if (c.kind === 'unknown') {
      throw new Error(
        `${layout.family} block ${c.block}: linear ${cand.nodeName || cand.weightName} has module path "${c.rest}"; ` +
          `expected one of ${layout.roles.map(([p]) => p).join(', ')}`,
      );
    }
    if (c.kind === 'linear') found.push({ cand, block: c.block, role: c.role });
  }
  if (found.length === 0) throw new Error(`no ${layout.family} decoder-block linears found: expected ${expectedPaths(layout)}`);

  const byBlock = new Map<number, Classified[]>();
  for (const f of found) {
    const list = byBlock.get(f.block) ?? [];
    if (list.some((x) => x.role === f.role)) {
      throw new Error(
        `${layout.family} block ${f.block}: two linears have role ${f.role} (${list.find((x) => x.role === f.role)!.cand.nodeName}, ${f.cand.nodeName})`,
      );
    }
    list.push(f);
    byBlock.set(f.block, list);
  }
  const blocks = Math.max(...byBlock.keys()) + 1;
  const ordered: Classified[] = [];
  for (let b = 0; b < blocks; b++) {
    const list = byBlock.get(b);
    if (!list) throw new Error(`${layout.family}: blocks 0..${blocks - 1} expected, block ${b} has no linears`);
    const roles = list.map((x) => x.role).sort();
    const ok = layout.blockShapes.some((s) => s.length === roles.length && [...s].sort().every((r, i) => r === roles[i]));
    if (!ok) {
      throw new Error(
        `${layout.family} block ${b}: expected linears ${layout.blockShapes.map((s) => s.join('/')).join(' or ')}, found ${list.map((x) => x.role).join('/')}`,
      );
    }
    ordered.push(...list);
  }
  return toLinears(
    ordered,
    layout.roles.map(([, r]) => r),
  );
}

/** Orders classified candidates by block, then by `roleOrder`, as PrunableLinears. */
export function toLinears(found: Classified[], roleOrder: LinearRole[]): PrunableLinear[] {
  const sorted = [...found].sort((x, y) => x.block - y.block || roleOrder.indexOf(x.role) - roleOrder.indexOf(y.role));
  return sorted.map(({ cand, block, role }) => ({
    id: `block${block}.${role}`,
    block,
    role,
    nodeName: cand.nodeName,
    weightName: cand.weightName,
    inputName: cand.inputName,
    dIn: cand.dIn,
    dOut: cand.dOut,
    storedTransposed: cand.storedTransposed,
  }));
}

/**
 * The prunable linears of a decoder, ordered by block then by role. Embeddings and the LM head
 * (tied or not) are outside the blocks and never returned. Node and weight names are tried first
 * (family table); when they are anonymous or do not fit, the graph's topology decides
 * (topology.ts). `family` (the model's registered family) is a hint: it breaks ties between naming
 * layouts, and a disagreement with the names is reported in `discovery.note`, not overridden.
 */
export function findPrunableLinears(model: OnnxModel, opts: { family?: string } = {}): LinearStructure {
  const index = indexGraph(model);
  let hint: string | undefined;
  if (opts.family && canonicalFamily(opts.family) !== 'other') {
    hint = canonicalFamily(opts.family);
    if (!FAMILIES.some((f) => f.family === hint)) {
      throw new Error(`unknown model family "${opts.family}": expected one of ${[...new Set(FAMILIES.map((x) => x.family))].join(', ')}`);
    }
  }
  // A weight that is also gathered from is an embedding table (a tied head reuses it): never pruned.
  const gathered = new Set<string>();
  for (const node of model.proto.graph!.node ?? []) if (node.opType === 'Gather' && node.input?.[0]) gathered.add(node.input[0]);
  const cands = findLinearCandidates(model, index).filter((c) => !gathered.has(c.weightName));

  let nameError: string;
  const layout = bestLayout(cands, hint);
  if (layout) {
    try {
      const linears = byNames(layout, cands);
      const discovery: Discovery = { method: 'names', layout: layout.layout };
      if (hint && hint !== layout.family) {
        discovery.note = `registered as ${opts.family}, but the node/weight names are ${layout.family}'s (${layout.layout} layout): the names were used`;
      }
      return { family: layout.family, blocks: linears.at(-1)!.block + 1, linears, discovery };
    } catch (err) {
      nameError = (err as Error).message;
    }
  } else {
    const seen = cands.slice(0, 6).map((c) => `${c.nodeName || '(unnamed)'} [weight ${c.weightName}]`);
    nameError =
      `no decoder-block linears recognised: expected node or weight names like ` +
      FAMILIES.map((f) => `${f.layout}: ${expectedPaths(f)}`).join('; ') +
      `; found ${cands.length} MatMul/Gemm with weights${seen.length ? `: ${seen.join(', ')}` : ''}`;
  }
  try {
    const t = linearsByTopology(model, index, cands);
    const linears = toLinears(t.found, TOPOLOGY_ROLE_ORDER);
    const note = `names did not identify the linears (${nameError}); found by the graph's topology`;
    return { family: hint ?? t.family, blocks: linears.at(-1)!.block + 1, linears, discovery: { method: 'topology', note } };
  } catch (err) {
    throw new Error(`${nameError}; the graph's topology did not resolve the blocks either: ${(err as Error).message}`);
  }
}

/** The residual-stream tensor after one decoder block. */
export interface BlockOutput {
  block: number;
  name: string;
}

/** Ops that carry a tensor unchanged in value (or only reshape it) between a linear and the residual add. */
const PASS_THROUGH = new Set(['Reshape', 'Identity', 'Dropout', 'Cast', 'Squeeze', 'Unsqueeze']);

/**
 * The graph cannot be cut into blocks at the residual stream (no block output found, or a block's
 * subgraph still reaches another block): blockwise work is impossible, whole-graph work is not.
 */
export class BlocksNotSeparable extends Error {
  override name = 'BlocksNotSeparable';
}

/**
 * Each block's output: follow the block's last linear (fc2/down) forward through bias adds and
 * reshapes to the first Add whose other operand is computed (the residual connection).
 */
export function findBlockOutputs(model: OnnxModel, linears: PrunableLinear[]): BlockOutput[] {
  const index = indexGraph(model);
  const nodesByName = new Map((model.proto.graph!.node ?? []).map((n) => [n.name ?? '', n]));
  const isConst = (t: string) => model.initializers.has(t) || index.producer.get(t)?.opType === 'Constant';
  const blocks = Math.max(-1, ...linears.map((l) => l.block)) + 1;
  const out: BlockOutput[] = [];
  for (let b = 0; b < blocks; b++) {
    const last = linears.find((l) => l.block === b && (l.role === 'fc2' || l.role === 'down'));
    if (!last) throw new BlocksNotSeparable(`block ${b}: no fc2/down linear to locate the block output from`);
    const start = nodesByName.get(last.nodeName);
    let tensor = start?.output?.[0];
    let found: string | undefined;
    let seen = 'nothing';
    for (let step = 0; tensor && step < 16 && !found; step++) {
      const next = index.consumers.get(tensor) ?? [];
      if (next.length !== 1) {
        seen = `${next.length} consumers of ${tensor}`;
        break;
      }
      const node = next[0]!;
      const other = (node.input ?? []).find((i) => i !== tensor);
      if (node.opType === 'Add' && other && !isConst(other)) found = node.output![0];
      else if ((node.opType === 'Add' && other) || PASS_THROUGH.has(node.opType ?? '')) tensor = node.output?.[0];
      else {
        seen = `${node.opType} node ${node.name}`;
        break;
      }
    }
    if (!found) throw new BlocksNotSeparable(`block ${b}: expected a residual Add after ${last.nodeName}, found ${seen}`);
    out.push({ block: b, name: found });
  }
  return out;
}
