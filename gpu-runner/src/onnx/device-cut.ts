/**
 * The graph cut that keeps a too-large weight on CPU under WebGPU. A WebGPU buffer cannot be larger
 * than the adapter's maxBufferSize, so a weight above it cannot be uploaded at all; onnxruntime
 * places an initializer with the nodes that read it, so keeping those nodes on CPU (its
 * forceCpuNodeNames option) keeps the weight in host memory and the rest of the graph on the device.
 * Weights above maxStorageBufferBindingSize but within maxBufferSize need no cut: onnxruntime 1.30
 * binds them in segments (checked on lavapipe, whose binding limit is 128 MiB, with a 1.2 GB Gather
 * table and an 800 MB MatMul weight, both equal to CPU; see docs/gpu.md).
 */
import { dimsOf, type GraphProto, type ModelProto, type TensorProto } from './proto.js';
import { onnx } from './proto.js';

/** Bytes of a tensor's elements (0 for element types this engine never sees as weights). */
export function tensorBytes(t: TensorProto): number {
  const per = ELEMENT_BYTES[t.dataType ?? 0] ?? 0;
  return dimsOf(t).reduce((a, b) => a * b, 1) * per;
}

const T = onnx.TensorProto.DataType;
const ELEMENT_BYTES: Record<number, number> = {
  [T.FLOAT]: 4,
  [T.FLOAT16]: 2,
  [T.BFLOAT16]: 2,
  [T.DOUBLE]: 8,
  [T.INT64]: 8,
  [T.INT32]: 4,
  [T.INT16]: 2,
  [T.INT8]: 1,
  [T.UINT8]: 1,
  [T.BOOL]: 1,
};

export interface WeightCut {
  /** names of the nodes (any subgraph included) that read a weight above the limit */
  cpuNodes: string[];
  /** the weights above the limit, largest first */
  weights: Array<{ name: string; bytes: number }>;
}

/** Nodes to keep on CPU so that no weight above `maxBufferBytes` goes to the device. */
export function weightCut(proto: ModelProto, maxBufferBytes: number): WeightCut {
  const big = new Map<string, number>();
  const collect = (g: GraphProto) => {
    for (const t of g.initializer ?? []) {
      const bytes = tensorBytes(t);
      if (bytes > maxBufferBytes) big.set(t.name!, bytes);
    }
    for (const n of g.node ?? []) for (const a of n.attribute ?? []) for (const sub of [a.g, ...(a.graphs ?? [])]) if (sub) collect(sub);
  };
  collect(proto.graph!);
  const cpuNodes: string[] = [];
  const visit = (g: GraphProto) => {
    for (const n of g.node ?? []) {
      if ((n.input ?? []).some((i) => big.has(i))) cpuNodes.push(n.name ?? '');
      for (const a of n.attribute ?? []) for (const sub of [a.g, ...(a.graphs ?? [])]) if (sub) visit(sub);
    }
  };
  if (big.size) visit(proto.graph!);
  return {
    cpuNodes,
    weights: [...big].map(([name, bytes]) => ({ name, bytes })).sort((a, b) => b.bytes - a.bytes),
  };
}

/**
 * Operators whose onnxruntime 1.30 WebGPU kernel computes something else than its CPU kernel, kept
 * on CPU. MultiHeadAttention (com.microsoft, as onnxruntime-genai exports it): on
 * test/fixtures/real/genai-llama-fp32-mha a 9-token context gave first-token log-probabilities
 * 1.1e-2 away from CPU (lavapipe), while 16-token rows agreed to 1e-6; with these nodes on CPU the
 * scores equal CPU's exactly.
 */
export const WEBGPU_DIVERGENT_OPS: ReadonlySet<string> = new Set(['MultiHeadAttention']);

/** Names of the nodes (subgraphs included) whose operator is in WEBGPU_DIVERGENT_OPS. */
export function divergentNodes(proto: ModelProto): string[] {
  const out: string[] = [];
  const visit = (g: GraphProto) => {
    for (const n of g.node ?? []) {
      if (WEBGPU_DIVERGENT_OPS.has(n.opType ?? '') && n.name) out.push(n.name);
      for (const a of n.attribute ?? []) for (const sub of [a.g, ...(a.graphs ?? [])]) if (sub) visit(sub);
    }
  };
  visit(proto.graph!);
  return out;
}
