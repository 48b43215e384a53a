import { beforeAll, describe, expect, it } from 'vitest';
import type { JobInfo, sweepInfo } from '@polyprune/shared/api/jobs';
import type { ModelInfo } from '@polyprune/shared/api/models';
import type { z } from 'zod';
import { call, type ErrorBody, makeToken, type Page } from '../helpers';
import { makeWorld, pruneSpec, type World } from '../fixtures';
import { tinyOnnx } from '../onnx-writer';

let w: World;
beforeAll(async () => {
  w = await makeWorld('jobs-owner');
});

describe('POST /v1/jobs', () => {
  it('queues a prune job with the reference defaults', async () => {
    const r = await call<JobInfo>('POST', '/v1/jobs', { token: w.writer, json: pruneSpec(w) });
    expect(r.status).toBe(201);
    expect(r.body).toMatchObject({ kind: 'prune', status: 'queued', attempts: 0, progress: null, runId: null });
    expect(r.body.spec).toMatchObject({
      method: 'wanda',
      sparsity: 0.5,
      pattern: 'unstructured',
      mode: 'sequential',
      scoring: ['paper'],
      calibration: { corpusId: w.corpusFr, dataType: 'mt', shots: 4, samples: 100, maxLength: 512, maskPadding: false, direction: 'x-en' },
    });
    const got = await call<JobInfo>('GET', `/v1/jobs/${r.body.id}`, { token: w.writer });
    expect(got.body.id).toBe(r.body.id);
  });

  const invalid: [string, (w: World) => unknown, number, string][] = [
    ['unknown model', (w) => pruneSpec(w, { modelId: 'mdl_missing' }), 422, 'unknown_model'],
    ['N:M with another sparsity', (w) => pruneSpec(w, { pattern: '2:4', sparsity: 0.6 }), 422, 'pattern_sparsity_mismatch'],
    ['corpus of another pair', (w) => pruneSpec(w, { calibration: { corpusId: w.corpusDe, pair: 'fr-en' } }), 422, 'corpus_pair_mismatch'],
    ['wanda without calibration', (w) => ({ kind: 'prune', modelId: w.model }), 422, 'calibration_required'],
    ['mt-contrast without contrast corpus', (w) => pruneSpec(w, { calibration: { corpusId: w.corpusFr, dataType: 'mt-contrast' } }), 422, 'contrast_required'],
    ['unknown suite', (w) => pruneSpec(w, { suites: ['sui_nope'] }), 422, 'unknown_suite'],
    ['sparsity out of range', (w) => pruneSpec(w, { sparsity: 1 }), 400, 'invalid_request'],
    ['unknown method', (w) => pruneSpec(w, { method: 'obs' }), 400, 'invalid_request'],
    ['sparsegpt without calibration', (w) => ({ kind: 'prune', modelId: w.model, method: 'sparsegpt' }), 422, 'calibration_required'],
    ['percdamp out of range', (w) => pruneSpec(w, { method: 'sparsegpt', percdamp: 0 }), 400, 'invalid_request'],
    ['blocksize not an integer', (w) => pruneSpec(w, { method: 'sparsegpt', blocksize: 12.5 }), 400, 'invalid_request'],
    ['percdamp with wanda', (w) => pruneSpec(w, { percdamp: 0.1 }), 422, 'option_not_applicable'],
    [
      'sparsegpt 2:4 with a blocksize not a multiple of 4',
      (w) => pruneSpec(w, { method: 'sparsegpt', pattern: '2:4', blocksize: 30 }),
      422,
      'option_not_applicable',
    ],
    ['sparsegpt with dropTop', (w) => pruneSpec(w, { method: 'sparsegpt', dropTop: true }), 422, 'option_not_applicable'],
    [
      'sparsegpt with mt-contrast',
      (w) => pruneSpec(w, { method: 'sparsegpt', calibration: { corpusId: w.corpusFr, dataType: 'mt-contrast', contrastCorpusId: w.corpusDe } }),
      422,
      'option_not_applicable',
    ],
    ['evaluate without suites', (w) => ({ kind: 'evaluate', modelId: w.model, suites: [] }), 400, 'invalid_request'],
  ];
  for (const [name, body, status, code] of invalid) {
    it(`rejects ${name} with ${status} ${code}`, async () => {
      const r = await call<ErrorBody>('POST', '/v1/jobs', { token: w.writer, json: body(w) });
      expect(r.status).toBe(status);
      expect(r.body.error.code).toBe(code);
    });
  }

  it('accepts 2:4 at 50% and mt-contrast with a contrast corpus', async () => {
    expect((await call('POST', '/v1/jobs', { token: w.writer, json: pruneSpec(w, { pattern: '2:4', sparsity: 0.5 }) })).status).toBe(201);
    const c = pruneSpec(w, { calibration: { corpusId: w.corpusFr, dataType: 'mt-contrast', contrastCorpusId: w.corpusDe } });
    expect((await call('POST', '/v1/jobs', { token: w.writer, json: c })).status).toBe(201);
  });

  it('names the field of a bad SparseGPT option', async () => {
    const r = await call<ErrorBody>('POST', '/v1/jobs', { token: w.writer, json: pruneSpec(w, { method: 'sparsegpt', percdamp: 2 }) });
    expect(r.status).toBe(400);
    expect(JSON.stringify(r.body.error)).toContain('percdamp');
    const b = await call<ErrorBody>('POST', '/v1/jobs', { token: w.writer, json: pruneSpec(w, { method: 'sparsegpt', pattern: '4:8', blocksize: 12 }) });
    expect(b.body.error).toMatchObject({ code: 'option_not_applicable', details: { field: 'blocksize' } });
  });

  it('accepts sparsegpt with calibration, options and 2:4', async () => {
    const r = await call<JobInfo>('POST', '/v1/jobs', {
      token: w.writer,
      json: pruneSpec(w, { method: 'sparsegpt', percdamp: 0.05, blocksize: 64, pattern: '2:4' }),
    });
    expect(r.status).toBe(201);
    expect(r.body.spec).toMatchObject({ method: 'sparsegpt', percdamp: 0.05, blocksize: 64, pattern: '2:4' });
  });

  it('rejects an incomplete model', async () => {
    const m = (await call<ModelInfo>('POST', '/v1/models', { token: w.writer, json: { name: 'half', family: 'bloom' } })).body.id;
    await call('PUT', `/v1/models/${m}/files/model.onnx`, { token: w.writer, body: tinyOnnx() });
    const r = await call<ErrorBody>('POST', '/v1/jobs', { token: w.writer, json: pruneSpec(w, { modelId: m }) });
    expect(r.status).toBe(422);
    expect(r.body.error).toMatchObject({ code: 'incomplete_model', details: { missing: ['tokenizer.json'] } });
  });

  it('does not let another owner use private suites or corpora', async () => {
    const other = await makeWorld('jobs-other');
    const r = await call<ErrorBody>('POST', '/v1/jobs', { token: other.writer, json: { ...pruneSpec(other), suites: [w.suites.fr] } });
    expect(r.status).toBe(422);
    expect(r.body.error.code).toBe('unknown_suite');
    const c = await call<ErrorBody>('POST', '/v1/jobs', { token: other.writer, json: pruneSpec(other, { calibration: { corpusId: w.corpusFr } }) });
    expect(c.body.error.code).toBe('unknown_corpus');
  });

  it('returns the first job for a retried POST with the same Idempotency-Key', async () => {
    const headers = { 'idempotency-key': 'retry-123' };
    const a = await call<JobInfo>('POST', '/v1/jobs', { token: w.writer, json: pruneSpec(w, { sparsity: 0.3 }), headers });
    const b = await call<JobInfo>('POST', '/v1/jobs', { token: w.writer, json: pruneSpec(w, { sparsity: 0.3 }), headers });
    expect(a.status).toBe(201);
    expect(b.status).toBe(200);
    expect(b.headers.get('idempotent-replayed')).toBe('true');
    expect(b.body.id).toBe(a.body.id);
    const c = await call<JobInfo>('POST', '/v1/jobs', { token: w.writer, json: pruneSpec(w, { sparsity: 0.3 }), headers: { 'idempotency-key': 'retry-124' } });
    expect(c.body.id).not.toBe(a.body.id);
  });

  it('lists with filters and cancels', async () => {
    const j = (await call<JobInfo>('POST', '/v1/jobs', { token: w.writer, json: { kind: 'evaluate', modelId: w.model, suites: [w.suites.en] } })).body;
    const list = await call<Page<JobInfo>>('GET', `/v1/jobs?status=queued&model=${w.model}&limit=200`, { token: w.writer });
    expect(list.body.items.map((x) => x.id)).toContain(j.id);
    const cancel = await call<JobInfo>('POST', `/v1/jobs/${j.id}/cancel`, { token: w.writer });
    expect(cancel.status).toBe(200);
    expect(cancel.body.status).toBe('canceled');
    expect((await call('POST', `/v1/jobs/${j.id}/cancel`, { token: w.writer })).status).toBe(409);
    const canceled = await call<Page<JobInfo>>('GET', `/v1/jobs?status=canceled&limit=200`, { token: w.writer });
    expect(canceled.body.items.map((x) => x.id)).toContain(j.id);
    const reader = await makeToken('jobs-owner', ['read']);
    expect((await call('POST', `/v1/jobs/${j.id}/cancel`, { token: reader })).status).toBe(403);
  });
});

describe('POST /v1/sweeps', () => {
  it('expands pairs × sparsities × methods, with one dense evaluation and pair-free baselines once', async () => {
    const r = await call<z.infer<typeof sweepInfo>>('POST', '/v1/sweeps', {
      token: w.writer,
      json: {
        modelId: w.model,
        pairs: [{ corpusId: w.corpusFr }, { corpusId: w.corpusDe }],
        sparsities: [0.5, 0.7],
        methods: [{ method: 'wanda', dataType: 'mt' }, { method: 'wanda', dataType: 'mono' }, { method: 'magnitude' }],
        base: { suites: [w.suites.fr], calibration: { samples: 16 } },
      },
    });
    expect(r.status).toBe(201);
    const jobs = r.body.jobs;
    // 1 dense + 2 pairs × 2 sparsities × 2 wanda variants + 2 magnitude (one per sparsity)
    expect(jobs).toHaveLength(1 + 8 + 2);
    expect(jobs.filter((j) => j.kind === 'evaluate')).toHaveLength(1);
    expect(jobs.every((j) => j.sweepId === r.body.sweepId)).toBe(true);
    const wanda = jobs.flatMap((j) => (j.spec.kind === 'prune' && j.spec.method === 'wanda' ? [j.spec] : []));
    expect(new Set(wanda.map((s) => `${s.calibration?.corpusId}/${s.calibration?.dataType}/${s.sparsity}`)).size).toBe(8);
    expect(wanda.every((s) => s.calibration?.samples === 16)).toBe(true);
    const listed = await call<Page<JobInfo>>('GET', `/v1/jobs?sweep=${r.body.sweepId}&limit=200`, { token: w.writer });
    expect(listed.body.items).toHaveLength(11);
  });
});
