/**
 * Domain types shared by the runner's engine modules (onnx, calibrate, prune, analyze, evaluate).
 * Layout convention (docs/design.md §3): a linear computes y = x W with W stored [dIn, dOut] (ONNX MatMul);
 * a "row" in the paper's sense is one output neuron, i.e. one column of W here.
 */

export type LinearRole = 'q' | 'k' | 'v' | 'qkv' | 'o' | 'fc1' | 'fc2' | 'gate' | 'up' | 'down';

/** One prunable linear layer found in a graph. */
export interface PrunableLinear {
  /** Stable id, e.g. "block3.q". */
  id: string;
  block: number;
  role: LinearRole;
  /** Name of the ONNX node (MatMul or Gemm). */
  nodeName: string;
  /** Initializer holding the weight. */
  weightName: string;
  /** Name of the tensor fed as the linear's activation input x. */
  inputName: string;
  dIn: number;
  dOut: number;
  /** True when the stored initializer is [dOut, dIn] (Gemm transB=1, or a Transpose in front). */
  storedTransposed: boolean;
}

/** Per-layer activation statistics: s_j = mean over samples of sum over tokens of x_j^2. */
export interface LayerStats {
  id: string;
  /** length dIn */
  sqNorm: Float64Array;
  samples: number;
  tokens: number;
}

export type ActivationStats = Map<string, LayerStats>;

/** A dense weight in canonical [dIn, dOut] layout. */
export interface DenseWeight {
  dIn: number;
  dOut: number;
  data: Float32Array;
}

/** keep[i*dOut + o] === 1 when W[i, o] survives; same layout as DenseWeight. */
export interface LayerMask {
  id: string;
  dIn: number;
  dOut: number;
  keep: Uint8Array;
}

export type ProgressFn = (stage: string, done: number, total: number) => void;
