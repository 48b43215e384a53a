/**
 * Model families as data: where a family's decoder blocks are in node/initializer names and which
 * module path inside a block is which linear role. Names are normalised to dot-separated paths
 * first ("/model/layers.0/self_attn/q_proj/MatMul" -> "model.layers.0.self_attn.q_proj.MatMul").
 */
import type { LinearRole } from '../types.js';

export interface FamilyLayout {
  /** The family a registered model names (xglm, bloom, gpt2, llama). */
  family: string;
  /** This naming scheme, when a family has several (exporters name modules differently). */
  layout: string;
  /** Path segment(s) that precede the block index: "layers" matches "...layers.3...". */
  blockPrefix: string;
  /** Module path inside a block -> role. */
  roles: Array<[path: string, role: LinearRole]>;
  /** Module paths inside a block whose MatMuls are not linears (e.g. rotary tables). */
  ignore: string[];
  /** The role sets a complete block may have (fused qkv or separate projections, etc.). */
  blockShapes: LinearRole[][];
}

export const FAMILIES: FamilyLayout[] = [
  {
    family: 'xglm',
    layout: 'xglm',
    blockPrefix: 'layers',
    roles: [
      ['self_attn.q_proj', 'q'],
      ['self_attn.k_proj', 'k'],
      ['self_attn.v_proj', 'v'],
      ['self_attn.out_proj', 'o'],
      ['fc1', 'fc1'],
      ['fc2', 'fc2'],
    ],
    ignore: [],
    blockShapes: [['q', 'k', 'v', 'o', 'fc1', 'fc2']],
  },
  {
    family: 'bloom',
    layout: 'bloom',
    blockPrefix: 'h',
    roles: [
      ['self_attention.query_key_value', 'qkv'],
      ['self_attention.dense', 'o'],
      ['mlp.dense_h_to_4h', 'fc1'],
      ['mlp.dense_4h_to_h', 'fc2'],
    ],
    ignore: [],
    blockShapes: [['qkv', 'o', 'fc1', 'fc2']],
  },
  {
    family: 'gpt2',
    layout: 'gpt2',
    blockPrefix: 'h',
    roles: [
      ['attn.c_attn', 'qkv'],
      ['attn.c_proj', 'o'],
      ['mlp.c_fc', 'fc1'],
      ['mlp.c_proj', 'fc2'],
    ],
    ignore: [],
    blockShapes: [['qkv', 'o', 'fc1', 'fc2']],
  },
  {
    family: 'llama',
    layout: 'llama',
    blockPrefix: 'layers',
    roles: [
      ['self_attn.q_proj', 'q'],
      ['self_attn.k_proj', 'k'],
      ['self_attn.v_proj', 'v'],
      ['self_attn.o_proj', 'o'],
      ['mlp.gate_proj', 'gate'],
      ['mlp.up_proj', 'up'],
      ['mlp.down_proj', 'down'],
    ],
    ignore: ['self_attn.rotary_emb', 'rotary_emb'],
    blockShapes: [['q', 'k', 'v', 'o', 'gate', 'up', 'down']],
  },
  {
    // onnxruntime-genai model builder: `/model/layers.N/attn/qkv_proj/MatMul` (fused) or q/k/v_proj.
    family: 'llama',
    layout: 'llama-genai',
    blockPrefix: 'layers',
    roles: [
      ['attn.q_proj', 'q'],
      ['attn.k_proj', 'k'],
      ['attn.v_proj', 'v'],
      ['attn.qkv_proj', 'qkv'],
      ['attn.o_proj', 'o'],
      ['mlp.gate_proj', 'gate'],
      ['mlp.up_proj', 'up'],
      ['mlp.down_proj', 'down'],
    ],
    ignore: ['attn.rotary_emb', 'attn.rotary'],
    blockShapes: [
      ['q', 'k', 'v', 'o', 'gate', 'up', 'down'],
      ['qkv', 'o', 'gate', 'up', 'down'],
    ],
  },
];

/** "/model/layers.0/self_attn/q_proj/MatMul" -> "model.layers.0.self_attn.q_proj.MatMul" */
export function normaliseName(name: string): string {
  return name
    .replace(/[/:]+/g, '.')
    .replace(/\.{2,}/g, '.')
    .replace(/^\.|\.$/g, '');
}

export interface NameMatch {
  block: number;
  /** The path after "<prefix>.<n>." */
  rest: string;
}

/** Finds "<blockPrefix>.<n>." as whole segments in a normalised name. */
export function matchBlock(layout: FamilyLayout, name: string): NameMatch | undefined {
  const segs = normaliseName(name).split('.');
  for (let i = 0; i + 1 < segs.length; i++) {
    if (segs[i] === layout.blockPrefix && /^\d+$/.test(segs[i + 1]!)) {
      return { block: Number(segs[i + 1]), rest: segs.slice(i + 2).join('.') };
    }
  }
  return undefined;
}

function startsWithPath(rest: string, p: string): boolean {
  return rest === p || rest.startsWith(`${p}.`);
}

export function matchRole(layout: FamilyLayout, rest: string): LinearRole | 'ignore' | undefined {
  for (const p of layout.ignore) if (startsWithPath(rest, p)) return 'ignore';
  for (const [p, role] of layout.roles) if (startsWithPath(rest, p)) return role;
  return undefined;
}

/** The family a registered name stands for (mGPT is GPT-2's architecture, OPT names modules as XGLM). */
export function canonicalFamily(name: string): string {
  const n = name.toLowerCase();
  const alias: Record<string, string> = { mgpt: 'gpt2', opt: 'xglm', mistral: 'llama', qwen2: 'llama' };
  return alias[n] ?? n;
}
