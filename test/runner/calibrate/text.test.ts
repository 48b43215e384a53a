import { describe, expect, it } from 'vitest';
import {
  buildCalibrationText,
  encodesEosLiterally,
  requiredPairs,
  tokenizeCalibration,
  truncation,
  type CalibrationTokenizer,
  type SentencePair,
} from '@polyprune/gpu-runner/calibrate/text';
import { fromJson } from '@polyprune/gpu-runner/tokenize/index';

const EOS = '</s>';
const corpus: SentencePair[] = [
  { src: 'Bonjour.', tgt: 'Hello.' },
  { src: 'Le chat dort.', tgt: 'The cat sleeps.' },
  { src: 'Il pleut.', tgt: 'It rains.' },
  { src: 'Merci.', tgt: 'Thanks.' },
  { src: 'Oui.', tgt: 'Yes.' },
  { src: 'Non.', tgt: 'No.' },
  { src: 'Au revoir.', tgt: 'Goodbye.' },
  { src: 'Bonne nuit.', tgt: 'Good night.' },
];
const base = { srcLang: 'fr', tgtLang: 'en', eosToken: EOS };

describe('buildCalibrationText', () => {
  it('mt, X→English: consecutive pairs, one skipped between samples, EOS after each side', () => {
    const { texts, contrastTexts } = buildCalibrationText(corpus, { ...base, dataType: 'mt', shots: 2, samples: 3 });
    expect(texts).toEqual([
      'French: Bonjour.</s>English: Hello.</s>French: Le chat dort.</s>English: The cat sleeps.</s>',
      // pair 2 ("Il pleut.") is skipped
      'French: Merci.</s>English: Thanks.</s>French: Oui.</s>English: Yes.</s>',
      // pair 5 ("Non.") is skipped
      'French: Au revoir.</s>English: Goodbye.</s>French: Bonne nuit.</s>English: Good night.</s>',
    ]);
    expect(contrastTexts).toBeUndefined();
  });

  it('mt, reverse direction (English→X)', () => {
    const { texts } = buildCalibrationText(corpus, { ...base, dataType: 'mt', shots: 1, samples: 2, direction: 'reverse' });
    expect(texts).toEqual(['English: Hello.</s>French: Bonjour.</s>', 'English: It rains.</s>French: Il pleut.</s>']);
  });

  it('mono: "{Name}: {s}{EOS}" only, same pair indexing', () => {
    const { texts } = buildCalibrationText(corpus, { ...base, dataType: 'mono', shots: 3, samples: 2 });
    expect(texts).toEqual(['French: Bonjour.</s>French: Le chat dort.</s>French: Il pleut.</s>', 'French: Oui.</s>French: Non.</s>French: Au revoir.</s>']);
    const rev = buildCalibrationText(corpus, { ...base, dataType: 'mono', shots: 1, samples: 1, direction: 'reverse' });
    expect(rev.texts).toEqual(['English: Hello.</s>']);
  });

  it('mt-contrast: translation texts plus contrast texts from the second corpus with literal names', () => {
    const code: SentencePair[] = [
      { src: 'print(1)', tgt: 'System.out.println(1);' },
      { src: 'x = []', tgt: 'var x = new ArrayList<>();' },
      { src: 'pass', tgt: ';' },
    ];
    const out = buildCalibrationText(corpus, {
      ...base,
      dataType: 'mt-contrast',
      shots: 1,
      samples: 2,
      contrast: { pairs: code, srcLang: 'und', tgtLang: 'und', srcName: 'Python', tgtName: 'Java', kind: 'mt' },
    });
    expect(out.texts).toEqual(['French: Bonjour.</s>English: Hello.</s>', 'French: Il pleut.</s>English: It rains.</s>']);
    expect(out.contrastTexts).toEqual(['Python: print(1)</s>Java: System.out.println(1);</s>', 'Python: pass</s>Java: ;</s>']);
    const mono = buildCalibrationText(corpus, {
      ...base,
      dataType: 'mt-contrast',
      shots: 2,
      samples: 1,
      contrast: { pairs: code, srcLang: 'und', tgtLang: 'und', srcName: 'Python', tgtName: 'Java', kind: 'mono' },
    });
    expect(mono.contrastTexts).toEqual(['Python: print(1)</s>Python: x = []</s>']);
  });

  it('needs samples·(shots+1)−1 pairs: errors by default, wraps on request', () => {
    expect(requiredPairs(4, 100)).toBe(499);
    expect(requiredPairs(2, 3)).toBe(8);
    expect(() => buildCalibrationText(corpus, { ...base, dataType: 'mt', shots: 2, samples: 4 })).toThrow(/need 11 pairs, found 8/);
    const { texts } = buildCalibrationText(corpus, { ...base, dataType: 'mono', shots: 2, samples: 4, onShortCorpus: 'wrap' });
    // sample 3 starts at pair 9 → 9 mod 8 = 1, then 2
    expect(texts[3]).toBe('French: Le chat dort.</s>French: Il pleut.</s>');
    expect(texts[2]).toBe('French: Au revoir.</s>French: Bonne nuit.</s>');
  });

  it('validates its options', () => {
    expect(() => buildCalibrationText(corpus, { ...base, dataType: 'mt', shots: 0, samples: 1 })).toThrow(/shots/);
    expect(() => buildCalibrationText(corpus, { ...base, dataType: 'mt', shots: 1, samples: 1, eosToken: '' })).toThrow(/eosToken/);
    expect(() => buildCalibrationText([], { ...base, dataType: 'mt', shots: 1, samples: 1 })).toThrow(/no sentence pairs/);
    expect(() => buildCalibrationText(corpus, { ...base, dataType: 'mt-contrast', shots: 1, samples: 1 })).toThrow(/contrast corpus/);
    expect(() => buildCalibrationText(corpus, { ...base, srcLang: 'xx', dataType: 'mt', shots: 1, samples: 1 })).toThrow(/xx/);
  });
});

/**
 * Fake tokenizers: one id per character (code point + 100). `eosAware` recognizes the literal EOS
 * string as id 2 (like an HF added token); the other spells it out character by character.
 */
function fakeTokenizer(eosAware: boolean): CalibrationTokenizer {
  const chars = (s: string) => [...s].map((c) => c.codePointAt(0)! + 100);
  return {
    eosId: 2,
    eosToken: EOS,
    padId: 0,
    encode: (text) => (eosAware ? text.split(EOS).flatMap((p, i) => (i ? [2, ...chars(p)] : chars(p))) : chars(text)),
  };
}

/** Hand-computed ids of "ab</s>c</s>" under the fake tokenizers. */
const abc = ['a', 'b'].map((c) => c.charCodeAt(0) + 100).concat([2, 'c'.charCodeAt(0) + 100, 2]);

describe('tokenizeCalibration', () => {
  it('pads right with padId (attention 0) and truncates on the right', () => {
    const tok = fakeTokenizer(true);
    const b = tokenizeCalibration(['ab</s>c</s>', 'ab</s>c</s>ab'], tok, 6);
    expect(b.samples).toBe(2);
    expect(b.maxLength).toBe(6);
    expect([...b.inputIds].map(Number)).toEqual([...abc, 0, ...abc, 197]);
    expect([...b.attentionMask].map(Number)).toEqual([1, 1, 1, 1, 1, 0, 1, 1, 1, 1, 1, 1]);
    expect([...b.lengths]).toEqual([5, 6]);
  });

  it('splices eosId between pieces when the tokenizer does not map the EOS string', () => {
    expect(encodesEosLiterally(fakeTokenizer(true))).toBe(true);
    expect(encodesEosLiterally(fakeTokenizer(false))).toBe(false);
    const a = tokenizeCalibration(['ab</s>c</s>'], fakeTokenizer(true), 8);
    const b = tokenizeCalibration(['ab</s>c</s>'], fakeTokenizer(false), 8);
    expect([...b.inputIds].map(Number)).toEqual([...abc, 0, 0, 0]);
    expect([...b.inputIds]).toEqual([...a.inputIds]);
  });

  it('puts prefix ids first, inside maxLength', () => {
    const b = tokenizeCalibration(['ab</s>c</s>'], fakeTokenizer(true), 4, { prefixIds: [1] });
    expect([...b.inputIds].map(Number)).toEqual([1, ...abc.slice(0, 3)]);
    expect(b.lengths[0]).toBe(4);
  });

  it('records each sample length before the cut; truncation lists the samples cut at maxLength', () => {
    // 6, 8 and 3 ids (prefix included), maxLength 5: the first two are cut
    const b = tokenizeCalibration(['ab</s>c</s>', 'ab</s>c</s>ab', 'ab'], fakeTokenizer(true), 5, { prefixIds: [1] });
    expect([...b.fullLengths]).toEqual([6, 8, 3]);
    expect([...b.lengths]).toEqual([5, 5, 3]);
    expect(truncation(b)).toEqual({ samples: 2, tokenLengths: [6, 8] });
    expect(truncation(tokenizeCalibration(['ab'], fakeTokenizer(true), 5))).toEqual({ samples: 0, tokenLengths: [] });
  });

  it('rejects empty input and bad maxLength', () => {
    expect(() => tokenizeCalibration([], fakeTokenizer(true), 4)).toThrow(/no calibration texts/);
    expect(() => tokenizeCalibration(['a'], fakeTokenizer(true), 0)).toThrow(/maxLength/);
  });
});

describe('with a real tokenizer.json (@huggingface/tokenizers)', () => {
  const vocab: Record<string, number> = {
    '[UNK]': 0,
    '<s>': 1,
    '</s>': 2,
    '<pad>': 3,
    French: 4,
    English: 5,
    ':': 6,
    Bonjour: 7,
    Hello: 8,
    '.': 9,
    Le: 10,
    chat: 11,
    dort: 12,
    The: 13,
    cat: 14,
    sleeps: 15,
  };
  const special = (id: number, content: string) => ({
    id,
    content,
    single_word: false,
    lstrip: false,
    rstrip: false,
    normalized: false,
    special: true,
  });
  const tokenizerJson = (eosAdded: boolean) => ({
    version: '1.0',
    added_tokens: [special(1, '<s>'), ...(eosAdded ? [special(2, '</s>')] : []), special(3, '<pad>')],
    normalizer: null,
    pre_tokenizer: { type: 'Whitespace' },
    post_processor: null,
    decoder: { type: 'WordPiece', prefix: '##', cleanup: true },
    model: { type: 'WordPiece', unk_token: '[UNK]', continuing_subword_prefix: '##', max_input_chars_per_word: 100, vocab },
  });

  it('maps the literal EOS to its id, and the splice path gives the same ids when it does not', () => {
    const real = fromJson(tokenizerJson(true), { eos_token: '</s>', pad_token: '<pad>' }, {});
    // Without </s> among the added tokens the tokenizer would split it into [UNK]s.
    const noEos = fromJson(tokenizerJson(false), { eos_token: '</s>', pad_token: '<pad>' }, { eos_token_id: 2 });
    expect(encodesEosLiterally(real)).toBe(true);
    expect(encodesEosLiterally(noEos)).toBe(false);

    const { texts } = buildCalibrationText(corpus, { ...base, eosToken: real.eosToken, dataType: 'mt', shots: 2, samples: 1 });
    // French : Bonjour . </s> English : Hello . </s> French : Le chat dort . </s> English : The cat sleeps . </s>
    const want = [4, 6, 7, 9, 2, 5, 6, 8, 9, 2, 4, 6, 10, 11, 12, 9, 2, 5, 6, 13, 14, 15, 9, 2];
    const a = tokenizeCalibration(texts, real, 26);
    const b = tokenizeCalibration(texts, noEos, 26);
    expect([...a.inputIds].map(Number)).toEqual([...want, 3, 3]);
    expect([...b.inputIds]).toEqual([...a.inputIds]);
    expect([...a.attentionMask].map(Number)).toEqual([...want.map(() => 1), 0, 0]);
  });
});
