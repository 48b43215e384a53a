import { describe, expect, it } from 'vitest';
import { languageName, normaliseLanguage } from '@polyprune/shared/languages';
import { rowLabel, stratifiedSubset } from '@polyprune/shared/subset';

describe('stratifiedSubset', () => {
  const rows = [...Array(7).fill(0), ...Array(2).fill(1), ...Array(1).fill(2)].map((label, i) => ({ i, label }));

  it('gives each label its share of n by largest remainder, in file order, the same for the same seed', () => {
    // n = 5 of 10 rows labelled 7/2/1: exact shares 3.5, 1.0, 0.5 → floors 3, 1, 0; one left goes to the
    // largest remainder (0.5, a tie between labels 0 and 2 → the label seen first, 0): 4, 1, 0.
    const pick = stratifiedSubset(rows, 5, 42, rowLabel);
    const labels = pick.map((k) => rows[k]!.label);
    expect([0, 1, 2].map((l) => labels.filter((x) => x === l).length)).toEqual([4, 1, 0]);
    expect(pick).toEqual([...pick].sort((a, b) => a - b));
    expect(stratifiedSubset(rows, 5, 42, rowLabel)).toEqual(pick);
    const seeds = new Set(Array.from({ length: 20 }, (_, s) => stratifiedSubset(rows, 5, s, rowLabel).join(',')));
    expect(seeds.size).toBeGreaterThan(1);
  });

  it('keeps everything when n covers the rows; samples plainly without labels', () => {
    expect(stratifiedSubset(rows, 10, 1, rowLabel)).toEqual(rows.map((_, i) => i));
    const texts = Array.from({ length: 50 }, (_, i) => ({ text: `t${i}` }));
    const pick = stratifiedSubset(texts, 7, 3, rowLabel);
    expect(pick).toHaveLength(7);
    expect(new Set(pick).size).toBe(7);
  });
});

describe('normaliseLanguage', () => {
  it('maps ISO 639-1, ISO 639-3 (macro and individual) and FLORES-200 codes onto one code', () => {
    const cases: [string, string][] = [
      ['en', 'en'],
      ['eng', 'en'],
      ['eng_Latn', 'en'],
      ['arb_Arab', 'ar'],
      ['ara', 'ar'],
      ['zho_Hans', 'zh'],
      ['zho_Hant', 'zh-Hant'],
      ['zh-Hant', 'zh-Hant'],
      ['cmn', 'zh'],
      ['npi_Deva', 'ne'],
      ['quy_Latn', 'qu'],
      ['pt-BR', 'pt-BR'],
      ['yue_Hant', 'yue'],
    ];
    for (const [given, canonical] of cases) expect(normaliseLanguage(given), given).toMatchObject({ canonical });
    expect(normaliseLanguage('zho_Hant')).toMatchObject({ script: 'Hant', name: 'Chinese' });
    expect(languageName('fra_Latn')).toBe('French');
  });

  it('refuses codes it cannot name and malformed ones', () => {
    for (const code of ['tlh', 'xx', 'fra_latn', 'FR', 'french']) expect('error' in normaliseLanguage(code), code).toBe(true);
    expect(() => languageName('tlh')).toThrow(/no English name/);
  });
});
