import { describe, expect, it } from 'vitest';
import { bleuStats, corpusBleu, sentenceBleu } from '@polyprune/gpu-runner/evaluate/bleu';
import { corpusChrf } from '@polyprune/gpu-runner/evaluate/chrf';
import { evaluateSuite } from '@polyprune/gpu-runner/evaluate/index';
import { greedyDecode, translationPromptText, translationPromptTokens, type TranslationPrediction } from '@polyprune/gpu-runner/evaluate/translate';
import { logitBudget } from '@polyprune/gpu-runner/evaluate/model';
import { tinyEvalModel, variants } from './helpers.js';
import { plainArgmax, plainLogits } from './plain.js';
import { byteTokenizer } from '../helpers/tiny-lm.js';

const tok = byteTokenizer();
const pairs = [
  { src: 'Bonjour.', tgt: 'Hello.' },
  { src: 'Merci beaucoup.', tgt: 'Thank you very much.' },
  { src: 'Le chat dort.', tgt: 'The cat sleeps.' },
  { src: 'Il pleut.', tgt: 'It rains.' },
  { src: 'Où est la gare ?', tgt: 'Where is the station?' },
  { src: 'Il neige.', tgt: 'It snows.' },
];

describe('translation prompt', () => {
  it('uses the calibration format', () => {
    expect(translationPromptText(pairs.slice(0, 2), 'Il pleut.', 'French', 'English', '</s>')).toBe(
      'French: Bonjour.</s>English: Hello.</s>French: Merci beaucoup.</s>English: Thank you very much.</s>French: Il pleut.</s>English:',
    );
    const ids = Array.from(translationPromptTokens(tok, pairs.slice(0, 1), 'Il pleut.', 'French', 'English'));
    expect(ids).toEqual([
      ...tok.encode('French: Bonjour.'),
      1,
      ...tok.encode('English: Hello.'),
      1,
      ...tok.encode('French: Il pleut.'),
      1,
      ...tok.encode('English:'),
    ]);
    expect(tok.decode(ids)).toBe(translationPromptText(pairs.slice(0, 1), 'Il pleut.', 'French', 'English', '</s>'));
  });
});

/** Plain greedy loop: full recompute, batch 1, argmax over plain numbers. */
async function plainGreedy(session: Parameters<typeof plainLogits>[0], prompt: number[], maxNew: number, eos: number): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < maxNew; i++) {
    const logits = await plainLogits(session, [...prompt, ...out]);
    const t = plainArgmax(logits[logits.length - 1]!);
    if (t === eos) break;
    out.push(t);
  }
  return out;
}

describe.each(variants)('greedy decoding on the %s graph', (variant) => {
  it('equals the plain loop for prompts of equal and different lengths, any batch size', async () => {
    const model = await tinyEvalModel(variant);
    const prompts = ['French: Il pleut.', 'French: Il neige.', 'German: Guten Tag, wie geht es?', 'Hi'].map((s) => Int32Array.from(tok.encode(s)));
    // the tiny model hardly ever emits EOS, so also stop at a token it does emit: the 4th token of
    // prompt 2's continuation; rows then finish at different steps and leave the batch
    const stopAt = (await plainGreedy(model.session, Array.from(prompts[2]!), 4, -1))[3]!;
    for (const stopIds of [[tok.eosId], [stopAt]]) {
      const want: number[][] = [];
      for (const p of prompts) want.push(await plainGreedy(model.session, Array.from(p), 10, stopIds[0]!));
      if (stopIds[0] === stopAt) expect(want[2]!.length).toBeLessThan(4);
      for (const maxBatchSize of [1, 3]) {
        const { outputs } = await greedyDecode(model, prompts, { maxNewTokens: 10, maxBatchSize, stopIds });
        expect(outputs.map((o) => Array.from(o))).toEqual(want);
      }
    }
  });
});

describe('logits budget', () => {
  it('a sixteenth of the weights, between 4 Mi and 64 Mi floats', () => {
    expect(logitBudget(2e9)).toBe(Math.floor(2e9 / 64));
    expect(logitBudget(1e3)).toBe(2 ** 22);
    expect(logitBudget(1e12)).toBe(2 ** 26);
  });

  it('decoding keeps every pass within the model logits budget, with the same outputs', async () => {
    const model = await tinyEvalModel('pastKvPositionIds');
    const prompts = ['French: Il pleut.', 'French: Il neige.', 'German: Guten Tag, wie geht es?', 'Hi'].map((s) => Int32Array.from(tok.encode(s)));
    const free = await greedyDecode(model, prompts, { maxNewTokens: 6 });
    const vocab = model.tokenizer.vocabSize;
    const run = model.session.run.bind(model.session);
    let largest = 0;
    model.session.run = (async (...args: Parameters<typeof run>) => {
      const out = await run(...args);
      largest = Math.max(largest, out.logits!.data.length);
      return out;
    }) as typeof run;
    model.logitFloats = vocab * 40;
    const capped = await greedyDecode(model, prompts, { maxNewTokens: 6 });
    expect(capped.outputs.map((o) => Array.from(o))).toEqual(free.outputs.map((o) => Array.from(o)));
    // one prompt with its new tokens is ~37 tokens: a batch of one at most
    expect(largest).toBeGreaterThan(0);
    expect(largest).toBeLessThanOrEqual(vocab * 40);
  });
});

describe('translation suite', () => {
  it('uses the first rows as shots, decodes the rest and scores corpus chrF and BLEU', async () => {
    const model = await tinyEvalModel('pastKv');
    const r = await evaluateSuite(model, pairs, 'mt', 'fr', { numShots: 2, maxNewTokens: 8 });
    expect(r.scoring).toBe('chrf');
    expect(r.tgtLang).toBe('en');
    expect(r.n).toBe(4);
    expect(r.metrics.shots).toBe(2);
    const preds = r.predictions as TranslationPrediction[];
    expect(preds.map((p) => p.index)).toEqual([2, 3, 4, 5]);
    expect(r.metrics.chrf).toBeCloseTo(
      corpusChrf(
        preds.map((p) => p.hypothesis),
        pairs.slice(2).map((p) => p.tgt),
      ),
      12,
    );
    const hyps = preds.map((p) => p.hypothesis);
    const refs = pairs.slice(2).map((p) => p.tgt);
    expect(r.metrics.bleu).toBe(corpusBleu(hyps, refs));
    expect(preds.map((p) => p.bleuStats)).toEqual(hyps.map((h, i) => bleuStats(h, refs[i]!)));
    expect(preds.map((p) => p.bleu)).toEqual(hyps.map((h, i) => sentenceBleu(h, refs[i]!)));
    expect(r.signatures).toEqual({
      bleu: 'nrefs:1|case:mixed|eff:no|tok:13a|smooth:exp|version:2.6.0',
      chrf: 'nrefs:1|case:mixed|eff:yes|nc:6|nw:0|space:no|version:2.6.0',
    });
    // the hypothesis is what plain greedy decoding of the calibration-format prompt produces
    const prompt = Array.from(translationPromptTokens(tok, pairs.slice(0, 2), pairs[2]!.src, 'French', 'English'));
    const ids = await plainGreedy(model.session, prompt, 8, tok.eosId);
    expect(preds[0]!.hypothesis).toBe(tok.decode(ids).split('French:')[0]!.trim());
  });

  it('drops the earliest shots when the prompt would not fit', async () => {
    const model = await tinyEvalModel('plain', {}, 90);
    const r = await evaluateSuite(model, pairs, 'mt', 'fr', { shots: pairs.slice(0, 4), maxNewTokens: 4 });
    expect(r.n).toBe(6);
    expect((r.predictions as TranslationPrediction[]).every((p) => typeof p.hypothesis === 'string')).toBe(true);
  });
});
