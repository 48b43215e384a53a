/**
 * saveModel's `linkSource` form (a hard link to the source's data file plus the changed tensors in
 * a second file) and its `portable` description, checked against a plain computation: every tensor
 * of the written model, read straight from the files its graph names, is the source's bytes with
 * the masked entries zeroed; the one-file form the upload sends is the ordinary write byte for byte;
 * the source is never written; and where the source cannot be linked or cloned the write falls back.
 */
import { appendFile, cp, link, mkdir, mkdtemp, readFile, rename, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { existsSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { writePrunedModel } from '@polyprune/gpu-runner/onnx/apply-mask';
import { onnx, type TensorProto } from '@polyprune/gpu-runner/onnx/proto';
import { externalRef, isExternal, loadModel, readTensorBytes, type OnnxModel } from '@polyprune/gpu-runner/onnx/read';
import { findPrunableLinears } from '@polyprune/gpu-runner/onnx/structure';
import { saveModel, type SavedModel } from '@polyprune/gpu-runner/onnx/write';
import type { LayerMask, PrunableLinear } from '@polyprune/gpu-runner/types';
import { rng } from '../helpers/graph-builder.js';
import { fixture, runPlain, tiny, tokenRows } from '../helpers/tiny.js';
import { bytesOf } from '../service/local-context.js';
import { expectedTensors, isFloatTensor, storedBytes } from '../helpers/masked-tensors.js';

const dirs: string[] = [];
async function tmp(): Promise<string> {
  const d = await mkdtemp(path.join(os.tmpdir(), 'pp-link-'));
  dirs.push(d);
  return d;
}
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

function randomMasks(linears: PrunableLinear[], seed: number): LayerMask[] {
  const r = rng(seed);
  return linears.map((l) => ({ id: l.id, dIn: l.dIn, dOut: l.dOut, keep: Uint8Array.from({ length: l.dIn * l.dOut }, () => (r() < 0.5 ? 1 : 0)) }));
}

/** Each float tensor of the written model, read from the files its graph names, is the expected one. */
async function expectWritten(graphFile: string, expected: Map<string, Buffer>): Promise<TensorProto[]> {
  const proto = onnx.ModelProto.decode(await readFile(graphFile));
  const floats = (proto.graph!.initializer ?? []).filter(isFloatTensor);
  expect(floats.map((t) => t.name).sort()).toEqual([...expected.keys()].sort());
  for (const t of floats) expect((await storedBytes(path.dirname(graphFile), t)).equals(expected.get(t.name!)!), t.name!).toBe(true);
  return floats;
}

/** The same masks written twice: linking the source (under `out`) and as an ordinary single file. */
async function linkedAndPlain(model: OnnxModel, linears: PrunableLinear[], masks: LayerMask[]) {
  const out = path.join(await tmp(), 'pruned');
  const single = path.join(await tmp(), 'single');
  await mkdir(out);
  await mkdir(single);
  const saved = await writePrunedModel(model, linears, masks, path.join(out, 'model.onnx'), { linkSource: true });
  const plain = await writePrunedModel(model, linears, masks, path.join(single, 'model.onnx'));
  return { out, saved, plain };
}

/** The portable files written out under `dir`, as a download would place them. */
async function placePortable(saved: SavedModel, dir: string): Promise<string> {
  await mkdir(dir, { recursive: true });
  for (const f of saved.portable) await writeFile(path.join(dir, f.name), await bytesOf(f.source));
  return path.join(dir, saved.portable[0]!.name);
}

/** An external-data source on disk: a tiny model saved with external data, or a fixture copied. */
async function sourceOf(kind: 'fixture' | Parameters<typeof tiny>[0]): Promise<{ model: OnnxModel; dir: string; vocab: number }> {
  const dir = path.join(await tmp(), 'src');
  if (kind === 'fixture') {
    await cp(path.dirname(fixture('llama-extdata')), dir, { recursive: true });
    return { model: await loadModel(path.join(dir, 'model.onnx')), dir, vocab: 200 };
  }
  const { model, params } = tiny(kind);
  await mkdir(dir);
  await saveModel(model, path.join(dir, 'model.onnx'), { externalData: true });
  return { model: await loadModel(path.join(dir, 'model.onnx')), dir, vocab: params.vocab };
}

const logitsOf = async (file: string, vocab: number) => {
  const { ids, mask } = tokenRows([5, 3], 5, vocab);
  return Array.from((await runPlain(file, ids, mask)).logits!.data as Float32Array);
};

describe('saveModel with linkSource', () => {
  for (const kind of [
    'fixture',
    { family: 'llama', linear: 'transpose', hidden: 32, ffn: 64 },
    { family: 'gpt2', linear: 'gemm', hidden: 32, ffn: 64 },
    { family: 'bloom', dtype: 'float16', hidden: 32, ffn: 64 },
  ] as const) {
    const name = kind === 'fixture' ? 'llama-extdata fixture' : `${kind.family} ${'linear' in kind ? kind.linear : kind.dtype}`;
    it(`${name}: the source's file linked, the masked tensors beside it; every tensor is source × mask; the one-file form is the ordinary write`, async () => {
      const { model, dir: src, vocab } = await sourceOf(kind);
      const linears = findPrunableLinears(model).linears;
      const masks = randomMasks(linears, 11);
      const expected = await expectedTensors(model, linears, masks);
      const dataName = externalRef(model.initializers.get(linears[0]!.weightName)!).location;
      const sourceData = path.join(src, dataName);
      const before = await readFile(sourceData);
      const { out, saved, plain } = await linkedAndPlain(model, linears, masks);

      // The data file is the source's own (a link, not a copy), and the source is unchanged.
      expect((await stat(saved.dataPath!)).ino).toBe((await stat(sourceData)).ino);
      expect(saved.changedPath).toBe(path.join(out, `${dataName}.changed`));
      expect((await readFile(sourceData)).equals(before)).toBe(true);
      const tensors = await expectWritten(saved.modelPath, expected);
      const masked = new Set(linears.map((l) => l.weightName));
      for (const t of tensors) if (isExternal(t)) expect(externalRef(t).location, t.name!).toBe(masked.has(t.name!) ? `${dataName}.changed` : dataName);

      // The one-file form: the graph and data file the ordinary write gives, byte for byte.
      expect(saved.portable.map((f) => f.name)).toEqual(['model.onnx', dataName]);
      expect(Buffer.from(await bytesOf(saved.portable[0]!.source)).equals(await readFile(plain.modelPath))).toBe(true);
      expect(Buffer.from(await bytesOf(saved.portable[1]!.source)).equals(await readFile(plain.dataPath!))).toBe(true);
      expect(plain.portable).toEqual([
        { name: 'model.onnx', source: { path: plain.modelPath } },
        { name: dataName, source: { path: plain.dataPath } },
      ]);
      const placed = await placePortable(saved, path.join(await tmp(), 'download'));
      await expectWritten(placed, expected);

      // onnxruntime opens both forms and they compute the same as the ordinary write.
      const want = await logitsOf(plain.modelPath, vocab);
      expect(await logitsOf(saved.modelPath, vocab)).toEqual(want);
      expect(await logitsOf(placed, vocab)).toEqual(want);
    });
  }

  it('tensors the source keeps inline go after its end, in the changed file, at the offsets of the one-file form', async () => {
    const { model, vocab } = await sourceOf('fixture');
    const linears = findPrunableLinears(model).linears;
    // One masked weight and one unmasked table moved inline: the data file has their bytes still (dead, under the slack).
    for (const name of [linears[3]!.weightName, 'onnx::MatMul_704']) {
      const t = model.initializers.get(name)!;
      t.rawData = await readTensorBytes(model, t);
      t.externalData = [];
      t.dataLocation = onnx.TensorProto.DataLocation.DEFAULT;
    }
    const masks = randomMasks(linears, 12);
    const expected = await expectedTensors(model, linears, masks);
    const { saved, plain } = await linkedAndPlain(model, linears, masks);
    expect(saved.changedPath).toBeDefined();
    const sourceSize = (await stat(saved.dataPath!)).size;
    const tensors = await expectWritten(saved.modelPath, expected);
    for (const name of [linears[3]!.weightName, 'onnx::MatMul_704']) {
      const ref = externalRef(tensors.find((t) => t.name === name)!);
      expect(ref.location).toBe('model.onnx.data.changed');
      expect(ref.offset).toBeGreaterThanOrEqual(sourceSize);
      expect(ref.offset % 64).toBe(0);
    }
    const data = await bytesOf(saved.portable[1]!.source);
    expect(data.byteLength).toBeGreaterThan(sourceSize);
    expect(Buffer.from(data).equals(await readFile(plain.dataPath!))).toBe(true);
    expect(Buffer.from(await bytesOf(saved.portable[0]!.source)).equals(await readFile(plain.modelPath))).toBe(true);
    const placed = await placePortable(saved, path.join(await tmp(), 'download'));
    await expectWritten(placed, expected);
    expect(await logitsOf(saved.modelPath, vocab)).toEqual(await logitsOf(plain.modelPath, vocab));
  });

  it('a source whose data file is a symlink (a cache across file systems places them): the file it names is linked', async () => {
    const root = await tmp();
    const src = path.join(root, 'src');
    await cp(path.dirname(fixture('llama-extdata')), src, { recursive: true });
    await mkdir(path.join(root, 'real'));
    await rename(path.join(src, 'model.onnx.data'), path.join(root, 'real', 'model.onnx.data'));
    await symlink('../real/model.onnx.data', path.join(src, 'model.onnx.data'));
    const model = await loadModel(path.join(src, 'model.onnx'));
    const linears = findPrunableLinears(model).linears;
    const masks = randomMasks(linears, 19);
    const expected = await expectedTensors(model, linears, masks);
    // Deeper than the source: the symlink's relative target would name nothing from there.
    const out = path.join(root, 'a', 'b', 'pruned');
    await mkdir(out, { recursive: true });
    const saved = await writePrunedModel(model, linears, masks, path.join(out, 'model.onnx'), { linkSource: true });
    expect((await stat(saved.dataPath!)).ino).toBe((await stat(path.join(root, 'real', 'model.onnx.data'))).ino);
    await expectWritten(saved.modelPath, expected);
  });

  it('a source with dead bytes is not linked: written afresh, the portable form is the files themselves', async () => {
    const { model: first, dir: src } = await sourceOf('fixture');
    await appendFile(path.join(src, 'model.onnx.data'), new Uint8Array(2 << 20));
    const model = await loadModel(path.join(src, 'model.onnx'));
    const linears = findPrunableLinears(first).linears;
    const masks = randomMasks(linears, 13);
    const expected = await expectedTensors(model, linears, masks);
    const out = path.join(await tmp(), 'pruned');
    await mkdir(out);
    const saved = await writePrunedModel(model, linears, masks, path.join(out, 'model.onnx'), { linkSource: true });
    expect((await stat(saved.dataPath!)).ino).not.toBe((await stat(path.join(src, 'model.onnx.data'))).ino);
    expect(saved.changedPath).toBeUndefined();
    expect(saved.portable).toEqual([
      { name: 'model.onnx', source: { path: saved.modelPath } },
      { name: 'model.onnx.data', source: { path: saved.dataPath } },
    ]);
    await expectWritten(saved.modelPath, expected);
  });

  it('tensors sharing bytes of the source (overlapping ranges) are not linked: each written afresh with its own mask', async () => {
    const { model } = await sourceOf('fixture');
    const linears = findPrunableLinears(model).linears;
    // block1.q reads block0.q's bytes (both 32 × 32): one range, two tensors, two masks.
    const q0 = model.initializers.get(linears.find((l) => l.id === 'block0.q')!.weightName)!;
    const q1 = model.initializers.get(linears.find((l) => l.id === 'block1.q')!.weightName)!;
    q1.externalData = q0.externalData!.map((e) => onnx.StringStringEntryProto.create({ key: e.key, value: e.value }));
    const masks = randomMasks(linears, 14);
    const expected = await expectedTensors(model, linears, masks);
    expect(expected.get(q0.name!)!.equals(expected.get(q1.name!)!)).toBe(false);
    const out = path.join(await tmp(), 'pruned');
    await mkdir(out);
    const saved = await writePrunedModel(model, linears, masks, path.join(out, 'model.onnx'), { linkSource: true });
    expect(saved.changedPath).toBeUndefined();
    const tensors = await expectWritten(saved.modelPath, expected);
    expect(externalRef(tensors.find((t) => t.name === q1.name)!).offset).not.toBe(externalRef(tensors.find((t) => t.name === q0.name)!).offset);
  });

  // /dev/shm is a tmpfs: a link into it from the temporary folder's file system fails with EXDEV.
  const shmApart = existsSync('/dev/shm') && statSync('/dev/shm').dev !== statSync(os.tmpdir()).dev;
  it.skipIf(!shmApart)('another file system (no hard link): cloned as without linkSource', async () => {
    const { model } = await sourceOf('fixture');
    const linears = findPrunableLinears(model).linears;
    const masks = randomMasks(linears, 15);
    const expected = await expectedTensors(model, linears, masks);
    const shm = await mkdtemp('/dev/shm/pp-link-');
    dirs.push(shm);
    const saved = await writePrunedModel(model, linears, masks, path.join(shm, 'model.onnx'), { linkSource: true });
    expect(saved.changedPath).toBeUndefined();
    expect(saved.portable[1]).toEqual({ name: 'model.onnx.data', source: { path: saved.dataPath } });
    await expectWritten(saved.modelPath, expected);
  });

  it('refuses a target that is a link to the source (data file or changed file) and leaves the source as it was', async () => {
    const { model, dir: src } = await sourceOf('fixture');
    const linears = findPrunableLinears(model).linears;
    const sourceData = path.join(src, 'model.onnx.data');
    const before = await readFile(sourceData);
    for (const name of ['model.onnx.data', 'model.onnx.data.changed']) {
      const out = path.join(await tmp(), 'pruned');
      await mkdir(out);
      await link(sourceData, path.join(out, name));
      await expect(writePrunedModel(model, linears, randomMasks(linears, 16), path.join(out, 'model.onnx'), { linkSource: true })).rejects.toThrow(
        /is a link to a file the model's weights are read from/,
      );
      expect((await readFile(sourceData)).equals(before)).toBe(true);
    }
  });

  it("writing into a folder that holds a link to another model's data replaces the link, never writes through it", async () => {
    const { model: a, dir: srcA } = await sourceOf('fixture');
    const { model: b } = await sourceOf('fixture');
    const linears = findPrunableLinears(a).linears;
    const dataA = path.join(srcA, 'model.onnx.data');
    const before = await readFile(dataA);
    const out = path.join(await tmp(), 'pruned');
    await mkdir(out);
    await writePrunedModel(a, linears, randomMasks(linears, 17), path.join(out, 'model.onnx'), { linkSource: true });
    expect((await stat(path.join(out, 'model.onnx.data'))).ino).toBe((await stat(dataA)).ino);
    // B's write (cloned or linked) lands where A's link is: A's source keeps its bytes.
    for (const linkSource of [false, true]) {
      const masks = randomMasks(linears, 18);
      const saved = await writePrunedModel(b, linears, masks, path.join(out, 'model.onnx'), { linkSource });
      expect((await readFile(dataA)).equals(before)).toBe(true);
      await expectWritten(saved.modelPath, await expectedTensors(b, linears, masks));
    }
  });
});
