import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import onnxProto from 'onnx-proto';
import { describe, expect, it } from 'vitest';
import { type ByteSource, bytesSource, InvalidOnnx, scanOnnx, scanOnnxBytes } from '@polyprune/worker/ingest/onnx-refs';
import { graph, model, node, tensor, tinyOnnx } from '../worker/onnx-writer';

/**
 * The worker's wire-format scanner against a straightforward full decode (onnx-proto, as the
 * runner loads models) of real exports, and its promise never to read weights it skips.
 */
const { onnx } = onnxProto;
type Graph = onnxProto.onnx.IGraphProto;
type Tensor = onnxProto.onnx.ITensorProto;

function reference(bytes: Uint8Array) {
  const m = onnx.ModelProto.decode(bytes);
  const ext = new Set<string>();
  const ops = new Set<string>();
  const tensorRef = (t: Tensor) => {
    if (t.dataLocation !== onnx.TensorProto.DataLocation.EXTERNAL) return;
    ext.add((t.externalData ?? []).find((e) => e.key === 'location')!.value!);
  };
  const walk = (g: Graph) => {
    for (const t of g.initializer ?? []) tensorRef(t);
    for (const n of g.node ?? []) {
      ops.add(`${n.domain || 'ai.onnx'}:${n.opType}`);
      for (const a of n.attribute ?? []) {
        if (a.g) walk(a.g);
        for (const sub of a.graphs ?? []) walk(sub);
        if (a.t) tensorRef(a.t);
        for (const t of a.tensors ?? []) tensorRef(t);
      }
    }
  };
  walk(m.graph!);
  return {
    externalData: [...ext].sort(),
    ops: [...ops].sort(),
    inputs: (m.graph!.input ?? []).map((v) => v.name),
    outputs: (m.graph!.output ?? []).map((v) => v.name),
  };
}

/** A source that counts what it is asked for, as R2 range reads would be. */
function counting(bytes: Uint8Array): ByteSource & { read_: number; calls: number } {
  const src = bytesSource(bytes);
  const s = {
    size: src.size,
    read_: 0,
    calls: 0,
    async read(o: number, n: number) {
      s.read_ += n;
      s.calls++;
      return src.read(o, n);
    },
  };
  return s;
}

const fixtures = path.join(import.meta.dirname, '../fixtures/models');

describe('ONNX reference scanner', () => {
  it('agrees with a full decode on the external-data fixture, read in 1 MiB windows and in tiny ones', async () => {
    const bytes = new Uint8Array(readFileSync(path.join(fixtures, 'llama-extdata/model.onnx')));
    const want = reference(bytes);
    expect(want.externalData).toEqual(['model.onnx.data']);
    expect(await scanOnnxBytes(bytes)).toEqual(want);
    // Windows smaller than most fields exercise every refill path.
    expect(await scanOnnx(counting(bytes), 64)).toEqual(want);
  });

  it('agrees with a full decode on every family fixture', async () => {
    const dirs = readdirSync(fixtures).filter((d) => existsSync(path.join(fixtures, d, 'model.onnx')));
    expect(dirs.length).toBeGreaterThan(1);
    for (const d of dirs) {
      const bytes = new Uint8Array(readFileSync(path.join(fixtures, d, 'model.onnx')));
      expect(await scanOnnx(counting(bytes), 4096), d).toEqual(reference(bytes));
    }
  });

  it('finds ops and external tensors inside subgraph attributes (the test writer decodes the same)', async () => {
    const branch = graph({ nodes: [node('MatMulNBits', { domain: 'com.microsoft' })], initializers: [tensor('inner', { location: 'branch.bin' })] });
    const bytes = model(
      graph({
        nodes: [node('If', { inputs: ['c'], graphs: { then_branch: branch, else_branch: graph() } })],
        initializers: [tensor('w', { location: './decoder_model_merged.onnx_data' })],
      }),
    );
    const got = await scanOnnxBytes(bytes);
    expect(got.ops).toEqual(['ai.onnx:If', 'ai.onnx:MatMul', 'com.microsoft:MatMulNBits']);
    expect(got.externalData).toEqual(['branch.bin', 'decoder_model_merged.onnx_data']);
    const ref = reference(bytes);
    expect(got).toEqual({ ...ref, externalData: ref.externalData.map((l) => l.replace(/^\.\//, '')).sort() });
  });

  it('skips inline weights without reading them', async () => {
    const raw = new Uint8Array(64 << 20);
    const bytes = model(
      graph({ initializers: [tensor('a', { dims: [16 << 20], raw }), tensor('b', { dims: [16 << 20], raw }), tensor('w', { location: 'model.onnx_data' })] }),
    );
    const src = counting(bytes);
    const got = await scanOnnx(src, 1 << 20);
    expect(got.externalData).toEqual(['model.onnx_data']);
    expect(src.read_).toBeLessThan(4 << 20);
    expect(src.calls).toBeLessThan(8);
  });

  it('refuses what is not an ONNX model, with a one-line reason and never another error', async () => {
    const good = tinyOnnx();
    const bad: Uint8Array[] = [new TextEncoder().encode('{"model":{}}'), new Uint8Array([0x08, 0x08]), new Uint8Array(0)];
    for (let n = 1; n < good.length; n++) bad.push(good.subarray(0, n));
    let x = 12345;
    for (let i = 0; i < 200; i++) {
      const b = new Uint8Array(1 + (i % 97));
      for (let j = 0; j < b.length; j++) {
        x = (x * 1103515245 + 12345) >>> 0;
        b[j] = x >>> 24;
      }
      bad.push(b);
    }
    for (const b of bad) {
      const err = await scanOnnxBytes(b).then(
        () => null,
        (e: unknown) => e,
      );
      if (err === null) continue; // a random prefix can be valid protobuf with a graph: vanishingly rare, allowed
      expect(err).toBeInstanceOf(InvalidOnnx);
      expect((err as Error).message).not.toContain('\n');
    }
    // Every proper prefix of a valid model is refused.
    for (let n = 0; n < good.length; n++) await expect(scanOnnxBytes(good.subarray(0, n))).rejects.toBeInstanceOf(InvalidOnnx);
  });
});
