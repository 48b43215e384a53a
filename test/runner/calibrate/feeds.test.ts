/**
 * What calibration feeds a graph (calibrate/feeds.ts): the reference's call with maskPadding false,
 * the padding mask with maskPadding true, in the types and layouts the graph declares; and what the
 * run records of it.
 */
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { makeBatches } from '@polyprune/gpu-runner/calibrate/batches';
import { calibrationFeeds, tokenFeeds } from '@polyprune/gpu-runner/calibrate/feeds';
import { openSession } from '@polyprune/gpu-runner/onnx/session';
import { REAL, open } from '../real-exports/layouts.js';

// two samples of 5: three real tokens then two pads, and five real tokens
const batch = makeBatches(
  [
    { inputIds: BigInt64Array.of(10n, 11n, 12n, 1n, 1n), attentionMask: BigInt64Array.of(1n, 1n, 1n, 0n, 0n) },
    { inputIds: BigInt64Array.of(20n, 21n, 22n, 23n, 24n), attentionMask: BigInt64Array.of(1n, 1n, 1n, 1n, 1n) },
  ],
  2,
)[0]!;

async function feedsOf(dir: string, graph: string, maskPadding: boolean) {
  const m = await open(path.join(REAL, dir), graph);
  const s = await openSession(m.model.proto, m.model.dir, { device: 'cpu' });
  try {
    const feeds = tokenFeeds(s.session, batch, new Set(), { maskPadding, config: m.config });
    return Object.fromEntries(
      Object.entries(feeds).map(([k, t]) => [k, { type: t.type, dims: [...t.dims], data: Array.from(t.data as ArrayLike<number | bigint>, Number) }]),
    );
  } finally {
    await s.release();
  }
}

describe('tokenFeeds', () => {
  it('maskPadding false: a mask of ones and positions 0…T−1, as transformers computes them for model(input_ids)', async () => {
    const f = await feedsOf('optimum-llama-merged', 'decoder_model_merged.onnx', false);
    expect(f.input_ids!.data).toEqual([10, 11, 12, 1, 1, 20, 21, 22, 23, 24]);
    expect(f.attention_mask).toEqual({ type: 'int64', dims: [2, 5], data: [1, 1, 1, 1, 1, 1, 1, 1, 1, 1] });
    expect(f.position_ids).toEqual({ type: 'int64', dims: [2, 5], data: [0, 1, 2, 3, 4, 0, 1, 2, 3, 4] });
    // an empty cache and the no-past branch, whatever the mode
    expect(f['past_key_values.0.key']!.dims).toEqual([2, 2, 0, 8]);
    expect(f.use_cache_branch!.data).toEqual([0]);
  });

  it('maskPadding true: the padding mask, pads keeping the position of the real token before them', async () => {
    const f = await feedsOf('optimum-llama-merged', 'decoder_model_merged.onnx', true);
    expect(f.attention_mask!.data).toEqual([1, 1, 1, 0, 0, 1, 1, 1, 1, 1]);
    expect(f.position_ids!.data).toEqual([0, 1, 2, 2, 2, 0, 1, 2, 3, 4]);
  });

  it('in the integer type the graph declares (int32 for the ORT-optimized GPT-2)', async () => {
    const ref = await feedsOf('ort-fused-gpt2', 'model.onnx', false);
    expect(ref.attention_mask).toEqual({ type: 'int32', dims: [2, 5], data: Array(10).fill(1) });
    expect(ref.position_ids).toEqual({ type: 'int32', dims: [2, 5], data: [0, 1, 2, 3, 4, 0, 1, 2, 3, 4] });
    expect((await feedsOf('ort-fused-gpt2', 'model.onnx', true)).attention_mask!.data).toEqual([1, 1, 1, 0, 0, 1, 1, 1, 1, 1]);
  });

  it('a graph without mask nor positions gets the token ids and its cache only', async () => {
    const f = await feedsOf('torch-plain', 'model.onnx', true);
    expect(Object.keys(f).sort()).toEqual(['input_ids', 'past_0', 'past_1']);
  });
});

describe('calibrationFeeds (the run record)', () => {
  it('says what each input got and whether pads were masked and counted', () => {
    const full = ['input_ids', 'attention_mask', 'position_ids', 'past_key_values.0.key'];
    expect(calibrationFeeds(full, false)).toEqual({
      maskPadding: false,
      padding: 'right',
      attentionMask: 'ones',
      positionIds: 'arange',
      maskFed: false,
      padsInStatistics: true,
    });
    expect(calibrationFeeds(full, true)).toEqual({
      maskPadding: true,
      padding: 'right',
      attentionMask: 'padding',
      positionIds: 'from-padding',
      maskFed: true,
      padsInStatistics: false,
    });
    // BLOOM: a mask, no positions (ALiBi from the mask)
    expect(calibrationFeeds(['input_ids', 'attention_mask'], false)).toMatchObject({ attentionMask: 'ones', positionIds: 'not-an-input' });
    // no mask input: the reference mode is the graph's own call; maskPadding can only drop pad rows, and says so
    expect(calibrationFeeds(['input_ids', 'past_0'], false)).toEqual({
      maskPadding: false,
      padding: 'right',
      attentionMask: 'not-an-input',
      positionIds: 'not-an-input',
      maskFed: false,
      padsInStatistics: true,
    });
    const clean = calibrationFeeds(['input_ids', 'past_0'], true);
    expect(clean).toMatchObject({ attentionMask: 'not-an-input', maskFed: false, padsInStatistics: false });
    expect(clean.note).toMatch(/takes no attention_mask, so pads were not masked as attention keys; .*left out of the statistics/);
  });
});
