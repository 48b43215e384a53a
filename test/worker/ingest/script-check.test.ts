/**
 * The script sample classifies each distinct character once per isolate; its warnings must be those
 * of the straightforward tally (two Unicode property regexes per character), written out here.
 */
import { describe, expect, it } from 'vitest';
import { ScriptSample } from '@polyprune/worker/ingest/script-check';

const scripts = [
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
const accepted: Record<string, string[]> = { Hans: ['Hani'], Hant: ['Hani'], Jpan: ['Hani', 'Hira', 'Kana'], Kore: ['Hang', 'Hani'] };

/** The reference: every code point of the first 20,000 letters, tested with regexes, tallied in a Map in order met. */
function reference(texts: string[], script: string) {
  const counts = new Map<string, number>();
  let letters = 0;
  outer: for (const t of texts)
    for (const ch of t) {
      if (letters >= 20_000) break outer;
      if (!/\p{L}/u.test(ch)) continue;
      letters++;
      const s = scripts.find((x) => new RegExp(`\\p{Script=${x}}`, 'u').test(ch)) ?? 'other';
      counts.set(s, (counts.get(s) ?? 0) + 1);
    }
  const want = new Set(accepted[script] ?? [script]);
  if (letters === 0 || !scripts.some((s) => want.has(s))) return null;
  let inScript = 0;
  for (const [s, n] of counts) if (want.has(s)) inScript += n;
  const share = inScript / letters;
  if (share >= 0.5) return null;
  return { found: [...counts.entries()].sort((a, b) => b[1] - a[1])[0]![0], share: Math.round(share * 1000) / 1000 };
}

/** A deterministic pseudo-random text from a pool of characters. */
function texts(seed: number, pool: string[], n: number, len: number): string[] {
  let x = seed;
  const next = () => {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    return x >>> 8;
  };
  return Array.from({ length: n }, () => Array.from({ length: 1 + (next() % len) }, () => pool[next() % pool.length]).join(''));
}

describe('ScriptSample', () => {
  // Latin, Cyrillic, Arabic, Han, kana, Hangul, a Tifinagh letter, letters of no detectable script
  // (Ogham, and 𝐀 beyond the BMP), non-letters (digits, punctuation, emoji), lone surrogates.
  const pool = ['a', 'é', 'Z', 'ж', 'Я', 'ب', 'ع', '中', '文', 'の', 'カ', '한', 'ⵣ', 'ᚁ', '𝐀', '𐌰', '1', ' ', '.', '😀', '\uD800', '\uDC00', '\u0301'];
  it('warns as the straightforward tally does, on mixed texts of every kind of character', () => {
    for (let seed = 1; seed <= 40; seed++) {
      const batch = texts(seed, seed % 2 ? pool : pool.slice(3), 30, 40);
      for (const script of ['Latn', 'Cyrl', 'Arab', 'Hans', 'Jpan', 'Kore', 'Tfng', 'Zyyy']) {
        const s = new ScriptSample();
        for (const t of batch) s.add(t);
        const w = s.warning('src', 'xx', script);
        const r = reference(batch, script);
        expect(w && { found: w.found, share: w.share }, `seed ${seed} ${script}`).toEqual(r);
      }
    }
  });

  it('looks at the first 20,000 letters only, across texts', () => {
    const batch = ['a'.repeat(15_000), 'ж'.repeat(10_000), 'b'.repeat(3)];
    const s = new ScriptSample();
    for (const t of batch) s.add(t);
    // 15,000 Latin + 5,000 Cyrillic: 25% Cyrillic
    expect(s.warning('tgt', 'ru', 'Cyrl')).toMatchObject({ found: 'Latn', share: 0.25 });
    expect(reference(batch, 'Cyrl')).toEqual({ found: 'Latn', share: 0.25 });
  });

  it('a tie goes to the script met first, as in the tally', () => {
    for (const batch of [
      ['жa', 'aж'],
      ['aж', 'жa'],
    ]) {
      const s = new ScriptSample();
      for (const t of batch) s.add(t);
      expect(s.warning('src', 'ar', 'Arab')?.found).toBe(reference(batch, 'Arab')!.found);
    }
  });
});
