/**
 * Does text fit the script of its declared language? Arabic text labelled `zh` is almost always a
 * swapped column or a wrong code, so the upload says so (a warning in stats, the data is kept).
 */

// ISO 15924 codes as Unicode Script property values; a language's usual script may be a mix.
const accepted: Record<string, string[]> = {
  Hans: ['Hani'],
  Hant: ['Hani'],
  Jpan: ['Hani', 'Hira', 'Kana'],
  Kore: ['Hang', 'Hani'],
};
const detectable = [
  'Latn',
  'Cyrl',
  'Arab',
  'Grek',
  'Hebr',
  'Deva',
  'Beng',
  'Guru',
  'Gujr',
  'Orya',
  'Taml',
  'Telu',
  'Knda',
  'Mlym',
  'Sinh',
  'Thai',
  'Laoo',
  'Tibt',
  'Mymr',
  'Geor',
  'Armn',
  'Ethi',
  'Khmr',
  'Hang',
  'Hira',
  'Kana',
  'Hani',
  'Tfng',
];
const patterns = detectable.map((s) => [s, new RegExp(`\\p{Script=${s}}`, 'u')] as const);
const letter = /\p{L}/u;

/** Letters looked at: enough to tell, cheap on a 50 MB upload. */
const SAMPLE_LETTERS = 20_000;

/** A character's class: its index in `detectable`, OTHER (a letter of another script) or NOT_LETTER. */
const OTHER = detectable.length;
const NOT_LETTER = 254;
const classOf = (ch: string): number => {
  if (!letter.test(ch)) return NOT_LETTER;
  const i = patterns.findIndex(([, re]) => re.test(ch));
  return i === -1 ? OTHER : i;
};
/**
 * Each BMP code unit's class + 1 (0: not looked at yet), filled as characters are met: the Unicode
 * property regexes then run once per distinct character per isolate instead of twice per letter.
 */
const bmpClass = new Uint8Array(0x10000);

export interface ScriptWarning {
  field: string;
  lang: string;
  expected: string;
  found: string;
  /** share of letters in the expected script */
  share: number;
  message: string;
}

/**
 * The first SAMPLE_LETTERS letters of a stream of texts, tallied by script as the texts arrive (an
 * upload is never held whole to be looked at afterwards).
 */
export class ScriptSample {
  /** letters per class, and the classes in the order first met (the most frequent one's ties go to the first met) */
  private readonly tally = new Array<number>(OTHER + 1).fill(0);
  private readonly met: number[] = [];
  private letters = 0;

  add(text: string): void {
    if (this.letters >= SAMPLE_LETTERS) return;
    for (let i = 0; i < text.length; i++) {
      const c = text.charCodeAt(i);
      let k: number;
      const low = c >= 0xd800 && c <= 0xdbff && i + 1 < text.length ? text.charCodeAt(i + 1) : 0;
      if (low >= 0xdc00 && low <= 0xdfff) {
        // a code point beyond the BMP (a surrogate pair): rare enough to classify each time
        k = classOf(text.slice(i, i + 2));
        i++;
      } else {
        k = bmpClass[c]! - 1;
        if (k < 0) {
          k = classOf(String.fromCharCode(c));
          bmpClass[c] = k + 1;
        }
      }
      if (k === NOT_LETTER) continue;
      this.letters++;
      if (this.tally[k] === 0) this.met.push(k);
      this.tally[k]! += 1;
      if (this.letters >= SAMPLE_LETTERS) return;
    }
  }

  /** A warning when under half of the sampled letters are in `script` (the language's usual script). */
  warning(field: string, lang: string, script: string): ScriptWarning | null {
    const want = new Set(accepted[script] ?? [script]);
    const letters = this.letters;
    // Scripts this check cannot recognise are not second-guessed.
    if (letters === 0 || !detectable.some((s) => want.has(s))) return null;
    const counts = this.met.map((k) => [k === OTHER ? 'other' : detectable[k]!, this.tally[k]!] as const);
    let inScript = 0;
    for (const [s, n] of counts) if (want.has(s)) inScript += n;
    const share = inScript / letters;
    if (share >= 0.5) return null;
    const found = [...counts].sort((a, b) => b[1] - a[1])[0]![0];
    return {
      field,
      lang,
      expected: script,
      found,
      share: Math.round(share * 1000) / 1000,
      message: `${field}: only ${Math.round(share * 100)}% of letters are in ${script}, the usual script of "${lang}"; most are ${found}`,
    };
  }
}
