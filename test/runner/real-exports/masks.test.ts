/**
 * Masks from each real export equal the masks of its plain fp32 reference (the path that matches
 * an independent torch Wanda): oneshot and sequential Wanda, 2:4, magnitude. fp16 exports compute
 * activations in fp16, so their statistics match to fp16 precision and their Wanda masks may differ
 * where two scores are within that precision; magnitude masks read the same weights and are exact.
 */
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { MaskPattern } from '@polyprune/gpu-runner/prune/masks';
import { maxRelDiff } from '../helpers/tiny.js';
import { LAYOUTS, REAL, REFERENCE, agreement, masksFor, open, type Method } from './layouts.js';
import { TEST_DEVICE } from '../helpers/device.js';

// fp16 on WebGPU is computed in fp16 (CPU folds it to fp32): measured up to 3.0e-2 on lavapipe.
const FP16_STATS_TOL = TEST_DEVICE === 'cpu' ? 2e-2 : 6e-2;

const CASES: Array<{ name: string; method: Method; mode: 'oneshot' | 'sequential'; pattern: MaskPattern; padded?: boolean }> = [
  { name: 'wanda oneshot 50%', method: 'wanda', mode: 'oneshot', pattern: { kind: 'unstructured', sparsity: 0.5 } },
  {
    name: 'wanda oneshot 50%, unpadded samples, every position counted',
    method: 'wanda',
    mode: 'oneshot',
    pattern: { kind: 'unstructured', sparsity: 0.5 },
    padded: false,
  },
  { name: 'wanda sequential 50%', method: 'wanda', mode: 'sequential', pattern: { kind: 'unstructured', sparsity: 0.5 } },
  { name: 'wanda oneshot 2:4', method: 'wanda', mode: 'oneshot', pattern: { kind: 'nm', n: 2, m: 4 } },
  { name: 'magnitude 50%', method: 'magnitude', mode: 'oneshot', pattern: { kind: 'unstructured', sparsity: 0.5 } },
];

describe.each(LAYOUTS)('$dir: masks equal the plain reference', (layout) => {
  for (const c of CASES) {
    it(c.name, async () => {
      const real = await open(path.join(REAL, layout.dir), layout.graph);
      const ref = await open(path.join(REFERENCE, layout.dir), 'model.onnx');
      expect(real.linears.map((l) => [l.id, l.dIn, l.dOut])).toEqual(ref.linears.map((l) => [l.id, l.dIn, l.dOut]));
      const a = await masksFor(real, c.method, c.mode, c.pattern, c.padded);
      const b = await masksFor(ref, c.method, c.mode, c.pattern, c.padded);
      if (a.stats && b.stats) {
        for (const [id, s] of b.stats)
          expect(maxRelDiff(a.stats.get(id)!.sqNorm, s.sqNorm), `${id} statistics`).toBeLessThan(layout.fp16 ? FP16_STATS_TOL : 1e-4);
      }
      if (!layout.fp16 || c.method === 'magnitude') {
        for (const [k, m] of b.masks.entries()) expect(Buffer.from(a.masks[k]!.keep).equals(Buffer.from(m.keep)), m.id).toBe(true);
      } else {
        expect(agreement(a.masks, b.masks)).toBeGreaterThan(0.97);
      }
    });
  }
});
