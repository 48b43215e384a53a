import { describe, expect, it } from 'vitest';
import { extractSubgraph, onlyOutputs } from '@polyprune/gpu-runner/onnx/subgraph';
import { exposeTensors } from '@polyprune/gpu-runner/onnx/surgery';
import { findBlockOutputs, findPrunableLinears } from '@polyprune/gpu-runner/onnx/structure';
import { createSession, float32Tensor } from '@polyprune/gpu-runner/ort';
import { onnx } from '@polyprune/gpu-runner/onnx/proto';
import { referenceForward } from '../helpers/reference-forward.js';
import { maxAbsDiff, runPlain, tiny, tokenRows } from '../helpers/tiny.js';

describe('extractSubgraph', () => {
  it('runs one block from the previous block output alone', async () => {
    const { model, params } = tiny({ family: 'llama', blocks: 3 });
    const linears = findPrunableLinears(model).linears;
    const outs = findBlockOutputs(model, linears);
    const sub = extractSubgraph(model.proto, [{ name: outs[0]!.name, elemType: 1 }], [{ name: outs[1]!.name, elemType: 1 }]);
    expect(sub.nodes.every((n) => n.name!.includes('layers.1/'))).toBe(true);
    expect(sub.proto.graph!.input!.map((i) => i.name)).toEqual([outs[0]!.name]); // token inputs unused here
    expect(sub.proto.graph!.initializer!.every((t) => !t.name!.includes('embed'))).toBe(true);
    const { ids, mask } = tokenRows([3, 2], 3, params.vocab);
    const ref = referenceForward(params, ids, mask);
    const x0 = Float32Array.from(ref.blockOutputs[0]!.flatMap((v) => Array.from(v)));
    const { session } = await createSession(onnx.ModelProto.encode(sub.proto).finish(), { device: 'cpu' });
    const out = await session.run({ [outs[0]!.name]: float32Tensor(x0, [2, 3, params.hidden]) });
    await session.release();
    expect(
      maxAbsDiff(
        out[outs[1]!.name]!.data as Float32Array,
        ref.blockOutputs[1]!.flatMap((v) => Array.from(v)),
      ),
    ).toBeLessThan(1e-4);
    // Without a cut the same output needs everything up from the tokens.
    const full = extractSubgraph(model.proto, [], [{ name: outs[1]!.name, elemType: 1 }]);
    expect(full.proto.graph!.input!.map((i) => i.name).sort()).toEqual(['attention_mask', 'input_ids']);
    const viaTokens = await runPlain(full.proto, ids, mask);
    expect(
      maxAbsDiff(
        viaTokens[outs[1]!.name]!.data as Float32Array,
        ref.blockOutputs[1]!.flatMap((v) => Array.from(v)),
      ),
    ).toBeLessThan(1e-4);
  });

  it('names an output nothing produces', () => {
    const { model } = tiny({ family: 'gpt2' });
    expect(() => extractSubgraph(model.proto, [], [{ name: 'nope', elemType: 1 }])).toThrow(/no node produces nope/);
  });

  it('onlyOutputs: drops the LM head and cache outputs a calibration pass does not fetch, same values', async () => {
    const { model, params } = tiny({ family: 'gpt2', blocks: 2 });
    const linears = findPrunableLinears(model).linears;
    const fetch = [...new Set(linears.map((l) => l.inputName))];
    const exposed = exposeTensors(model.proto, fetch);
    const cut = onlyOutputs(exposed, fetch);
    // the fetched tensors first; original outputs of kept nodes (none here: the graph has no cache) after them
    expect(cut.graph!.output!.map((o) => o.name)).toEqual(fetch);
    expect(cut.graph!.node!.some((n) => n.name!.startsWith('/lm_head/'))).toBe(false);
    const headWeights = (model.proto.graph!.node ?? []).filter((n) => n.name!.startsWith('/lm_head/')).flatMap((n) => n.input ?? []);
    expect(cut.graph!.initializer!.some((t) => headWeights.includes(t.name!) && !t.name!.includes('wte'))).toBe(false);
    const { ids, mask } = tokenRows([4, 3], 4, params.vocab);
    const whole = await runPlain(exposed, ids, mask, {}, fetch);
    const part = await runPlain(cut, ids, mask, {}, fetch);
    // Graph optimizations may fuse differently once the head is gone: equal up to rounding.
    for (const name of fetch) expect(maxAbsDiff(part[name]!.data as Float32Array, whole[name]!.data as Float32Array)).toBeLessThan(1e-5);
  });

  it('onlyOutputs names a tensor that is not a graph output', () => {
    const { model } = tiny({ family: 'gpt2' });
    expect(() => onlyOutputs(model.proto, ['nope'])).toThrow(/nope: it is not a graph output/);
  });
});
