import { describe, expect, it } from 'vitest';
import { findBlockOutputs, findPrunableLinears } from '@polyprune/gpu-runner/onnx/structure';
import { exposeTensors } from '@polyprune/gpu-runner/onnx/surgery';
import { loadModel, modelFromProto } from '@polyprune/gpu-runner/onnx/read';
import { indexGraph } from '@polyprune/gpu-runner/onnx/structure';
import { buildModel, type Family } from '../helpers/graph-builder.js';
import { referenceForward } from '../helpers/reference-forward.js';
import { fixture, maxAbsDiff, runPlain, tiny, tokenRows } from '../helpers/tiny.js';

const ROLES: Record<Family, string[]> = {
  xglm: ['q', 'k', 'v', 'o', 'fc1', 'fc2'],
  bloom: ['qkv', 'o', 'fc1', 'fc2'],
  gpt2: ['qkv', 'o', 'fc1', 'fc2'],
  llama: ['q', 'k', 'v', 'o', 'gate', 'up', 'down'],
};

describe('findPrunableLinears on family-shaped graphs', () => {
  for (const family of ['xglm', 'bloom', 'gpt2', 'llama'] as const) {
    for (const linear of ['matmul', 'transpose', 'gemm'] as const) {
      for (const tiedHead of [false, true]) {
        it(`${family}, ${linear} linears, ${tiedHead ? 'tied' : 'separate'} head`, () => {
          const { model, params } = tiny({ family, linear, tiedHead, blocks: 3 });
          const st = findPrunableLinears(model);
          expect(st.family).toBe(family);
          expect(st.blocks).toBe(3);
          const expected = [0, 1, 2].flatMap((b) => ROLES[family].map((r) => `block${b}.${r}`));
          expect(st.linears.map((l) => l.id)).toEqual(expected);
          for (const l of st.linears) {
            const p = params.blocks[l.block]!.linears.get(l.role)!;
            expect([l.dIn, l.dOut]).toEqual([p.dIn, p.dOut]);
            expect(l.storedTransposed).toBe(linear !== 'matmul');
            // The weight the linear names holds exactly the parameters of that role (stored layout).
            const t = model.initializers.get(l.weightName)!;
            const stored = new Float32Array(new Uint8Array(t.rawData!).buffer);
            const canonical = l.storedTransposed ? Float32Array.from(p.w, (_, k) => stored[(k % p.dOut) * p.dIn + Math.floor(k / p.dOut)]!) : stored;
            expect(Array.from(canonical)).toEqual(Array.from(p.w));
          }
          // Never the embedding or the head.
          const names = new Set(st.linears.map((l) => l.weightName));
          expect([...names].some((n) => n.includes('embed') || n.includes('wte') || n.includes('word_embeddings'))).toBe(false);
          expect(st.linears.some((l) => l.nodeName.startsWith('/lm_head'))).toBe(false);
        });
      }
    }
  }

  it('takes roles from initializer names when node names are missing', () => {
    const { proto } = buildModel({ family: 'llama', namedWeights: true, blocks: 2 });
    for (const n of proto.graph!.node!) n.name = '';
    const st = findPrunableLinears(modelFromProto(proto));
    expect(st.linears.map((l) => l.id)).toEqual([0, 1].flatMap((b) => ROLES.llama.map((r) => `block${b}.${r}`)));
  });

  it('honours an explicit family and rejects an unknown one', () => {
    const { model } = tiny({ family: 'gpt2' });
    expect(findPrunableLinears(model, { family: 'mgpt' }).family).toBe('gpt2');
    expect(() => findPrunableLinears(model, { family: 'mamba' })).toThrow(/unknown model family "mamba".*xglm, bloom, gpt2, llama/);
  });
});

describe('topology decides where names do not', () => {
  const strip = (l: { weightName: string; role: string; block: number; dIn: number; dOut: number }) =>
    `${l.block}:${l.role}:${l.weightName}:${l.dIn}x${l.dOut}`;
  for (const family of ['xglm', 'bloom', 'gpt2', 'llama'] as const) {
    for (const linear of ['matmul', 'gemm'] as const) {
      it(`${family} (${linear}) with anonymous node and weight names gives the same linears as the names`, () => {
        const { proto } = buildModel({ family, linear, blocks: 3 });
        const named = findPrunableLinears(modelFromProto(proto));
        expect(named.discovery).toEqual({ method: 'names', layout: family });
        // As research exports name them: numeric nodes, numeric initializers.
        let k = 0;
        for (const n of proto.graph!.node!) n.name = String(200 + k++);
        const rename = new Map(proto.graph!.initializer!.map((t, j) => [t.name!, String(1000 + j)]));
        for (const t of proto.graph!.initializer!) t.name = rename.get(t.name!)!;
        for (const n of proto.graph!.node!) n.input = n.input!.map((i) => rename.get(i) ?? i);
        const anon = findPrunableLinears(modelFromProto(proto));
        expect(anon.discovery.method).toBe('topology');
        expect(anon.discovery.note).toMatch(/no decoder-block linears recognised/);
        // Roles agree except that topology cannot tell BLOOM's fused qkv from GPT-2's.
        expect(anon.linears.map(strip)).toEqual(named.linears.map((l) => strip({ ...l, weightName: rename.get(l.weightName)! })));
        expect(anon.family).toBe(family === 'bloom' ? 'gpt2' : family);
        // The registered family is the label when one is given.
        expect(findPrunableLinears(modelFromProto(proto), { family }).family).toBe(family);
      });
    }
  }

  it('an unknown module inside a named block falls back to topology and says why', () => {
    const { proto } = buildModel({ family: 'xglm' });
    const reference = findPrunableLinears(modelFromProto(proto)).linears;
    const n = proto.graph!.node!.find((x) => x.name === '/model/layers.1/fc1/MatMul')!;
    n.name = '/model/layers.1/adapter/MatMul';
    const st = findPrunableLinears(modelFromProto(proto));
    expect(st.discovery.method).toBe('topology');
    expect(st.discovery.note).toMatch(/xglm block 1: linear \/model\/layers\.1\/adapter\/MatMul has module path "adapter\.MatMul"; expected one of .*fc1/);
    expect(st.linears.map((l) => l.weightName)).toEqual(reference.map((l) => l.weightName));
  });

  it('a gap in the block numbering is resolved by topology', () => {
    const { proto } = buildModel({ family: 'gpt2', blocks: 3 });
    for (const n of proto.graph!.node!) n.name = n.name!.replace('/h.1/', '/h.3/');
    const st = findPrunableLinears(modelFromProto(proto));
    expect(st.discovery.note).toMatch(/blocks 0\.\.3 expected, block 1 has no linears/);
    expect(st.blocks).toBe(3);
  });

  it('a registered family that disagrees with the names is reported, not overridden', () => {
    const { proto } = buildModel({ family: 'llama' });
    const st = findPrunableLinears(modelFromProto(proto), { family: 'bloom' });
    expect(st.family).toBe('llama');
    expect(st.discovery.note).toMatch(/registered as bloom, but the node\/weight names are llama's/);
  });
});

describe('structure errors name what was expected and found', () => {
  it('a block missing one of its linears (names and topology both fail)', () => {
    const { proto } = buildModel({ family: 'bloom' });
    // Turn block 2's dense_4h_to_h into a MatMul of two activations: no longer a linear.
    const n = proto.graph!.node!.find((x) => x.name === '/transformer/h.2/mlp/dense_4h_to_h/MatMul')!;
    n.input = [n.input![0]!, n.input![0]!];
    expect(() => findPrunableLinears(modelFromProto(proto))).toThrow(
      /bloom block 2: expected linears qkv\/o\/fc1\/fc2, found qkv\/o\/fc1; the graph's topology did not resolve the blocks either: .*not a multiple of the 4/,
    );
  });

  it('a graph with no linears at all', () => {
    const { proto } = buildModel({ family: 'xglm' });
    proto.graph!.node = proto.graph!.node!.filter((x) => x.opType !== 'MatMul' && x.opType !== 'Gemm');
    expect(() => findPrunableLinears(modelFromProto(proto))).toThrow(
      /no decoder-block linears recognised: expected .*layers\.N\.self_attn\.q_proj.*found 0 MatMul\/Gemm/,
    );
  });
});

describe('findBlockOutputs', () => {
  for (const family of ['xglm', 'bloom', 'gpt2', 'llama'] as const) {
    it(`${family}: the tensors equal the residual stream after each block`, async () => {
      const { model, params } = tiny({ family, linear: family === 'gpt2' ? 'gemm' : 'matmul', blocks: 3 });
      const outs = findBlockOutputs(model, findPrunableLinears(model).linears);
      expect(outs.map((o) => o.block)).toEqual([0, 1, 2]);
      const { ids, mask } = tokenRows([4, 2], 4, params.vocab);
      const got = await runPlain(
        exposeTensors(
          model.proto,
          outs.map((o) => o.name),
        ),
        ids,
        mask,
        {},
        outs.map((o) => o.name),
      );
      const ref = referenceForward(params, ids, mask);
      for (const o of outs) {
        const flat = ref.blockOutputs[o.block]!.flatMap((x) => Array.from(x));
        expect(maxAbsDiff(got[o.name]!.data as Float32Array, flat)).toBeLessThan(1e-4);
      }
    });
  }
});

describe('fixture exports (torch.onnx)', () => {
  const cases: Array<[string, string, number, boolean]> = [
    ['xglm', 'xglm', 6, false],
    ['bloom', 'bloom', 4, false],
    ['gpt2', 'gpt2', 4, false],
    ['gpt2-matmul', 'gpt2', 4, false],
    ['llama', 'llama', 7, false],
    ['llama-extdata', 'llama', 7, false],
    ['gemm', 'xglm', 6, true],
  ];
  for (const [dir, family, perBlock, transposed] of cases) {
    it(`${dir}: ${family} linears and block outputs`, async () => {
      const file = fixture(dir);
      const model = await loadModel(file);
      const st = findPrunableLinears(model);
      expect(st.family).toBe(family);
      expect(findPrunableLinears(model, { family }).linears).toEqual(st.linears);
      expect(st.linears.length).toBe(st.blocks * perBlock);
      expect(st.linears.every((l) => l.storedTransposed === transposed)).toBe(true);
      const index = indexGraph(model);
      const outs = findBlockOutputs(model, st.linears);
      // Every block output but the last flows into the next block, and is produced by an Add.
      for (const o of outs) {
        expect(index.producer.get(o.name)?.opType).toBe('Add');
        if (o.block + 1 < st.blocks) {
          const next = (index.consumers.get(o.name) ?? []).map((n) => n.name ?? '');
          expect(next.some((n) => n.includes(`.${o.block + 1}/`))).toBe(true);
        }
      }
      // The head is not among the linears: its weight is [hidden, vocab] or the embedding.
      const vocab = Number((await import('node:fs')).readFileSync(file!.replace('model.onnx', 'config.json'), 'utf8').match(/"vocab_size":\s*(\d+)/)![1]);
      expect(st.linears.some((l) => l.dOut === vocab || l.dIn === vocab)).toBe(false);
    });
  }
});
