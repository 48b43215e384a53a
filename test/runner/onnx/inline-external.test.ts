import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { inlineSmallExternal } from '@polyprune/gpu-runner/onnx/inline-external';
import { externalRef, isExternal, loadModel } from '@polyprune/gpu-runner/onnx/read';
import { fixture, tiny } from '../helpers/tiny.js';

describe('inlineSmallExternal', () => {
  it('copies the bytes of external tensors up to the limit into raw_data, leaves larger ones external and the model untouched', async () => {
    const model = await loadModel(fixture('llama-extdata'));
    const before = [...model.initializers.values()].filter(isExternal);
    expect(before.length).toBeGreaterThan(2);
    const sizes = before.map((t) => externalRef(t).length).sort((a, b) => a - b);
    const limit = sizes[Math.floor(sizes.length / 2)]!;
    const out = await inlineSmallExternal(model, model.proto, limit);
    // Read independently: the whole data file, sliced at each tensor's offset.
    const files = new Map<string, Buffer>();
    const bytesOf = async (loc: string) => files.get(loc) ?? files.set(loc, await readFile(path.join(model.dir, loc))).get(loc)!;
    let inlined = 0;
    for (const t of out.graph!.initializer!) {
      const orig = model.initializers.get(t.name!)!;
      if (!isExternal(orig)) {
        expect(t).toBe(orig);
        continue;
      }
      const ref = externalRef(orig);
      if (ref.length > limit) {
        expect(isExternal(t), t.name!).toBe(true);
        continue;
      }
      inlined++;
      expect(isExternal(t), t.name!).toBe(false);
      expect(t.dims).toEqual(orig.dims);
      expect(t.dataType).toBe(orig.dataType);
      const want = (await bytesOf(ref.location)).subarray(ref.offset, ref.offset + ref.length);
      expect(Buffer.compare(Buffer.from(t.rawData!), want), t.name!).toBe(0);
    }
    expect(inlined).toBeGreaterThan(0);
    // The loaded model still describes its own file.
    expect([...model.initializers.values()].filter(isExternal)).toEqual(before);
    expect(model.proto.graph!.initializer!.filter(isExternal).length).toBe(before.length);
  });

  it('returns the graph as it is when nothing is external', async () => {
    const { model } = tiny({ family: 'xglm' });
    expect([...model.initializers.values()].some(isExternal)).toBe(false);
    expect(await inlineSmallExternal(model, model.proto)).toBe(model.proto);
  });
});
