/**
 * OWL on the demo model: per-block outlier ratios against plain loops over the weights, the
 * reference's min-max + mean-shift arithmetic against numbers worked out by hand, and masks at those
 * per-block sparsities against a plain re-computation (full sorts, tie rule written out).
 */
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadModel, readWeight, type OnnxModel } from '@polyprune/gpu-runner/onnx/read';
import { findPrunableLinears } from '@polyprune/gpu-runner/onnx/structure';
import { owlSparsities, planOwl } from '@polyprune/gpu-runner/prune/owl';
import { allMasks, layerSparsityOf } from '@polyprune/gpu-runner/prune/policy';
import type { ActivationStats, PrunableLinear } from '@polyprune/gpu-runner/types';
import { lcg, refRowMask } from './reference';

const repo = path.resolve(import.meta.dirname, '../../..');
let model: OnnxModel;
let linears: PrunableLinear[];
let stats: ActivationStats;

/** W[i][o] in the canonical layout, read from the stored initializer without the engine's helper. */
async function plainWeight(l: PrunableLinear): Promise<number[][]> {
  const w = await readWeight(model, l.weightName);
  const out = Array.from({ length: l.dIn }, () => new Array<number>(l.dOut).fill(0));
  for (let i = 0; i < l.dIn; i++) {
    for (let o = 0; o < l.dOut; o++) out[i]![o] = l.storedTransposed ? w.data[o * l.dIn + i]! : w.data[i * l.dOut + o]!;
  }
  return out;
}

/** Wanda scores |W_io|·√s_i as float32, flattened [i][o]. */
async function plainScores(l: PrunableLinear): Promise<Float32Array> {
  const w = await plainWeight(l);
  const s = stats.get(l.id)!.sqNorm;
  const out = new Float32Array(l.dIn * l.dOut);
  for (let i = 0; i < l.dIn; i++) for (let o = 0; o < l.dOut; o++) out[i * l.dOut + o] = Math.abs(w[i]![o]!) * Math.sqrt(s[i]!);
  return out;
}

beforeAll(async () => {
  model = await loadModel(path.join(repo, 'demo/model/model.onnx'));
  linears = findPrunableLinears(model).linears;
  // Heavy-tailed channel statistics (a product of uniforms, cubed) so that blocks differ in outliers.
  const r = lcg(23);
  stats = new Map(
    linears.map((l) => {
      const sqNorm = new Float64Array(l.dIn);
      for (let i = 0; i < l.dIn; i++) sqNorm[i] = (r() * r() * 3) ** 3 * (1 + l.block);
      return [l.id, { id: l.id, sqNorm, samples: 1, tokens: 1 }];
    }),
  );
});

describe('OWL sparsities (the reference arithmetic)', () => {
  it('scales ratios into a 2λ spread, shifts them to mean S, prunes more-outlier blocks less', () => {
    // ratios 1, 3, 2, 6; S = 0.5; λ = 0.08: (r − 1)/5·0.16 = 0, .064, .032, .16; mean .064;
    // keep = that − .064 + .5 = .436, .5, .468, .596; sparsity = 1 − keep.
    const got = owlSparsities([1, 3, 2, 6], 0.5, 0.08);
    [0.564, 0.5, 0.532, 0.404].forEach((want, i) => expect(got[i]).toBeCloseTo(want, 12));
    expect(got.reduce((a, b) => a + b, 0) / 4).toBeCloseTo(0.5, 12);
    // one outlier-rich block among three: 0, 0, .2 → mean .0667; sparsities .5667, .5667, .3667
    const skew = owlSparsities([0, 0, 10], 0.5, 0.1);
    [0.5 + 0.2 / 3, 0.5 + 0.2 / 3, 0.5 - 0.4 / 3].forEach((want, i) => expect(skew[i]).toBeCloseTo(want, 12));
  });

  it('equal ratios give every block S; ≤ 0 becomes 0.01 as the reference; ≥ 1 becomes 1', () => {
    expect(owlSparsities([2, 2, 2], 0.6, 0.1)).toEqual([0.6, 0.6, 0.6]);
    // S = .1, λ = .09 (2λ(1 − 1/n) > S): 0, 0, 0, 1 → .18·(0,0,0,1) − .045 → sparsity .145, .145, .145, −.035 → .01
    const low = owlSparsities([0, 0, 0, 1], 0.1, 0.09);
    expect(low[3]).toBe(0.01);
    expect(low[0]).toBeCloseTo(0.145, 12);
    const high = owlSparsities([1, 1, 1, 0], 0.9, 0.09);
    expect(high[3]).toBe(1);
  });
});

describe('OWL on the demo model', () => {
  it('outlier ratios pool every linear of a block against M × the block mean, as plain loops count them', async () => {
    const m = 5;
    const plan = await planOwl(model, linears, stats, { m, lambda: 0.08, sparsity: 0.5 });
    const blocks = [...new Set(linears.map((l) => l.block))].sort((a, b) => a - b);
    expect(plan.blocks.map((b) => b.block)).toEqual(blocks);
    const pct: number[] = [];
    let pooledDiffersFromMeanOfLinears = false;
    for (const b of blocks) {
      const all: number[] = [];
      const perLinear: number[] = [];
      for (const l of linears.filter((x) => x.block === b)) {
        const s = Array.from(await plainScores(l));
        all.push(...s);
        const lm = s.reduce((a, v) => a + v, 0) / s.length;
        perLinear.push(s.filter((v) => v > lm * m).length / s.length);
      }
      let sum = 0;
      for (const v of all) sum += v;
      const threshold = (sum / all.length) * m;
      let count = 0;
      for (const v of all) if (v > threshold) count++;
      const got = plan.blocks.find((x) => x.block === b)!;
      expect(got.weights).toBe(all.length);
      expect(got.outliers).toBe(count);
      expect(got.outlierPct).toBeCloseTo((count / all.length) * 100, 10);
      pct.push((count / all.length) * 100);
      const meanOfLinears = (perLinear.reduce((a, v) => a + v, 0) / perLinear.length) * 100;
      if (Math.abs(meanOfLinears - got.outlierPct) > 1e-6) pooledDiffersFromMeanOfLinears = true;
    }
    // the fixture tells pooled counting from averaging per-linear ratios
    expect(pooledDiffersFromMeanOfLinears).toBe(true);
    expect(new Set(pct).size).toBeGreaterThan(1);
    // sparsities from those ratios, written out again
    const min = Math.min(...pct);
    const max = Math.max(...pct);
    const scaled = pct.map((p) => ((p - min) / (max - min)) * 0.16);
    const mean = scaled.reduce((a, v) => a + v, 0) / scaled.length;
    plan.blocks.forEach((b, k) => expect(b.sparsity).toBeCloseTo(1 - (scaled[k]! - mean + 0.5), 12));
    expect(plan.blocks.reduce((a, b) => a + b.sparsity, 0) / plan.blocks.length).toBeCloseTo(0.5, 12);
    // more outliers, lower sparsity
    const most = plan.blocks.reduce((a, b) => (b.outlierPct > a.outlierPct ? b : a));
    expect(most.sparsity).toBe(Math.min(...plan.blocks.map((b) => b.sparsity)));
  });

  it('masks at the per-block sparsities equal a plain re-computation, for wanda and magnitude', async () => {
    const plan = await planOwl(model, linears, stats, { m: 5, lambda: 0.08, sparsity: 0.5 });
    for (const method of ['wanda', 'magnitude'] as const) {
      const policy = {
        method,
        sparsity: 0.5,
        pattern: 'unstructured',
        magnitudeScope: 'row',
        dropTop: false,
        seed: 0,
        blockSparsity: plan.blockSparsity,
      } as const;
      const masks = await allMasks(model, policy, linears, { main: stats });
      for (const [k, l] of linears.entries()) {
        const p = plan.blocks.find((b) => b.block === l.block)!.sparsity;
        expect(layerSparsityOf(policy, l)).toBe(p);
        let scores: Float32Array;
        if (method === 'wanda') scores = await plainScores(l);
        else scores = Float32Array.from((await plainWeight(l)).flat(), Math.abs);
        const want = refRowMask(scores, l.dIn, l.dOut, p, false);
        expect(masks[k]!.id).toBe(l.id);
        expect(Buffer.from(masks[k]!.keep).equals(Buffer.from(want)), `${method} ${l.id}`).toBe(true);
        const pruned = want.reduce((n, v) => n + (v === 0 ? 1 : 0), 0);
        expect(pruned).toBe(Math.floor(l.dIn * p) * l.dOut);
      }
    }
  });
});
