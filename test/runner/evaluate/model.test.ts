import { describe, expect, it } from 'vitest';
import { evaluateSuite } from '@polyprune/gpu-runner/evaluate/index';
import { forward } from '@polyprune/gpu-runner/evaluate/forward';
import { contextLengthOf } from '@polyprune/gpu-runner/evaluate/model';
import { tinyEvalModel, xnliRows } from './helpers.js';

describe('graph description', () => {
  it('finds past/present pairs and the cache layout from the session', async () => {
    const kv = await tinyEvalModel('pastKvPositionIds');
    expect(kv.io.hasPositionIds).toBe(true);
    // batch and past length are symbolic; heads (2) and head size (8) are fixed
    expect(kv.io.past!.entries).toEqual(
      [0, 1].flatMap((l) => ['key', 'value'].map((k) => ({ past: `past_key_values.${l}.${k}`, present: `present.${l}.${k}`, shape: [-1, 2, -2, 8] }))),
    );
    expect(kv.io.past!.batchAxis).toBe(0);
    expect(kv.io.past!.layers).toBe(2);
    // a graph with position_ids continues padded caches correctly: the probe turns every ability on
    expect(kv.cache).toEqual({ prefix: true, step: true, padded: true });
    const noPositions = await tinyEvalModel('pastKv');
    expect(noPositions.cache).toMatchObject({ prefix: true, step: true, padded: false });
    const plain = await tinyEvalModel('plain');
    expect(plain.io).toEqual({
      ids: { name: 'input_ids', type: 'int64' },
      mask: { name: 'attention_mask', type: 'int64' },
      logits: 'logits',
      outputs: ['logits'],
      hasPositionIds: false,
    });
    expect(plain.cache).toEqual({ prefix: false, step: false, padded: false });
  });

  it('reads the context length from any of the config names', () => {
    expect(contextLengthOf({ n_positions: 1024 })).toBe(1024);
    expect(contextLengthOf({ max_position_embeddings: 2048, n_positions: 1 })).toBe(2048);
    expect(contextLengthOf({}, 777)).toBe(777);
  });
});

describe('forward', () => {
  it('refuses a padded cache on a graph that derives positions from the past length', async () => {
    const model = await tinyEvalModel('pastKv');
    const first = await forward(model, [Int32Array.of(5, 6, 7), Int32Array.of(5, 6)], undefined, true);
    const cache = { length: 3, tensors: first.present!, valid: first.mask };
    await expect(forward(model, [Int32Array.of(8), Int32Array.of(8)], cache)).rejects.toThrow(/position_ids/);
  });
});

describe('progress', () => {
  it('is reported once per batch, ending at the total', async () => {
    for (const variant of ['plain', 'pastKv'] as const) {
      const model = await tinyEvalModel(variant);
      const calls: [string, number, number][] = [];
      const r = await evaluateSuite(model, xnliRows, 'xnli', 'en', { maxBatchSize: 4, onProgress: (...a) => calls.push(a) });
      expect(calls.length).toBeGreaterThan(1);
      expect(calls.map((c) => c[1])).toEqual(calls.map((_, i) => i + 1));
      expect(calls.every((c) => c[0] === 'score xnli' && c[2] === calls.length)).toBe(true);
      expect((r.stats as { batches: number }).batches).toBe(calls.length);
    }
  });
});
