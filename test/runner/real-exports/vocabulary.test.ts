/**
 * A tokenizer whose ids run past the model's token embedding is refused by the preflight — before
 * any compute, naming both sizes — in every form real exports look ids up: a plain Gather (also
 * inside optimum's merged If), a Gather behind a Cast of input_ids or of an fp16 table, and
 * onnxruntime's fused EmbedLayerNormalization. A tokenizer that fits is accepted.
 */
import { cp, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { scoreRequests } from '@polyprune/gpu-runner/evaluate/batching';
import { openEvalModel } from '@polyprune/gpu-runner/evaluate/model';
import { embeddingTables } from '@polyprune/gpu-runner/model/embedding';
import { UnsupportedModel, discoverStructure, preflight } from '@polyprune/gpu-runner/model/preflight';
import { DataType, dimsOf, onnx, type ModelProto, type NodeProto } from '@polyprune/gpu-runner/onnx/proto';
import { loadModel } from '@polyprune/gpu-runner/onnx/read';
import { fp32ToFp16 } from '@polyprune/gpu-runner/onnx/fp16';
import { LAYOUTS, REAL } from './layouts.js';

const TOKENS = 288; // every real fixture's tokenizer and embedding

const refusalFor = (tokens: number, rows: number) =>
  `tokenizer.json has ${tokens} tokens but the model's embedding has ${rows} rows: ids ${rows}..${tokens - 1} would index past it — upload the tokenizer.json that came with this export`;

async function refusal(dir: string, graphFile: string): Promise<string> {
  try {
    await preflight({ dir, graphFile, scoring: true, modelId: 'mdl_1' });
  } catch (err) {
    expect(err).toBeInstanceOf(UnsupportedModel);
    return (err as Error).message;
  }
  throw new Error(`${dir} was not refused`);
}

/** A copy of a fixture folder, its graph edited and its tokenizer given `extra` added tokens past the last id. */
async function variant(src: string, graph: string, o: { edit?: (p: ModelProto) => void; extra?: number } = {}): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'pp-vocab-'));
  await cp(src, dir, { recursive: true });
  if (o.edit) {
    const proto = onnx.ModelProto.decode(await readFile(path.join(dir, graph)));
    o.edit(proto);
    await writeFile(path.join(dir, graph), onnx.ModelProto.encode(proto).finish());
  }
  if (o.extra) {
    const tok = JSON.parse(await readFile(path.join(dir, 'tokenizer.json'), 'utf8')) as { added_tokens: { id: number }[] };
    const next = Math.max(...tok.added_tokens.map((a) => a.id), TOKENS - 1) + 1;
    for (let k = 0; k < o.extra; k++) {
      tok.added_tokens.push({
        id: next + k,
        content: `<extra_${k}>`,
        single_word: false,
        lstrip: false,
        rstrip: false,
        normalized: false,
        special: true,
      } as never);
    }
    await writeFile(path.join(dir, 'tokenizer.json'), JSON.stringify(tok));
  }
  return dir;
}

const nodeNamed = (p: ModelProto, name: string): NodeProto => {
  const n = p.graph!.node!.find((x) => x.name === name);
  if (!n) throw new Error(`no node ${name}`);
  return n;
};

/** The table each fixture's README names as its token embedding (one per If branch for the merged decoder). */
const TABLES: Record<string, string[]> = {
  'optimum-llama-merged': ['model.embed_tokens.weight_merged_0', 'model.embed_tokens.weight_merged_0'],
  'optimum-gpt2': ['transformer.wte.weight'],
  'optimum-bloom-fp16': ['transformer.word_embeddings.weight'],
  'genai-llama-fp16': ['model.embed_tokens.weight'],
  'genai-llama-fp32-mha': ['model.embed_tokens.weight'],
  'ort-fused-gpt2': ['transformer.wte.weight'],
};

describe.each(LAYOUTS)('$dir', (layout) => {
  const src = path.join(REAL, layout.dir);

  it('its embedding is found, position tables are not', async () => {
    const found = embeddingTables(await loadModel(path.join(src, layout.graph)));
    // research exports name every tensor by number: only the count and shape are known
    if (TABLES[layout.dir]) expect(found.map((t) => t.table)).toEqual(TABLES[layout.dir]);
    else expect(found).toHaveLength(1);
    for (const t of found) expect(t.rows).toBe(TOKENS);
  });

  it('a tokenizer one id larger is refused, its own is accepted', async () => {
    await expect(preflight({ dir: src, graphFile: layout.graph, scoring: layout.scorable })).resolves.toBeDefined();
    const dir = await variant(src, layout.graph, { extra: 1 });
    expect(await refusal(dir, layout.graph)).toBe(refusalFor(TOKENS + 1, TOKENS));
  });
});

describe('Gather behind a Cast', () => {
  const src = path.join(REAL, 'optimum-gpt2');

  // int64 ids cast to int32 before the lookup, as ORT's GPT-2 helper and fusions do
  const castIds = (p: ModelProto) => {
    nodeNamed(p, '/transformer/wte/Gather').input![1] = 'input_ids_int32';
    p.graph!.node!.unshift(
      onnx.NodeProto.create({
        opType: 'Cast',
        name: 'input_ids_cast',
        input: ['input_ids'],
        output: ['input_ids_int32'],
        attribute: [{ name: 'to', type: onnx.AttributeProto.AttributeType.INT, i: DataType.INT32 }],
      }),
    );
  };
  // the table kept in fp16 and cast to fp32 where it is read (a mixed-precision conversion)
  const castTable = (p: ModelProto) => {
    const t = p.graph!.initializer!.find((x) => x.name === 'transformer.wte.weight')!;
    const f32 = new Float32Array(new Uint8Array(t.rawData!).buffer); // a copy: rawData may be a view into the file
    t.rawData = new Uint8Array(fp32ToFp16(f32).buffer);
    t.dataType = DataType.FLOAT16;
    t.name = 'transformer.wte.weight_fp16';
    p.graph!.node!.unshift(
      onnx.NodeProto.create({
        opType: 'Cast',
        name: 'wte_cast',
        input: [t.name],
        output: ['transformer.wte.weight'],
        attribute: [{ name: 'to', type: onnx.AttributeProto.AttributeType.INT, i: DataType.FLOAT }],
      }),
    );
  };

  it.each([
    ['of input_ids', castIds, 'transformer.wte.weight'],
    ['of an fp16 table', castTable, 'transformer.wte.weight_fp16'],
  ])('%s: found, refused when the tokenizer is larger, accepted when it fits', async (_, edit, table) => {
    const fits = await variant(src, 'model.onnx', { edit });
    const model = await loadModel(path.join(fits, 'model.onnx'));
    expect(embeddingTables(model)).toEqual([{ table, rows: TOKENS, lookup: 'Gather /transformer/wte/Gather' }]);
    await expect(preflight({ dir: fits, graphFile: 'model.onnx', scoring: true })).resolves.toBeDefined();
    // the edited graph still runs: onnxruntime takes it as a valid model
    const m = await openEvalModel(fits, { device: 'cpu', intraOpThreads: 1 });
    await m.session.release();
    expect(await refusal(await variant(src, 'model.onnx', { edit, extra: 1 }), 'model.onnx')).toBe(refusalFor(TOKENS + 1, TOKENS));
  });
});

describe('onnxruntime-fused EmbedLayerNormalization (GPT-2)', () => {
  const src = path.join(REAL, 'ort-fused-gpt2');

  /**
   * What onnxruntime's transformer optimizer writes when its embedding fusion takes the GPT-2 pattern
   * (fusion_embedlayer.py, fuse_gpt2): wte Gather + wpe Gather + Add + the first LayerNormalization
   * become one com.microsoft EmbedLayerNormalization with inputs [input_ids, "", word_embedding,
   * position_embedding, "", gamma, beta, "", position_ids] and the sum as output 2 (block 0's residual).
   */
  const fuse = (p: ModelProto) => {
    const g = p.graph!;
    const wte = nodeNamed(p, '/transformer/wte/Gather');
    const wpe = nodeNamed(p, '/transformer/wpe/Gather');
    const add = nodeNamed(p, '/transformer/Add');
    const ln = nodeNamed(p, 'LayerNorm_0');
    const fused = onnx.NodeProto.create({
      opType: 'EmbedLayerNormalization',
      domain: 'com.microsoft',
      name: 'EmbedLayerNormalization_0',
      input: [wte.input![1]!, '', wte.input![0]!, wpe.input![0]!, '', ln.input![1]!, ln.input![2]!, '', wpe.input![1]!],
      output: [ln.output![0]!, 'EmbedLayerNormalization_0_dummy_mask_index', add.output![0]!],
      attribute: ln.attribute!.filter((a) => a.name === 'epsilon'),
    });
    const gone = new Set([wte, wpe, add, ln]);
    g.node = [fused, ...g.node!.filter((n) => !gone.has(n))];
  };
  // Keep the first `rows` rows of the word embedding (a model with a smaller vocabulary than its tokenizer).
  const shrink = (rows: number) => (p: ModelProto) => {
    const t = p.graph!.initializer!.find((x) => x.name === 'transformer.wte.weight')!;
    const cols = dimsOf(t)[1]!;
    t.rawData = t.rawData!.slice(0, rows * cols * 4);
    t.dims = [rows, cols];
  };

  it('the fused graph scores as the unfused fixture (it is a graph onnxruntime runs)', async () => {
    const dir = await variant(src, 'model.onnx', { edit: fuse });
    const model = await loadModel(path.join(dir, 'model.onnx'));
    expect(model.proto.graph!.node!.some((n) => n.opType === 'Gather')).toBe(false);
    expect(embeddingTables(model)).toEqual([{ table: 'transformer.wte.weight', rows: TOKENS, lookup: 'EmbedLayerNormalization EmbedLayerNormalization_0' }]);
    const opts = { device: 'cpu' as const, intraOpThreads: 1 };
    const fused = await openEvalModel(dir, opts);
    const plain = await openEvalModel(src, opts);
    try {
      const reqs = ['French: Le chat dort.</s>English: The cat sleeps.', 'The weather is nice.'].map((t) => ({
        tokens: Int32Array.from(plain.tokenizer.encode(t)),
        scoreFrom: 1,
      }));
      const a = await scoreRequests(fused, reqs, { maxBatchSize: 2 });
      const b = await scoreRequests(plain, reqs, { maxBatchSize: 2 });
      for (const [i, lp] of b.logprobs.entries()) for (let k = 0; k < lp.length; k++) expect(Math.abs(a.logprobs[i]![k]! - lp[k]!)).toBeLessThan(1e-4);
    } finally {
      await fused.session.release();
      await plain.session.release();
    }
  });

  it('accepted when the tokenizer fits', async () => {
    const dir = await variant(src, 'model.onnx', { edit: fuse });
    const checked = await preflight({ dir, graphFile: 'model.onnx', scoring: true });
    expect(discoverStructure(checked.model, 'model.onnx').structure.linears).toHaveLength(8);
  });

  it('refused when the tokenizer is larger: one id over, and a table far smaller than the tokenizer', async () => {
    expect(await refusal(await variant(src, 'model.onnx', { edit: fuse, extra: 1 }), 'model.onnx')).toBe(refusalFor(TOKENS + 1, TOKENS));
    const small = await variant(src, 'model.onnx', {
      edit: (p) => {
        fuse(p);
        shrink(100)(p);
      },
    });
    expect(await refusal(small, 'model.onnx')).toBe(refusalFor(TOKENS, 100));
  });
});
