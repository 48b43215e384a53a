/**
 * Artifacts over one request body (a pruned model of a real LM) go up in parts: the runner's real
 * client against a real `wrangler dev`, with the part size lowered so the test stays small.
 */
import { createHash } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LeaseLostError, RunnerClient } from '@polyprune/gpu-runner/service/client';
import { seed, type Seeded, startTestStack, type TestStack } from './helpers';

describe('multipart artifact upload', () => {
  let t: TestStack;
  let s: Seeded;
  beforeAll(async () => {
    t = await startTestStack({ runners: 0 });
    s = await seed(t.api);
  });
  afterAll(async () => {
    await t?.close();
  });

  it('reassembles a large artifact byte-exact under the lease, and refuses a stale lease', async () => {
    const job = await t.api.createJob({ kind: 'evaluate', modelId: s.modelId, suites: [s.suites[0]!.id] });
    const MiB = 1024 * 1024;
    const client = new RunnerClient({ baseUrl: t.stack.url, token: t.stack.runnerToken, singlePutLimit: 6 * MiB, partBytes: 5 * MiB });
    const lease = (await client.lease('multipart-test'))!;
    expect(lease.job.id).toBe(job.id);

    const bytes = new Uint8Array(12 * MiB + 4321);
    for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 2654435761) >>> 24;
    const file = path.join(t.tmp, 'big.onnx.data');
    await writeFile(file, bytes);
    const sha = createHash('sha256').update(bytes).digest('hex');

    const info = await client.uploadArtifact(job.id, lease.leaseToken, 'model.onnx.data', { path: file });
    expect(info).toMatchObject({ name: 'model.onnx.data', size: bytes.length, sha256: sha });
    // Bytes in memory over the limit (a 1 B-parameter model's masks.bin) go up in parts too.
    const fromMemory = await client.uploadArtifact(job.id, lease.leaseToken, 'masks.bin', bytes);
    expect(fromMemory).toMatchObject({ name: 'masks.bin', size: bytes.length, sha256: sha });
    const done = await client.complete(job.id, lease.leaseToken, {
      overallSparsity: null,
      layers: [],
      scores: [],
      artifacts: ['model.onnx.data', 'masks.bin'],
      timings: {},
      extra: {},
    });
    const back = await t.api.runArtifact(done.runId, 'model.onnx.data');
    expect(back.length).toBe(bytes.length);
    expect(createHash('sha256').update(back).digest('hex')).toBe(sha);
    expect(
      createHash('sha256')
        .update(await t.api.runArtifact(done.runId, 'masks.bin'))
        .digest('hex'),
    ).toBe(sha);

    // The job is finished: its lease no longer admits uploads, in parts or not.
    await expect(client.uploadArtifact(job.id, lease.leaseToken, 'late.bin', { path: file })).rejects.toBeInstanceOf(LeaseLostError);
  });
});
