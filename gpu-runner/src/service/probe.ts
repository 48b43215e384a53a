/**
 * `npm run runner -- --probe`: what this machine's runner would run on, and a one-layer check that
 * the device computes what onnxruntime's CPU provider computes. Needs no API or token.
 * Exit 0: the device answered within 1e-4 (relative, fp32); 1: it did not, or it is unavailable.
 */
import { createSession, type DeviceChoice, float32Tensor, placementLine, resolveDevice, deviceUse, resetDeviceUse } from '../ort';
import { onnx } from '../onnx/proto';
import { mulberry32 } from '../random';
import { describeAdapter } from '../webgpu-adapter';

const H = 64;
const T = 8;

/** One pre-norm transformer-ish layer: LayerNorm → MatMul + bias → Gelu-free ReLU → MatMul → residual → Softmax. */
export function oneLayerGraph(seed = 1): Uint8Array {
  const rnd = mulberry32(seed);
  const w = (n: number) => {
    const a = new Float32Array(n);
    for (let i = 0; i < n; i++) a[i] = (rnd() - 0.5) * 0.5;
    return a;
  };
  const init = (name: string, dims: number[], data: Float32Array) => ({
    name,
    dataType: onnx.TensorProto.DataType.FLOAT,
    dims,
    rawData: new Uint8Array(data.buffer),
  });
  const ones = new Float32Array(H).fill(1);
  const proto = onnx.ModelProto.create({
    irVersion: 8,
    opsetImport: [{ domain: '', version: 17 }],
    graph: {
      name: 'probe',
      input: [{ name: 'x', type: { tensorType: { elemType: 1, shape: { dim: [{ dimValue: 1 }, { dimValue: T }, { dimValue: H }] } } } }],
      output: [{ name: 'y', type: { tensorType: { elemType: 1 } } }],
      initializer: [
        init('g', [H], ones),
        init('b', [H], w(H)),
        init('w1', [H, 4 * H], w(4 * H * H)),
        init('b1', [4 * H], w(4 * H)),
        init('w2', [4 * H, H], w(4 * H * H)),
      ],
      node: [
        {
          opType: 'LayerNormalization',
          input: ['x', 'g', 'b'],
          output: ['n'],
          name: 'ln',
          attribute: [{ name: 'axis', i: -1, type: onnx.AttributeProto.AttributeType.INT }],
        },
        { opType: 'MatMul', input: ['n', 'w1'], output: ['h0'], name: 'fc1' },
        { opType: 'Add', input: ['h0', 'b1'], output: ['h1'], name: 'bias1' },
        { opType: 'Relu', input: ['h1'], output: ['h2'], name: 'act' },
        { opType: 'MatMul', input: ['h2', 'w2'], output: ['h3'], name: 'fc2' },
        { opType: 'Add', input: ['x', 'h3'], output: ['r'], name: 'residual' },
        { opType: 'Softmax', input: ['r'], output: ['y'], name: 'softmax', attribute: [{ name: 'axis', i: -1, type: onnx.AttributeProto.AttributeType.INT }] },
      ],
    },
  });
  return onnx.ModelProto.encode(proto).finish();
}

/** Largest |a−b| / max(|b|, 1e-6) over two equally long arrays. */
export function maxRelDiff(a: Float32Array, b: Float32Array): number {
  let m = 0;
  for (let i = 0; i < b.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!) / Math.max(Math.abs(b[i]!), 1e-6));
  return m;
}

export async function runProbe(choice: DeviceChoice, print: (line: string) => void): Promise<number> {
  const r = await resolveDevice(choice);
  print(`device ${choice} resolves to ${r.device}${r.reason ? ` (${r.reason})` : ''}`);
  if (r.webgpu) print(r.webgpu.available ? `WebGPU adapter: ${describeAdapter(r.webgpu.adapter)}` : `WebGPU: ${r.webgpu.reason}`);
  if (r.device === 'webgpu' && r.webgpu && !r.webgpu.available) return 1;
  const graph = oneLayerGraph();
  const x = new Float32Array(T * H);
  const rnd = mulberry32(7);
  for (let i = 0; i < x.length; i++) x[i] = rnd() * 2 - 1;
  const run = async (device: DeviceChoice) => {
    const { session, device: ran } = await createSession(graph, { device, log: print });
    const out = (await session.run({ x: float32Tensor(x, [1, T, H]) })).y!.data as Float32Array;
    await session.release();
    return { out: Float32Array.from(out), ran };
  };
  const cpu = await run('cpu');
  if (r.device === 'cpu') {
    print('one-layer check: CPU only (nothing to compare)');
    return 0;
  }
  resetDeviceUse();
  let dev: Awaited<ReturnType<typeof run>>;
  try {
    dev = await run(r.device);
  } catch (err) {
    print(`one-layer check on ${r.device} failed: ${err instanceof Error ? err.message : String(err)}`);
    return 1;
  }
  const diff = maxRelDiff(dev.out, cpu.out);
  const placement = (await deviceUse()).webgpu?.placement;
  print(
    `one-layer check on ${dev.ran}: max relative difference to CPU ${diff.toExponential(2)} (limit 1e-4)${placement ? `; ${placementLine(placement)}` : ''}`,
  );
  return diff <= 1e-4 ? 0 : 1;
}
