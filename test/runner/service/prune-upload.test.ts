/**
 * The pruned model a prune job uploads, on a real optimum export with an external data file: the
 * job's own copy reads the input's data file through a hard link (nothing copied, the input left
 * as it was), and what goes up is the one-file form — a graph and a data file that onnxruntime
 * opens, each tensor the input's with the masks of masks.bin applied, checked by a plain loop.
 */
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pruneJobSpec } from '@polyprune/shared/api/jobs';
import { discoverStructure } from '@polyprune/gpu-runner/model/preflight';
import { onnx } from '@polyprune/gpu-runner/onnx/proto';
import { externalRef, isExternal, loadModel } from '@polyprune/gpu-runner/onnx/read';
import { createSession } from '@polyprune/gpu-runner/ort';
import { unpackMasks } from '@polyprune/gpu-runner/prune/pack';
import { runPruneJob } from '@polyprune/gpu-runner/service/prune-job';
import { type LocalInput, localContext } from './local-context';
import { expectedTensors, isFloatTensor, storedBytes } from '../helpers/masked-tensors.js';

const root = path.resolve(import.meta.dirname, '../../..');
let tmp: string;
beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'pp-prune-upload-'));
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

describe('prune job: the uploaded pruned model', () => {
  it.each(['genai-llama-fp32-mha', 'genai-llama-fp16'])(
    '%s: the one-file form built from the linked input and the masked tensors, as masks.bin says',
    async (fixture) => {
      const src = path.join(root, 'test/fixtures/real', fixture);
      const inputs: LocalInput[] = (await readdir(src)).map((name) => ({
        name,
        role: 'model',
        file: path.join(src, name),
        meta: name === 'model.onnx' ? { graph: true, family: 'llama', externalData: ['model.onnx.data'] } : {},
      }));
      const dir = path.join(tmp, fixture);
      const job = localContext({ kind: 'prune', modelId: 'mdl_x', suites: [], method: 'magnitude', sparsity: 0.5 }, inputs, dir);
      const result = await runPruneJob(job.ctx, pruneJobSpec.parse(job.ctx.spec));
      expect(result.artifacts).toEqual(expect.arrayContaining(['masks.bin', 'model.onnx', 'model.onnx.data']));

      // The job's copy: the input's data file linked, the input unchanged.
      const input = path.join(dir, 'model', 'model.onnx.data');
      expect((await stat(path.join(dir, 'pruned', 'model.onnx.data'))).ino).toBe((await stat(input)).ino);
      expect((await readFile(input)).equals(await readFile(path.join(src, 'model.onnx.data')))).toBe(true);

      // What went up, placed as a download places it.
      const got = path.join(tmp, `${fixture}-download`);
      await mkdir(got);
      for (const name of ['model.onnx', 'model.onnx.data']) await writeFile(path.join(got, name), job.uploads.get(name)!);
      const graph = onnx.ModelProto.decode(job.uploads.get('model.onnx')!);
      for (const t of graph.graph!.initializer ?? []) if (isExternal(t)) expect(externalRef(t).location).toBe('model.onnx.data');

      // Expected: the input's tensors with every masked entry cleared byte by byte.
      const source = await loadModel(path.join(src, 'model.onnx'));
      const { masks } = unpackMasks(job.uploads.get('masks.bin')!);
      const linears = discoverStructure(source, 'model.onnx', 'llama').structure.linears;
      expect(masks.length).toBe(linears.length);
      const expected = await expectedTensors(source, linears, masks);
      let checked = 0;
      for (const t of graph.graph!.initializer ?? []) {
        if (!isFloatTensor(t)) continue;
        expect((await storedBytes(got, t)).equals(expected.get(t.name!)!), t.name!).toBe(true);
        checked++;
      }
      expect(checked).toBe(expected.size);
      const { session } = await createSession(path.join(got, 'model.onnx'), { device: 'cpu' });
      await session.release();
    },
  );
});
