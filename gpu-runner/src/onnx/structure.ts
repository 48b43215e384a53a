/**
 * Structure discovery: which MatMul/Gemm nodes are the prunable linears of the decoder blocks,
 * and which tensor is each block's residual-stream output. Roles come from node names first
 * (torch.onnx names weights "onnx::MatMul_95"), then from initializer names, via the family table.
 */
import type { LinearRole, PrunableLinear } from '../types.js';
import { FAMILIES, familyByName, matchBlock, matchRole, type FamilyLayout } from './families.js';
import { dimsOf, intAttr, toNumber, type NodeProto, type TensorProto } from './proto.js';
import { isFloatWeight, type OnnxModel } from './read.js';

/** A MatMul/Gemm whose weight is a 2-D float initializer (before any naming is applied). */
export interface LinearCandidate {
  nodeName: string;
  op: 'MatMul' | 'Gemm';
  weightName: string;
  inputName: string;
  outputName: string;
  dIn: number;
  dOut: number;
  storedTransposed: boolean;
}

export interface GraphIndex {
  producer: Map<string, NodeProto>;
  consumers: Map<string, NodeProto[]>;
}

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

export function findLinearCandidates(model: OnnxModel, index = indexGraph(model)): LinearCandidate[] {
  const out: LinearCandidate[] = [];
  for (const node of model.proto.graph!.node ?? []) {
    const [x, b] = node.input ?? [];
    if (!x || !b) continue;
    const base = { nodeName: node.name ?? '', inputName: x, outputName: node.output?.[0] ?? '' };
    if (node.opType === 'MatMul') {
      const direct = weight2d(model, b);
      if (direct) {
        const [dIn, dOut] = dimsOf(direct) as [number, number];
        out.push({ ...base, op: 'MatMul', weightName: b, dIn, dOut, storedTransposed: false });
        continue;
      }
      const tr = index.producer.get(b);
      const src = tr?.opType === 'Transpose' && transposeIs2dSwap(tr) ? weight2d(model, tr.input?.[0]) : undefined;
      if (src) {
        const [dOut, dIn] = dimsOf(src) as [number, number];
        out.push({ ...base, op: 'MatMul', weightName: src.name!, dIn, dOut, storedTransposed: true });
      }
    } else if (node.opType === 'Gemm') {
      const w = weight2d(model, b);
      if (!w || intAttr(node, 'transA', 0) !== 0) continue;
      const transB = intAttr(node, 'transB', 0) === 1;
      const [r, c] = dimsOf(w) as [number, number];
      out.push({ ...base, op: 'Gemm', weightName: b, dIn: transB ? c : r, dOut: transB ? r : c, storedTransposed: transB });
    }
  }
  return out;
}

interface Classified {
  cand: LinearCandidate;
  block: number;
  role: LinearRole;
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

function pickFamily(cands: LinearCandidate[], family: string | undefined): FamilyLayout {
  if (family) {
    const f = familyByName(family);
    if (!f) throw new Error(`unknown model family "${family}": expected one of ${FAMILIES.map((x) => x.family).join(', ')}`);
    return f;
  }
  let best: FamilyLayout | undefined;
  let bestCount = 0;
  for (const f of FAMILIES) {
    const n = cands.filter((c) => classify(f, c).kind === 'linear').length;
    if (n > bestCount) {
      best = f;
      bestCount = n;
    }
  }
  if (!best) {
    const seen = cands.slice(0, 6).map((c) => `${c.nodeName || '(unnamed)'} [weight ${c.weightName}]`);
    throw new Error(
      `no decoder-block linears recognised: expected node or weight names like ` +
        FAMILIES.map((f) => `${f.family}: ${expectedPaths(f)}`).join('; ') +
        `; found ${cands.length} MatMul/Gemm with weights${seen.length ? `: ${seen.join(', ')}` : ''}`,
    );
  }
  return best;
}

export interface LinearStructure {
  family: string;
  blocks: number;
  linears: PrunableLinear[];
}

/**
 * The prunable linears of a decoder, ordered by block then by the family's role order. Embeddings
 * and the LM head (tied or not) are outside the blocks and never returned.
 */
export function findPrunableLinears(model: OnnxModel, opts: { family?: string } = {}): LinearStructure {
  const index = indexGraph(model);
  const cands = findLinearCandidates(model, index);
  const layout = pickFamily(cands, opts.family);
  // A weight that is also gathered from is an embedding table (a tied head reuses it): never pruned.
  const gathered = new Set<string>();
  for (const node of model.proto.graph!.node ?? []) if (node.opType === 'Gather' && node.input?.[0]) gathered.add(node.input[0]);

  const found: Classified[] = [];
  for (const cand of cands) {
    if (gathered.has(cand.weightName)) continue;
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
  const roleOrder = layout.roles.map(([, r]) => r);
  const linears: PrunableLinear[] = [];
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
    list.sort((x, y) => roleOrder.indexOf(x.role) - roleOrder.indexOf(y.role));
    for (const { cand, role } of list) {
      linears.push({
        id: `block${b}.${role}`,
        block: b,
        role,
        nodeName: cand.nodeName,
        weightName: cand.weightName,
        inputName: cand.inputName,
        dIn: cand.dIn,
        dOut: cand.dOut,
        storedTransposed: cand.storedTransposed,
      });
    }
  }
  return { family: layout.family, blocks, linears };
}

/** The residual-stream tensor after one decoder block. */
export interface BlockOutput {
  block: number;
  name: string;
}

/** Ops that carry a tensor unchanged in value (or only reshape it) between a linear and the residual add. */
const PASS_THROUGH = new Set(['Reshape', 'Identity', 'Dropout', 'Cast', 'Squeeze', 'Unsqueeze']);

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
    if (!last) throw new Error(`block ${b}: no fc2/down linear to locate the block output from`);
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
    if (!found) throw new Error(`block ${b}: expected a residual Add after ${last.nodeName}, found ${seen}`);
    out.push({ block: b, name: found });
  }
  return out;
}
