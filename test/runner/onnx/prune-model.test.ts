import { appendFile, cp, link, mkdir, mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { writePrunedModel, zeroMaskedStored } from '@polyprune/gpu-runner/onnx/apply-mask';
import { findPrunableLinears } from '@polyprune/gpu-runner/onnx/structure';
import { weightsToInputs } from '@polyprune/gpu-runner/onnx/surgery';
import { externalRef, isExternal, loadModel, readTensorBytes, readWeight, type OnnxModel } from '@polyprune/gpu-runner/onnx/read';
import { halvesOf } from '@polyprune/gpu-runner/onnx/fp16';
import { float16Tensor, float32Tensor, type Tensor } from '@polyprune/gpu-runner/ort';
import type { LayerMask, PrunableLinear } from '@polyprune/gpu-runner/types';
import { referenceForward } from '../helpers/reference-forward.js';
import { rng } from '../helpers/graph-builder.js';
import { fixture, maxAbsDiff, runPlain, tiny, tokenRows } from '../helpers/tiny.js';

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

function randomMasks(linears: PrunableLinear[], seed: number): LayerMask[] {
  const r = rng(seed);
  return linears.map((l) => ({ id: l.id, dIn: l.dIn, dOut: l.dOut, keep: Uint8Array.from({ length: l.dIn * l.dOut }, () => (r() < 0.5 ? 1 : 0)) }));
}

/** Logits as stored: fp32 values or raw fp16 halves (whatever typed array this Node hands fp16 over as). */
const stored = (t: Tensor) => Array.from(t.type === 'float16' ? halvesOf(t.data) : (t.data as Float32Array));

/** The dense graph with every prunable weight turned into an input and fed masked by a plain loop. */
async function denseWithMaskedFeeds(model: OnnxModel, linears: PrunableLinear[], masks: LayerMask[], ids: number[][], mask: number[][]) {
  const feeds: Record<string, Tensor> = {};
  for (const l of linears) {
    const m = masks.find((x) => x.id === l.id)!;
    const t = model.initializers.get(l.weightName)!;
    const bytes = await readTensorBytes(model, t);
    const fp16 = t.dataType === 10;
    const stored = fp16 ? new Uint16Array(bytes.slice().buffer) : new Float32Array(bytes.slice().buffer);
    for (let i = 0; i < l.dIn; i++)
      for (let o = 0; o < l.dOut; o++) if (!m.keep[i * l.dOut + o]) stored[l.storedTransposed ? o * l.dIn + i : i * l.dOut + o] = 0;
    const dims = (await readWeight(model, l.weightName)).dims;
    feeds[l.weightName] = stored instanceof Uint16Array ? float16Tensor(stored, dims) : float32Tensor(stored, dims);
  }
  return runPlain(
    weightsToInputs(
      model.proto,
      linears.map((l) => l.weightName),
    ),
    ids,
    mask,
    feeds,
    undefined,
    model.dir,
  );
}

describe('zeroMaskedStored', () => {
  it('zeroes W[i,o] at o*dIn+i when stored transposed', () => {
    const l = { id: 'x', block: 0, role: 'q', nodeName: '', weightName: '', inputName: '', dIn: 3, dOut: 2, storedTransposed: true } as PrunableLinear;
    const data = Float32Array.of(1, 2, 3, 4, 5, 6); // [dOut=2][dIn=3]
    const keep = Uint8Array.of(1, 0, 1, 1, 0, 1); // canonical [dIn=3][dOut=2]: drops (0,1) and (2,0)
    zeroMaskedStored(data, l, { id: 'x', dIn: 3, dOut: 2, keep });
    expect(Array.from(data)).toEqual([1, 2, 0, 0, 5, 6]);
    expect(() => zeroMaskedStored(data, l, { id: 'x', dIn: 2, dOut: 3, keep })).toThrow(/mask x is 2x3/);
  });
});

describe('zeroMaskedStored against a plain loop', () => {
  // Every kind of stored value (signs, ±0, ±∞, NaN, subnormals) and mask bytes other than 0/1,
  // which keep their weight as before (only 0 drops).
  const r = rng(17);
  const f32 = (n: number) => Float32Array.from({ length: n }, (_, x) => [-0, 0, Infinity, -Infinity, Number.NaN, 1e-40, -1e-40][x % 11] ?? (r() - 0.5) * 100);
  const halves = (n: number) => Uint16Array.from({ length: n }, () => Math.floor(r() * 65536));
  const keepOf = (n: number) => Uint8Array.from({ length: n }, () => [0, 1, 0, 1, 2, 255][Math.floor(r() * 6)]!);
  for (const transposed of [false, true]) {
    for (const kind of ['float32', 'float16'] as const) {
      it(`${kind}${transposed ? ', stored transposed' : ''}: the same bits as zeroing where keep is 0`, () => {
        const [dIn, dOut] = [37, 23];
        const l = { id: 'x', block: 0, role: 'q', nodeName: '', weightName: '', inputName: '', dIn, dOut, storedTransposed: transposed } as PrunableLinear;
        const data = kind === 'float32' ? f32(dIn * dOut) : halves(dIn * dOut);
        const keep = keepOf(dIn * dOut);
        const want = data.slice();
        for (let i = 0; i < dIn; i++) {
          for (let o = 0; o < dOut; o++) if (keep[i * dOut + o] === 0) want[transposed ? o * dIn + i : i * dOut + o] = 0;
        }
        zeroMaskedStored(data, l, { id: 'x', dIn, dOut, keep });
        const bytes = (a: Float32Array | Uint16Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength);
        expect(bytes(data).equals(bytes(want))).toBe(true);
        // +0 where dropped (all bits clear), never -0.
        const bits = kind === 'float32' ? new Uint32Array(data.buffer) : data;
        for (let x = 0; x < keep.length; x++) {
          const at = transposed ? (x % dOut) * dIn + Math.floor(x / dOut) : x;
          if (keep[x] === 0) expect(bits[at]).toBe(0);
        }
      });
    }
  }
});

describe('writePrunedModel', () => {
  for (const [family, linear, dtype] of [
    ['xglm', 'matmul', 'float32'],
    ['gpt2', 'gemm', 'float32'],
    ['llama', 'transpose', 'float32'],
    ['bloom', 'matmul', 'float16'],
    ['llama', 'gemm', 'float16'],
  ] as const) {
    it(`${family} ${linear} ${dtype}: outputs equal the dense graph fed masked weights`, async () => {
      const { model, params } = tiny({ family, linear, dtype });
      const linears = findPrunableLinears(model).linears;
      const masks = randomMasks(linears, 3);
      const dir = await mkdtemp(path.join(os.tmpdir(), 'pp-prune-'));
      dirs.push(dir);
      const file = path.join(dir, 'pruned.onnx');
      await writePrunedModel(model, linears, masks, file);
      const { ids, mask } = tokenRows([4, 3], 4, params.vocab);
      const pruned = await runPlain(file, ids, mask);
      const fed = await denseWithMaskedFeeds(model, linears, masks, ids, mask);
      expect(stored(pruned.logits!)).toEqual(stored(fed.logits!));
      // The zeros are where the masks say, and only there.
      const back = await loadModel(file);
      for (const l of linears) {
        const w = (await readWeight(back, l.weightName)).data;
        const orig = (await readWeight(model, l.weightName)).data;
        const m = masks.find((x) => x.id === l.id)!;
        for (let i = 0; i < l.dIn; i++)
          for (let o = 0; o < l.dOut; o++) {
            const k = l.storedTransposed ? o * l.dIn + i : i * l.dOut + o;
            expect(w[k]).toBe(m.keep[i * l.dOut + o] ? orig[k] : 0);
          }
      }
      if (dtype === 'float32') {
        const keep = new Map(masks.map((m) => [m.id, m.keep]));
        const ref = referenceForward(params, ids, mask, keep);
        expect(
          maxAbsDiff(
            pruned.logits!.data as Float32Array,
            ref.logits.flatMap((x) => Array.from(x)),
          ),
        ).toBeLessThan(1e-4);
      }
    });
  }

  it('external-data fixture: pruned model written with external data, same outputs as masked feeds', async () => {
    const model = await loadModel(fixture('llama-extdata'));
    const linears = findPrunableLinears(model).linears;
    const masks = randomMasks(linears, 9);
    const dir = await mkdtemp(path.join(os.tmpdir(), 'pp-prune-'));
    dirs.push(dir);
    const file = path.join(dir, 'model.onnx');
    const saved = await writePrunedModel(model, linears, masks, file);
    expect(saved.dataPath).toBeDefined();
    const { ids, mask } = tokenRows([6, 4], 6, 200);
    const pruned = await runPlain(file, ids, mask);
    const fed = await denseWithMaskedFeeds(model, linears, masks, ids, mask);
    expect(maxAbsDiff(pruned.logits!.data as Float32Array, fed.logits!.data as Float32Array)).toBe(0);
  });

  it('external data: the pruned data file is the source file with only the masked weights rewritten, at the same offsets', async () => {
    const model = await loadModel(fixture('llama-extdata'));
    const linears = findPrunableLinears(model).linears;
    const masks = randomMasks(linears, 4);
    const dir = await mkdtemp(path.join(os.tmpdir(), 'pp-prune-'));
    dirs.push(dir);
    const saved = await writePrunedModel(model, linears, masks, path.join(dir, 'model.onnx'));
    const source = await readFile(path.join(path.dirname(fixture('llama-extdata')), 'model.onnx.data'));
    const written = await readFile(saved.dataPath!);
    expect(written.length).toBe(source.length);
    const back = await loadModel(path.join(dir, 'model.onnx'));
    for (const [name, t] of model.initializers) {
      if (isExternal(t)) expect(externalRef(back.initializers.get(name)!), name).toEqual(externalRef(t));
    }
    // Expected bytes: the source's, with each masked entry of each linear zeroed by a plain loop.
    const expected = Buffer.from(source);
    for (const l of linears) {
      const m = masks.find((x) => x.id === l.id)!;
      const { offset } = externalRef(model.initializers.get(l.weightName)!);
      const w = new Float32Array(expected.buffer, expected.byteOffset + offset, l.dIn * l.dOut);
      for (let i = 0; i < l.dIn; i++) for (let o = 0; o < l.dOut; o++) if (!m.keep[i * l.dOut + o]) w[l.storedTransposed ? o * l.dIn + i : i * l.dOut + o] = 0;
    }
    expect(written.equals(expected)).toBe(true);
    expect(written.equals(source)).toBe(false);
  });

  it('refuses to write over a hard link to the data file it reads from', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'pp-prune-'));
    dirs.push(dir);
    // Source and link in one directory tree: hard links do not cross file systems.
    await cp(path.dirname(fixture('llama-extdata')), path.join(dir, 'src'), { recursive: true });
    await mkdir(path.join(dir, 'out'));
    const model = await loadModel(path.join(dir, 'src', 'model.onnx'));
    const linears = findPrunableLinears(model).linears;
    const source = path.join(dir, 'src', 'model.onnx.data');
    const before = await readFile(source);
    await link(source, path.join(dir, 'out', 'model.onnx.data'));
    await expect(writePrunedModel(model, linears, randomMasks(linears, 3), path.join(dir, 'out', 'model.onnx'))).rejects.toThrow(
      /is a link to a file the model's weights are read from/,
    );
    expect((await readFile(source)).equals(before)).toBe(true);
  });

  it('external data with bytes no initializer reads: written afresh, without them, 64-byte aligned', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'pp-prune-'));
    dirs.push(dir);
    const src = path.join(dir, 'src');
    await cp(path.dirname(fixture('llama-extdata')), src, { recursive: true });
    await appendFile(path.join(src, 'model.onnx.data'), new Uint8Array(2 << 20));
    const model = await loadModel(path.join(src, 'model.onnx'));
    const linears = findPrunableLinears(model).linears;
    const masks = randomMasks(linears, 5);
    const out = path.join(dir, 'out');
    await mkdir(out);
    const saved = await writePrunedModel(model, linears, masks, path.join(out, 'model.onnx'));
    expect((await stat(saved.dataPath!)).size).toBeLessThan((await stat(path.join(src, 'model.onnx.data'))).size - (2 << 20));
    const back = await loadModel(path.join(out, 'model.onnx'));
    for (const t of back.initializers.values()) if (isExternal(t)) expect(externalRef(t).offset % 64).toBe(0);
    const { ids, mask } = tokenRows([6, 4], 6, 200);
    const pruned = await runPlain(path.join(out, 'model.onnx'), ids, mask);
    const fed = await denseWithMaskedFeeds(model, linears, masks, ids, mask);
    expect(maxAbsDiff(pruned.logits!.data as Float32Array, fed.logits!.data as Float32Array)).toBe(0);
  });

  it("leaves the model it writes from as it was: masks are applied to the writer's copy (inline raw_data, float_data, external)", async () => {
    const { model: inline } = tiny({ family: 'llama', linear: 'transpose', hidden: 32, ffn: 64 });
    const { model: fp16 } = tiny({ family: 'bloom', dtype: 'float16', hidden: 32, ffn: 64 });
    const floatData = tiny({ family: 'gpt2', hidden: 32, ffn: 64 }).model;
    for (const t of floatData.initializers.values()) {
      if (t.dataType !== 1 || !t.rawData?.length) continue;
      t.floatData = Array.from(new Float32Array(t.rawData.slice().buffer));
      t.rawData = new Uint8Array(0);
    }
    const external = await loadModel(fixture('llama-extdata'));
    for (const model of [inline, fp16, floatData, external]) {
      const before = new Map<string, Buffer>();
      for (const t of model.initializers.values()) if (t.dataType === 1 || t.dataType === 10) before.set(t.name!, Buffer.from(await readTensorBytes(model, t)));
      const linears = findPrunableLinears(model).linears;
      const dir = await mkdtemp(path.join(os.tmpdir(), 'pp-prune-'));
      dirs.push(dir);
      await writePrunedModel(model, linears, randomMasks(linears, 6), path.join(dir, 'model.onnx'));
      for (const [name, bytes] of before) expect(Buffer.from(await readTensorBytes(model, model.initializers.get(name)!)).equals(bytes), name).toBe(true);
    }
  });

  it('rejects masks for unknown layers', async () => {
    const { model } = tiny({ family: 'gpt2' });
    const linears = findPrunableLinears(model).linears;
    await expect(writePrunedModel(model, linears, [{ id: 'block9.q', dIn: 1, dOut: 1, keep: new Uint8Array(1) }], '/tmp/never.onnx')).rejects.toThrow(
      /mask block9\.q names no prunable linear/,
    );
  });
});
