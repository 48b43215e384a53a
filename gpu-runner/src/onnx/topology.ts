/**
 * Structure discovery without names (research exports name nodes `209`, `MatMul_17`): decoder
 * blocks are read off the graph's shape instead. In node order, linears that read the same tensor
 * (seen through reshapes and casts) form a group; each block is four groups:
 *
 *   attention in (q/k/v, or one fused qkv) → o → MLP in (fc1, or gate/up) → fc2/down
 *
 * with o and fc2/down writing the residual width. The LM head (a linear whose output is a graph
 * output) and embeddings (excluded by the caller) are never part of a block.
 */
import type { LinearRole } from '../types.js';
import type { NodeProto } from './proto.js';
import type { OnnxModel } from './read.js';
import type { Classified, GraphIndex, LinearCandidate } from './graph-types.js';

export const TOPOLOGY_ROLE_ORDER: LinearRole[] = ['q', 'k', 'v', 'qkv', 'o', 'fc1', 'gate', 'up', 'fc2', 'down'];

/** Ops that only reshape or retype a tensor. */
const RESHAPING = new Set(['Reshape', 'Flatten', 'Identity', 'Cast', 'Squeeze', 'Unsqueeze']);

function rootOf(index: GraphIndex, tensor: string): string {
  let t = tensor;
  for (let hop = 0; hop < 6; hop++) {
    const p = index.producer.get(t);
    if (!p || !RESHAPING.has(p.opType ?? '') || !p.input?.[0]) break;
    t = p.input[0];
  }
  return t;
}

/** Whether a tensor reaches a graph output through reshapes, casts and constant (bias) adds only. */
function reachesOutput(model: OnnxModel, index: GraphIndex, tensor: string, outputs: Set<string>): boolean {
  const isConst = (t: string) => model.initializers.has(t) || index.producer.get(t)?.opType === 'Constant';
  let frontier = [tensor];
  for (let hop = 0; hop < 6 && frontier.length; hop++) {
    if (frontier.some((t) => outputs.has(t))) return true;
    const next: string[] = [];
    for (const t of frontier) {
      for (const n of index.consumers.get(t) ?? []) {
        const others = (n.input ?? []).filter((i) => i && i !== t);
        if (RESHAPING.has(n.opType ?? '') || (n.opType === 'Add' && others.every(isConst))) next.push(n.output?.[0] ?? '');
      }
    }
    frontier = next;
  }
  return false;
}

function feedsSigmoid(index: GraphIndex, tensor: string): boolean {
  return (index.consumers.get(tensor) ?? []).some((n: NodeProto) => n.opType === 'Sigmoid' || n.opType === 'Silu' || n.opType === 'Swish');
}

const FUSED_ATTENTION = new Set(['MultiHeadAttention', 'GroupQueryAttention', 'Attention']);

/** The first attention node a linear's output reaches: a MatMul of two activations, or a fused attention op. */
function attentionUse(model: OnnxModel, index: GraphIndex, tensor: string): { node: NodeProto; slot: number } | undefined {
  let frontier = [tensor];
  for (let hop = 0; hop < 12 && frontier.length; hop++) {
    const next: string[] = [];
    for (const t of frontier) {
      for (const n of index.consumers.get(t) ?? []) {
        const slot = (n.input ?? []).indexOf(t);
        if (FUSED_ATTENTION.has(n.opType ?? '')) return { node: n, slot };
        if (n.opType === 'MatMul' && !(n.input ?? []).some((i) => model.initializers.has(i))) return { node: n, slot };
        next.push(...(n.output ?? []));
      }
    }
    frontier = next;
  }
  return undefined;
}

/**
 * q, k, v of one block in that order, read off where their outputs go: into a fused attention op
 * as inputs 0/1/2, or q and k into the same score MatMul (q as A, k as B) and v elsewhere. Node
 * order when the graph says nothing clearer.
 */
function qkvOrder(model: OnnxModel, index: GraphIndex, group: LinearCandidate[]): LinearCandidate[] {
  const uses = group.map((c) => attentionUse(model, index, c.outputName));
  if (uses.every((u) => u && FUSED_ATTENTION.has(u.node.opType ?? '') && u.node === uses[0]!.node)) {
    return [...group].sort((a, b) => uses[group.indexOf(a)]!.slot - uses[group.indexOf(b)]!.slot);
  }
  for (let i = 0; i < 3; i++) {
    for (let j = i + 1; j < 3; j++) {
      const [ui, uj] = [uses[i], uses[j]];
      if (!ui || !uj || ui.node !== uj.node || ui.node.opType !== 'MatMul') continue;
      const v = group[3 - i - j]!;
      const [q, k] = ui.slot <= uj.slot ? [group[i]!, group[j]!] : [group[j]!, group[i]!];
      return [q, k, v];
    }
  }
  return group;
}

export function linearsByTopology(model: OnnxModel, index: GraphIndex, cands: LinearCandidate[]): { family: string; found: Classified[] } {
  const order = new Map((model.proto.graph!.node ?? []).map((n, k) => [n, k]));
  const pos = (c: LinearCandidate) => order.get(index.producer.get(c.outputName)!) ?? 0;
  const outputs = new Set((model.proto.graph!.output ?? []).map((o) => o.name ?? ''));
  const inner = cands.filter((c) => !reachesOutput(model, index, c.outputName, outputs)).sort((a, b) => pos(a) - pos(b));
  if (inner.length === 0) throw new Error('no MatMul/Gemm with a 2-D weight inside the graph');

  const groups: LinearCandidate[][] = [];
  const byRoot = new Map<string, LinearCandidate[]>();
  for (const c of inner) {
    const key = rootOf(index, c.inputName);
    const g = byRoot.get(key);
    if (g) g.push(c);
    else {
      const fresh = [c];
      byRoot.set(key, fresh);
      groups.push(fresh);
    }
  }
  if (groups.length % 4 !== 0) {
    throw new Error(
      `${inner.length} linears form ${groups.length} groups of shared inputs, not a multiple of the 4 per decoder block (attention in, o, MLP in, MLP out)`,
    );
  }
  const hidden = groups[0]![0]!.dIn;
  const found: Classified[] = [];
  const kinds = new Set<string>();
  for (let b = 0; b < groups.length / 4; b++) {
    const [attnIn, o, mlpIn, mlpOut] = groups.slice(4 * b, 4 * b + 4) as [LinearCandidate[], LinearCandidate[], LinearCandidate[], LinearCandidate[]];
    const where = `block ${b}`;
    const widths = (g: LinearCandidate[]) => g.map((c) => `${c.dIn}→${c.dOut}`).join(', ');
    if (attnIn.some((c) => c.dIn !== hidden)) throw new Error(`${where}: attention input linears (${widths(attnIn)}) do not read the residual width ${hidden}`);
    if (o.length !== 1 || o[0]!.dOut !== hidden) throw new Error(`${where}: expected one output projection back to width ${hidden}, found ${widths(o)}`);
    if (mlpIn.some((c) => c.dIn !== hidden)) throw new Error(`${where}: MLP input linears (${widths(mlpIn)}) do not read the residual width ${hidden}`);
    if (mlpOut.length !== 1 || mlpOut[0]!.dOut !== hidden || mlpOut[0]!.dIn !== mlpIn[0]!.dOut) {
      throw new Error(`${where}: expected one MLP output linear ${mlpIn[0]!.dOut}→${hidden}, found ${widths(mlpOut)}`);
    }
    if (attnIn.length === 1) found.push({ cand: attnIn[0]!, block: b, role: 'qkv' });
    else if (attnIn.length === 3) qkvOrder(model, index, attnIn).forEach((c, k) => found.push({ cand: c, block: b, role: (['q', 'k', 'v'] as const)[k]! }));
    else throw new Error(`${where}: ${attnIn.length} linears read the attention input; expected q/k/v or one fused qkv`);
    found.push({ cand: o[0]!, block: b, role: 'o' });
    if (mlpIn.length === 1) {
      found.push({ cand: mlpIn[0]!, block: b, role: 'fc1' }, { cand: mlpOut[0]!, block: b, role: 'fc2' });
    } else if (mlpIn.length === 2) {
      // SiLU(gate) * up: the gate is the one whose output meets a Sigmoid.
      const g = feedsSigmoid(index, mlpIn[1]!.outputName) && !feedsSigmoid(index, mlpIn[0]!.outputName) ? 1 : 0;
      found.push({ cand: mlpIn[g]!, block: b, role: 'gate' }, { cand: mlpIn[1 - g]!, block: b, role: 'up' }, { cand: mlpOut[0]!, block: b, role: 'down' });
    } else throw new Error(`${where}: ${mlpIn.length} linears read the MLP input; expected fc1 or gate/up`);
    kinds.add(`${attnIn.length}/${mlpIn.length}`);
  }
  const family = kinds.has('3/2') || kinds.has('1/2') ? 'llama' : kinds.has('1/1') ? 'gpt2' : 'xglm';
  return { family, found };
}
