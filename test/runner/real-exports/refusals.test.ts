/**
 * Graphs polyprune cannot prune or score are refused by the preflight — before any compute — with
 * one line naming the file or op and what to upload instead; never a runner path nor a raw
 * onnxruntime message.
 */
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { UnsupportedModel, discoverStructure, preflight } from '@polyprune/gpu-runner/model/preflight';
import { REAL, REFUSE } from './layouts.js';

async function refusal(dir: string, graphFile: string, scoring = true, modelId = 'mdl_1'): Promise<string> {
  try {
    const checked = await preflight({ dir, graphFile, scoring, modelId });
    discoverStructure(checked.model, graphFile);
  } catch (err) {
    expect(err).toBeInstanceOf(UnsupportedModel);
    const msg = (err as Error).message;
    // one line, no path of this machine
    expect(msg).not.toMatch(/\n/);
    expect(msg).not.toContain(dir);
    expect(msg).not.toContain(os.tmpdir());
    return msg;
  }
  throw new Error(`${dir} was not refused`);
}

describe('refused before any compute, with the reason and the fix', () => {
  it('int4 model-builder export (MatMulNBits)', async () => {
    expect(await refusal(path.join(REFUSE, 'matmulnbits'), 'model.onnx')).toMatch(
      /^model\.onnx is quantized \(com\.microsoft\.MatMulNBits at node \/model\/layers\.0\/attn\/qkv_proj\/MatMulNBits\).*upload the fp32 or fp16 export.*-p fp16/,
    );
  });

  it('ORT dynamic quantization (MatMulInteger / DequantizeLinear)', async () => {
    expect(await refusal(path.join(REFUSE, 'qdq'), 'model.onnx')).toMatch(
      /^model\.onnx is quantized \((DynamicQuantizeLinear|MatMulInteger|DequantizeLinear) at node .*upload the fp32 or fp16 export/,
    );
  });

  it('a BeamSearch wrapper', async () => {
    expect(await refusal(path.join(REFUSE, 'beam-search'), 'model.onnx')).toMatch(
      /^model\.onnx wraps its decoder in com\.microsoft\.BeamSearch \(node BeamSearch_gpt2\).*upload the plain decoder export/,
    );
  });

  it('an external-data file that was not uploaded: named, with the upload command', async () => {
    expect(await refusal(path.join(REFUSE, 'missing-data'), 'model.onnx')).toBe(
      'model.onnx keeps its weights in model.onnx_data, which was not uploaded: npx polyprune models upload mdl_1 model.onnx_data (or PUT /v1/models/mdl_1/files/model.onnx_data)',
    );
  });

  it('a tokenizer whose ids exceed the vocabulary', async () => {
    expect(await refusal(path.join(REFUSE, 'tokenizer-oob'), 'model.onnx')).toBe(
      "tokenizer.json has 288 tokens but the model's embedding has 64 rows: ids 64..287 would index past it — upload the tokenizer.json that came with this export",
    );
  });

  it('a graph without logits: prunable, not scorable', async () => {
    const dir = path.join(REAL, 'torch-last-state');
    expect(await refusal(dir, 'model.onnx', true)).toMatch(
      /^model\.onnx: the graph ends at last_state, present_0, present_1, not at logits \(no LM head\): it can be pruned but not scored/,
    );
    // Without suites the same graph is accepted and its linears found.
    const checked = await preflight({ dir, graphFile: 'model.onnx', scoring: false });
    expect(discoverStructure(checked.model, 'model.onnx').structure.linears).toHaveLength(12);
  });

  it('bfloat16 weights or logits (onnxruntime-node has no bfloat16 tensors)', async () => {
    const { copyFile, mkdtemp, readFile, writeFile } = await import('node:fs/promises');
    const { DataType, onnx } = await import('@polyprune/gpu-runner/onnx/proto');
    const src = path.join(REAL, 'optimum-gpt2');
    const dir = await mkdtemp(path.join(os.tmpdir(), 'pp-bf16-'));
    for (const f of ['tokenizer.json', 'config.json']) await copyFile(path.join(src, f), path.join(dir, f));
    // Declare the logits bfloat16, as a bf16 export would.
    const proto = onnx.ModelProto.decode(await readFile(path.join(src, 'model.onnx')));
    for (const o of proto.graph!.output!) if (o.name === 'logits') o.type!.tensorType!.elemType = DataType.BFLOAT16;
    await writeFile(path.join(dir, 'model.onnx'), onnx.ModelProto.encode(proto).finish());
    expect(await refusal(dir, 'model.onnx')).toMatch(
      /^model\.onnx stores its output logits as bfloat16, which onnxruntime-node cannot read: export it in fp16 or fp32/,
    );
  });

  it('a graph file that is not there, or not ONNX', async () => {
    expect(await refusal(path.join(REAL, 'optimum-gpt2'), 'decoder_model_merged.onnx')).toMatch(
      /^the model has no graph file decoder_model_merged\.onnx: npx polyprune models upload mdl_1 decoder_model_merged\.onnx/,
    );
    expect(await refusal(path.join(REAL, 'optimum-gpt2'), 'tokenizer.json')).toMatch(
      /^tokenizer\.json is not a readable ONNX model \(.*\): upload the \.onnx file as the exporter wrote it$/,
    );
  });
});
