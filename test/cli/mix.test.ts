/** The CLI's --corpus / --pair syntax for calibration mixes. */
import { describe, expect, it } from 'vitest';
import { corpusSource } from '@polyprune/cli/commands/jobs';

describe('corpusSource', () => {
  it('one id is a corpus; ids with "*weight" or commas are a mix (weight 1 when left out)', () => {
    expect(corpusSource('cor_fr')).toEqual({ corpusId: 'cor_fr' });
    expect(corpusSource('cor_fr*2,cor_sw,cor_zh*0.5')).toEqual({
      corpora: [
        { corpusId: 'cor_fr', weight: 2 },
        { corpusId: 'cor_sw', weight: 1 },
        { corpusId: 'cor_zh', weight: 0.5 },
      ],
    });
    expect(corpusSource('cor_fr*3')).toEqual({ corpora: [{ corpusId: 'cor_fr', weight: 3 }] });
  });
  it('refuses weights ≤ 0 or not numbers, and empty ids', () => {
    expect(() => corpusSource('cor_fr*0,cor_de')).toThrow(/weight > 0/);
    expect(() => corpusSource('cor_fr*x')).toThrow(/weight > 0/);
    expect(() => corpusSource('cor_fr,,cor_de')).toThrow(/not id/);
  });
});
