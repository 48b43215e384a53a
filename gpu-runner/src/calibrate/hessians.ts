/**
 * SparseGPT's calibration (upstream opt.py `opt_sequential`): block by block, the Hessians
 * H = (2/n)·Σ x·xᵀ of the block's linear inputs over every calibration token (n = samples), then the
 * block is pruned and its weights updated (prune callback) before the next block runs.
 *
 * sequential: block b+1 sees what the pruned and UPDATED block b computes, as upstream.
 * oneshot: every block sees the dense model's residual stream (one run per batch and block).
 * Either way only one block's Hessians are held at a time. X·Xᵀ is a MatMul inside the block's
 * graph (onnx/gram.ts); batches are summed in float64 here. Upstream's running average
 * (H·n/(n+m), then + (2/(n+m))·X·Xᵀ) equals (2/N)·Σ X·Xᵀ over all N samples, which is what is formed.
 *
 * Needs blocks that can be cut apart at the residual stream (structure.findBlockOutputs).
 */
import { feedable, type Tensor } from '../ort.js';
import { addGramOutputs, gramName } from '../onnx/gram.js';
import { DataType, onnx, type ModelProto } from '../onnx/proto.js';
import { findBlockOutputs } from '../onnx/structure.js';
import { onlyOutputs } from '../onnx/subgraph.js';
import { openSession } from '../onnx/session.js';
import type { LayerMask } from '../types.js';
import { asFloat32 } from './accumulate.js';
import { statisticsMask, tokenFeeds } from './feeds.js';
import { feedsOf, loadFeedWeights } from './feed-weights.js';
import { blockSubgraph, forDevice, type SequentialInput } from './sequential.js';
import { feedFp32 } from '../onnx/cpu-fp16.js';
import { fp16ToFp32 } from '../onnx/fp16.js';

export interface LayerHessian {
  /** d_in × d_in row-major; linears reading the same tensor share this array (copy before changing it). */
  h: Float64Array;
  samples: number;
  tokens: number;
}

export interface PrunedLayer {
  mask: LayerMask;
  /** the updated weight's stored bytes (layout and element type of the graph) */
  stored: Uint8Array;
}

export type PruneBlockFn = (block: number, hessians: Map<string, LayerHessian>) => Promise<PrunedLayer[]>;

export interface HessianInput extends Omit<SequentialInput, 'maskBlock'> {
  /** sequential: the next block sees the updated weights; oneshot: the dense ones. */
  mode: 'sequential' | 'oneshot';
  pruneBlock: PruneBlockFn;
}

function withMaskInput(proto: ModelProto, name: string): ModelProto {
  const g = proto.graph!;
  if ((g.input ?? []).some((i) => i.name === name)) return proto;
  const dims = ['batch', 'sequence'].map((p) => onnx.TensorShapeProto.Dimension.create({ dimParam: p }));
  const input = onnx.ValueInfoProto.create({
    name,
    type: onnx.TypeProto.create({ tensorType: onnx.TypeProto.Tensor.create({ elemType: DataType.INT64, shape: onnx.TensorShapeProto.create({ dim: dims }) }) }),
  });
  return onnx.ModelProto.create({ ...proto, graph: onnx.GraphProto.create({ ...g, input: [...(g.input ?? []), input] }) });
}

export async function hessianBlockwise(x: HessianInput): Promise<{ masks: LayerMask[]; runs: number; device: string }> {
  const outputs = findBlockOutputs(x.model, x.linears);
  const blocks = Math.max(...x.linears.map((l) => l.block)) + 1;
  const protos = Array.from({ length: blocks }, (_, b) => blockSubgraph({ ...x, maskBlock: () => [] }, outputs, b));
  const maskName = (x.model.proto.graph!.input ?? []).find((i) => i.name === 'attention_mask')?.name ?? 'attention_mask';
  const masks: LayerMask[] = [];
  let stream: Tensor[] = [];
  let runs = 0;
  let device = 'cpu';
  for (let b = 0; b < blocks; b++) {
    const own = x.linears.filter((l) => l.block === b);
    const widths = new Map(own.map((l) => [l.inputName, l.dIn]));
    const captured = [...widths].map(([name, width]) => ({ name, width }));
    const grams = captured.map((c) => gramName(c.name));
    const out = outputs[b]!.name;
    const last = b + 1 === blocks;
    const oneRun = x.mode === 'oneshot' && !last;
    let gramProto = addGramOutputs(x.maskPadding ? withMaskInput(protos[b]!, maskName) : protos[b]!, captured, x.maskPadding ? maskName : undefined);
    gramProto = onlyOutputs(gramProto, oneRun ? [...grams, out] : grams);
    // On CPU, fp16 weights fed widened once per block (sequential.ts forDevice); both sessions of the
    // block take the same ones (their readers are among the whole block's).
    const { widened } = await forDevice(x, protos[b]!, own);
    const widenedIn = (p: ModelProto) => (widened.size ? feedFp32(p, widened).proto : p);
    gramProto = widenedIn(gramProto);
    const weights = await loadFeedWeights(x.model, own, widened);
    const skip = new Set([...weights.keys(), ...(b > 0 ? [outputs[b - 1]!.name] : [])]);
    const sums = new Map(captured.map((c) => [c.name, new Float64Array(c.width * c.width)]));
    let tokens = 0;
    const next: Tensor[] = [];
    const open = await openSession(gramProto, x.model.dir, x.session);
    device = open.device;
    const feedsFor = (session: typeof open.session, k: number) => ({
      ...tokenFeeds(session, x.batches[k]!, skip, { maskPadding: x.maskPadding, config: x.config }),
      ...feedsOf(weights, new Set(session.inputNames)),
      ...(b > 0 ? { [outputs[b - 1]!.name]: stream[k]! } : {}),
    });
    try {
      for (let k = 0; k < x.batches.length; k++) {
        const batch = x.batches[k]!;
        const r = await open.session.run(feedsFor(open.session, k), oneRun ? [...grams, out] : grams);
        runs++;
        for (const c of captured) {
          const g = asFloat32(r[gramName(c.name)]!.data);
          const s = sums.get(c.name)!;
          for (let i = 0; i < g.length; i++) s[i]! += g[i]!;
        }
        const mask = statisticsMask(batch, x.maskPadding);
        tokens += mask ? mask.reduce((n, m) => n + (m !== 0n ? 1 : 0), 0) : batch.size * batch.seqLen;
        if (oneRun) next.push(feedable(r[out]!));
      }
    } finally {
      await open.release();
    }
    const hessians = new Map<string, LayerHessian>();
    for (const [name, s] of sums) {
      for (let i = 0; i < s.length; i++) s[i]! *= 2 / x.samples;
      for (const l of own.filter((o) => o.inputName === name)) hessians.set(l.id, { h: s, samples: x.samples, tokens });
    }
    sums.clear();
    const pruned = await x.pruneBlock(b, hessians);
    hessians.clear();
    for (const l of own) {
      const p = pruned.find((q) => q.mask.id === l.id);
      if (!p) throw new Error(`pruning block ${b} returned nothing for ${l.id}`);
      masks.push(p.mask);
      if (x.mode === 'sequential') {
        const w = weights.get(l.weightName)!;
        if (widened.has(l.weightName)) fp16ToFp32(new Uint16Array(p.stored.slice().buffer), w.data as Float32Array<ArrayBuffer>);
        else new Uint8Array(w.data.buffer, w.data.byteOffset, w.data.byteLength).set(p.stored);
      }
    }
    if (x.mode === 'sequential' && !last) {
      const streamOpen = await openSession(widenedIn(onlyOutputs(protos[b]!, [out])), x.model.dir, x.session);
      try {
        for (let k = 0; k < x.batches.length; k++) {
          next.push(feedable((await streamOpen.session.run(feedsFor(streamOpen.session, k), [out]))[out]!));
          runs++;
        }
      } finally {
        await streamOpen.release();
      }
    }
    stream = next;
    x.progress('calibrate', b + 1, blocks);
  }
  return { masks, runs, device };
}
