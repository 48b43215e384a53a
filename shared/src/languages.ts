/**
 * Languages polyprune can name in prompts (the calibration template writes "French: …", "English: …")
 * and the codes researchers use for them: ISO 639-1, ISO 639-3 (macrolanguage and the individual
 * codes FLORES-200 picks, e.g. arb for Arabic, pes for Persian) and FLORES-200's `xxx_Scrp`.
 * Every accepted code is normalised to one canonical BCP-47 tag: the ISO 639-1 code where one
 * exists, else the ISO 639-3 code, plus a script subtag only when it is not the language's usual one.
 */

/** canonical code | English name | other ISO 639 codes (space separated) | usual script (ISO 15924) */
const table = `
af|Afrikaans|afr|Latn
am|Amharic|amh|Ethi
ar|Arabic|ara arb|Arab
ary|Moroccan Arabic||Arab
arz|Egyptian Arabic||Arab
as|Assamese|asm|Beng
ast|Asturian||Latn
az|Azerbaijani|aze azj azb|Latn
ba|Bashkir|bak|Cyrl
be|Belarusian|bel|Cyrl
bg|Bulgarian|bul|Cyrl
bn|Bengali|ben|Beng
bo|Tibetan|bod|Tibt
bs|Bosnian|bos|Latn
ca|Catalan|cat|Latn
ceb|Cebuano||Latn
cs|Czech|ces|Latn
cy|Welsh|cym|Latn
da|Danish|dan|Latn
de|German|deu|Latn
el|Greek|ell|Grek
en|English|eng|Latn
eo|Esperanto|epo|Latn
es|Spanish|spa|Latn
et|Estonian|est ekk|Latn
eu|Basque|eus|Latn
fa|Persian|fas pes|Arab
fi|Finnish|fin|Latn
fil|Filipino|tgl|Latn
fo|Faroese|fao|Latn
fr|French|fra|Latn
ga|Irish|gle|Latn
gd|Scottish Gaelic|gla|Latn
gl|Galician|glg|Latn
gn|Guarani|grn|Latn
gu|Gujarati|guj|Gujr
ha|Hausa|hau|Latn
he|Hebrew|heb|Hebr
hi|Hindi|hin|Deva
hr|Croatian|hrv|Latn
ht|Haitian|hat|Latn
hu|Hungarian|hun|Latn
hy|Armenian|hye|Armn
id|Indonesian|ind|Latn
ig|Igbo|ibo|Latn
ilo|Ilocano||Latn
is|Icelandic|isl|Latn
it|Italian|ita|Latn
ja|Japanese|jpn|Jpan
jv|Javanese|jav|Latn
ka|Georgian|kat|Geor
kk|Kazakh|kaz|Cyrl
km|Khmer|khm|Khmr
kn|Kannada|kan|Knda
ko|Korean|kor|Kore
ku|Kurdish|kur kmr|Latn
ckb|Central Kurdish||Arab
ky|Kyrgyz|kir|Cyrl
lb|Luxembourgish|ltz|Latn
lo|Lao|lao|Laoo
lt|Lithuanian|lit|Latn
lv|Latvian|lav lvs|Latn
mg|Malagasy|mlg plt|Latn
mi|Maori|mri|Latn
mk|Macedonian|mkd|Cyrl
ml|Malayalam|mal|Mlym
mn|Mongolian|mon khk|Cyrl
mr|Marathi|mar|Deva
ms|Malay|msa zsm|Latn
mt|Maltese|mlt|Latn
my|Burmese|mya|Mymr
nb|Norwegian Bokmål|nob|Latn
ne|Nepali|nep npi|Deva
nl|Dutch|nld|Latn
nn|Norwegian Nynorsk|nno|Latn
no|Norwegian|nor|Latn
ny|Chichewa|nya|Latn
oc|Occitan|oci|Latn
om|Oromo|orm gaz|Latn
or|Odia|ori ory|Orya
pa|Punjabi|pan|Guru
pl|Polish|pol|Latn
ps|Pashto|pus pbt|Arab
prs|Dari||Arab
pt|Portuguese|por|Latn
qu|Quechua|que quy|Latn
ro|Romanian|ron|Latn
ru|Russian|rus|Cyrl
rw|Kinyarwanda|kin|Latn
sa|Sanskrit|san|Deva
sd|Sindhi|snd|Arab
si|Sinhala|sin|Sinh
sk|Slovak|slk|Latn
sl|Slovenian|slv|Latn
sm|Samoan|smo|Latn
sn|Shona|sna|Latn
so|Somali|som|Latn
sq|Albanian|sqi als|Latn
sr|Serbian|srp|Cyrl
st|Southern Sotho|sot|Latn
su|Sundanese|sun|Latn
sv|Swedish|swe|Latn
sw|Swahili|swa swh|Latn
ta|Tamil|tam|Taml
te|Telugu|tel|Telu
tg|Tajik|tgk|Cyrl
th|Thai|tha|Thai
ti|Tigrinya|tir|Ethi
tk|Turkmen|tuk|Latn
tn|Tswana|tsn|Latn
tr|Turkish|tur|Latn
tt|Tatar|tat|Cyrl
ug|Uyghur|uig|Arab
uk|Ukrainian|ukr|Cyrl
ur|Urdu|urd|Arab
uz|Uzbek|uzb uzn|Latn
vi|Vietnamese|vie|Latn
wo|Wolof|wol|Latn
xh|Xhosa|xho|Latn
yi|Yiddish|yid ydd|Hebr
yo|Yoruba|yor|Latn
yue|Cantonese||Hant
zh|Chinese|zho cmn|Hans
zu|Zulu|zul|Latn
`;

interface Language {
  code: string;
  name: string;
  script: string;
}

const byCode = new Map<string, Language>();
for (const line of table.trim().split('\n')) {
  const [code, name, others, script] = line.split('|') as [string, string, string, string];
  const lang = { code, name, script };
  for (const c of [code, ...others.split(' ').filter(Boolean)]) byCode.set(c, lang);
}

// BCP-47 (RFC 5646) language tag, well-formedness only: language[-script][-region][-variant]*.
const bcp47 = /^[a-z]{2,3}(?:-[A-Z][a-z]{3})?(?:-(?:[A-Z]{2}|\d{3}))?(?:-(?:[a-zA-Z0-9]{5,8}|\d[a-zA-Z0-9]{3}))*$/;
// FLORES-200: ISO 639-3 code, underscore, ISO 15924 script.
const flores = /^([a-z]{3})_([A-Z][a-z]{3})$/;

/** Well-formed as a BCP-47 tag or a FLORES-200 code (whether polyprune knows the language or not). */
export function isLanguageCode(code: string): boolean {
  return bcp47.test(code) || flores.test(code);
}

export function primaryLanguage(tag: string): string {
  return tag.split(/[-_]/)[0]!.toLowerCase();
}

export type Normalised = { canonical: string; name: string; script: string } | { error: string };

/**
 * `fra_Latn`, `fra`, `fr` → `fr`; `zho_Hant` → `zh-Hant`; `pt-BR` stays `pt-BR`; `por-BR` → `pt-BR`.
 * `script` is the script text in this language is expected to be written in.
 */
export function normaliseLanguage(code: string): Normalised {
  const f = flores.exec(code);
  if (!f && !bcp47.test(code)) return { error: `"${code}" is not a language code (expected e.g. "fr", "fra" or "fra_Latn")` };
  const parts = f ? [f[1]!, f[2]!] : code.split('-');
  const lang = byCode.get(parts[0]!);
  if (!lang) return { error: `no English name known for language "${code}", so the calibration template cannot name it` };
  const rest = parts.slice(1).filter((p, i) => !(i === 0 && p === lang.script));
  const script = rest[0] && /^[A-Z][a-z]{3}$/.test(rest[0]) ? rest[0] : lang.script;
  return { canonical: [lang.code, ...rest].join('-'), name: lang.name, script };
}

/** English name of a language for prompts; throws for a code polyprune has no name for. */
export function languageName(tag: string): string {
  const n = normaliseLanguage(tag);
  if ('error' in n) throw new Error(`no English name known for language "${tag}"`);
  return n.name;
}
