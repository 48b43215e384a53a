import { describe, expect, it } from 'vitest';
import { commonPrefixLength, planBatches, planPositionCopies, type Unique } from '@polyprune/gpu-runner/evaluate/batch-plan';

describe('batch planning', () => {
  it('groups similar lengths under the token and size budgets', () => {
    const lengths = [10, 3, 9, 4, 11, 2];
    const batches = planBatches(lengths, 24, 3);
    // sorted: 2(5) 3(1) 4(3) | 9(2) 10(0) | 11(4): 3·9 = 27 > 24 closes the first batch at size 3 anyway
    expect(batches).toEqual([[5, 1, 3], [2, 0], [4]]);
    for (const b of batches) expect(Math.max(...b.map((i) => lengths[i]!)) * b.length).toBeLessThanOrEqual(24);
    expect(batches.flat().sort()).toEqual([0, 1, 2, 3, 4, 5]);
  });

  it('keeps the head rows of a batch under their budget too', () => {
    const lengths = [10, 10, 10, 10, 10];
    const rows = { of: [9, 2, 9, 2, 2], max: 12 };
    const batches = planBatches(lengths, 1000, 8, rows);
    expect(batches).toEqual([[0, 1], [2, 3], [4]]);
    for (const b of batches) expect(b.reduce((n, i) => n + rows.of[i]!, 0)).toBeLessThanOrEqual(12);
    expect(planBatches(lengths, 1000, 8)).toEqual([[0, 1, 2, 3, 4]]);
  });

  it('gives an over-long item a batch of its own', () => {
    expect(planBatches([100, 1], 10, 8)).toEqual([[1], [0]]);
  });

  it('finds the common prefix', () => {
    expect(commonPrefixLength([Int32Array.of(1, 2, 3), Int32Array.of(1, 2, 4), Int32Array.of(1, 2)])).toBe(2);
    expect(commonPrefixLength([Int32Array.of(5), Int32Array.of(6)])).toBe(0);
  });

  it('copies the log-probs of leading positions only from a sequence that scores them, with the same tokens up to them', () => {
    const seq = (...t: number[]) => Int32Array.from(t);
    const uniq: Unique[] = [
      { tokens: seq(5, 1, 2, 3, 9), scoreFrom: 1 },
      { tokens: seq(5, 1, 2, 4), scoreFrom: 1 },
      { tokens: seq(5, 1, 2, 3, 8, 8), scoreFrom: 1 },
      { tokens: seq(6, 1, 2), scoreFrom: 1 },
      { tokens: seq(5, 1), scoreFrom: 1 },
      // scores from later than the sequences it shares a prefix with: copies from them
      { tokens: seq(5, 1, 2, 3, 9, 7), scoreFrom: 4 },
      // its lexicographic predecessor (5) scores from later: copies from the one before
      { tokens: seq(5, 1, 2, 3, 9, 7, 7), scoreFrom: 2 },
      // run through the KV path: not planned here
      { tokens: seq(5, 1, 2, 3, 9, 7, 7, 1), scoreFrom: 1 },
    ];
    const rest = [0, 1, 2, 3, 4, 5, 6];
    const { copies, start } = planPositionCopies(uniq, rest);
    const filled = new Map(rest.map((i) => [i, new Set<number>()]));
    rest.forEach((i) => {
      for (let p = start[i]!; p < uniq[i]!.tokens.length; p++) filled.get(i)!.add(p);
    });
    for (const c of copies) {
      const to = uniq[c.to]!;
      const from = uniq[c.from]!;
      for (let p = to.scoreFrom; p < c.end; p++) {
        expect(Array.from(from.tokens.subarray(0, p + 1))).toEqual(Array.from(to.tokens.subarray(0, p + 1)));
        expect(filled.get(c.from)!.has(p), `source ${c.from} has position ${p} when ${c.to} copies it`).toBe(true);
        filled.get(c.to)!.add(p);
      }
      expect(start[c.to]).toBe(c.end);
    }
    rest.forEach((i) => {
      for (let p = uniq[i]!.scoreFrom; p < uniq[i]!.tokens.length; p++) expect(filled.get(i)!.has(p), `${i}:${p}`).toBe(true);
    });
    // worked out by hand (lexicographic order 4 2 0 5 6 1 3)
    expect(Array.from(start)).toEqual([4, 3, 2, 1, 1, 5, 5, 1]);
  });

  it('sends each distinct prefix through the head once when all score from the same position', () => {
    let seed = 3;
    const rand = (n: number) => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return (seed >>> 8) % n;
    };
    // prompts built from a few shared pieces, as a template's choices are
    const pieces = [[7, 7, 2], [7, 3], [1], [4, 4, 4, 9], [7]];
    const seen = new Set<string>();
    const uniq: Unique[] = [];
    for (let tries = 0; uniq.length < 40 && tries < 10_000; tries++) {
      const t = Array.from({ length: 1 + rand(4) }, () => pieces[rand(pieces.length)]!).flat();
      if (t.length < 2 || seen.has(t.join())) continue;
      seen.add(t.join());
      uniq.push({ tokens: Int32Array.from(t), scoreFrom: 1 });
    }
    const { start } = planPositionCopies(
      uniq,
      uniq.map((_, i) => i),
    );
    expect(uniq.length).toBe(40);
    let computed = 0;
    uniq.forEach((u, i) => (computed += u.tokens.length - start[i]!));
    const distinct = new Set(uniq.flatMap((u) => Array.from({ length: u.tokens.length - 1 }, (_, k) => u.tokens.subarray(0, k + 2).join())));
    expect(computed).toBe(distinct.size);
    expect(computed).toBeLessThan(uniq.reduce((n, u) => n + u.tokens.length - 1, 0));
  });
});
