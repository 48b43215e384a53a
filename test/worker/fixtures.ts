import { expect } from 'vitest';
import type { LeaseResponse } from '@polyprune/shared/api/jobs';
import type { ModelInfo } from '@polyprune/shared/api/models';
import { ADMIN, call, makeToken } from './helpers';
import { tinyOnnx } from './onnx-writer';

export interface World {
  owner: string;
  writer: string;
  runner: string;
  model: string;
  corpusFr: string;
  corpusDe: string;
  suites: { fr: string; de: string; en: string };
}

/** A complete model, two corpora and three suites of one owner, made through the API. */
export async function makeWorld(owner: string, visibility: 'private' | 'public' = 'private'): Promise<World> {
  const writer = await makeToken(owner, ['write']);
  const runner = await makeToken(`${owner}-runner`, ['runner']);
  const model = (await call<ModelInfo>('POST', '/v1/models', { token: writer, json: { name: `${owner}-lm`, family: 'xglm', visibility } })).body.id;
  await call('PUT', `/v1/models/${model}/files/model.onnx`, { token: writer, body: tinyOnnx() });
  await call('PUT', `/v1/models/${model}/files/tokenizer.json`, { token: writer, body: '{"model":{}}' });
  const corpusFr = (await call('POST', `/v1/corpora?src=fr&tgt=en&visibility=${visibility}`, { token: writer, body: 'Bonjour\tHello\nMerci\tThanks\n' })).body
    .id;
  const corpusDe = (await call('POST', `/v1/corpora?src=de&tgt=en&visibility=${visibility}`, { token: writer, body: 'Hallo\tHello\n' })).body.id;
  const suite = async (lang: string) =>
    (
      await call('POST', `/v1/suites?format=xnli&lang=${lang}&visibility=${visibility}`, {
        token: writer,
        body: JSON.stringify({ premise: `p-${lang}`, hypothesis: 'h', label: 0 }),
      })
    ).body.id;
  return { owner, writer, runner, model, corpusFr, corpusDe, suites: { fr: await suite('fr'), de: await suite('de'), en: await suite('en') } };
}

export function pruneSpec(w: World, extra: Record<string, unknown> = {}) {
  return { kind: 'prune', modelId: w.model, calibration: { corpusId: w.corpusFr }, suites: [w.suites.fr, w.suites.de, w.suites.en], ...extra };
}

export async function lease(runnerToken: string, runnerId = 'r1') {
  return call<LeaseResponse>('POST', '/v1/runner/lease', { token: runnerToken, json: { runnerId } });
}

/** Leases until the given job is handed out (other files' jobs never share this storage). */
export async function leaseJob(runnerToken: string, jobId: string) {
  for (let i = 0; i < 50; i++) {
    const r = await lease(runnerToken);
    if (r.status === 204) break;
    if (r.body.job.id === jobId) return r.body;
  }
  throw new Error(`job ${jobId} was not leased`);
}

export type Score = { suiteId: string; format: string; lang: string; scoring: string; metric: string; value: number; n: number };

/** Creates a job, leases it and completes it with these scores (the run a leaderboard reads); returns the run id. */
export async function completeWithScores(w: World, spec: unknown, scores: Score[], extra: Record<string, unknown> = {}) {
  const job = (await call('POST', '/v1/jobs', { token: w.writer, json: spec })).body;
  expect(job.id, JSON.stringify(job)).toBeDefined();
  const l = await leaseJob(w.runner, job.id);
  const r = await call('POST', `/v1/runner/jobs/${job.id}/complete`, { token: w.runner, json: { leaseToken: l.leaseToken, result: { scores, extra } } });
  expect(r.status, JSON.stringify(r.body)).toBe(200);
  return r.body.runId as string;
}

export { ADMIN };

/** A valid lmf.json of a 2-block, 4-wide model for one pair, translation and monolingual. */
export function lmfReport() {
  const block = (b: number) => ({ block: b, tokens: 10, top: [3, 1], topMagnitudes: [9.5, 4], bottom: [0, 2], bottomMagnitudes: [0.1, 0.2] });
  return {
    version: 1,
    magnitude: 'rms-over-tokens',
    k: 2,
    blocks: 2,
    dim: 4,
    pairs: [
      {
        pair: 'fr-en',
        translation: [block(0), block(1)],
        monolingual: [
          { ...block(0), topMagnitudes: [3, 1] },
          { ...block(1), topMagnitudes: [2, 1] },
        ],
        translationVsMonolingual: [
          { block: 0, top: 1, bottom: 1 },
          { block: 1, top: 0.5, bottom: 1 },
        ],
      },
    ],
    overlap: { labels: ['fr-en'], translation: [], monolingual: [] },
  };
}
