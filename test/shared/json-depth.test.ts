import { describe, expect, it } from 'vitest';
import { MAX_JSON_DEPTH, nestsDeeperThan } from '@polyprune/shared/json-depth';

/** Depth the straightforward way: parse and recurse (fine for the small inputs here). */
const depthOf = (v: unknown): number => (v !== null && typeof v === 'object' ? 1 + Math.max(0, ...Object.values(v).map(depthOf)) : 0);

describe('nestsDeeperThan', () => {
  const cases = ['1', '"x"', '[]', '{}', '[[]]', '{"a":[1,{"b":[]}]}', '[{"a":{"b":{"c":[[1]]}}}]', '[[],[[]],[]]'];
  for (const text of cases) {
    it(`agrees with a recursive depth for ${text}`, () => {
      const d = depthOf(JSON.parse(text));
      expect(nestsDeeperThan(text, d)).toBe(false);
      if (d > 0) expect(nestsDeeperThan(text, d - 1)).toBe(true);
    });
  }

  it('ignores brackets inside strings, escaped quotes included', () => {
    const text = JSON.stringify({ a: '[[[[{{{{', b: 'say \\"[[[[\\" and "{{{{"', c: ['\\', '['] });
    expect(depthOf(JSON.parse(text))).toBe(2);
    expect(nestsDeeperThan(text, 2)).toBe(false);
    expect(nestsDeeperThan(text, 1)).toBe(true);
  });

  it('stops at the API limit by default, without recursing on hostile input', () => {
    const at = `${'['.repeat(MAX_JSON_DEPTH)}${']'.repeat(MAX_JSON_DEPTH)}`;
    expect(nestsDeeperThan(at)).toBe(false);
    expect(nestsDeeperThan(`[${at}]`)).toBe(true);
    // A million open brackets would overflow a recursive walk; this is one pass.
    expect(nestsDeeperThan('['.repeat(1_000_000))).toBe(true);
  });
});
