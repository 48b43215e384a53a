/**
 * Real exports through the HTTP API, uploaded file by file exactly as each exporter wrote them
 * (test/fixtures/real): every layout runs a Wanda `mt` prune in both modes with suites, and an
 * evaluate job, to success; a graph without logits prunes without suites; every unsupported model is
 * refused before any compute — at job creation where the API can tell from the upload, else by the
 * runner's preflight — with the reason and the fix.
 */
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CalibrationBody } from '@polyprune/cli/api';
import type { ModelFamily } from '@polyprune/shared/api/models';
import { ApiRequestError } from '@polyprune/shared/http';
import { LAYOUTS, REAL, REFUSE } from '../runner/real-exports/layouts';
import { demoData, startTestStack, type TestStack, waitJob } from './helpers';

const finished = (j: { status: string }) => j.status !== 'queued' && j.status !== 'running';

describe('real exports, uploaded unchanged, through the API', () => {
  let t: TestStack;
  let corpusId: string;
  let suites: string[];

  beforeAll(async () => {
    t = await startTestStack();
    corpusId = (await t.api.uploadCorpus(await demoData('corpus.fr-en.tsv', 40), { src: 'fr', tgt: 'en', format: 'tsv' })).id;
    suites = [];
    for (const lang of ['fr', 'en']) suites.push((await t.api.uploadSuite(await demoData(`suite.mc.${lang}.jsonl`, 6), { format: 'mc', lang })).id);
  });
  afterAll(async () => {
    await t?.close();
  });

  async function upload(dir: string, family: ModelFamily) {
    const model = await t.api.createModel({ name: path.basename(dir), family });
    for (const f of (await readdir(dir)).sort()) await t.api.uploadModelFile(model.id, path.join(dir, f));
    return t.api.getModel(model.id);
  }

  const calibration = (dataType: CalibrationBody['dataType'] = 'mt'): CalibrationBody => ({ corpusId, dataType, shots: 2, samples: 4, maxLength: 48 });

  for (const layout of LAYOUTS) {
    it(`${layout.dir}: ${layout.scorable ? 'prunes (oneshot, sequential) with suites and evaluates' : 'prunes without suites, refuses suites'}`, async () => {
      const model = await upload(path.join(REAL, layout.dir), layout.family);
      expect(model.graph).toBe(layout.graph);
      expect(model.missing).toEqual([]);
      expect(model.problems).toEqual([]);
      expect(model.complete).toBe(true);

      if (!layout.scorable) {
        const ok = await t.api.createJob({ kind: 'prune', modelId: model.id, method: 'wanda', sparsity: 0.5, calibration: calibration(), suites: [] });
        const done = await waitJob(t.api, ok.id, finished);
        expect(done.status, done.error ?? '').toBe('succeeded');
        const bad = await t.api.createJob({ kind: 'prune', modelId: model.id, method: 'magnitude', sparsity: 0.5, suites });
        const failed = await waitJob(t.api, bad.id, finished);
        expect(failed.status).toBe('failed');
        expect(failed.error).toMatch(/ends at last_state.*not at logits.*can be pruned but not scored/);
        expect(failed.runId ?? null).toBeNull();
        return;
      }

      const jobs = await Promise.all([
        t.api.createJob({ kind: 'prune', modelId: model.id, method: 'wanda', sparsity: 0.5, mode: 'oneshot', calibration: calibration(), suites }),
        t.api.createJob({ kind: 'prune', modelId: model.id, method: 'wanda', sparsity: 0.5, mode: 'sequential', calibration: calibration(), suites }),
        t.api.createJob({ kind: 'evaluate', modelId: model.id, suites }),
      ]);
      for (const j of jobs) {
        const done = await waitJob(t.api, j.id, finished);
        expect(done.status, `${j.id}: ${done.error ?? ''}`).toBe('succeeded');
        const run = await t.api.getRun(done.runId!);
        expect(
          run.scores
            .filter((s) => s.metric === 'acc')
            .map((s) => s.lang)
            .sort(),
        ).toEqual(['en', 'fr']);
        if (j.kind === 'prune') {
          expect(run.overallSparsity).toBeGreaterThan(0.45);
          // The pruned model is stored under the uploaded names (graph and external data).
          const names = run.artifacts.map((a) => a.name);
          expect(names).toEqual(expect.arrayContaining([layout.graph, ...(layout.data ? [layout.data] : []), 'masks.bin']));
          const extra = run.extra as { discovery?: { method: string }; family?: string };
          expect(extra.discovery?.method).toBe(layout.discovery);
          expect(extra.family).toBe(layout.family);
        }
      }
    });
  }

  it('refuses unsupported uploads at job creation, naming the problem and the fix', async () => {
    const quant = await upload(path.join(REFUSE, 'matmulnbits'), 'llama');
    expect(quant.problems.join(' ')).toMatch(/MatMulNBits/);
    const missing = await upload(path.join(REFUSE, 'missing-data'), 'llama');
    expect(missing.complete).toBe(false);
    expect(missing.missing).toEqual(['model.onnx_data']);
    const wrapped = await upload(path.join(REFUSE, 'beam-search'), 'gpt2');
    expect(wrapped.problems.join(' ')).toMatch(/BeamSearch/);
    for (const [m, code, message] of [
      [quant, 'unsupported_model', /MatMulNBits/],
      [missing, 'incomplete_model', /model\.onnx_data/],
      [wrapped, 'unsupported_model', /BeamSearch/],
    ] as const) {
      const err = await t.api.createJob({ kind: 'evaluate', modelId: m.id, suites }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ApiRequestError);
      expect((err as ApiRequestError).status).toBe(422);
      expect((err as ApiRequestError).code).toBe(code);
      expect((err as ApiRequestError).message).toMatch(message);
    }
  });

  it('refuses a tokenizer beyond the vocabulary in the runner preflight, before any compute', async () => {
    const m = await upload(path.join(REFUSE, 'tokenizer-oob'), 'llama');
    expect(m.complete).toBe(true);
    const job = await t.api.createJob({ kind: 'prune', modelId: m.id, method: 'wanda', sparsity: 0.5, calibration: calibration(), suites });
    const failed = await waitJob(t.api, job.id, finished);
    expect(failed.status).toBe('failed');
    expect(failed.attempts).toBe(1);
    expect(failed.error).toBe(
      "unsupported model: tokenizer.json has 288 tokens but the model's embedding has 64 rows: ids 64..287 would index past it — upload the tokenizer.json that came with this export",
    );
    expect(failed.runId).toBeNull();
  });
});
