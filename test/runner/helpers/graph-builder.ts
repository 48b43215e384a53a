/**
 * Tiny decoder graphs shaped like torch.onnx exports of each family (node names such as
 * "/model/layers.0/self_attn/q_proj/MatMul", weights named "onnx::MatMul_N"), plus a plain
 * JavaScript forward pass over the same parameters that the tests use as the independent reference.
 *
 * The blocks are deliberately simple but have every structural feature discovery must handle:
 * LayerNormalization, separate or fused qkv (Split), bias Adds, residual Adds, SwiGLU-like MLP for
 * LLaMA, MatMul / Transpose+MatMul / Gemm(transB) linears, and a tied or separate LM head.
 * "Attention" is q⊙k + v per token (no token mixing), which keeps the reference short.
 */
import { onnx, type ModelProto, type NodeProto, type TensorProto } from '@polyprune/gpu-runner/onnx/proto';
import { fp16ToFp32, fp32ToFp16 } from '@polyprune/gpu-runner/onnx/fp16';
import type { LinearRole } from '@polyprune/gpu-runner/types';
import { mulberry32 } from '@polyprune/gpu-runner/random';

export type Family = 'xglm' | 'bloom' | 'gpt2' | 'llama';

export interface TinySpec {
  family: Family;
  vocab?: number;
  hidden?: number;
  ffn?: number;
  blocks?: number;
  seed?: number;
  /** How linears appear: MatMul on [in,out], MatMul on Transpose([out,in]), or Gemm transB=1 on 2-D input. */
  linear?: 'matmul' | 'transpose' | 'gemm';
  tiedHead?: boolean;
  dtype?: 'float32' | 'float16';
  /** Name weights after modules (optimum style) instead of "onnx::MatMul_N". */
  namedWeights?: boolean;
}

export interface LinearParams {
  role: LinearRole;
  /** canonical [dIn, dOut] */
  w: Float32Array;
  dIn: number;
  dOut: number;
  bias?: Float32Array;
}

export interface TinyParams {
  family: Family;
  hidden: number;
  ffn: number;
  vocab: number;
  embed: Float32Array;
  blocks: Array<{ ln1: [Float32Array, Float32Array]; ln2: [Float32Array, Float32Array]; linears: Map<LinearRole, LinearParams> }>;
  lnf: [Float32Array, Float32Array];
  head?: Float32Array; // [hidden, vocab] when not tied
}

const MODULES: Record<Family, { prefix: string; embed: string; roles: Array<[LinearRole, string]>; ln: [string, string] }> = {
  xglm: {
    prefix: 'model/layers',
    embed: 'model.embed_tokens.weight',
    roles: [
      ['q', 'self_attn/q_proj'],
      ['k', 'self_attn/k_proj'],
      ['v', 'self_attn/v_proj'],
      ['o', 'self_attn/out_proj'],
      ['fc1', 'fc1'],
      ['fc2', 'fc2'],
    ],
    ln: ['self_attn_layer_norm', 'final_layer_norm'],
  },
  bloom: {
    prefix: 'transformer/h',
    embed: 'transformer.word_embeddings.weight',
    roles: [
      ['qkv', 'self_attention/query_key_value'],
      ['o', 'self_attention/dense'],
      ['fc1', 'mlp/dense_h_to_4h'],
      ['fc2', 'mlp/dense_4h_to_h'],
    ],
    ln: ['input_layernorm', 'post_attention_layernorm'],
  },
  gpt2: {
    prefix: 'transformer/h',
    embed: 'transformer.wte.weight',
    roles: [
      ['qkv', 'attn/c_attn'],
      ['o', 'attn/c_proj'],
      ['fc1', 'mlp/c_fc'],
      ['fc2', 'mlp/c_proj'],
    ],
    ln: ['ln_1', 'ln_2'],
  },
  llama: {
    prefix: 'model/layers',
    embed: 'model.embed_tokens.weight',
    roles: [
      ['q', 'self_attn/q_proj'],
      ['k', 'self_attn/k_proj'],
      ['v', 'self_attn/v_proj'],
      ['o', 'self_attn/o_proj'],
      ['gate', 'mlp/gate_proj'],
      ['up', 'mlp/up_proj'],
      ['down', 'mlp/down_proj'],
    ],
    ln: ['input_layernorm', 'post_attention_layernorm'],
  },
};

export const rng = mulberry32;

function dims(role: LinearRole, h: number, f: number): [number, number] {
  if (role === 'qkv') return [h, 3 * h];
  if (role === 'fc1' || role === 'gate' || role === 'up') return [h, f];
  if (role === 'fc2' || role === 'down') return [f, h];
  return [h, h];
}

export function makeParams(spec: TinySpec): TinyParams {
  const h = spec.hidden ?? 8;
  const f = spec.ffn ?? 16;
  const vocab = spec.vocab ?? 32;
  const r = rng(spec.seed ?? 1);
  // fp16 models: parameters are fp16-representable so the reference sees the stored values.
  const q = (a: Float32Array) => (spec.dtype === 'float16' ? fp16ToFp32(fp32ToFp16(a)) : a);
  const rand = (n: number, scale: number, shift = 0) => q(Float32Array.from({ length: n }, () => shift + (r() * 2 - 1) * scale));
  const blocks: TinyParams['blocks'] = [];
  for (let b = 0; b < (spec.blocks ?? 3); b++) {
    const linears = new Map<LinearRole, LinearParams>();
    for (const [role] of MODULES[spec.family].roles) {
      const [dIn, dOut] = dims(role, h, f);
      const withBias = spec.family !== 'llama';
      linears.set(role, { role, dIn, dOut, w: rand(dIn * dOut, 1 / Math.sqrt(dIn)), ...(withBias ? { bias: rand(dOut, 0.1) } : {}) });
    }
    blocks.push({ ln1: [rand(h, 0.2, 1), rand(h, 0.1)], ln2: [rand(h, 0.2, 1), rand(h, 0.1)], linears });
  }
  return {
    family: spec.family,
    hidden: h,
    ffn: f,
    vocab,
    embed: rand(vocab * h, 1),
    blocks,
    lnf: [rand(h, 0.2, 1), rand(h, 0.1)],
    ...(spec.tiedHead ? {} : { head: rand(h * vocab, 0.5) }),
  };
}

function transpose(w: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(w.length);
  for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) out[j * rows + i] = w[i * cols + j]!;
  return out;
}

/** Builds the ONNX graph for `params` (opset 17, IR 8). */
export function buildModel(spec: TinySpec, params = makeParams(spec)): { proto: ModelProto; params: TinyParams } {
  const fam = MODULES[spec.family];
  const fp16 = spec.dtype === 'float16';
  const FT = fp16 ? onnx.TensorProto.DataType.FLOAT16 : onnx.TensorProto.DataType.FLOAT;
  const nodes: NodeProto[] = [];
  const inits: TensorProto[] = [];
  let counter = 0;
  const h = params.hidden;
  const init = (name: string, data: Float32Array, d: number[]) => {
    const raw = fp16 ? new Uint8Array(fp32ToFp16(data).buffer) : new Uint8Array(data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength));
    inits.push(onnx.TensorProto.create({ name, dims: d, dataType: FT, rawData: raw }));
    return name;
  };
  const i64 = (name: string, vals: number[]) => {
    inits.push(onnx.TensorProto.create({ name, dims: [vals.length], dataType: onnx.TensorProto.DataType.INT64, int64Data: vals }));
    return name;
  };
  const node = (opType: string, name: string, inputs: string[], attrs: ReturnType<typeof onnx.AttributeProto.create>[] = [], nOut = 1) => {
    const outputs = Array.from({ length: nOut }, (_, k) => `${name}_output_${k}`);
    nodes.push(onnx.NodeProto.create({ opType, name, input: inputs, output: outputs, attribute: attrs }));
    return outputs;
  };
  const intA = (name: string, i: number) => onnx.AttributeProto.create({ name, i, type: onnx.AttributeProto.AttributeType.INT });
  const floatA = (name: string, f: number) => onnx.AttributeProto.create({ name, f, type: onnx.AttributeProto.AttributeType.FLOAT });
  const ln = (scope: string, x: string, p: [Float32Array, Float32Array]) =>
    node(
      'LayerNormalization',
      `/${scope}/LayerNormalization`,
      [x, init(`${scope.replace(/\//g, '.')}.weight`, p[0], [h]), init(`${scope.replace(/\//g, '.')}.bias`, p[1], [h])],
      [intA('axis', -1), floatA('epsilon', 1e-5)],
    )[0]!;

  const linear = (scope: string, x: string, p: LinearParams): string => {
    const wname = spec.namedWeights ? `${scope.replace(/\//g, '.')}.weight` : `onnx::MatMul_${100 + counter++}`;
    const mode = spec.linear ?? 'matmul';
    let y: string;
    if (mode === 'gemm') {
      // torch exports addmm as Reshape(-1, in) → Gemm → Reshape(back)
      const shape2 = i64(`${scope}/shape2`, [-1, p.dIn]);
      const x2 = node('Reshape', `/${scope}/Reshape`, [x, shape2])[0]!;
      const w = init(spec.namedWeights ? wname : `${scope.replace(/\//g, '.')}.weight`, transpose(p.w, p.dIn, p.dOut), [p.dOut, p.dIn]);
      const b = p.bias ? init(`${scope.replace(/\//g, '.')}.bias`, p.bias, [p.dOut]) : undefined;
      const g = node('Gemm', `/${scope}/Gemm`, b ? [x2, w, b] : [x2, w], [intA('transB', 1)])[0]!;
      const backShape = node('Shape', `/${scope}/Shape`, [x])[0]!;
      const lead = node('Slice', `/${scope}/Slice`, [backShape, i64(`${scope}/s0`, [0]), i64(`${scope}/s1`, [-1])])[0]!;
      const full = node('Concat', `/${scope}/Concat`, [lead, i64(`${scope}/dout`, [p.dOut])], [intA('axis', 0)])[0]!;
      return node('Reshape', `/${scope}/Reshape_1`, [g, full])[0]!;
    }
    if (mode === 'transpose') {
      const w = init(wname, transpose(p.w, p.dIn, p.dOut), [p.dOut, p.dIn]);
      const wt = node(
        'Transpose',
        `/${scope}/Transpose`,
        [w],
        [onnx.AttributeProto.create({ name: 'perm', ints: [1, 0], type: onnx.AttributeProto.AttributeType.INTS })],
      )[0]!;
      y = node('MatMul', `/${scope}/MatMul`, [x, wt])[0]!;
    } else {
      y = node('MatMul', `/${scope}/MatMul`, [x, init(wname, p.w, [p.dIn, p.dOut])])[0]!;
    }
    return p.bias ? node('Add', `/${scope}/Add`, [init(`${scope.replace(/\//g, '.')}.bias`, p.bias, [p.dOut]), y])[0]! : y;
  };

  const embedName = init(fam.embed, params.embed, [params.vocab, h]);
  const top = fam.prefix.split('/')[0]!;
  const gathered = node('Gather', `/${top}/embed/Gather`, [embedName, 'input_ids'])[0]!;
  const maskF = node('Cast', `/${top}/Cast`, ['attention_mask'], [intA('to', FT)])[0]!;
  const maskU = node('Unsqueeze', `/${top}/Unsqueeze`, [maskF, i64('axes_last', [-1])])[0]!;
  let x = node('Mul', `/${top}/embed/Mul`, [gathered, maskU])[0]!;

  params.blocks.forEach((blk, b) => {
    const s = `${fam.prefix}.${b}`;
    const path = (role: LinearRole) => `${s}/${fam.roles.find(([r]) => r === role)![1]}`;
    const L = (role: LinearRole) => blk.linears.get(role)!;
    const h1 = ln(`${s}/${fam.ln[0]}`, x, blk.ln1);
    let a: string;
    if (blk.linears.has('qkv')) {
      const qkv = linear(path('qkv'), h1, L('qkv'));
      const [q, k, v] = node('Split', `/${s}/attn/Split`, [qkv, i64(`${s}/split`, [h, h, h])], [intA('axis', -1)], 3) as [string, string, string];
      a = node('Add', `/${s}/attn/Add`, [node('Mul', `/${s}/attn/Mul`, [q, k])[0]!, v])[0]!;
    } else {
      const q = linear(path('q'), h1, L('q'));
      const k = linear(path('k'), h1, L('k'));
      const v = linear(path('v'), h1, L('v'));
      a = node('Add', `/${s}/attn/Add`, [node('Mul', `/${s}/attn/Mul`, [q, k])[0]!, v])[0]!;
    }
    const o = linear(path('o'), a, L('o'));
    const x1 = node('Add', `/${s}/Add`, [x, o])[0]!;
    const h2 = ln(`${s}/${fam.ln[1]}`, x1, blk.ln2);
    let m: string;
    if (blk.linears.has('gate')) {
      const g = node('Relu', `/${s}/mlp/act/Relu`, [linear(path('gate'), h2, L('gate'))])[0]!;
      const u = linear(path('up'), h2, L('up'));
      m = linear(path('down'), node('Mul', `/${s}/mlp/Mul`, [g, u])[0]!, L('down'));
    } else {
      const f = node('Relu', `/${s}/mlp/act/Relu`, [linear(path('fc1'), h2, L('fc1'))])[0]!;
      m = linear(path('fc2'), f, L('fc2'));
    }
    x = node('Add', `/${s}/Add_1`, [x1, m])[0]!;
  });
  const xf = ln(`${top}/norm`, x, params.lnf);
  let logits: string;
  if (params.head) {
    logits = node('MatMul', '/lm_head/MatMul', [
      xf,
      init(spec.namedWeights ? 'lm_head.weight' : `onnx::MatMul_${100 + counter++}`, params.head, [h, params.vocab]),
    ])[0]!;
  } else {
    const t = node(
      'Transpose',
      '/lm_head/Transpose',
      [embedName],
      [onnx.AttributeProto.create({ name: 'perm', ints: [1, 0], type: onnx.AttributeProto.AttributeType.INTS })],
    )[0]!;
    logits = node('MatMul', '/lm_head/MatMul', [xf, t])[0]!;
  }
  nodes.push(onnx.NodeProto.create({ opType: 'Identity', name: '/logits/Identity', input: [logits], output: ['logits'] }));

  const dyn = (n: string, et: number, rank: number) =>
    onnx.ValueInfoProto.create({
      name: n,
      type: onnx.TypeProto.create({
        tensorType: onnx.TypeProto.Tensor.create({
          elemType: et,
          shape: onnx.TensorShapeProto.create({ dim: Array.from({ length: rank }, (_, k) => onnx.TensorShapeProto.Dimension.create({ dimParam: `d${k}` })) }),
        }),
      }),
    });
  const I64 = onnx.TensorProto.DataType.INT64;
  const graph = onnx.GraphProto.create({
    name: `tiny-${spec.family}`,
    node: nodes,
    initializer: inits,
    input: [dyn('input_ids', I64, 2), dyn('attention_mask', I64, 2)],
    output: [dyn('logits', FT, 3)],
  });
  const proto = onnx.ModelProto.create({
    irVersion: 8,
    opsetImport: [onnx.OperatorSetIdProto.create({ domain: '', version: 17 })],
    producerName: 'polyprune-test',
    graph,
  });
  return { proto, params };
}

/** The canonical-layout weights keyed like PrunableLinear ids ("block0.q"). */
export function linearWeights(params: TinyParams): Map<string, LinearParams> {
  const out = new Map<string, LinearParams>();
  params.blocks.forEach((blk, b) => blk.linears.forEach((p, role) => out.set(`block${b}.${role}`, p)));
  return out;
}
