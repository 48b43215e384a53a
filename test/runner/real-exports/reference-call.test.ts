/**
 * maskPadding false reproduces the reference's calibration call, `model(input_ids)` without a mask,
 * on every layout: a real export that takes attention_mask (and position_ids) must give the masks
 * of the same weights exported without one (test/fixtures/real-reference/<name>/model-nomask.onnx,
 * traced as model(input_ids)), pads included in the statistics. maskPadding true is the clean
 * variant: pads masked as keys and left out, which differs wherever there is padding.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { calibrationFeeds } from '@polyprune/gpu-runner/calibrate/feeds';
import type { MaskPattern } from '@polyprune/gpu-runner/prune/masks';
import { maxRelDiff } from '../helpers/tiny.js';
import { LAYOUTS, REAL, REFERENCE, agreement, masksFor, open } from './layouts.js';

const HALF: MaskPattern = { kind: 'unstructured', sparsity: 0.5 };
const inputsOf = (o: Awaited<ReturnType<typeof open>>) => (o.model.proto.graph!.input ?? []).map((i) => i.name ?? '');
const maskless = (dir: string) => path.join(REFERENCE, dir, 'model-nomask.onnx');

describe('every real layout that takes attention_mask has a maskless twin of the same weights', () => {
  it.each(LAYOUTS)('$dir', async (layout) => {
    const real = await open(path.join(REAL, layout.dir), layout.graph);
    const takesMask = inputsOf(real).includes('attention_mask');
    expect(existsSync(maskless(layout.dir))).toBe(takesMask);
    if (!takesMask) return;
    const plain = await open(path.join(REFERENCE, layout.dir), 'model-nomask.onnx');
    expect(inputsOf(plain)).toEqual(['input_ids']);
    expect(plain.linears.map((l) => [l.id, l.dIn, l.dOut])).toEqual(real.linears.map((l) => [l.id, l.dIn, l.dOut]));
  });
});

describe.each(LAYOUTS.filter((l) => existsSync(maskless(l.dir))))('$dir, maskPadding false: as model(input_ids)', (layout) => {
  const cases = [
    { mode: 'oneshot', strategy: undefined },
    { mode: 'sequential', strategy: 'blockwise' },
    { mode: 'sequential', strategy: 'whole-graph' },
  ] as const;
  for (const { mode, strategy } of cases) {
    it(`wanda ${mode}${strategy ? ` (${strategy})` : ''} 50% on padded samples: the maskless export's statistics and masks`, async () => {
      const real = await open(path.join(REAL, layout.dir), layout.graph);
      const plain = await open(path.join(REFERENCE, layout.dir), 'model-nomask.onnx');
      expect(calibrationFeeds(inputsOf(real), false)).toMatchObject({ attentionMask: 'ones', maskFed: false, padsInStatistics: true });
      // blockwise: every block is cut out of the graph with the mask and position inputs it needs
      const a = await masksFor(real, 'wanda', mode, HALF, true, false, strategy);
      const b = await masksFor(plain, 'wanda', mode, HALF, true, false, strategy);
      expect(a.strategy).toBe(strategy);
      for (const [id, s] of b.stats!) {
        // every position counts, pads included
        expect(a.stats!.get(id)!.tokens, id).toBe(5 * 16);
        expect(maxRelDiff(a.stats!.get(id)!.sqNorm, s.sqNorm), `${id} statistics`).toBeLessThan(layout.fp16 ? 2e-2 : 1e-5);
      }
      // fp16 exports compute in fp16 against an fp32 reference: near-ties may flip (measured ≥ 99.98%;
      // feeding the padding mask instead gave 97.6–98.1% on these fixtures)
      if (layout.fp16) expect(agreement(a.masks, b.masks)).toBeGreaterThan(0.999);
      else for (const [k, m] of b.masks.entries()) expect(Buffer.from(a.masks[k]!.keep).equals(Buffer.from(m.keep)), m.id).toBe(true);
    });
  }

  it('maskPadding true differs from false where there is padding, and equals the maskless export with pads dropped', async () => {
    const real = await open(path.join(REAL, layout.dir), layout.graph);
    const plain = await open(path.join(REFERENCE, layout.dir), 'model-nomask.onnx');
    const clean = await masksFor(real, 'wanda', 'oneshot', HALF, true, true);
    const reference = await masksFor(real, 'wanda', 'oneshot', HALF, true, false);
    // 5 samples of 16, 20 pads in all
    for (const s of clean.stats!.values()) expect(s.tokens).toBe(60);
    // pad rows are the pad token after the text: every linear's statistics move
    for (const [id, s] of clean.stats!) expect(maxRelDiff(reference.stats!.get(id)!.sqNorm, s.sqNorm), id).toBeGreaterThan(1e-3);
    expect(agreement(clean.masks, reference.masks)).toBeLessThan(1);
    // The maskless graph cannot have pads masked as keys; right padding and causal attention mean
    // no real token sees one, so dropping the pad rows gives the statistics a mask would.
    const noMask = await masksFor(plain, 'wanda', 'oneshot', HALF, true, true);
    expect(calibrationFeeds(inputsOf(plain), true)).toMatchObject({ attentionMask: 'not-an-input', maskFed: false, padsInStatistics: false });
    for (const [id, s] of noMask.stats!) expect(maxRelDiff(clean.stats!.get(id)!.sqNorm, s.sqNorm), id).toBeLessThan(layout.fp16 ? 2e-2 : 1e-5);
  });
});
