/** The time left in a stage, and how the CLI prints it. */
import { describe, expect, it } from 'vitest';
import { duration, progressText } from '@polyprune/cli/progress';
import { etaSeconds } from '@polyprune/gpu-runner/service/eta';

describe('etaSeconds', () => {
  const origin = { stage: 'calibrate', at: 10_000, done: 2 };
  it('extrapolates the rate since the stage began', () => {
    // 6 units in 30 s: 5 s each, 12 left.
    expect(etaSeconds(origin, 40_000, 8, 20)).toBe(60);
  });
  it('says nothing before a unit has finished since the origin', () => {
    expect(etaSeconds(origin, 10_000, 2, 20)).toBeUndefined();
    expect(etaSeconds(origin, 30_000, 2, 20)).toBeUndefined();
  });
  it('is 0 once the stage is done', () => {
    expect(etaSeconds(origin, 30_000, 20, 20)).toBe(0);
  });
});

describe('progress in the CLI', () => {
  it('prints durations compactly', () => {
    expect(duration(12.4)).toBe('12s');
    expect(duration(245)).toBe('4m05s');
    expect(duration(3725)).toBe('1h02m');
  });
  it('adds the time left while the stage runs', () => {
    expect(progressText({ stage: 'calibrate', done: 3, total: 10, etaSeconds: 70 })).toBe('calibrate 3/10, ~1m10s left');
    expect(progressText({ stage: 'calibrate', done: 3, total: 10 })).toBe('calibrate 3/10');
    expect(progressText({ stage: 'calibrate', done: 10, total: 10, etaSeconds: 0 })).toBe('calibrate 10/10');
    expect(progressText(null)).toBe('');
  });
});
