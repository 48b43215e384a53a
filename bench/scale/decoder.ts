/**
 * Full-size decoders with the shapes of real checkpoints, written in the optimum layout
 * (docs/real-exports.md §1): `model.onnx` + `model.onnx_data` (every weight external),
 * `input_ids`, `attention_mask`, (`position_ids`), `past_key_values.{i}.key/value`
 * [batch, kv_heads, past, head_dim] → `logits`, `present.{i}.key/value`; node names with module
 * paths, anonymous `onnx::MatMul_N` weights stored [in, out], the tied head as MatMul on a Transpose
 * of the embedding (as optimum re-ties it). Weights are random: this is about cost, not accuracy.
 *
 * Attention is real (causal over past + new tokens, GQA by repeating kv heads); rotary and learned
 * positions are left out (cheap next to the matmuls, and without parameters worth pruning).
 */
import { open } from 'node:fs/promises';
import path from 'node:path';
import { onnx, type NodeProto, type TensorProto, type ValueInfoProto } from '@polyprune/gpu-runner/onnx/proto';
import { fp32ToFp16 } from '@polyprune/gpu-runner/onnx/fp16';

export interface DecoderSpec {
  name: string;
  family: 'xglm' | 'bloom' | 'llama';
  layers: number;
  hidden: number;
  ffn: number;
  heads: number;
  kvHeads: number;
  vocab: number;
  dtype: 'float32' | 'float16';
}

export const SCALE_MODELS: DecoderSpec[] = [
  { name: 'xglm-564M', family: 'xglm', layers: 24, hidden: 1024, ffn: 4096, heads: 16, kvHeads: 16, vocab: 256008, dtype: 'float32' },
  { name: 'bloom-560m', family: 'bloom', layers: 24, hidden: 1024, ffn: 4096, heads: 16, kvHeads: 16, vocab: 250880, dtype: 'float32' },
  { name: 'llama-1.1B-fp16', family: 'llama', layers: 22, hidden: 2048, ffn: 5632, heads: 32, kvHeads: 4, vocab: 32000, dtype: 'float16' },
];

/** Parameter count, for the table. */
export function parameterCount(s: DecoderSpec): number {
  const hd = s.hidden / s.heads;
  const attn = s.hidden * s.hidden * 2 + 2 * s.hidden * s.kvHeads * hd;
  const mlp = (s.family === 'llama' ? 3 : 2) * s.hidden * s.ffn;
  return s.vocab * s.hidden + s.layers * (attn + mlp);
}

const A = onnx.AttributeProto.AttributeType;
const intA = (name: string, i: number) => onnx.AttributeProto.create({ name, type: A.INT, i });
const intsA = (name: string, ints: number[]) => onnx.AttributeProto.create({ name, type: A.INTS, ints });
const floatA = (name: string, f: number) => onnx.AttributeProto.create({ name, type: A.FLOAT, f });

function vi(name: string, elemType: number, dims: Array<number | string>): ValueInfoProto {
  return onnx.ValueInfoProto.create({
    name,
    type: onnx.TypeProto.create({
      tensorType: onnx.TypeProto.Tensor.create({
        elemType,
        shape: onnx.TensorShapeProto.create({
          dim: dims.map((d) => onnx.TensorShapeProto.Dimension.create(typeof d === 'number' ? { dimValue: d } : { dimParam: d })),
        }),
      }),
    }),
  });
}

/** A seeded uniform stream with std 0.02, written in 4 MiB chunks. */
function* randomChunks(count: number, seed: number, fp16: boolean): Generator<Uint8Array> {
  let s = seed >>> 0 || 1;
  const chunk = 1 << 20;
  const scale = 0.02 * Math.sqrt(3) * 2;
  for (let done = 0; done < count; done += chunk) {
    const n = Math.min(chunk, count - done);
    const f = new Float32Array(n);
    for (let k = 0; k < n; k++) {
      s ^= s << 13;
      s ^= s >>> 17;
      s ^= s << 5;
      f[k] = ((s >>> 0) / 4294967296 - 0.5) * scale;
    }
    yield fp16 ? new Uint8Array(fp32ToFp16(f).buffer) : new Uint8Array(f.buffer);
  }
}

/** Writes `dir/model.onnx` and `dir/model.onnx_data`; returns the bytes of weights written. */
export async function writeDecoder(s: DecoderSpec, dir: string): Promise<number> {
  const F = s.dtype === 'float32' ? onnx.TensorProto.DataType.FLOAT : onnx.TensorProto.DataType.FLOAT16;
  const I64 = onnx.TensorProto.DataType.INT64;
  const bytesPer = s.dtype === 'float32' ? 4 : 2;
  const hd = s.hidden / s.heads;
  const dataName = 'model.onnx_data';
  const fh = await open(path.join(dir, dataName), 'w');
  const nodes: NodeProto[] = [];
  const inits: TensorProto[] = [];
  let offset = 0;
  let anon = 100;
  let seed = 1;

  const external = async (name: string, dims: number[], fill?: number): Promise<string> => {
    const count = dims.reduce((a, b) => a * b, 1);
    const start = offset;
    if (fill === undefined) {
      for (const c of randomChunks(count, seed++ * 7919, s.dtype === 'float16')) {
        await fh.write(c, 0, c.byteLength, offset);
        offset += c.byteLength;
      }
    } else {
      const f = new Float32Array(count).fill(fill);
      const b = s.dtype === 'float16' ? new Uint8Array(fp32ToFp16(f).buffer) : new Uint8Array(f.buffer);
      await fh.write(b, 0, b.byteLength, offset);
      offset += b.byteLength;
    }
    inits.push(
      onnx.TensorProto.create({
        name,
        dims,
        dataType: F,
        dataLocation: onnx.TensorProto.DataLocation.EXTERNAL,
        externalData: [
          onnx.StringStringEntryProto.create({ key: 'location', value: dataName }),
          onnx.StringStringEntryProto.create({ key: 'offset', value: String(start) }),
          onnx.StringStringEntryProto.create({ key: 'length', value: String(count * bytesPer) }),
        ],
      }),
    );
    // 64-byte alignment, as onnx's own writer does for memory-mapped reads.
    offset += (64 - (offset % 64)) % 64;
    return name;
  };
  const i64 = (name: string, values: number[]) => {
    inits.push(onnx.TensorProto.create({ name, dims: [values.length], dataType: I64, int64Data: values }));
    return name;
  };
  const scalar = (name: string, v: number) => {
    inits.push(
      onnx.TensorProto.create({
        name,
        dims: [],
        dataType: F,
        rawData: s.dtype === 'float32' ? new Uint8Array(Float32Array.of(v).buffer) : new Uint8Array(fp32ToFp16(Float32Array.of(v)).buffer),
      }),
    );
    return name;
  };
  const op = (opType: string, name: string, inputs: string[], attrs: ReturnType<typeof intA>[] = [], outputs = [`${name}_output_0`]) => {
    nodes.push(onnx.NodeProto.create({ opType, name, input: inputs, output: outputs, attribute: attrs }));
    return outputs[0]!;
  };

  const L =
    s.family === 'bloom'
      ? { prefix: '/transformer/h', embed: 'transformer.word_embeddings.weight' }
      : { prefix: '/model/layers', embed: 'model.embed_tokens.weight' };
  const linear = async (module: string, x: string, dIn: number, dOut: number, bias: boolean) => {
    const w = await external(`onnx::MatMul_${anon++}`, [dIn, dOut]);
    const y = op('MatMul', `${module}/MatMul`, [x, w]);
    if (!bias) return y;
    const b = await external(`${module.slice(1).replaceAll('/', '.')}.bias`, [dOut], 0);
    return op('Add', `${module}/Add`, [b, y]);
  };
  const norm = async (module: string, x: string) => {
    const g = await external(`${module.slice(1).replaceAll('/', '.')}.weight`, [s.hidden], 1);
    if (s.family === 'llama') {
      // RMSNorm as optimum exports it: Pow, ReduceMean, Add eps, Sqrt, Div, Mul.
      const p = op('Pow', `${module}/Pow`, [x, scalar(`${module}/two`, 2)]);
      const m = op('ReduceMean', `${module}/ReduceMean`, [p], [intsA('axes', [-1]), intA('keepdims', 1)]);
      const e = op('Add', `${module}/Add`, [m, scalar(`${module}/eps`, 1e-5)]);
      const r = op('Sqrt', `${module}/Sqrt`, [e]);
      const d = op('Div', `${module}/Div`, [x, r]);
      return op('Mul', `${module}/Mul`, [g, d]);
    }
    const b = await external(`${module.slice(1).replaceAll('/', '.')}.bias`, [s.hidden], 0);
    return op('LayerNormalization', `${module}/LayerNormalization`, [x, g, b], [intA('axis', -1), floatA('epsilon', 1e-5)]);
  };

  // Additive mask [batch, 1, seq, past + seq]: causal over absolute positions, padding from attention_mask.
  const past0 = 'past_key_values.0.key';
  const pastLen = op('Gather', '/model/past_len', [op('Shape', '/model/past_shape', [past0]), i64('/model/two_idx', [2])]);
  const seqLen = op('Gather', '/model/seq_len', [op('Shape', '/model/ids_shape', ['input_ids']), i64('/model/one_idx', [1])]);
  const total = op('Add', '/model/total_len', [pastLen, seqLen]);
  const zero = i64('/model/zero', [0]);
  const oneStep = i64('/model/one', [1]);
  const qpos = op('Range', '/model/qpos', [
    op('Squeeze', '/model/past_s', [pastLen]),
    op('Squeeze', '/model/total_s', [total]),
    op('Squeeze', '/model/one_s', [oneStep]),
  ]);
  const kpos = op('Range', '/model/kpos', [
    op('Squeeze', '/model/zero_s', [zero]),
    op('Squeeze', '/model/total_s2', [total]),
    op('Squeeze', '/model/one_s2', [oneStep]),
  ]);
  const allowed = op('LessOrEqual', '/model/causal', [op('Unsqueeze', '/model/kpos_row', [kpos, zero]), op('Unsqueeze', '/model/qpos_col', [qpos, oneStep])]);
  const padOk = op(
    'Cast',
    '/model/mask_bool',
    [op('Unsqueeze', '/model/mask_4d', ['attention_mask', i64('/model/axes12', [1, 2])])],
    [intA('to', onnx.TensorProto.DataType.BOOL)],
  );
  const both = op('And', '/model/mask_and', [allowed, padOk]);
  const maskAdd = op('Where', '/model/mask_add', [both, scalar('/model/mask_zero', 0), scalar('/model/mask_neg', s.dtype === 'float32' ? -1e9 : -6e4)]);

  const embed = await external(L.embed, [s.vocab, s.hidden]);
  let x = op('Gather', `${L.prefix.split('/').slice(0, 2).join('/')}/embed_tokens/Gather`, [embed, 'input_ids']);
  if (s.family === 'bloom') x = await norm('/transformer/word_embeddings_layernorm', x);
  const shapeQ = i64('/model/shape_q', [0, 0, s.heads, hd]);
  const shapeKv = i64('/model/shape_kv', [0, 0, s.kvHeads, hd]);
  const shapeOut = i64('/model/shape_out', [0, 0, s.hidden]);
  const inputs = [vi('input_ids', I64, ['batch_size', 'sequence_length']), vi('attention_mask', I64, ['batch_size', 'past_sequence_length + sequence_length'])];
  if (s.family !== 'bloom') inputs.push(vi('position_ids', I64, ['batch_size', 'sequence_length']));
  const outputs = [vi('logits', F, ['batch_size', 'sequence_length', s.vocab])];
  for (let l = 0; l < s.layers; l++) {
    const p = `${L.prefix}.${l}`;
    const attnNorm = s.family === 'bloom' ? 'input_layernorm' : s.family === 'llama' ? 'input_layernorm' : 'self_attn_layer_norm';
    const h = await norm(`${p}/${attnNorm}`, x);
    const bias = s.family !== 'llama';
    let q: string;
    let k: string;
    let v: string;
    if (s.family === 'bloom') {
      const qkv = await linear(`${p}/self_attention/query_key_value`, h, s.hidden, 3 * s.hidden, true);
      [q, k, v] = ['q', 'k', 'v'].map((n) => `${p}/self_attention/Split_output_${n}`) as [string, string, string];
      op('Split', `${p}/self_attention/Split`, [qkv, i64(`${p}/split`, [s.hidden, s.hidden, s.hidden])], [intA('axis', -1)], [q, k, v]);
    } else {
      const a = s.family === 'llama' ? 'self_attn' : 'self_attn';
      q = await linear(`${p}/${a}/q_proj`, h, s.hidden, s.hidden, bias);
      k = await linear(`${p}/${a}/k_proj`, h, s.hidden, s.kvHeads * hd, bias);
      v = await linear(`${p}/${a}/v_proj`, h, s.hidden, s.kvHeads * hd, bias);
    }
    const heads = (t: string, shape: string, n: string) =>
      op('Transpose', `${p}/attn/${n}_t`, [op('Reshape', `${p}/attn/${n}_r`, [t, shape])], [intsA('perm', [0, 2, 1, 3])]);
    const qh = heads(q, shapeQ, 'q');
    const kNew = heads(k, shapeKv, 'k');
    const vNew = heads(v, shapeKv, 'v');
    const pk = `past_key_values.${l}.key`;
    const pv = `past_key_values.${l}.value`;
    inputs.push(vi(pk, F, ['batch_size', s.kvHeads, 'past_sequence_length', hd]), vi(pv, F, ['batch_size', s.kvHeads, 'past_sequence_length', hd]));
    const presentK = op('Concat', `${p}/attn/present_k`, [pk, kNew], [intA('axis', 2)], [`present.${l}.key`]);
    const presentV = op('Concat', `${p}/attn/present_v`, [pv, vNew], [intA('axis', 2)], [`present.${l}.value`]);
    outputs.push(vi(`present.${l}.key`, F, ['batch_size', s.kvHeads, 'past_sequence_length + sequence_length', hd]));
    outputs.push(vi(`present.${l}.value`, F, ['batch_size', s.kvHeads, 'past_sequence_length + sequence_length', hd]));
    let kAll = presentK;
    let vAll = presentV;
    if (s.kvHeads !== s.heads) {
      // GQA: each kv head serves heads/kvHeads query heads.
      const rep = s.heads / s.kvHeads;
      const expand = (t: string, n: string) => {
        const u = op('Unsqueeze', `${p}/attn/${n}_u`, [t, i64(`${p}/attn/${n}_ax`, [2])]);
        const shape = op(
          'Concat',
          `${p}/attn/${n}_shape`,
          [op('Shape', `${p}/attn/${n}_s`, [u], [intA('end', 2)]), i64(`${p}/attn/${n}_rep`, [rep]), op('Shape', `${p}/attn/${n}_s2`, [u], [intA('start', 3)])],
          [intA('axis', 0)],
        );
        const e = op('Expand', `${p}/attn/${n}_e`, [u, shape]);
        return op('Reshape', `${p}/attn/${n}_m`, [e, i64(`${p}/attn/${n}_merge`, [0, s.heads, -1, hd])]);
      };
      kAll = expand(presentK, 'k');
      vAll = expand(presentV, 'v');
    }
    const scores = op('Mul', `${p}/attn/scale`, [
      op('MatMul', `${p}/attn/MatMul`, [qh, op('Transpose', `${p}/attn/k_T`, [kAll], [intsA('perm', [0, 1, 3, 2])])]),
      scalar(`${p}/attn/inv_sqrt`, 1 / Math.sqrt(hd)),
    ]);
    const probs = op('Softmax', `${p}/attn/Softmax`, [op('Add', `${p}/attn/masked`, [scores, maskAdd])], [intA('axis', -1)]);
    const ctx = op('Reshape', `${p}/attn/ctx`, [
      op('Transpose', `${p}/attn/ctx_t`, [op('MatMul', `${p}/attn/MatMul_1`, [probs, vAll])], [intsA('perm', [0, 2, 1, 3])]),
      shapeOut,
    ]);
    const oName = s.family === 'bloom' ? 'self_attention/dense' : s.family === 'llama' ? 'self_attn/o_proj' : 'self_attn/out_proj';
    x = op('Add', `${p}/residual_attn`, [x, await linear(`${p}/${oName}`, ctx, s.hidden, s.hidden, bias)]);
    const mlpNorm = s.family === 'xglm' ? 'final_layer_norm' : 'post_attention_layernorm';
    const h2 = await norm(`${p}/${mlpNorm}`, x);
    let down: string;
    if (s.family === 'llama') {
      const gate = await linear(`${p}/mlp/gate_proj`, h2, s.hidden, s.ffn, false);
      const up = await linear(`${p}/mlp/up_proj`, h2, s.hidden, s.ffn, false);
      const act = op('Mul', `${p}/mlp/act_fn/Mul`, [gate, op('Sigmoid', `${p}/mlp/act_fn/Sigmoid`, [gate])]);
      down = await linear(`${p}/mlp/down_proj`, op('Mul', `${p}/mlp/Mul`, [act, up]), s.ffn, s.hidden, false);
    } else {
      const [fc1, fc2] = s.family === 'bloom' ? ['mlp/dense_h_to_4h', 'mlp/dense_4h_to_h'] : ['fc1', 'fc2'];
      const a = await linear(`${p}/${fc1}`, h2, s.hidden, s.ffn, true);
      const g = op('Mul', `${p}/act/Mul`, [a, op('Sigmoid', `${p}/act/Sigmoid`, [op('Mul', `${p}/act/k`, [a, scalar(`${p}/act/1702`, 1.702)])])]);
      down = await linear(`${p}/${fc2}`, g, s.ffn, s.hidden, true);
    }
    x = op('Add', `${p}/residual_mlp`, [x, down]);
  }
  const finalNorm = s.family === 'bloom' ? '/transformer/ln_f' : s.family === 'llama' ? '/model/norm' : '/model/layer_norm';
  const hFinal = await norm(finalNorm, x);
  // Tied head (XGLM, BLOOM) as optimum re-ties it: MatMul on a Transpose of the embedding; LLaMA's own head.
  const headW =
    s.family === 'llama'
      ? await external(`onnx::MatMul_${anon++}`, [s.hidden, s.vocab])
      : op('Transpose', '/lm_head/Transpose', [embed], [intsA('perm', [1, 0])]);
  op('MatMul', '/lm_head/MatMul', [hFinal, headW], [], ['logits']);
  await fh.close();

  const graph = onnx.GraphProto.create({ name: 'main_graph', node: nodes, initializer: inits, input: inputs, output: outputs });
  const model = onnx.ModelProto.create({
    irVersion: 8,
    producerName: 'pytorch',
    producerVersion: '2.3.0',
    opsetImport: [onnx.OperatorSetIdProto.create({ domain: '', version: 17 })],
    graph,
  });
  const { writeFile } = await import('node:fs/promises');
  await writeFile(path.join(dir, 'model.onnx'), onnx.ModelProto.encode(model).finish());
  return offset;
}
