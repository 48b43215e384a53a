/**
 * A deliberately plain forward pass of the graph-builder's tiny decoders, one token at a time in
 * float64, used as the independent reference for captured activations and statistics.
 */
import type { LinearRole } from '@polyprune/gpu-runner/types';
import type { LinearParams, TinyParams } from './graph-builder.js';

export interface Capture {
  /** linear id -> inputs, one Float64Array of dIn per token (sample-major) */
  inputs: Map<string, Float64Array[]>;
  /** block -> residual output per token */
  blockOutputs: Float64Array[][];
  logits: Float64Array[];
}

function layerNorm(x: Float64Array, g: Float32Array, b: Float32Array): Float64Array {
  let mean = 0;
  for (const v of x) mean += v;
  mean /= x.length;
  let vr = 0;
  for (const v of x) vr += (v - mean) ** 2;
  vr /= x.length;
  const inv = 1 / Math.sqrt(vr + 1e-5);
  return Float64Array.from(x, (v, j) => (v - mean) * inv * g[j]! + b[j]!);
}

function apply(p: LinearParams, x: Float64Array, keep?: Uint8Array): Float64Array {
  const y = new Float64Array(p.dOut);
  for (let o = 0; o < p.dOut; o++) {
    let s = p.bias ? p.bias[o]! : 0;
    for (let i = 0; i < p.dIn; i++) if (!keep || keep[i * p.dOut + o]) s += x[i]! * p.w[i * p.dOut + o]!;
    y[o] = s;
  }
  return y;
}

/**
 * ids/mask are [samples][seqLen]; `keep` optionally masks weights (canonical layout) by linear id.
 */
export function referenceForward(params: TinyParams, ids: number[][], mask: number[][], keep: Map<string, Uint8Array> = new Map()): Capture {
  const h = params.hidden;
  const inputs = new Map<string, Float64Array[]>();
  const blockOutputs: Float64Array[][] = params.blocks.map(() => []);
  const logits: Float64Array[] = [];
  const record = (id: string, x: Float64Array) => {
    const list = inputs.get(id) ?? [];
    list.push(x);
    inputs.set(id, list);
  };
  ids.forEach((row, s) =>
    row.forEach((tok, t) => {
      let x = Float64Array.from({ length: h }, (_, j) => params.embed[tok * h + j]! * mask[s]![t]!);
      params.blocks.forEach((blk, b) => {
        const lin = (role: LinearRole, v: Float64Array) => {
          record(`block${b}.${role}`, v);
          return apply(blk.linears.get(role)!, v, keep.get(`block${b}.${role}`));
        };
        const h1 = layerNorm(x, ...blk.ln1);
        let q: Float64Array, k: Float64Array, v: Float64Array;
        if (blk.linears.has('qkv')) {
          const qkv = lin('qkv', h1);
          [q, k, v] = [qkv.subarray(0, h), qkv.subarray(h, 2 * h), qkv.subarray(2 * h)];
        } else [q, k, v] = [lin('q', h1), lin('k', h1), lin('v', h1)];
        const a = Float64Array.from(q, (qv, j) => qv * k[j]! + v[j]!);
        const x1 = Float64Array.from(lin('o', a), (ov, j) => x[j]! + ov);
        const h2 = layerNorm(x1, ...blk.ln2);
        let m: Float64Array;
        if (blk.linears.has('gate')) {
          const g = lin('gate', h2).map((z) => Math.max(0, z));
          const u = lin('up', h2);
          m = lin(
            'down',
            Float64Array.from(g, (gv, j) => gv * u[j]!),
          );
        } else {
          m = lin(
            'fc2',
            lin('fc1', h2).map((z) => Math.max(0, z)),
          );
        }
        x = Float64Array.from(x1, (xv, j) => xv + m[j]!);
        blockOutputs[b]!.push(x);
      });
      const xf = layerNorm(x, ...params.lnf);
      const out = new Float64Array(params.vocab);
      for (let o = 0; o < params.vocab; o++) {
        let sum = 0;
        for (let i = 0; i < h; i++) sum += xf[i]! * (params.head ? params.head[i * params.vocab + o]! : params.embed[o * h + i]!);
        out[o] = sum;
      }
      logits.push(out);
    }),
  );
  return { inputs, blockOutputs, logits };
}

/**
 * The mask calibration shows the graph: the padding mask with maskPadding, else ones (the
 * reference's `model(input_ids)` call, where pads are attended like tokens).
 */
export function fedMask(mask: number[][], maskPadding: boolean): number[][] {
  return maskPadding ? mask : mask.map((row) => row.map(() => 1));
}

/** s_j = mean over samples of Σ_t x_j² from captured per-token inputs, optionally skipping pads. */
export function referenceStats(cap: Capture, id: string, mask: number[][], maskPadding: boolean): Float64Array {
  const rows = cap.inputs.get(id)!;
  const flatMask = mask.flat();
  const s = new Float64Array(rows[0]!.length);
  rows.forEach((x, r) => {
    if (maskPadding && flatMask[r] === 0) return;
    for (let j = 0; j < s.length; j++) s[j]! += x[j]! * x[j]!;
  });
  return s.map((v) => v / mask.length);
}
