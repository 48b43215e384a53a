import { createSession } from '@polyprune/gpu-runner/ort';
import { probeCache } from '@polyprune/gpu-runner/evaluate/cache-probe';
import { describeGraph, type EvalModel } from '@polyprune/gpu-runner/evaluate/model';
import { buildTinyModel, byteTokenizer, tinySpec, type TinyModelSpec, type TinyVariant } from '../helpers/tiny-lm.js';
import { TEST_DEVICE } from '../helpers/device.js';

export const variants: TinyVariant[] = ['plain', 'positionIds', 'pastKv', 'pastKvPositionIds'];

export async function tinyEvalModel(variant: TinyVariant, extra: Partial<TinyModelSpec> = {}, contextLength = 512): Promise<EvalModel> {
  const spec = tinySpec(variant, extra);
  const { session } = await createSession(buildTinyModel(spec), { device: TEST_DEVICE, intraOpThreads: 1 });
  const model: EvalModel = {
    session,
    tokenizer: byteTokenizer(),
    io: describeGraph(session),
    contextLength: Math.min(contextLength, spec.maxPositions),
    cache: { prefix: false, step: false, padded: false },
  };
  model.cache = await probeCache(model);
  return model;
}

export const xnliRows = [
  { premise: 'The cat sat on the mat all afternoon.', hypothesis: 'A cat was resting.', label: 0 },
  { premise: 'He bought bread at the market.', hypothesis: 'He went shopping yesterday.', label: 1 },
  { premise: 'The museum is closed on Mondays.', hypothesis: 'The museum opens every day.', label: 2 },
  { premise: 'Rain fell.', hypothesis: 'It was wet.', label: 0 },
  { premise: 'She plays the violin in an orchestra that tours Europe every summer.', hypothesis: 'She is a musician.', label: 0 },
  { premise: 'The bridge was built in 1890.', hypothesis: 'The bridge is new.', label: 2 },
  // the same row twice: dedupe must not change its scores
  { premise: 'Rain fell.', hypothesis: 'It was wet.', label: 0 },
];
