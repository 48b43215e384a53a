import { describe, expect, it } from 'vitest';
import { englishWords, localizedWords, resolveTemplateLang, templateWords } from '@polyprune/shared/template-words';

describe('resolveTemplateLang', () => {
  it('auto: the suite language where the format has words for it, else English', () => {
    expect(resolveTemplateLang('auto', 'xnli', 'de')).toBe('de');
    expect(resolveTemplateLang('auto', 'xnli', 'de-CH')).toBe('de'); // primary subtag
    expect(resolveTemplateLang('auto', 'xnli', 'eu')).toBe('en'); // no Basque words
    expect(resolveTemplateLang('auto', 'marc', 'de')).toBe('de');
  });

  it('an explicit language is used where it has words for the format', () => {
    expect(resolveTemplateLang('fr', 'xnli', 'de')).toBe('fr');
    expect(resolveTemplateLang('en', 'xnli', 'de')).toBe('en');
    // Arabic has XNLI words but no MARC words.
    expect(localizedWords.ar?.marc).toBeUndefined();
    expect(resolveTemplateLang('ar', 'marc', 'de')).toBe('en');
  });

  it('formats without words render in the suite language', () => {
    expect(resolveTemplateLang('auto', 'xstorycloze', 'eu')).toBe('eu');
    expect(resolveTemplateLang('en', 'ppl', 'fr-CA')).toBe('fr');
  });
});

describe('templateWords', () => {
  it("gives a language's words, and English where it has none for the format", () => {
    expect(templateWords('de', 'xnli')).toEqual({ right: 'richtig?', yes: 'Ja', also: 'Auch', no: 'Nein' });
    expect(templateWords('de-AT', 'xnli')).toEqual(templateWords('de', 'xnli'));
    expect(templateWords('ar', 'marc')).toEqual(englishWords.marc);
    expect(templateWords('xx', 'xcopa')).toEqual(englishWords.xcopa);
  });

  it('every localised entry has every word of its format', () => {
    for (const [lang, formats] of Object.entries(localizedWords)) {
      for (const [format, words] of Object.entries(formats)) {
        const keys = Object.keys(englishWords[format as keyof typeof englishWords]).sort();
        expect(Object.keys(words as object).sort(), `${lang} ${format}`).toEqual(keys);
        for (const w of Object.values(words as object)) expect(String(w).trim().length, `${lang} ${format}`).toBeGreaterThan(0);
      }
    }
  });
});
