/**
 * A prune job's SparseGPT step for one block: each linear's fasterprune on the block's Hessians,
 * its mask, and its updated weight in stored bytes (kept for writing the model).
 */
import type { PruneJobSpec } from '@polyprune/shared/api/jobs';
import type { LayerHessian, PruneBlockFn, PrunedLayer } from '../calibrate/hessians.js';
import type { OnnxModel } from '../onnx/read.js';
import { storedBytesOf, type UpdatedWeights } from '../onnx/write-weights.js';
import type { PrunableLinear } from '../types.js';
import type { Gemm } from './linalg64.js';
import { canonicalWeight, maskPattern } from './policy.js';
import { fasterprune, type SparseGptOptions } from './sparsegpt.js';

export const SPARSEGPT_DEFAULTS = { percdamp: 0.01, blocksize: 128 } as const;

export function sparseGptOptions(
  spec: Pick<PruneJobSpec, 'method' | 'sparsity' | 'pattern' | 'magnitudeScope'> & { percdamp?: number; blocksize?: number },
): SparseGptOptions {
  const p = maskPattern({ ...spec, dropTop: false, seed: 0 });
  const nm = p.kind === 'nm' ? p : undefined;
  return {
    sparsity: spec.sparsity,
    prunen: nm?.n ?? 0,
    prunem: nm?.m ?? 0,
    blocksize: spec.blocksize ?? SPARSEGPT_DEFAULTS.blocksize,
    percdamp: spec.percdamp ?? SPARSEGPT_DEFAULTS.percdamp,
  };
}

/** `sparsityOf`: a layer's target (OWL's per-block sparsity); the job's by default. */
export function sparseGptPruner(
  model: OnnxModel,
  linears: PrunableLinear[],
  opts: SparseGptOptions,
  gemm: Gemm,
  updated?: UpdatedWeights,
  sparsityOf: (l: PrunableLinear) => number = () => opts.sparsity,
): PruneBlockFn {
  return async (block: number, hessians: Map<string, LayerHessian>): Promise<PrunedLayer[]> => {
    const out: PrunedLayer[] = [];
    for (const l of linears.filter((x) => x.block === block)) {
      const hess = hessians.get(l.id);
      if (!hess) throw new Error(`no Hessian for ${l.id}`);
      const w = await canonicalWeight(model, l);
      // fasterprune dampens and factorises its H in place; q/k/v share theirs.
      const r = await fasterprune(gemm, w, Float64Array.from(hess.h), { ...opts, sparsity: sparsityOf(l) });
      const stored = storedBytesOf(l, r.weight, model.initializers.get(l.weightName)!.dataType!);
      await updated?.set(l.weightName, stored);
      out.push({ mask: { id: l.id, dIn: l.dIn, dOut: l.dOut, keep: r.keep }, stored });
    }
    return out;
  };
}
