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
  private readonly counts = new Map<string, number>();
  private letters = 0;

  add(text: string): void {
    if (this.letters >= SAMPLE_LETTERS) return;
    for (const ch of text) {
      if (!letter.test(ch)) continue;
      this.letters++;
      const hit = patterns.find(([, re]) => re.test(ch))?.[0] ?? 'other';
      this.counts.set(hit, (this.counts.get(hit) ?? 0) + 1);
      if (this.letters >= SAMPLE_LETTERS) return;
    }
  }

  /** A warning when under half of the sampled letters are in `script` (the language's usual script). */
  warning(field: string, lang: string, script: string): ScriptWarning | null {
    const want = new Set(accepted[script] ?? [script]);
    const letters = this.letters;
    // Scripts this check cannot recognise are not second-guessed.
    if (letters === 0 || !detectable.some((s) => want.has(s))) return null;
    let inScript = 0;
    for (const [s, n] of this.counts) if (want.has(s)) inScript += n;
    const share = inScript / letters;
    if (share >= 0.5) return null;
    const found = [...this.counts.entries()].sort((a, b) => b[1] - a[1])[0]![0];
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
