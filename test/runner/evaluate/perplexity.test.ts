import { describe, expect, it } from 'vitest';
import { evaluateSuite } from '@polyprune/gpu-runner/evaluate/index';
import { slidingWindows, type TextScore } from '@polyprune/gpu-runner/evaluate/perplexity';
import { tinyEvalModel } from './helpers.js';
import { plainTokenLogProbs } from './plain.js';
import { byteTokenizer } from '../helpers/tiny-lm.js';

const tok = byteTokenizer();
const texts = [
  'A short line.',
  'A much longer paragraph of held-out text that does not fit into the small context window used here, so it is windowed.',
  'Zweite Sprache: Grüße aus München, über die Brücke.',
];

describe('sliding windows', () => {
  it('score every position after the first exactly once', () => {
    for (const [n, L, stride] of [
      [10, 4, 2],
      [10, 4, 3],
      [9, 9, 4],
      [100, 16, 1],
      [2, 5, 2],
    ] as const) {
      const seen = new Uint8Array(n);
      for (const w of slidingWindows(n, L, stride)) {
        expect(w.end - w.begin).toBeLessThanOrEqual(L);
        expect(w.scoreFrom).toBeGreaterThanOrEqual(1);
        for (let p = w.begin + w.scoreFrom; p < w.end; p++) seen[p]!++;
      }
      expect(Array.from(seen)).toEqual(Array.from({ length: n }, (_, p) => (p === 0 ? 0 : 1)));
    }
    expect(slidingWindows(10, 4, 2).map((w) => [w.begin, w.end, w.scoreFrom])).toEqual([
      [0, 4, 1],
      [2, 6, 2],
      [4, 8, 2],
      [6, 10, 2],
    ]);
  });

  it('refuse a stride that leaves no context', () => {
    expect(() => slidingWindows(10, 4, 4)).toThrow(/stride/);
  });
});

/** Plain reference: windows written out here; each window run alone, its new tokens summed. */
async function plainNll(session: Parameters<typeof plainTokenLogProbs>[0], ids: number[], L: number, stride: number) {
  let nll = 0;
  let tokens = 0;
  let scored = 1;
  for (let begin = 0; scored < ids.length; begin += stride) {
    const end = Math.min(begin + L, ids.length);
    const lp = await plainTokenLogProbs(session, ids.slice(begin, end));
    for (let p = scored; p < end; p++) {
      nll -= lp[p - begin]!;
      tokens++;
    }
    scored = end;
  }
  return { nll, tokens };
}

describe.each(['plain', 'pastKv'] as const)('perplexity on the %s graph', (variant) => {
  it('equals the plain computation, windowed and not', async () => {
    for (const [L, stride] of [
      [512, 256],
      [48, 20],
      [48, 47],
    ] as const) {
      const model = await tinyEvalModel(variant, {}, L);
      const r = await evaluateSuite(
        model,
        texts.map((text) => ({ text })),
        'ppl',
        'en',
        { stride, maxBatchSize: 2 },
      );
      let nll = 0;
      let tokens = 0;
      for (let i = 0; i < texts.length; i++) {
        const ref = await plainNll(model.session, tok.encode(texts[i]!), L, stride);
        const got = (r.predictions as TextScore[])[i]!;
        expect(got.tokens).toBe(ref.tokens);
        expect(Math.abs(got.nll - ref.nll)).toBeLessThan(1e-5);
        nll += ref.nll;
        tokens += ref.tokens;
      }
      expect(r.scoring).toBe('perplexity');
      expect(r.metrics.tokens).toBe(tokens);
      expect(Math.abs(Math.log(r.metrics.perplexity!) - nll / tokens)).toBeLessThan(1e-9);
      const bytes = texts.reduce((s, t) => s + new TextEncoder().encode(t).length, 0);
      expect(r.metrics.bitsPerByte).toBeCloseTo(nll / Math.LN2 / bytes, 9);
    }
  });

  it('with a BOS the first token is scored too', async () => {
    const model = await tinyEvalModel(variant);
    const r = await evaluateSuite(model, [{ text: texts[0]! }], 'ppl', 'en', { bosId: tok.bosId });
    const lp = await plainTokenLogProbs(model.session, [tok.bosId!, ...tok.encode(texts[0]!)]);
    expect(r.metrics.tokens).toBe(lp.length - 1);
    expect(Math.abs(r.metrics.nll! + lp.slice(1).reduce((a, b) => a + b, 0))).toBeLessThan(1e-5);
  });
});
