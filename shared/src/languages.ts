/**
 * English names used in prompts (the reference writes "French: …", "English: …").
 * Codes are BCP-47 primary subtags; regions/scripts fall back to the primary language name.
 */
export const languageNames: Record<string, string> = {
  ar: 'Arabic',
  bg: 'Bulgarian',
  bn: 'Bengali',
  ca: 'Catalan',
  cs: 'Czech',
  da: 'Danish',
  de: 'German',
  el: 'Greek',
  en: 'English',
  es: 'Spanish',
  et: 'Estonian',
  eu: 'Basque',
  fa: 'Persian',
  fi: 'Finnish',
  fr: 'French',
  he: 'Hebrew',
  hi: 'Hindi',
  ht: 'Haitian',
  hu: 'Hungarian',
  id: 'Indonesian',
  it: 'Italian',
  ja: 'Japanese',
  ko: 'Korean',
  my: 'Burmese',
  nl: 'Dutch',
  no: 'Norwegian',
  pl: 'Polish',
  pt: 'Portuguese',
  qu: 'Quechua',
  ro: 'Romanian',
  ru: 'Russian',
  sk: 'Slovak',
  sv: 'Swedish',
  sw: 'Swahili',
  ta: 'Tamil',
  te: 'Telugu',
  th: 'Thai',
  tr: 'Turkish',
  uk: 'Ukrainian',
  ur: 'Urdu',
  vi: 'Vietnamese',
  zh: 'Chinese',
};

// BCP-47 (RFC 5646) language tag, well-formedness only: language[-script][-region][-variant]*.
const bcp47 = /^[a-z]{2,3}(?:-[A-Z][a-z]{3})?(?:-(?:[A-Z]{2}|\d{3}))?(?:-(?:[a-zA-Z0-9]{5,8}|\d[a-zA-Z0-9]{3}))*$/;

export function isBcp47(tag: string): boolean {
  return bcp47.test(tag);
}

export function primaryLanguage(tag: string): string {
  return tag.split('-')[0]!.toLowerCase();
}

/** English name of a language for prompts; throws for a code polyprune has no name for. */
export function languageName(tag: string): string {
  const name = languageNames[primaryLanguage(tag)];
  if (!name) throw new Error(`no English name known for language "${tag}"`);
  return name;
}
