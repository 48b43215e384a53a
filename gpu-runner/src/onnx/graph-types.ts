/** Types the structure discovery (structure.ts) and its name-free fallback (topology.ts) share. */
import type { LinearRole } from '../types.js';
import type { NodeProto } from './proto.js';

/** A MatMul/Gemm (or fused attention) whose weight is a 2-D float initializer (before any naming is applied). */
export interface LinearCandidate {
  nodeName: string;
  op: 'MatMul' | 'Gemm' | 'Attention';
  weightName: string;
  inputName: string;
  outputName: string;
  dIn: number;
  dOut: number;
  storedTransposed: boolean;
}

export interface GraphIndex {
  producer: Map<string, NodeProto>;
  consumers: Map<string, NodeProto[]>;
}

export interface Classified {
  cand: LinearCandidate;
  block: number;
  role: LinearRole;
}
