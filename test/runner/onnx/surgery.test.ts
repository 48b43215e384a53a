import { describe, expect, it } from 'vitest';
import { exposeTensors, weightsToInputs } from '@polyprune/gpu-runner/onnx/surgery';
import { findPrunableLinears } from '@polyprune/gpu-runner/onnx/structure';
import { dimsOf } from '@polyprune/gpu-runner/onnx/proto';
import { float32Tensor } from '@polyprune/gpu-runner/ort';
import { readWeight } from '@polyprune/gpu-runner/onnx/read';
import { referenceForward } from '../helpers/reference-forward.js';
import { maxAbsDiff, runPlain, tiny, tokenRows } from '../helpers/tiny.js';

describe('exposeTensors', () => {
  for (const family of ['xglm', 'bloom', 'gpt2', 'llama'] as const) {
    it(`${family}: every linear's captured input equals the plain forward pass`, async () => {
      const { model, params } = tiny({ family, linear: family === 'bloom' ? 'gemm' : 'transpose' });
      const linears = findPrunableLinears(model).linears;
      const names = [...new Set(linears.map((l) => l.inputName))];
      const exposed = exposeTensors(model.proto, names);
      expect(exposed.graph!.output!.length).toBe(1 + names.length);
      expect(model.proto.graph!.output!.length).toBe(1); // the source is not modified
      const { ids, mask } = tokenRows([4, 3, 1], 4, params.vocab);
      const out = await runPlain(exposed, ids, mask);
      const ref = referenceForward(params, ids, mask);
      for (const l of linears) {
        const flat = ref.inputs.get(l.id)!.flatMap((x) => Array.from(x));
        expect(maxAbsDiff(out[l.inputName]!.data as Float32Array, flat), l.id).toBeLessThan(1e-4);
      }
    });
  }

  it('does not duplicate an existing output', () => {
    const { model } = tiny({ family: 'gpt2' });
    expect(exposeTensors(model.proto, ['logits', 'logits']).graph!.output!.length).toBe(1);
  });
});

describe('weightsToInputs', () => {
  it('removes the initializers and feeds take effect', async () => {
    const { model, params } = tiny({ family: 'llama', linear: 'transpose' });
    const linears = findPrunableLinears(model).linears;
    const names = linears.map((l) => l.weightName);
    const proto = weightsToInputs(model.proto, names);
    const inits = new Set(proto.graph!.initializer!.map((t) => t.name));
    expect(names.some((n) => inits.has(n))).toBe(false);
    const inputs = new Map(proto.graph!.input!.map((i) => [i.name, i]));
    for (const n of names) {
      const t = model.initializers.get(n)!;
      expect(inputs.get(n)!.type!.tensorType!.shape!.dim!.map((d) => Number(d.dimValue))).toEqual(dimsOf(t));
    }
    const feeds: Record<string, ReturnType<typeof float32Tensor>> = {};
    const keep = new Map<string, Uint8Array>();
    for (const l of linears) {
      const w = await readWeight(model, l.weightName);
      // Zero every weight feeding output neuron 0 of each linear (column 0 canonically).
      const k = Uint8Array.from({ length: l.dIn * l.dOut }, (_, idx) => (idx % l.dOut === 0 ? 0 : 1));
      keep.set(l.id, k);
      for (let i = 0; i < l.dIn; i++) w.data[l.storedTransposed ? i : i * l.dOut] = 0;
      feeds[l.weightName] = float32Tensor(w.data, w.dims);
    }
    const { ids, mask } = tokenRows([4, 2], 4, params.vocab);
    const out = await runPlain(proto, ids, mask, feeds);
    const ref = referenceForward(params, ids, mask, keep);
    expect(
      maxAbsDiff(
        out.logits!.data as Float32Array,
        ref.logits.flatMap((x) => Array.from(x)),
      ),
    ).toBeLessThan(1e-4);
    const dense = referenceForward(params, ids, mask);
    expect(
      maxAbsDiff(
        out.logits!.data as Float32Array,
        dense.logits.flatMap((x) => Array.from(x)),
      ),
    ).toBeGreaterThan(1e-3);
  });

  it('names the weights it cannot find', () => {
    const { model } = tiny({ family: 'gpt2' });
    expect(() => weightsToInputs(model.proto, ['no.such.weight'])).toThrow(/no\.such\.weight: no such initializers/);
  });
});
