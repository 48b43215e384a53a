import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import * as ort from 'onnxruntime-node';
import { Tokenizer } from '@huggingface/tokenizers';

// Sanity checks of the committed family fixtures (built by scripts/demo-model/fixtures.py).
const root = join(process.cwd(), 'test/fixtures/models');
const names = ['gpt2', 'gpt2-matmul', 'bloom', 'xglm', 'llama', 'llama-extdata', 'gemm'];

function int64(values: number[], dims: number[]): ort.Tensor {
  return new ort.Tensor('int64', BigInt64Array.from(values.map((v) => BigInt(v))), dims);
}

describe('family fixtures', () => {
  for (const name of names) {
    it(`${name}: loads in onnxruntime-node and returns finite logits [batch, seq, vocab]`, async () => {
      const dir = join(root, name);
      const config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
      for (const key of [
        'model_type',
        'vocab_size',
        'hidden_size',
        'num_hidden_layers',
        'num_attention_heads',
        'eos_token_id',
        'bos_token_id',
        'pad_token_id',
        'max_position_embeddings',
      ]) {
        expect(config[key], key).toBeDefined();
      }
      const session = await ort.InferenceSession.create(join(dir, 'model.onnx'));
      try {
        expect(session.inputNames).toEqual(['input_ids', 'attention_mask']);
        expect(session.outputNames).toEqual(['logits']);
        // batch 2, seq 5 (the export traced seq 7): second row left-padded
        const ids = [5, 17, 42, 99, 250, 1, 1, 7, 8, 9];
        const mask = [1, 1, 1, 1, 1, 0, 0, 1, 1, 1];
        const out = await session.run({ input_ids: int64(ids, [2, 5]), attention_mask: int64(mask, [2, 5]) });
        const logits = out.logits!;
        expect(logits.type).toBe('float32');
        expect(logits.dims).toEqual([2, 5, config.vocab_size]);
        const data = logits.data as Float32Array;
        expect(data.every((v) => Number.isFinite(v))).toBe(true);
        // causal: the first position's logits do not depend on later tokens
        const out2 = await session.run({
          input_ids: int64([5, 18, 43, 100, 251], [1, 5]),
          attention_mask: int64([1, 1, 1, 1, 1], [1, 5]),
        });
        const a = data.subarray(0, config.vocab_size);
        const b = (out2.logits!.data as Float32Array).subarray(0, config.vocab_size);
        for (let i = 0; i < a.length; i++) expect(Math.abs(a[i]! - b[i]!)).toBeLessThan(1e-4);
      } finally {
        await session.release();
      }
    });
  }

  it('fixture tokenizer.json loads and round-trips', () => {
    const json = JSON.parse(readFileSync(join(root, 'gpt2/tokenizer.json'), 'utf8'));
    const tok = new Tokenizer(json, {});
    const text = 'French: Le chat dort.</s>English: The cat sleeps.</s>';
    const enc = tok.encode(text, { add_special_tokens: false });
    expect(enc.ids).toContain(2);
    expect(Math.max(...enc.ids)).toBeLessThan(288);
    expect(tok.decode(enc.ids, { skip_special_tokens: false })).toBe(text);
  });
});

describe('demo model', () => {
  const dir = join(process.cwd(), 'demo/model');

  it('loads, has the fixture I/O and returns finite logits over its vocabulary', async () => {
    const config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
    const tok = new Tokenizer(
      JSON.parse(readFileSync(join(dir, 'tokenizer.json'), 'utf8')),
      JSON.parse(readFileSync(join(dir, 'tokenizer_config.json'), 'utf8')),
    );
    const text = 'French: Où est la gare ?</s>English: Where is the train station?</s>';
    const ids = tok.encode(text, { add_special_tokens: false }).ids;
    expect(ids.filter((i) => i === config.eos_token_id)).toHaveLength(2);
    expect(tok.decode(ids, { skip_special_tokens: false })).toBe(text);
    const session = await ort.InferenceSession.create(join(dir, 'model.onnx'));
    try {
      expect(session.inputNames).toEqual(['input_ids', 'attention_mask']);
      expect(session.outputNames).toEqual(['logits']);
      const out = await session.run({
        input_ids: int64(ids, [1, ids.length]),
        attention_mask: int64(
          ids.map(() => 1),
          [1, ids.length],
        ),
      });
      expect(out.logits!.dims).toEqual([1, ids.length, config.vocab_size]);
      expect((out.logits!.data as Float32Array).every((v) => Number.isFinite(v))).toBe(true);
    } finally {
      await session.release();
    }
  });
});
