import { env } from 'cloudflare:workers';
import { beforeAll, describe, expect, it } from 'vitest';
import { limits } from '@polyprune/shared/api/limits';
import { CALIBRATION_STATS_VERSION } from '@polyprune/shared/api/run-provenance';
import { call, expectErrorShape, makeToken } from '../helpers';
import { leaseJob, lmfReport, makeWorld, pruneSpec, type World } from '../fixtures';

let w: World;
beforeAll(async () => {
  w = await makeWorld('hard');
});

describe('deeply nested JSON in a suite line', () => {
  it('is a 422 naming the line, not a 500', async () => {
    const deep = `{"premise":${'['.repeat(200_000)}${']'.repeat(200_000)},"hypothesis":"h","label":0}`;
    const body = `${JSON.stringify({ premise: 'p', hypothesis: 'h', label: 0 })}\n${deep}\n`;
    const r = await call('POST', '/v1/suites?format=xnli&lang=fr', { token: w.writer, body });
    expect(r.status).toBe(422);
    expectErrorShape(r);
    expect(r.body.error.details.problems[0].line).toBe(2);
    expect(r.body.error.message).toContain('line 2');
  });

  it('moderately nested values are checked for control characters at any depth within the bound', async () => {
    const row = { premise: 'p', hypothesis: 'h', label: 0, extra: [[['bad\u0001']]] };
    // Strict (onError=reject): a control character at any depth is an error of its line.
    const r = await call('POST', '/v1/suites?format=xnli&lang=fr&onError=reject', { token: w.writer, body: JSON.stringify(row) });
    expect(r.status).toBe(422);
    expect(r.body.error.details.problems[0]).toMatchObject({ line: 1, reason: 'control_chars' });
    // Default: stripped at any depth, counted and located.
    const d = await call('POST', '/v1/suites?format=xnli&lang=fr', { token: w.writer, body: JSON.stringify(row) });
    expect(d.status).toBe(201);
    expect(d.body.stats.controlChars).toMatchObject({ count: 1, first: [{ line: 1, codePoint: 'U+0001' }] });
  });
});

describe('Idempotency-Key reuse', () => {
  it('with a different body is a 422, with the same body a replay', async () => {
    const headers = { 'idempotency-key': 'hard-1' };
    const a = await call('POST', '/v1/jobs', { token: w.writer, json: pruneSpec(w, { sparsity: 0.3 }), headers });
    expect(a.status).toBe(201);
    // Same content, other key order and spacing: still the same request.
    const same = JSON.stringify(Object.fromEntries(Object.entries(pruneSpec(w, { sparsity: 0.3 })).reverse()), null, 2);
    const b = await call('POST', '/v1/jobs', { token: w.writer, body: same, headers: { ...headers, 'content-type': 'application/json' } });
    expect(b.status).toBe(200);
    expect(b.body.id).toBe(a.body.id);
    const c = await call('POST', '/v1/jobs', { token: w.writer, json: pruneSpec(w, { sparsity: 0.4 }), headers });
    expect(c.status).toBe(422);
    expect(c.body.error.code).toBe('idempotency_key_reused');
    const d = await call('POST', '/v1/jobs', { token: w.writer, body: '{not json', headers: { ...headers, 'content-type': 'application/json' } });
    expect(d.status).toBe(422);
    expectErrorShape(d);
  });
});

describe('JSON body size', () => {
  it('a large JSON body is a 413 before it is parsed', async () => {
    const big = JSON.stringify({ ...pruneSpec(w), pad: 'x'.repeat(3 * 1024 * 1024) });
    const r = await call('POST', '/v1/jobs', { token: w.writer, body: big, headers: { 'content-type': 'application/json' } });
    expect(r.status).toBe(413);
    expect(r.body.error.code).toBe('payload_too_large');
  });

  it('a streamed body without Content-Length is cut off too', async () => {
    const chunk = new TextEncoder().encode(' '.repeat(64 * 1024));
    let sent = 0;
    const stream = new ReadableStream<Uint8Array>({
      pull(ctl) {
        if (sent++ < 64) ctl.enqueue(chunk);
        else ctl.close();
      },
    });
    const r = await call('POST', '/v1/models', { token: w.writer, body: stream, headers: { 'content-type': 'application/json' } });
    expect(r.status).toBe(413);
  });
});

describe('statistics reuse and privacy', () => {
  it('offers only statistics of runs the job owner may read; a public job never names a private run', async () => {
    const pub = await makeWorld('stats-pub', 'public');
    const other = await makeWorld('stats-other');
    const spec = (extra: Record<string, unknown>) => ({ ...pruneSpec(pub, { mode: 'oneshot' }), ...extra });
    const first = (await call('POST', '/v1/jobs', { token: pub.writer, json: spec({ sparsity: 0.5, visibility: 'private' }) })).body.id;
    const l = await leaseJob(pub.runner, first);
    await call('PUT', `/v1/runner/jobs/${first}/artifacts/stats.bin`, {
      token: pub.runner,
      body: new Uint8Array([1, 2]),
      headers: { 'x-lease-token': l.leaseToken },
    });
    const done = await call('POST', `/v1/runner/jobs/${first}/complete`, {
      token: pub.runner,
      json: { leaseToken: l.leaseToken, result: { artifacts: ['stats.bin'], extra: { calibration: { statsVersion: CALIBRATION_STATS_VERSION } } } },
    });
    expect(done.status).toBe(200);

    const offered = async (writer: string, runner: string, extra: Record<string, unknown>) => {
      const r = await call('POST', '/v1/jobs', { token: writer, json: spec(extra) });
      expect(r.status).toBe(201);
      const lease = await leaseJob(runner, r.body.id);
      await call('POST', `/v1/runner/jobs/${r.body.id}/fail`, { token: runner, json: { leaseToken: lease.leaseToken, error: 'test done' } });
      return lease.inputs.filter((i) => i.role === 'stats').map((i) => (i as unknown as { meta: { runId: string } }).meta.runId);
    };
    // The owner's own private job may reuse its private run…
    expect(await offered(pub.writer, pub.runner, { sparsity: 0.6, visibility: 'private' })).toEqual([done.body.runId]);
    // …another owner's job may not, nor may the owner's public job.
    expect(await offered(other.writer, other.runner, { sparsity: 0.6, visibility: 'private' })).toEqual([]);
    expect(await offered(pub.writer, pub.runner, { sparsity: 0.6, visibility: 'public' })).toEqual([]);
  });
});

describe('complete and artifacts of an expired lease', () => {
  it('counts only artifacts written under the completing lease', async () => {
    const id = (await call('POST', '/v1/jobs', { token: w.writer, json: pruneSpec(w, { sparsity: 0.2 }) })).body.id;
    const a = await leaseJob(w.runner, id);
    const put = await call('PUT', `/v1/runner/jobs/${id}/artifacts/stats.bin`, {
      token: w.runner,
      body: new Uint8Array([9]),
      headers: { 'x-lease-token': a.leaseToken },
    });
    expect(put.status).toBe(201);
    await env.DB.prepare('UPDATE jobs SET lease_expires_at = 0 WHERE id = ?').bind(id).run();
    const b = await leaseJob(w.runner, id);
    expect(b.leaseToken).not.toBe(a.leaseToken);
    const stale = await call('POST', `/v1/runner/jobs/${id}/complete`, {
      token: w.runner,
      json: { leaseToken: b.leaseToken, result: { artifacts: ['stats.bin'] } },
    });
    expect(stale.status).toBe(422);
    expect(stale.body.error.code).toBe('unknown_artifact');
    // Uploaded again under the new lease, it counts.
    await call('PUT', `/v1/runner/jobs/${id}/artifacts/stats.bin`, { token: w.runner, body: new Uint8Array([9]), headers: { 'x-lease-token': b.leaseToken } });
    const ok = await call('POST', `/v1/runner/jobs/${id}/complete`, {
      token: w.runner,
      json: { leaseToken: b.leaseToken, result: { artifacts: ['stats.bin'] } },
    });
    expect(ok.status).toBe(200);
  });
});

describe('lease token binding', () => {
  it('only the runner token that took a lease may use its lease token', async () => {
    const id = (await call('POST', '/v1/jobs', { token: w.writer, json: pruneSpec(w, { sparsity: 0.25 }) })).body.id;
    const l = await leaseJob(w.runner, id);
    const thief = await makeToken('hard-thief', ['runner']);
    const hb = await call('POST', `/v1/runner/jobs/${id}/heartbeat`, { token: thief, json: { leaseToken: l.leaseToken } });
    expect(hb.status).toBe(409);
    const put = await call('PUT', `/v1/runner/jobs/${id}/artifacts/x.bin`, {
      token: thief,
      body: new Uint8Array([1]),
      headers: { 'x-lease-token': l.leaseToken },
    });
    expect(put.status).toBe(409);
    const fail = await call('POST', `/v1/runner/jobs/${id}/fail`, { token: thief, json: { leaseToken: l.leaseToken, error: 'stolen' } });
    expect(fail.status).toBe(409);
    const done = await call('POST', `/v1/runner/jobs/${id}/complete`, { token: thief, json: { leaseToken: l.leaseToken, result: { artifacts: [] } } });
    expect(done.status).toBe(409);
    const own = await call('POST', `/v1/runner/jobs/${id}/heartbeat`, { token: w.runner, json: { leaseToken: l.leaseToken } });
    expect(own.status).toBe(200);
  });
});

describe('bounded validation of large uploads', () => {
  const badLines = (n: number) => Array.from({ length: n }, (_, i) => `{"premise":"p${i}","hypothesis":"h","label":7}`).join('\n');

  it('a rejected upload stops at the 100th bad line and says where', async () => {
    const body = badLines(120_000); // ~5 MB of bad lines
    expect(body.length).toBeGreaterThan(5_000_000);
    const r = await call('POST', '/v1/suites?format=xnli&lang=fr', { token: w.writer, body });
    expect(r.status).toBe(422);
    expect(r.body.error.code).toBe('invalid_lines');
    expect(r.body.error.details).toMatchObject({ total: 100, stoppedAtLine: 100 });
    expect(r.body.error.details.problems).toHaveLength(100);
    expect(r.body.error.message).toContain('at least 100');
  });

  it('a skipped upload is hopeless past 10000 bad lines', async () => {
    const good = JSON.stringify({ premise: 'p', hypothesis: 'h', label: 0 });
    const r = await call('POST', '/v1/suites?format=xnli&lang=fr&onError=skip', { token: w.writer, body: `${good}\n${badLines(120_000)}` });
    expect(r.status).toBe(422);
    expect(r.body.error.code).toBe('too_many_invalid_lines');
    expect(r.body.error.details).toMatchObject({ total: 10_001, stoppedAtLine: 10_002 });
  });

  it('a line over the byte cap is a problem with its number, not parsed', async () => {
    const good = JSON.stringify({ premise: 'p', hypothesis: 'h', label: 0 });
    const long = JSON.stringify({ premise: 'x'.repeat(300 * 1024), hypothesis: 'h', label: 0 });
    const r = await call('POST', '/v1/corpora?src=fr&tgt=en&onError=skip', { token: w.writer, body: `a\tb\n${'y'.repeat(300 * 1024)}\tz\nc\td\n` });
    expect(r.status).toBe(201);
    expect(r.body.stats).toMatchObject({ pairsKept: 2, skipped: { too_long: 1 } });
    expect(r.body.skippedLines).toEqual([expect.objectContaining({ line: 2, reason: 'too_long' })]);
    const s = await call('POST', '/v1/suites?format=xnli&lang=fr', { token: w.writer, body: `${good}\n${long}\n` });
    expect(s.status).toBe(422);
    expect(s.body.error.details.problems[0]).toMatchObject({ line: 2, reason: 'too_long' });
  });

  it('plain-text and JSON ppl lines share one length limit', async () => {
    const text = 'mot '.repeat(1500).trim(); // 5999 characters: over the old plain-text limit, under the row limit
    const plain = await call('POST', '/v1/suites?format=ppl&lang=fr', { token: w.writer, body: `${text}\n` });
    const json = await call('POST', '/v1/suites?format=ppl&lang=fr', { token: w.writer, body: `${JSON.stringify({ text })}\n` });
    expect(json.status).toBe(201);
    expect(plain.status).toBe(201);
    expect(plain.body.sha256).toBe(json.body.sha256);
    const over = 'x'.repeat(20_001);
    const plainOver = await call('POST', '/v1/suites?format=ppl&lang=fr', { token: w.writer, body: `${over}\n` });
    const jsonOver = await call('POST', '/v1/suites?format=ppl&lang=fr', { token: w.writer, body: `${JSON.stringify({ text: over })}\n` });
    expect(plainOver.body.error.details.problems[0].reason).toBe('too_long');
    expect(jsonOver.body.error.details.problems[0].reason).toBe('too_long');
  });
});

/** A prune job of `world` leased and given these artifacts; returns what completing it answers. */
async function completeWith(world: World, artifacts: Record<string, string | Uint8Array>, extra: Record<string, unknown> = {}) {
  const id = (await call('POST', '/v1/jobs', { token: world.writer, json: pruneSpec(world, { suites: [], sparsity: 0.45 }) })).body.id;
  const l = await leaseJob(world.runner, id);
  for (const [name, body] of Object.entries(artifacts)) {
    const put = await call('PUT', `/v1/runner/jobs/${id}/artifacts/${name}`, { token: world.runner, body, headers: { 'x-lease-token': l.leaseToken } });
    expect(put.status).toBe(201);
  }
  const r = await call('POST', `/v1/runner/jobs/${id}/complete`, {
    token: world.runner,
    json: { leaseToken: l.leaseToken, result: { overallSparsity: 0.45, artifacts: Object.keys(artifacts), extra } },
  });
  return Object.assign(r, { jobId: id as string });
}

describe('runner-written JSON artifacts', () => {
  it('an lmf.json of the wrong shape is a 422 naming the artifact and the path; nothing is recorded', async () => {
    const bad = lmfReport();
    (bad.pairs[0]!.translation[0] as Record<string, unknown>).top = '3,1';
    const r = await completeWith(w, { 'lmf.json': JSON.stringify(bad) });
    expect(r.status).toBe(422);
    expectErrorShape(r);
    expect(r.body.error.code).toBe('invalid_artifact');
    expect(r.body.error.message).toContain('lmf.json: pairs.0.translation.0.top');
    expect(r.body.error.details).toMatchObject({ artifact: 'lmf.json', issues: [{ path: 'pairs.0.translation.0.top' }] });
    const job = await call('GET', `/v1/jobs/${r.jobId}`, { token: w.writer });
    expect(job.body).toMatchObject({ status: 'running', runId: null });
  });

  it('not JSON, or dimensions past the model width, are refused too; a good report is recorded', async () => {
    const notJson = await completeWith(w, { 'lmf.json': '{"version":1,' });
    expect(notJson.status).toBe(422);
    expect(notJson.body.error.message).toMatch(/^lmf\.json: not JSON/);
    const wide = lmfReport();
    wide.pairs[0]!.translation[1]!.top = [4, 1];
    const past = await completeWith(w, { 'lmf.json': JSON.stringify(wide) });
    expect(past.status).toBe(422);
    expect(past.body.error.message).toContain('lmf.json: pairs.0.translation.1');
    const short = { ...lmfReport(), blocks: 3 };
    expect((await completeWith(w, { 'lmf.json': JSON.stringify(short) })).body.error.message).toContain('expected 3 blocks, got 2');
    expect((await completeWith(w, { 'lmf.json': JSON.stringify(lmfReport()) })).status).toBe(200);
  });

  it('one over the JSON artifact limit is refused by its size, unread, saying how to make it smaller', async () => {
    // Not JSON at all: a file past the limit is refused before it is read, so never parsed.
    const r = await completeWith(w, { 'analysis.json': new Uint8Array(limits.jsonArtifactBytes + 1).fill(0x7b) });
    expect(r.status).toBe(422);
    expectErrorShape(r);
    expect(r.body.error.code).toBe('invalid_artifact');
    expect(r.body.error.message).toBe(
      `analysis.json: ${limits.jsonArtifactBytes + 1} bytes, over the ${limits.jsonArtifactBytes} a JSON artifact may have (it is checked whole in the Worker's memory); compare fewer runs in one analyze job (the file grows with the square of their number)`,
    );
    expect(r.body.error.details).toMatchObject({ artifact: 'analysis.json', size: limits.jsonArtifactBytes + 1, limit: limits.jsonArtifactBytes });
    const job = await call('GET', `/v1/jobs/${r.jobId}`, { token: w.writer });
    expect(job.body).toMatchObject({ status: 'running', runId: null });
  });

  it('an analysis.json of the wrong shape is refused the same way', async () => {
    const r = await completeWith(w, { 'analysis.json': JSON.stringify({ version: 1, kind: 'mask-overlap', runs: 'all' }) });
    expect(r.status).toBe(422);
    expect(r.body.error.code).toBe('invalid_artifact');
    expect(r.body.error.message).toMatch(/^analysis\.json: /);
  });

  it('extra.lmf, which the run page shows, must have its shape', async () => {
    const r = await completeWith(w, {}, { lmf: { status: 'available', reason: { html: '<b>' } } });
    expect(r.status).toBe(422);
    expect(r.body.error.message).toContain('result.extra.lmf.reason');
  });

  it('a run whose stored lmf.json is malformed (recorded before the check) still renders its page', async () => {
    const done = await completeWith(w, { 'lmf.json': JSON.stringify(lmfReport()) }, { lmf: { status: 'available', pair: 'fr-en' } });
    expect(done.status).toBe(200);
    // The artifact's row pointed at other bytes: valid JSON, wrong shape (the case of the report).
    const bad = lmfReport();
    (bad.pairs[0]!.translation[0] as Record<string, unknown>).top = 'abc';
    const key = `test/bad-lmf-${done.body.runId}`;
    await env.BLOBS.put(key, JSON.stringify(bad));
    await env.DB.prepare("UPDATE job_artifacts SET r2_key = ? WHERE job_id = ? AND name = 'lmf.json'").bind(key, done.body.job.id).run();
    const page = await call('GET', `/runs/${done.body.runId}`, { token: w.writer });
    expect(page.status).toBe(200);
    expect(page.body).toContain('The LMF report of this run could not be read.');
    // …and its extra.lmf as well, were it odd.
    await env.DB.prepare('UPDATE runs SET extra = ? WHERE id = ?')
      .bind(JSON.stringify({ lmf: { status: 'unavailable', reason: ['x'] } }), done.body.runId)
      .run();
    expect((await call('GET', `/runs/${done.body.runId}`, { token: w.writer })).status).toBe(200);
  });
});

describe('dense samples reuse and privacy', () => {
  /** A finished dense evaluation of the public model by `by`, with its per-row samples. */
  async function denseEvaluation(pub: World, by: World, visibility: 'private' | 'public') {
    const job = await call('POST', '/v1/jobs', {
      token: by.writer,
      json: { kind: 'evaluate', modelId: pub.model, suites: [pub.suites.fr], visibility },
    });
    expect(job.status, JSON.stringify(job.body)).toBe(201);
    const l = await leaseJob(by.runner, job.body.id);
    await call('PUT', `/v1/runner/jobs/${job.body.id}/artifacts/samples.jsonl.gz`, {
      token: by.runner,
      body: new TextEncoder().encode(`rows of ${by.owner}`),
      headers: { 'x-lease-token': l.leaseToken },
    });
    const done = await call('POST', `/v1/runner/jobs/${job.body.id}/complete`, {
      token: by.runner,
      json: { leaseToken: l.leaseToken, result: { artifacts: ['samples.jsonl.gz'] } },
    });
    expect(done.status).toBe(200);
    return done.body.runId as string;
  }

  /** The dense-sample runs a prune job of `by` on the public model is offered, and whether each downloads. */
  async function offered(pub: World, by: World, visibility: 'private' | 'public', probe: string[] = []) {
    const r = await call('POST', '/v1/jobs', { token: by.writer, json: { ...pruneSpec(pub), suites: [pub.suites.fr], visibility } });
    expect(r.status, JSON.stringify(r.body)).toBe(201);
    const l = await leaseJob(by.runner, r.body.id);
    const runs = l.inputs.filter((i) => i.role === 'dense-samples').map((i) => (i.meta as { runId: string }).runId);
    const downloads: number[] = [];
    for (const run of probe) {
      const d = await call('GET', `/v1/runner/jobs/${r.body.id}/inputs/dense-samples-${run}.jsonl.gz`, {
        token: by.runner,
        headers: { 'x-lease-token': l.leaseToken },
      });
      downloads.push(d.status);
    }
    await call('POST', `/v1/runner/jobs/${r.body.id}/fail`, { token: by.runner, json: { leaseToken: l.leaseToken, error: 'test done' } });
    return { runs, downloads };
  }

  it('a job is offered (and may download) only dense samples of runs its owner may read; a public job only public ones', async () => {
    const pub = await makeWorld('dense-pub', 'public');
    const alice = await makeWorld('dense-alice');
    const bob = await makeWorld('dense-bob');
    const alicePrivate = await denseEvaluation(pub, alice, 'private');
    // Bob's job on the public model and suite: Alice's private rows are neither listed nor downloadable.
    expect(await offered(pub, bob, 'private', [alicePrivate])).toEqual({ runs: [], downloads: [404] });
    // Alice's own private job may reuse them; her public job may not.
    expect(await offered(pub, alice, 'private', [alicePrivate])).toEqual({ runs: [alicePrivate], downloads: [200] });
    expect((await offered(pub, alice, 'public')).runs).toEqual([]);
    // A public evaluation is everyone's.
    const bobPublic = await denseEvaluation(pub, bob, 'public');
    expect((await offered(pub, alice, 'public')).runs).toEqual([bobPublic]);
    expect((await offered(pub, bob, 'private')).runs).toEqual([bobPublic]);
  });

  it('serves the inputs listed at lease time, even when a newer source completes before the download', async () => {
    const pub = await makeWorld('dense-pinned', 'public');
    const first = await denseEvaluation(pub, pub, 'public');
    const r = await call('POST', '/v1/jobs', { token: pub.writer, json: { ...pruneSpec(pub), suites: [pub.suites.fr], visibility: 'public' } });
    const l = await leaseJob(pub.runner, r.body.id);
    expect(l.inputs.filter((i) => i.role === 'dense-samples').map((i) => (i.meta as { runId: string }).runId)).toEqual([first]);
    // A newer dense evaluation of the same rows would be offered now instead (as few files as cover)…
    const newer = await denseEvaluation(pub, pub, 'public');
    expect(newer).not.toBe(first);
    // …but this lease downloads what it was given (a 404 here failed jobs when runners raced).
    const d = await call('GET', `/v1/runner/jobs/${r.body.id}/inputs/dense-samples-${first}.jsonl.gz`, {
      token: pub.runner,
      headers: { 'x-lease-token': l.leaseToken },
    });
    expect(d.status).toBe(200);
    expect(d.body).toBe(`rows of ${pub.owner}`);
    const other = await call('GET', `/v1/runner/jobs/${r.body.id}/inputs/dense-samples-${newer}.jsonl.gz`, {
      token: pub.runner,
      headers: { 'x-lease-token': l.leaseToken },
    });
    expect(other.status).toBe(404);
  });
});
