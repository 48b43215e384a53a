import { describe, expect, it } from 'vitest';
import { firstWords, renderExample } from '@polyprune/gpu-runner/evaluate/templates';
import { resolveTemplateLang } from '@polyprune/shared/template-words';

describe('templates', () => {
  const xnli = { premise: 'P.', hypothesis: 'H.', label: 2 };

  it('XNLI: "{premise} , right? {Yes|Also|No} , {hypothesis}" split after "right?"', () => {
    const ex = renderExample('xnli', xnli)!;
    expect(ex.context).toBe('P. , right?');
    expect(ex.continuations).toEqual([' Yes , H.', ' Also , H.', ' No , H.']);
    expect(ex.continuations.map((c) => ex.context + c)[2]).toBe('P. , right? No , H.');
    expect(ex.label).toBe(2);
  });

  it('XNLI and MARC words follow the template language, English by default and as fallback', () => {
    expect(renderExample('xnli', xnli, 'de')!.continuations[0]).toBe(' Ja , H.');
    expect(renderExample('xnli', xnli, 'fr')!.context).toBe('P. , correct?');
    expect(renderExample('xnli', xnli, 'ru')!.continuations[2]).toBe(' Нет , H.');
    expect(renderExample('xnli', xnli, 'es-MX')!.continuations[0]).toBe(' Sí , H.');
    expect(renderExample('xnli', xnli, 'sw')!.continuations[0]).toBe(' Ndiyo , H.');
    expect(renderExample('xnli', xnli, 'ja')!.continuations[0]).toBe(' Yes , H.');
    expect(renderExample('marc', { text: 'Gut.', stars: 5 }, 'de')).toEqual({ context: 'Gut. Es ist', continuations: [' negativ', ' positiv'], label: 1 });
  });

  it('MARC: first 128 words, "It is negative|positive", 3 stars dropped', () => {
    const text = Array.from({ length: 130 }, (_, i) => `w${i}`).join('  ');
    const ex = renderExample('marc', { text, stars: 2 })!;
    expect(ex.context).toBe(`${firstWords(text)} It is`);
    expect(ex.context.split(' ').length).toBe(128 + 2);
    expect(ex.context.startsWith('w0 w1 ')).toBe(true);
    expect(ex.continuations).toEqual([' negative', ' positive']);
    expect(ex.label).toBe(0);
    expect(renderExample('marc', { text: 'ok', stars: 3 })).toBeNull();
    expect(renderExample('marc', { text: 'ok', stars: 1 })!.label).toBe(0);
    expect(renderExample('marc', { text: 'ok', stars: 4 })!.label).toBe(1);
  });

  it('PAWS-X as the harness: empty context, choices No (0) and Yes (1)', () => {
    const ex = renderExample('pawsx', { sentence1: 'A.', sentence2: 'B.', label: 1 })!;
    expect(ex).toEqual({ context: '', continuations: ['A., right? No, B.', 'A., right? Yes, B.'], label: 1 });
  });

  it('XCOPA as the harness: premise without its full stop + because/therefore, choice lower-cased', () => {
    const row = { premise: 'The man broke his toe.', choice1: 'He dropped a hammer.', choice2: 'He ran.', question: 'cause' as const, label: 0 };
    expect(renderExample('xcopa', row)).toEqual({
      context: 'The man broke his toe because',
      continuations: [' he dropped a hammer.', ' he ran.'],
      label: 0,
    });
    expect(renderExample('xcopa', { ...row, question: 'effect' })!.context).toBe('The man broke his toe therefore');
    expect(renderExample('xcopa', row, 'it')!.context).toBe('The man broke his toe perché');
  });

  it('XStoryCloze: four sentences joined, endings as continuations', () => {
    const ex = renderExample('xstorycloze', { sentences: ['a.', 'b.', 'c.', 'd.'], endings: ['E1.', 'E2.'], label: 1 })!;
    expect(ex).toEqual({ context: 'a. b. c. d.', continuations: [' E1.', ' E2.'], label: 1 });
  });

  it('generic mc: context + " " + choice', () => {
    expect(renderExample('mc', { context: 'Q?', choices: ['x', 'y', 'z'], label: 2 })).toEqual({
      context: 'Q?',
      continuations: [' x', ' y', ' z'],
      label: 2,
    });
  });

  it('localised words per language as the harness tasks: XNLI, PAWS-X, XCOPA', () => {
    expect(renderExample('xnli', xnli, 'zh')).toEqual({ context: 'P. , 正确?', continuations: [' 是的 , H.', ' 所以 , H.', ' 不是的 , H.'], label: 2 });
    expect(renderExample('xnli', xnli, 'ar')!.continuations[2]).toBe(' لا , H.');
    expect(renderExample('pawsx', { sentence1: 'A.', sentence2: 'B.', label: 1 }, 'ja')!.continuations).toEqual([
      'A., ですね? いいえ, B.',
      'A., ですね? はい, B.',
    ]);
    const row = { premise: 'Il vetro si è rotto.', choice1: 'È caduto.', choice2: 'Ha cantato.', question: 'effect' as const, label: 0 };
    expect(renderExample('xcopa', row, 'tr')!.context).toBe('Il vetro si è rotto bu yüzden');
    expect(renderExample('xcopa', { ...row, question: 'cause' }, 'zh')!.context).toBe('Il vetro si è rotto 因为');
  });

  it('"auto" resolves to the suite language where the format has its words, else English', () => {
    expect(resolveTemplateLang('auto', 'xnli', 'sw')).toBe('sw');
    expect(resolveTemplateLang('auto', 'xnli', 'ja')).toBe('en');
    expect(resolveTemplateLang('auto', 'pawsx', 'ja')).toBe('ja');
    expect(resolveTemplateLang('auto', 'xcopa', 'zh-Hant')).toBe('zh');
    expect(resolveTemplateLang('auto', 'xcopa', 'fr')).toBe('en');
    // An explicit language is used for every suite, English where the format has no words for it.
    expect(resolveTemplateLang('fr', 'xnli', 'de')).toBe('fr');
    expect(resolveTemplateLang('it', 'xnli', 'de')).toBe('en');
    // XStoryCloze and generic mc have no template words: they render in the suite's language.
    expect(resolveTemplateLang('auto', 'xstorycloze', 'eu')).toBe('eu');
    expect(resolveTemplateLang('en', 'xstorycloze', 'eu')).toBe('eu');
  });
});
