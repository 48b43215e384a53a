/**
 * Mask selection in worker threads (prune/mask-workers.ts) gives the masks a plain computation
 * gives: the scores written out here, and the reference selections of reference.ts.
 */
import os from 'node:os';
import { describe, expect, it } from 'vitest';
import type { MaskJob } from '../../../gpu-runner/src/prune/mask-jobs.js';
import { maskWorkerUse, selectMasks } from '../../../gpu-runner/src/prune/mask-workers.js';
import type { ScoreInputs } from '../../../gpu-runner/src/prune/scores.js';
import { firstDiff, lcg, refMatrixMask, refNmMask, refRowMask } from './reference.js';

/** Plain scores in [dIn, dOut] order from a weight stored as given (maybe [dOut, dIn]). */
function plainScores(job: MaskJob): Float32Array {
  const { dIn, dOut, storedTransposed } = job.linear;
  const out = new Float32Array(dIn * dOut);
  for (let i = 0; i < dIn; i++) {
    for (let o = 0; o < dOut; o++) {
      const w = Math.abs(job.data[storedTransposed ? o * dIn + i : i * dOut + o]!);
      const s = job.scores;
      out[i * dOut + o] =
        s.method === 'wanda'
          ? w * Math.sqrt(s.sqNorm[i]!)
          : s.method === 'mt-contrast'
            ? (w * s.mtSqNorm[i]!) / Math.sqrt(Math.max(s.contrastSqNorm[i]!, 1e-12))
            : w;
    }
  }
  return out;
}

function job(id: string, dIn: number, dOut: number, storedTransposed: boolean, scores: ScoreInputs, spec: MaskJob['spec'], seed: number): MaskJob {
  const r = lcg(seed);
  // fp16-like values with many ties, as widened fp16 weights have.
  const data = Float32Array.from({ length: dIn * dOut }, () => Math.round((r() - 0.5) * 64) / 256);
  return { linear: { id, dIn, dOut, storedTransposed }, data, scores, spec };
}

describe('mask selection in worker threads', () => {
  it('equals the plain computation for every method, pattern and layout, in order', async () => {
    const dIn = 96;
    const dOut = 40;
    const r = lcg(3);
    const sq = Float64Array.from({ length: dIn }, () => r() * 5);
    const contrast = Float64Array.from({ length: dIn }, (_, i) => (i % 9 === 0 ? 0 : r()));
    const jobs: MaskJob[] = [
      job('wanda', dIn, dOut, false, { method: 'wanda', sqNorm: sq }, { pattern: { kind: 'unstructured', sparsity: 0.5 } }, 1),
      job('wanda-t', dIn, dOut, true, { method: 'wanda', sqNorm: sq }, { pattern: { kind: 'unstructured', sparsity: 0.3 } }, 2),
      job('wanda-top', dIn, dOut, false, { method: 'wanda', sqNorm: sq }, { pattern: { kind: 'unstructured', sparsity: 0.5 }, dropTop: true }, 3),
      job('wanda-24', dIn, dOut, true, { method: 'wanda', sqNorm: sq }, { pattern: { kind: 'nm', n: 2, m: 4 } }, 4),
      job('magnitude', dIn, dOut, false, { method: 'magnitude' }, { pattern: { kind: 'unstructured-matrix', sparsity: 0.6 } }, 5),
      job(
        'contrast',
        dIn,
        dOut,
        false,
        { method: 'mt-contrast', mtSqNorm: sq, contrastSqNorm: contrast },
        { pattern: { kind: 'unstructured', sparsity: 0.5 } },
        6,
      ),
    ];
    const before = maskWorkerUse().masks;
    const got = await selectMasks(jobs);
    expect(got.map((m) => m.id)).toEqual(jobs.map((j) => j.linear.id));
    for (const [k, j] of jobs.entries()) {
      const s = plainScores(j);
      const p = j.spec.pattern;
      const top = j.spec.dropTop ?? false;
      const want =
        p.kind === 'unstructured'
          ? refRowMask(s, dIn, dOut, p.sparsity, top)
          : p.kind === 'nm'
            ? refNmMask(s, dIn, dOut, p.n, p.m, top)
            : refMatrixMask(s, dIn, dOut, p.sparsity, top);
      expect(firstDiff(got[k]!.keep, want), j.linear.id).toBe(-1);
      expect([got[k]!.dIn, got[k]!.dOut]).toEqual([dIn, dOut]);
    }
    // The jobs' weights are left as they were (the workers got copies).
    expect(jobs[0]!.data.length).toBe(dIn * dOut);
    // They ran in worker threads, one per core (inline on a single core).
    const use = maskWorkerUse();
    expect(use.workers).toBe(os.availableParallelism() > 1 ? Math.min(8, os.availableParallelism()) : 0);
    if (use.workers > 0) expect(use.masks - before).toBe(jobs.length);
  });

  it('a wrong job fails with its reason, and the pool keeps working', async () => {
    const bad = job('bad', 8, 4, false, { method: 'wanda', sqNorm: new Float64Array(3) }, { pattern: { kind: 'unstructured', sparsity: 0.5 } }, 7);
    const good = job('good', 8, 4, false, { method: 'magnitude' }, { pattern: { kind: 'unstructured', sparsity: 0.5 } }, 8);
    await expect(selectMasks([bad, good])).rejects.toThrow(/sqNorm has 3 channels, the weight has dIn=8/);
    const [m] = await selectMasks([good, good]);
    expect(firstDiff(m!.keep, refRowMask(plainScores(good), 8, 4, 0.5, false))).toBe(-1);
  });
});
