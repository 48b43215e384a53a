/**
 * Localised words of the multiple-choice prompt templates, per language (primary subtag). The
 * XNLI, PAWS-X and XCOPA words are those of the lm-evaluation-harness tasks for those languages;
 * MARC's follow the reference paper. XStoryCloze's template has no words of its own (the story and
 * its endings only), so any language renders it the same.
 */
import { primaryLanguage } from './languages';

export interface TemplateWords {
  xnli: { right: string; yes: string; also: string; no: string };
  marc: { itIs: string; negative: string; positive: string };
  pawsx: { right: string; yes: string; no: string };
  xcopa: { because: string; therefore: string };
}
export type WordedFormat = keyof TemplateWords;

export const englishWords: TemplateWords = {
  xnli: { right: 'right?', yes: 'Yes', also: 'Also', no: 'No' },
  marc: { itIs: 'It is', negative: 'negative', positive: 'positive' },
  pawsx: { right: 'right?', yes: 'Yes', no: 'No' },
  xcopa: { because: 'because', therefore: 'therefore' },
};

const xnli = (right: string, yes: string, also: string, no: string) => ({ xnli: { right: `${right}?`, yes, also, no } });
const pawsx = (right: string, yes: string, no: string) => ({ right: `${right}?`, yes, no });
const xcopa = (because: string, therefore: string) => ({ because, therefore });

/** A language missing here, or a format missing for it, renders in English. */
export const localizedWords: Record<string, Partial<TemplateWords>> = {
  en: englishWords,
  ar: { ...xnli('صحيح', 'نعم', 'لذا', 'لا') },
  bg: { ...xnli('правилно', 'да', 'така', 'не') },
  de: {
    ...xnli('richtig', 'Ja', 'Auch', 'Nein'),
    marc: { itIs: 'Es ist', negative: 'negativ', positive: 'positiv' },
    pawsx: pawsx('richtig', 'Ja', 'Nein'),
  },
  el: { ...xnli('σωστός', 'Ναί', 'Έτσι', 'όχι') },
  es: {
    ...xnli('correcto', 'Sí', 'Asi que', 'No'),
    marc: { itIs: 'Es', negative: 'negativo', positive: 'positivo' },
    pawsx: pawsx('verdad', 'Sí', 'No'),
  },
  et: { xcopa: xcopa('sest', 'seetõttu') },
  fr: {
    ...xnli('correct', 'Oui', 'Aussi', 'Non'),
    marc: { itIs: "C'est", negative: 'négatif', positive: 'positif' },
    pawsx: pawsx("n'est-ce pas", 'Oui', 'Non'),
  },
  hi: { ...xnli('सही', 'हाँ', 'इसलिए', 'नहीं') },
  ht: { xcopa: xcopa('poukisa', 'donk sa') },
  id: { xcopa: xcopa('karena', 'maka') },
  it: { xcopa: xcopa('perché', 'quindi') },
  ja: { pawsx: pawsx('ですね', 'はい', 'いいえ') },
  ko: { pawsx: pawsx('맞죠', '예', '아니요') },
  qu: { xcopa: xcopa('imataq', 'chaymi') },
  ru: { ...xnli('правильно', 'Да', 'Так', 'Нет'), marc: { itIs: 'Это', negative: 'отрицательно', positive: 'положительно' } },
  sw: { ...xnli('sahihi', 'Ndiyo', 'Hivyo', 'Hapana'), xcopa: xcopa('kwa sababu', 'kwa hiyo') },
  ta: { xcopa: xcopa('காரணமாக', 'எனவே') },
  th: { ...xnli('ถูกต้อง', 'ใช่', 'ดังนั้น', 'ไม่'), xcopa: xcopa('เพราะ', 'ดังนั้น') },
  tr: { ...xnli('doğru', 'Evet', 'Böylece', 'Hayır'), xcopa: xcopa('çünkü', 'bu yüzden') },
  ur: { ...xnli('صحیح', 'جی ہاں', 'اس لئے', 'نہیں') },
  vi: { ...xnli('đúng', 'Vâng', 'Vì vậy', 'Không'), xcopa: xcopa('bởi vì', 'vì vậy') },
  zh: {
    ...xnli('正确', '是的', '所以', '不是的'),
    pawsx: pawsx('对吧', '是', '不是'),
    xcopa: xcopa('因为', '所以'),
  },
};

/** Explicit `templateLang` values a job may ask for; "auto" picks each suite's own language. */
export const templateLanguages = Object.keys(localizedWords);

export function isWordedFormat(format: string): format is WordedFormat {
  return format in englishWords;
}

/**
 * The language whose words a suite is rendered with: with "auto", the suite's language where the
 * format has words for it, else English; an explicit language is used as asked (English for a
 * format it has no words for). Formats without template words render in the suite's language.
 */
export function resolveTemplateLang(requested: string, format: string, suiteLang: string): string {
  const lang = primaryLanguage(requested === 'auto' ? suiteLang : requested);
  if (!isWordedFormat(format)) return primaryLanguage(suiteLang);
  return localizedWords[lang]?.[format] ? lang : 'en';
}

export function templateWords<K extends WordedFormat>(lang: string, format: K): TemplateWords[K] {
  return (localizedWords[primaryLanguage(lang)]?.[format] as TemplateWords[K] | undefined) ?? englishWords[format];
}
