import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { fp16ToFp32, fp32ToFp16, halvesOf } from '@polyprune/gpu-runner/onnx/fp16';
import { onnx, type TensorMessage } from '@polyprune/gpu-runner/onnx/proto';
import {
  externalRef,
  hasExternalData,
  isExternal,
  loadModel,
  modelFromProto,
  readTensorBytes,
  readTensorInto,
  readWeight,
  tensorChunks,
} from '@polyprune/gpu-runner/onnx/read';
import { saveModel } from '@polyprune/gpu-runner/onnx/write';
import { findPrunableLinears } from '@polyprune/gpu-runner/onnx/structure';
import { fixture, maxAbsDiff, runPlain, tiny, tokenRows } from '../helpers/tiny.js';

const dirs: string[] = [];
async function tmp(): Promise<string> {
  const d = await mkdtemp(path.join(os.tmpdir(), 'pp-io-'));
  dirs.push(d);
  return d;
}
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

describe('fp16 conversion', () => {
  it('widens every half exactly as the IEEE formula says', () => {
    const all = Uint16Array.from({ length: 65536 }, (_, h) => h);
    const wide = fp16ToFp32(all);
    for (const h of [0x0000, 0x8000, 0x3c00, 0xc000, 0x7bff, 0x0001, 0x03ff, 0x0400, 0x7c00, 0xfc00]) {
      const sign = h & 0x8000 ? -1 : 1;
      const e = (h >> 10) & 31;
      const f = h & 1023;
      const plain = e === 0 ? sign * f * 2 ** -24 : e === 31 ? sign * Infinity : sign * (1 + f / 1024) * 2 ** (e - 15);
      expect(wide[h]).toBe(plain);
    }
    expect(Number.isNaN(wide[0x7e00])).toBe(true);
  });

  it('narrows to the nearest half (ties to even) and round-trips every finite half', () => {
    const all = Uint16Array.from({ length: 65536 }, (_, h) => h);
    const wide = fp16ToFp32(all);
    const back = fp32ToFp16(wide);
    for (let h = 0; h < 65536; h++) if (((h >> 10) & 31) !== 31) expect(back[h]).toBe(h);
    // 1 + 2^-11 is halfway between 1 and the next half: ties go to the even mantissa (1.0).
    expect(fp32ToFp16(Float32Array.of(1 + 2 ** -11))[0]).toBe(0x3c00);
    expect(fp32ToFp16(Float32Array.of(1 + 3 * 2 ** -11))[0]).toBe(0x3c02);
    expect(fp32ToFp16(Float32Array.of(70000))[0]).toBe(0x7c00);
    expect(fp32ToFp16(Float32Array.of(2 ** -25))[0]).toBe(0); // halfway to the smallest subnormal → even (0)
    expect(fp32ToFp16(Float32Array.of(3 * 2 ** -26))[0]).toBe(1);
  });
});

describe('reading initializers', () => {
  it('raw_data, float_data and fp16 int32_data all decode to the same values', async () => {
    const vals = Float32Array.of(0.5, -1.25, 3, 0.125, 2, -8);
    const mk = (t: Partial<TensorMessage>) => onnx.TensorProto.create({ name: 'w', dims: [2, 3], ...t });
    const variants = [
      mk({ dataType: 1, rawData: new Uint8Array(vals.buffer.slice(0)) }),
      mk({ dataType: 1, floatData: Array.from(vals) }),
      mk({ dataType: 10, rawData: new Uint8Array(fp32ToFp16(vals).buffer) }),
      mk({ dataType: 10, int32Data: Array.from(fp32ToFp16(vals)) }),
    ];
    for (const t of variants) {
      const proto = onnx.ModelProto.create({ graph: onnx.GraphProto.create({ initializer: [t] }) });
      const w = await readWeight(modelFromProto(proto), 'w');
      expect(w.dims).toEqual([2, 3]);
      expect(Array.from(w.data)).toEqual(Array.from(vals));
    }
  });

  it('rejects a raw_data length that does not match the dims, and other element types', async () => {
    const bad = onnx.TensorProto.create({ name: 'w', dims: [2, 3], dataType: 1, rawData: new Uint8Array(20) });
    const i8 = onnx.TensorProto.create({ name: 'i', dims: [2], dataType: 3, rawData: new Uint8Array(2) });
    const m = modelFromProto(onnx.ModelProto.create({ graph: onnx.GraphProto.create({ initializer: [bad, i8] }) }));
    await expect(readWeight(m, 'w')).rejects.toThrow(/raw_data has 20 bytes, dims need 24/);
    await expect(readWeight(m, 'i')).rejects.toThrow(/unsupported weight element type INT8: expected FLOAT or FLOAT16/);
    await expect(readWeight(m, 'nope')).rejects.toThrow(/initializer nope not found/);
  });
});

describe('writing models', () => {
  it('inline round trip keeps every weight and the outputs', async () => {
    const { model, params } = tiny({ family: 'xglm' });
    const file = path.join(await tmp(), 'm.onnx');
    const saved = await saveModel(model, file);
    expect(saved.dataPath).toBeUndefined();
    const back = await loadModel(file);
    expect(hasExternalData(back)).toBe(false);
    for (const name of model.initializers.keys()) {
      const t = model.initializers.get(name)!;
      if (t.dataType !== 1) continue;
      expect(Array.from((await readWeight(back, name)).data)).toEqual(Array.from((await readWeight(model, name)).data));
    }
    const { ids, mask } = tokenRows([3, 4], 4, params.vocab);
    const a = await runPlain(model.proto, ids, mask);
    const b = await runPlain(file, ids, mask);
    expect(Array.from(b.logits!.data as Float32Array)).toEqual(Array.from(a.logits!.data as Float32Array));
  });

  it('loadModel keeps no large inline weight in memory: they are read back from the model file', async () => {
    const { model, params } = tiny({ family: 'gpt2', hidden: 32, ffn: 64 });
    const file = path.join(await tmp(), 'lazy.onnx');
    await saveModel(model, file, { externalData: false });
    const back = await loadModel(file);
    expect(back.selfFile).toBe('lazy.onnx');
    expect(hasExternalData(back)).toBe(false); // the model's own form is still inline
    const big = [...back.initializers.values()].filter((t) => t.dataType === 1 && isExternal(t));
    expect(big.length).toBeGreaterThan(0);
    for (const t of big) {
      expect(externalRef(t).location).toBe('lazy.onnx');
      expect(t.rawData!.length).toBe(0);
      expect(Array.from((await readWeight(back, t.name!)).data)).toEqual(Array.from((await readWeight(model, t.name!)).data));
    }
    const { ids, mask } = tokenRows([4], 4, params.vocab);
    const a = await runPlain(model.proto, ids, mask);
    const b = await runPlain(back.proto, ids, mask, {}, undefined, back.dir);
    expect(Array.from(b.logits!.data as Float32Array)).toEqual(Array.from(a.logits!.data as Float32Array));
    await expect(saveModel(back, file)).rejects.toThrow(/cannot write .*lazy\.onnx: the model's weights are read from it/);
    // Saved elsewhere with 'auto', it stays inline like its source.
    expect((await saveModel(back, path.join(path.dirname(file), 'copy.onnx'))).dataPath).toBeUndefined();
  });

  it('loadModel decodes every other initializer form from the file unchanged (float_data, int64, small raw, fp16)', async () => {
    const big = Float32Array.from({ length: 3000 }, (_, i) => Math.sin(i));
    const small = Float32Array.of(1, 2, 3);
    const half = fp32ToFp16(Float32Array.from({ length: 4096 }, (_, i) => i / 64));
    const inits = [
      onnx.TensorProto.create({ name: 'fd', dims: [3], dataType: 1, floatData: Array.from(small) }),
      onnx.TensorProto.create({ name: 'shape', dims: [2], dataType: 7, int64Data: [-1, 7] }),
      onnx.TensorProto.create({ name: 'small', dims: [3], dataType: 1, rawData: new Uint8Array(small.buffer.slice(0)) }),
      onnx.TensorProto.create({ name: 'big', dims: [30, 100], dataType: 1, rawData: new Uint8Array(big.buffer.slice(0)) }),
      onnx.TensorProto.create({ name: 'half', dims: [64, 64], dataType: 10, rawData: new Uint8Array(half.buffer.slice(0)) }),
    ];
    const proto = onnx.ModelProto.create({
      irVersion: 8,
      producerName: 'x',
      graph: onnx.GraphProto.create({ name: 'g', initializer: inits, node: [onnx.NodeProto.create({ opType: 'Identity', input: ['big'], output: ['y'] })] }),
    });
    const file = path.join(await tmp(), 'forms.onnx');
    await (await import('node:fs/promises')).writeFile(file, onnx.ModelProto.encode(proto).finish());
    const m = await loadModel(file);
    expect(m.proto.producerName).toBe('x');
    expect(m.proto.graph!.name).toBe('g');
    expect(m.proto.graph!.node!.length).toBe(1);
    expect([...m.initializers.keys()]).toEqual(['fd', 'shape', 'small', 'big', 'half']);
    expect(isExternal(m.initializers.get('big')!)).toBe(true);
    expect(isExternal(m.initializers.get('half')!)).toBe(true);
    expect(isExternal(m.initializers.get('small')!)).toBe(false);
    expect(m.initializers.get('shape')!.int64Data!.map(Number)).toEqual([-1, 7]);
    expect(Array.from((await readWeight(m, 'fd')).data)).toEqual([1, 2, 3]);
    expect(Array.from((await readWeight(m, 'small')).data)).toEqual([1, 2, 3]);
    expect(Array.from((await readWeight(m, 'big')).data)).toEqual(Array.from(big));
    expect(Array.from((await readWeight(m, 'half')).data)).toEqual(Array.from(fp16ToFp32(half)));
    await (await import('node:fs/promises')).truncate(file, 100);
    await expect(loadModel(file)).rejects.toThrow(/cannot read ONNX model .*truncated ONNX file/);
  });

  it('external-data round trip: offsets, lengths, file handle reads, and onnxruntime loads it', async () => {
    const { model, params } = tiny({ family: 'llama', hidden: 32, ffn: 64 });
    const dir = await tmp();
    const file = path.join(dir, 'model.onnx');
    const saved = await saveModel(model, file, { externalData: true });
    expect(saved.dataPath).toBe(path.join(dir, 'model.onnx.data'));
    const back = await loadModel(file);
    expect(hasExternalData(back)).toBe(true);
    const data = await readFile(saved.dataPath!);
    for (const t of back.initializers.values()) {
      if (!isExternal(t)) continue;
      const ref = externalRef(t);
      expect(ref.offset % 64).toBe(0);
      // The bytes at (offset, length) are exactly the original tensor.
      const orig = (await readWeight(model, t.name!)).data;
      expect(Array.from(new Float32Array(data.buffer.slice(data.byteOffset + ref.offset, data.byteOffset + ref.offset + ref.length)))).toEqual(
        Array.from(orig),
      );
      expect(Array.from((await readWeight(back, t.name!)).data)).toEqual(Array.from(orig));
    }
    expect((await stat(file)).size).toBeLessThan(saved.weightBytes / 4);
    const { ids, mask } = tokenRows([4, 1], 4, params.vocab);
    const a = await runPlain(model.proto, ids, mask);
    const b = await runPlain(file, ids, mask);
    expect(Array.from(b.logits!.data as Float32Array)).toEqual(Array.from(a.logits!.data as Float32Array));

    // ...and back to inline from the external model (auto keeps external; false forces inline).
    const inline = path.join(dir, 'inline.onnx');
    expect((await saveModel(back, inline, { externalData: false })).dataPath).toBeUndefined();
    const c = await runPlain(inline, ids, mask);
    expect(Array.from(c.logits!.data as Float32Array)).toEqual(Array.from(a.logits!.data as Float32Array));
    // auto keeps external data under the name the source graph recorded, and never overwrites the source.
    await expect(saveModel(back, path.join(dir, 'auto.onnx'))).rejects.toThrow(/weights are read from it/);
    const other = await tmp();
    expect(path.basename((await saveModel(back, path.join(other, 'auto.onnx'))).dataPath!)).toBe(path.basename(saved.dataPath!));
  });

  it('tensorChunks: the stored bytes piece by piece, external and inline, for any piece size', async () => {
    const { model } = tiny({ family: 'gpt2', hidden: 32, ffn: 64 });
    const dir = await tmp();
    await saveModel(model, path.join(dir, 'm.onnx'), { externalData: true });
    const back = await loadModel(path.join(dir, 'm.onnx'));
    for (const m of [model, back]) {
      for (const t of m.initializers.values()) {
        if (t.dataType !== 1) continue;
        const whole = await readTensorBytes(m, t);
        for (const chunk of [1000, 4096, 1 << 20]) {
          const pieces: Uint8Array[] = [];
          for await (const p of tensorChunks(m, t, chunk)) pieces.push(p.slice());
          expect(pieces.every((p) => p.byteLength <= chunk)).toBe(true);
          expect(pieces.length).toBe(Math.max(1, Math.ceil(whole.byteLength / chunk)));
          expect(Buffer.concat(pieces).equals(Buffer.from(whole))).toBe(true);
        }
      }
    }
  });

  it("readTensorInto fills a caller's buffer with the stored bytes, external and inline, and checks its size", async () => {
    const { model } = tiny({ family: 'bloom', dtype: 'float16', hidden: 32, ffn: 64 });
    const dir = await tmp();
    await saveModel(model, path.join(dir, 'm.onnx'), { externalData: true });
    const back = await loadModel(path.join(dir, 'm.onnx'));
    let external = 0;
    for (const m of [model, back]) {
      for (const t of m.initializers.values()) {
        if (t.dataType !== 1 && t.dataType !== 10) continue;
        const whole = await readTensorBytes(m, t);
        // Filled over stale contents: every byte comes from the tensor.
        const into = new Uint8Array(whole.byteLength).fill(0xa5);
        await readTensorInto(m, t, into);
        expect(Buffer.from(into).equals(Buffer.from(whole)), t.name!).toBe(true);
        if (isExternal(t)) {
          external++;
          // And those are the bytes at the recorded offset of the data file, read independently.
          const ref = externalRef(t);
          const file = await readFile(path.join(dir, ref.location));
          expect(Buffer.from(into).equals(file.subarray(ref.offset, ref.offset + into.byteLength))).toBe(true);
        }
        await expect(readTensorInto(m, t, new Uint8Array(whole.byteLength + 2))).rejects.toThrow(/bytes, buffer of/);
      }
    }
    expect(external).toBeGreaterThan(0);
  });

  it('a truncated external data file is a clear error', async () => {
    const { model } = tiny({ family: 'gpt2', hidden: 32, ffn: 64 });
    const dir = await tmp();
    const saved = await saveModel(model, path.join(dir, 'm.onnx'), { externalData: true });
    const { truncate } = await import('node:fs/promises');
    await truncate(saved.dataPath!, 100);
    const back = await loadModel(path.join(dir, 'm.onnx'));
    const name = findPrunableLinears(back).linears.at(-1)!.weightName;
    await expect(readWeight(back, name)).rejects.toThrow(/ends before/);
  });

  it('fp16 round trip: halves are stored unchanged and onnxruntime gives the same outputs', async () => {
    const { model, params } = tiny({ family: 'bloom', dtype: 'float16' });
    const dir = await tmp();
    for (const externalData of [false, true]) {
      const file = path.join(dir, `fp16-${externalData}.onnx`);
      await saveModel(model, file, { externalData });
      const back = await loadModel(file);
      for (const [name, t] of model.initializers) {
        if (t.dataType !== 10) continue;
        expect(back.initializers.get(name)!.dataType).toBe(10);
        const w = await readWeight(back, name);
        expect(w.dtype).toBe('float16');
        expect(Array.from(w.data)).toEqual(Array.from((await readWeight(model, name)).data));
      }
      const { ids, mask } = tokenRows([4, 2], 4, params.vocab);
      const a = await runPlain(model.proto, ids, mask);
      const b = await runPlain(file, ids, mask);
      expect(a.logits!.type).toBe('float16');
      // Compared as raw halves: bit for bit, whatever typed array this Node hands fp16 over as.
      expect(Array.from(halvesOf(b.logits!.data))).toEqual(Array.from(halvesOf(a.logits!.data)));
    }
  });

  it('reads the torch-exported external-data fixture like its inline twin', async () => {
    const ext = await loadModel(fixture('llama-extdata'));
    expect(hasExternalData(ext)).toBe(true);
    const st = findPrunableLinears(ext);
    const w = await readWeight(ext, st.linears[0]!.weightName);
    expect(w.dims).toEqual([st.linears[0]!.dIn, st.linears[0]!.dOut]);
    const inline = await loadModel(fixture('llama'));
    const w2 = await readWeight(inline, findPrunableLinears(inline).linears[0]!.weightName);
    expect(maxAbsDiff(w.data, w2.data)).toBe(0);
  });
});
