/**
 * `npm run bench -- transfer [--mib 512 | --2gib]`: a generated file uploaded as a model file (the
 * CLI's parallel multipart upload) and downloaded as the runner does (parallel ranges, verified)
 * through a local `wrangler dev`, MB/s each way beside a plain loopback HTTP copy of the same file
 * (the ratio base), and the workerd process's peak RSS above idle during the upload.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { RunnerClient } from '@polyprune/gpu-runner/service/client';
import { Http } from '@polyprune/shared/http';
import { applyMigrations, freePort, newAdminToken, startWorker } from '../scripts/lib/stack';
import { MiB, peakAbove, workerdPids } from '../scripts/lib/workerd-memory';
import { uploadBlob } from '@polyprune/shared/multipart-upload';

const args = process.argv.slice(2);
const flag = (name: string) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};

/** A plain loopback copy: the file POSTed to a server that discards it. */
async function loopbackCopy(file: string, size: number): Promise<number> {
  const srv = http.createServer((req, res) => {
    req.on('data', () => {});
    req.on('end', () => res.end('ok'));
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as AddressInfo).port;
  const t0 = performance.now();
  await new Promise<void>((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method: 'POST', headers: { 'content-length': size } }, (res) => {
      res.resume();
      res.on('end', resolve);
    });
    req.on('error', reject);
    createReadStream(file).pipe(req);
  });
  const s = (performance.now() - t0) / 1000;
  srv.close();
  return size / MiB / s;
}

export async function run() {
  const size = args.includes('--2gib') ? 2048 * MiB : Number(flag('--mib') ?? 512) * MiB;
  const tmp = await mkdtemp(path.join(os.tmpdir(), 'pp-transfer-'));
  const file = path.join(tmp, 'model.onnx.data');
  const hash = createHash('sha256');
  const out = createWriteStream(file);
  for (let done = 0; done < size; ) {
    const chunk = randomBytes(Math.min(16 * MiB, size - done));
    hash.update(chunk);
    if (!out.write(chunk)) await new Promise((r) => out.once('drain', r));
    done += chunk.length;
  }
  await new Promise<void>((r) => out.end(r));
  const sha = hash.digest('hex');
  console.log(`file: ${(size / MiB).toFixed(0)} MiB`);
  const base = await loopbackCopy(file, size);
  console.log(`loopback HTTP copy (ratio base): ${base.toFixed(0)} MB/s`);

  const adminToken = newAdminToken();
  const persistTo = path.join(tmp, 'state');
  await applyMigrations(persistTo);
  const worker = await startWorker({ port: await freePort(), persistTo, vars: { ADMIN_TOKEN: adminToken, RATE_LIMIT_PER_MINUTE: '100000' } });
  try {
    const pids = workerdPids(worker.child.pid!);
    const api = new Http({ baseUrl: worker.url, token: adminToken });
    const model = (await (await api.send('/v1/models', { method: 'POST', body: { name: 'transfer', family: 'gpt2' } })).json()) as { id: string };
    const at = `/v1/models/${model.id}/files/model.onnx.data`;
    const t0 = performance.now();
    const up = await peakAbove(pids, () => uploadBlob<{ sha256: string; size: number }>(api, { path: file }, { path: at, abortable: true }));
    const upS = (performance.now() - t0) / 1000;
    if (up.result.sha256 !== sha) throw new Error(`upload recorded ${up.result.sha256}, expected ${sha}`);
    console.log(
      `upload (4 parallel 32 MiB parts): ${(size / MiB / upS).toFixed(0)} MB/s (${(size / MiB / upS / base).toFixed(2)}× loopback), workerd peak +${(up.above / MiB).toFixed(0)} MiB above idle`,
    );
    const dest = path.join(tmp, 'down.bin');
    const client = new RunnerClient({ baseUrl: worker.url, token: adminToken });
    const t1 = performance.now();
    const down = await peakAbove(pids, () => client.download(at, dest, { sha256: sha, size }));
    const downS = (performance.now() - t1) / 1000;
    if ((await stat(dest)).size !== size) throw new Error('download size differs');
    console.log(
      `download (4 parallel ranges, verified): ${(size / MiB / downS).toFixed(0)} MB/s (${(size / MiB / downS / base).toFixed(2)}× loopback), workerd peak +${(down.above / MiB).toFixed(0)} MiB above idle`,
    );
    await pipeline(createReadStream(dest), createHash('sha256'));
  } finally {
    await worker.stop();
    await rm(tmp, { recursive: true, force: true });
  }
}
