/**
 * A tiny causal decoder LM written directly as an ONNX graph, so the evaluation tests do not wait
 * for torch-exported fixtures and can cover the three graph shapes the engine must handle:
 *   - plain: input_ids + attention_mask → logits (positions computed inside from the past length,
 *     as an HF export without position_ids does — which is why padded past is unsafe there);
 *   - positionIds: an explicit position_ids input;
 *   - pastKv: past_key_values.{i}.key/value inputs and present.{i}.key/value outputs.
 * Also a byte-level tokenizer implementing LoadedTokenizer.
 */
import onnxProto from 'onnx-proto';
import type { LoadedTokenizer } from '@polyprune/gpu-runner/tokenize/index';
import { mulberry32 } from '@polyprune/gpu-runner/random';

const { onnx } = onnxProto;
const F = onnx.TensorProto.DataType.FLOAT;
const I64 = onnx.TensorProto.DataType.INT64;

export interface TinyModelSpec {
  vocab: number;
  dModel: number;
  heads: number;
  layers: number;
  maxPositions: number;
  positionIds?: boolean;
  pastKv?: boolean;
  seed?: number;
  /** weight scale; larger gives peakier distributions */
  scale?: number;
}

const prng = mulberry32;

export function buildTinyModel(spec: TinyModelSpec): Uint8Array {
  const { vocab, dModel: d, heads: H, layers: L, maxPositions } = spec;
  const dh = d / H;
  const rand = prng(spec.seed ?? 1);
  const scale = spec.scale ?? 0.6;
  const inits: onnxProto.onnx.ITensorProto[] = [];
  const nodes: onnxProto.onnx.INodeProto[] = [];
  let n = 0;
  const weight = (name: string, dims: number[], s = scale) => {
    const size = dims.reduce((a, b) => a * b, 1);
    const data = new Float32Array(size);
    for (let i = 0; i < size; i++) data[i] = (rand() * 2 - 1) * s;
    inits.push({ name, dims, dataType: F, rawData: new Uint8Array(data.buffer) });
    return name;
  };
  const constI64 = (name: string, values: number[], dims: number[] = [values.length]) => {
    inits.push({ name, dims, dataType: I64, int64Data: values });
    return name;
  };
  const constF = (name: string, v: number) => {
    inits.push({ name, dims: [], dataType: F, floatData: [v] });
    return name;
  };
  const node = (op: string, inputs: string[], attrs: onnxProto.onnx.IAttributeProto[] = [], out?: string) => {
    const o = out ?? `t${n++}`;
    nodes.push({ opType: op, input: inputs, output: [o], name: `${op}_${o}`, attribute: attrs });
    return o;
  };
  const ai = (name: string, i: number): onnxProto.onnx.IAttributeProto => ({ name, type: onnx.AttributeProto.AttributeType.INT, i });
  const ais = (name: string, ints: number[]): onnxProto.onnx.IAttributeProto => ({ name, type: onnx.AttributeProto.AttributeType.INTS, ints });

  constI64('empty_shape', [], [0]);
  const negBig = constF('neg_big', 1e9);
  const fOne = constF('f_one', 1);
  const invSqrt = constF('inv_sqrt_dh', 1 / Math.sqrt(dh));
  const headsShape = constI64('heads_shape', [0, 0, H, dh]);
  const modelShape = constI64('model_shape', [0, 0, d]);

  // S = current length, T = mask length = past + S, P = T - S (scalars)
  const S1 = node('Shape', ['input_ids'], [ai('start', 1), ai('end', 2)]);
  const T1 = node('Shape', ['attention_mask'], [ai('start', 1), ai('end', 2)]);
  const P1 = node('Sub', [T1, S1]);
  const P = node('Reshape', [P1, 'empty_shape']);
  const T = node('Reshape', [T1, 'empty_shape']);

  let x = node('Gather', [weight('tok_emb', [vocab, d]), 'input_ids']);
  const posEmb = weight('pos_emb', [maxPositions, d]);
  const pos = spec.positionIds ? node('Gather', [posEmb, 'position_ids']) : node('Gather', [posEmb, node('Range', [P, T, constI64('one_scalar', [1], [])])]);
  x = node('Add', [x, pos]);

  // mask bias [B,1,S,T]: causal (key j allowed when j <= i + P) times padding
  const ones = node(
    'ConstantOfShape',
    [node('Concat', [S1, T1], [ai('axis', 0)])],
    [{ name: 'value', type: onnx.AttributeProto.AttributeType.TENSOR, t: { dims: [1], dataType: F, floatData: [1] } }],
  );
  const causal = node('Trilu', [ones, P], [ai('upper', 0)]);
  const pad = node('Unsqueeze', [node('Cast', ['attention_mask'], [ai('to', F)]), constI64('ax12', [1, 2])]);
  const allowed = node('Mul', [pad, causal]);
  const bias = node('Mul', [node('Sub', [allowed, fOne]), negBig]);

  const outputs: onnxProto.onnx.IValueInfoProto[] = [];
  const inputs: onnxProto.onnx.IValueInfoProto[] = [vi('input_ids', I64, ['batch', 'seq']), vi('attention_mask', I64, ['batch', 'total'])];
  if (spec.positionIds) inputs.push(vi('position_ids', I64, ['batch', 'seq']));

  for (let l = 0; l < L; l++) {
    const split = (t: string) => node('Transpose', [node('Reshape', [t, headsShape])], [ais('perm', [0, 2, 1, 3])]);
    const q = split(node('MatMul', [x, weight(`l${l}.wq`, [d, d])]));
    let k = split(node('MatMul', [x, weight(`l${l}.wk`, [d, d])]));
    let v = split(node('MatMul', [x, weight(`l${l}.wv`, [d, d])]));
    if (spec.pastKv) {
      const pk = `past_key_values.${l}.key`;
      const pv = `past_key_values.${l}.value`;
      inputs.push(vi(pk, F, ['batch', H, 'past', dh]), vi(pv, F, ['batch', H, 'past', dh]));
      k = node('Concat', [pk, k], [ai('axis', 2)], `present.${l}.key`);
      v = node('Concat', [pv, v], [ai('axis', 2)], `present.${l}.value`);
      outputs.push(vi(`present.${l}.key`, F, ['batch', H, 'total', dh]), vi(`present.${l}.value`, F, ['batch', H, 'total', dh]));
    }
    const scores = node('Mul', [node('MatMul', [q, node('Transpose', [k], [ais('perm', [0, 1, 3, 2])])]), invSqrt]);
    const attn = node('Softmax', [node('Add', [scores, bias])], [ai('axis', -1)]);
    const ctx = node('Reshape', [node('Transpose', [node('MatMul', [attn, v])], [ais('perm', [0, 2, 1, 3])]), modelShape]);
    const h = node('Add', [x, node('MatMul', [ctx, weight(`l${l}.wo`, [d, d])])]);
    const mlp = node('MatMul', [node('Tanh', [node('MatMul', [h, weight(`l${l}.w1`, [d, 2 * d])])]), weight(`l${l}.w2`, [2 * d, d])]);
    x = node('Add', [h, mlp]);
  }
  node('MatMul', [x, weight('lm_head', [d, vocab], scale * 0.5)], [], 'logits');
  outputs.unshift(vi('logits', F, ['batch', 'seq', vocab]));

  const model = onnx.ModelProto.create({
    irVersion: 8,
    producerName: 'polyprune-test',
    opsetImport: [{ domain: '', version: 17 }],
    graph: { name: 'tiny', node: nodes, initializer: inits, input: inputs, output: outputs },
  });
  return onnx.ModelProto.encode(model).finish();
}

function vi(name: string, elemType: number, dims: (number | string)[]): onnxProto.onnx.IValueInfoProto {
  return {
    name,
    type: {
      tensorType: {
        elemType,
        shape: { dim: dims.map((x) => (typeof x === 'number' ? { dimValue: x } : { dimParam: x })) },
      },
    },
  };
}

/** Byte-level tokenizer: id = byte + 3; 0 pad, 1 EOS ("</s>"), 2 BOS. */
export function byteTokenizer(): LoadedTokenizer {
  const enc = new TextEncoder();
  const dec = new TextDecoder();
  return {
    encode: (text) => Array.from(enc.encode(text), (b) => b + 3),
    decode: (ids) => {
      let out = '';
      const bytes: number[] = [];
      const flush = () => {
        out += dec.decode(new Uint8Array(bytes));
        bytes.length = 0;
      };
      for (const id of ids) {
        if (id >= 3) bytes.push(id - 3);
        else {
          flush();
          out += id === 1 ? '</s>' : id === 2 ? '<s>' : '<pad>';
        }
      }
      flush();
      return out;
    },
    eosId: 1,
    eosToken: '</s>',
    padId: 0,
    bosId: 2,
    prefixIds: [],
    vocabSize: 259,
    tokenCount: 259,
  };
}

export type TinyVariant = 'plain' | 'positionIds' | 'pastKv' | 'pastKvPositionIds';

/** The three graph shapes share one seed, hence identical weights: they compute the same function. */
export function tinySpec(variant: TinyVariant, extra: Partial<TinyModelSpec> = {}): TinyModelSpec {
  return {
    vocab: 259,
    dModel: 16,
    heads: 2,
    layers: 2,
    maxPositions: 512,
    positionIds: variant === 'positionIds' || variant === 'pastKvPositionIds',
    pastKv: variant === 'pastKv' || variant === 'pastKvPositionIds',
    seed: 7,
    ...extra,
  };
}
