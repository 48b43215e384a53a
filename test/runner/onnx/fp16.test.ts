/**
 * fp16 tensors on every Node: raw halves in a Uint16Array (Node 20/22) or a native Float16Array
 * (Node 24+, which onnxruntime-common then uses for every float16 tensor, and which
 * onnxruntime-node 1.30's binding reads as 0 bytes when fed). The helpers in onnx/fp16.ts and
 * ort.ts hide the difference; these tests run real sessions through them.
 */
import { describe, expect, it } from 'vitest';
import { asFloat32, fp16ToFp32, fp32ToFp16, halvesOf, hasNativeFloat16Array, isFloat16Data } from '@polyprune/gpu-runner/onnx/fp16';
import { onnx } from '@polyprune/gpu-runner/onnx/proto';
import { feedable, float16Tensor, ort, zeroTensor, type Session } from '@polyprune/gpu-runner/ort';

const NativeFloat16 = (globalThis as { Float16Array?: new (n: number) => ArrayLike<number> & ArrayBufferView & { [i: number]: number } }).Float16Array;

/** y = x + w over fp16 vectors of length n (both graph inputs). */
async function addSession(n: number): Promise<Session> {
  const F16 = onnx.TensorProto.DataType.FLOAT16;
  const vi = (name: string) => onnx.ValueInfoProto.create({ name, type: { tensorType: { elemType: F16, shape: { dim: [{ dimValue: n }] } } } });
  const model = onnx.ModelProto.create({
    irVersion: 8,
    opsetImport: [{ domain: '', version: 17 }],
    graph: {
      name: 'add',
      node: [onnx.NodeProto.create({ opType: 'Add', name: 'add', input: ['x', 'w'], output: ['y'] })],
      input: [vi('x'), vi('w')],
      output: [vi('y')],
    },
  });
  return ort.InferenceSession.create(onnx.ModelProto.encode(model).finish());
}

describe('fp16 tensor data on this Node', () => {
  it('a native Float16Array exists from Node 24 on (and onnxruntime then hands fp16 over as one)', () => {
    expect(hasNativeFloat16Array).toBe(Number(process.versions.node.split('.')[0]) >= 24);
  });

  it('halvesOf and asFloat32 read raw halves and a native Float16Array alike, sharing memory', () => {
    const values = Float32Array.of(1, -2.5, 0.333251953125, 65504, -0, 2 ** -24);
    const halves = fp32ToFp16(values);
    expect(halvesOf(halves)).toBe(halves);
    expect(Array.from(asFloat32(halves))).toEqual(Array.from(values));
    expect(isFloat16Data(halves)).toBe(true);
    expect(isFloat16Data(values)).toBe(false);
    expect(() => halvesOf(values)).toThrow(/expected float16 data, got \[object Float32Array\]/);
    if (!NativeFloat16) return;
    const native = new NativeFloat16(values.length);
    for (let i = 0; i < values.length; i++) native[i] = values[i]!;
    expect(isFloat16Data(native)).toBe(true);
    const view = halvesOf(native);
    expect(Array.from(view)).toEqual(Array.from(halves));
    view[0] = 0x4000; // 2.0, written through the view
    expect(native[0]).toBe(2);
    expect(Array.from(asFloat32(native))).toEqual([2, ...Array.from(values).slice(1)]);
  });

  it('float16Tensor feeds raw halves that onnxruntime reads, and later writes to them are seen by the next run', async () => {
    const session = await addSession(4);
    const x = fp32ToFp16(Float32Array.of(1, 2, 3, 4));
    const w = fp32ToFp16(Float32Array.of(0.5, 0.5, 0.5, 0.5));
    const wt = float16Tensor(w, [4]);
    expect(wt.data).toBe(w);
    const first = (await session.run({ x: float16Tensor(x, [4]), w: wt })).y!;
    expect(first.type).toBe('float16');
    expect(Array.from(asFloat32(first.data))).toEqual([1.5, 2.5, 3.5, 4.5]);
    w[1] = 0; // zeroing a masked weight in place, as sequential calibration does
    const second = (await session.run({ x: float16Tensor(x, [4]), w: wt })).y!;
    expect(Array.from(asFloat32(second.data))).toEqual([1.5, 2, 3.5, 4.5]);
  });

  it('an fp16 output fed back (a KV cache, a block output) runs through feedable, without a copy', async () => {
    const session = await addSession(3);
    const one = fp32ToFp16(Float32Array.of(1, 1, 1));
    const out = (await session.run({ x: float16Tensor(one, [3]), w: float16Tensor(one, [3]) })).y!;
    const fed = feedable(out);
    expect(fed.data).toBeInstanceOf(Uint16Array);
    expect((fed.data as Uint16Array).buffer).toBe(halvesOf(out.data).buffer);
    const again = (await session.run({ x: fed, w: fed })).y!;
    expect(Array.from(fp16ToFp32(halvesOf(again.data)))).toEqual([4, 4, 4]);
    // float32 tensors and raw-halves tensors pass through unchanged.
    const f32 = new ort.Tensor('float32', Float32Array.of(1), [1]);
    expect(feedable(f32)).toBe(f32);
    expect(feedable(fed)).toBe(fed);
  });

  it('zeroTensor makes fp16 zeros onnxruntime accepts (a padded cache has elements)', async () => {
    const session = await addSession(3);
    const zeros = zeroTensor('float16', [3]);
    const out = (await session.run({ x: zeros, w: float16Tensor(fp32ToFp16(Float32Array.of(1, 2, 3)), [3]) })).y!;
    expect(Array.from(asFloat32(out.data))).toEqual([1, 2, 3]);
  });
});
