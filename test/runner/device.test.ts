/**
 * The device layer's pure parts (what WebGPU may hold, which nodes stay on CPU, how placements and
 * the adapter answer are read) and the one machine-level promise that needs no GPU: without a
 * Vulkan driver the adapter question answers "no adapter" with the fix, quickly, instead of hanging.
 */
import { describe, expect, it } from 'vitest';
import { memoryNeed } from '@polyprune/gpu-runner/model/memory';
import { divergentNodes, weightCut } from '@polyprune/gpu-runner/onnx/device-cut';
import { onnx } from '@polyprune/gpu-runner/onnx/proto';
import { countPlacement } from '@polyprune/gpu-runner/placement';
import { EnvError, readDevice } from '@polyprune/gpu-runner/service/env';
import { parseProbeOutput, queryAdapter } from '@polyprune/gpu-runner/webgpu-adapter';

const F = onnx.TensorProto.DataType.FLOAT;
const H = onnx.TensorProto.DataType.FLOAT16;

function graph() {
  const sub = onnx.GraphProto.create({ name: 'then', node: [{ opType: 'Gather', name: 'sub/gather', input: ['E', 'ids'], output: ['t'] }] });
  return onnx.ModelProto.create({
    graph: {
      initializer: [
        { name: 'E', dataType: F, dims: [100, 8] }, // 3200 bytes
        { name: 'W', dataType: H, dims: [8, 100] }, // 1600 bytes
        { name: 'b', dataType: F, dims: [8] },
      ],
      node: [
        { opType: 'Gather', name: 'embed', input: ['E', 'ids'], output: ['x'] },
        { opType: 'MatMul', name: 'head', input: ['x', 'W'], output: ['y'] },
        { opType: 'Add', name: 'bias', input: ['y', 'b'], output: ['z'] },
        {
          opType: 'If',
          name: 'branch',
          input: ['c'],
          output: ['o'],
          attribute: [{ name: 'then_branch', type: onnx.AttributeProto.AttributeType.GRAPH, g: sub }],
        },
        { opType: 'MultiHeadAttention', domain: 'com.microsoft', name: 'attn', input: ['q', 'k', 'v'], output: ['a'] },
      ],
    },
  });
}

describe('weightCut', () => {
  it('keeps on CPU every node, in subgraphs too, that reads a weight above the limit', () => {
    expect(weightCut(graph(), 2000)).toEqual({ cpuNodes: ['embed', 'sub/gather'], weights: [{ name: 'E', bytes: 3200 }] });
    const both = weightCut(graph(), 1000);
    expect(both.cpuNodes).toEqual(['embed', 'head', 'sub/gather']);
    expect(both.weights.map((w) => w.name)).toEqual(['E', 'W']);
    expect(weightCut(graph(), 3200)).toEqual({ cpuNodes: [], weights: [] });
  });

  it('finds the operators whose WebGPU kernel diverges', () => {
    expect(divergentNodes(graph())).toEqual(['attn']);
  });
});

describe('countPlacement', () => {
  it('counts distinct nodes per provider from profile events, copies apart', () => {
    const ev = (name: string, provider: string, op = 'MatMul') => ({ cat: 'Node', name: `${name}_kernel_time`, args: { provider, op_name: op } });
    const p = countPlacement([
      { cat: 'Session', name: 'session_initialization' },
      ev('a', 'WebGpuExecutionProvider'),
      ev('a', 'WebGpuExecutionProvider'), // a second run of the same node
      ev('b', 'WebGpuExecutionProvider'),
      ev('shape', 'CPUExecutionProvider', 'Shape'),
      ev('copy', 'WebGpuExecutionProvider', 'MemcpyFromHost'),
      { cat: 'Node', name: 'a_fence_before', args: { provider: 'WebGpuExecutionProvider' } },
    ]);
    expect(p).toEqual({ nodes: { webgpu: 2, cpu: 1 }, total: 3, copies: 1 });
  });
});

describe('adapter answer', () => {
  const adapter = {
    vendor: 'nvidia',
    architecture: 'ampere',
    device: 'x',
    description: 'NVIDIA A100',
    backend: 'vulkan',
    fallback: false,
    maxBufferSize: 2 ** 32,
    maxStorageBufferBindingSize: 2 ** 31,
    shaderF16: true,
  };
  it('reads the child’s JSON line, "no adapter" with the fix, and a timeout', () => {
    expect(parseProbeOutput(`noise\nPOLYPRUNE_ADAPTER ${JSON.stringify(adapter)}\n`, '')).toEqual({ available: true, adapter });
    const none = parseProbeOutput('POLYPRUNE_ADAPTER null\n', '');
    expect(none.available).toBe(false);
    expect(!none.available && none.reason).toMatch(/no WebGPU adapter.*libvulkan1/);
    const killed = Object.assign(new Error('x'), { killed: true });
    expect(parseProbeOutput('', '', killed)).toEqual({ available: false, reason: 'the adapter query did not answer within 30 s' });
    expect(parseProbeOutput('', 'Segmentation fault\n', new Error('Command failed'))).toEqual({ available: false, reason: 'Segmentation fault' });
  });

  it('a machine without a Vulkan driver gets "no adapter" and the fix, not a hang', async () => {
    const t0 = performance.now();
    const r = await queryAdapter({ ...process.env, VK_ICD_FILENAMES: '/nonexistent/icd.json', VK_DRIVER_FILES: '/nonexistent/icd.json' });
    expect(r.available).toBe(false);
    expect(!r.available && r.reason).toMatch(/no WebGPU adapter|Vulkan|libvulkan/);
    expect(performance.now() - t0).toBeLessThan(30_000);
  });
});

describe('device settings', () => {
  it('POLYPRUNE_DEVICE takes auto, cuda, webgpu or cpu', () => {
    expect(readDevice({})).toBe('auto');
    expect(readDevice({ POLYPRUNE_DEVICE: 'WebGPU' })).toBe('webgpu');
    expect(() => readDevice({ POLYPRUNE_DEVICE: 'gpu' })).toThrow(EnvError);
  });

  it('on WebGPU the host holds fp16 weights once (no fp32 copy as on CPU)', () => {
    const x = { weightBytes: 1000, fp16: true, prepack: false, activationBytes: 10 };
    expect(memoryNeed({ ...x, device: 'webgpu' }).bytes).toBe(1010);
    expect(memoryNeed({ ...x, device: 'cpu' }).bytes).toBe(2010);
  });
});
