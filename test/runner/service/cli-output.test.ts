/** The CLI's pure parts: where configuration comes from, and how a leaderboard prints. */
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { configPath, loadConfig, saveConfig } from '../../../cli/config';
import { describeInterval, renderLeaderboard, renderTable } from '../../../cli/table';

describe('CLI config', () => {
  it('lives under XDG_CONFIG_HOME, round-trips, and is readable by its owner only', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'pp-cfg-'));
    try {
      const file = configPath({ XDG_CONFIG_HOME: dir });
      expect(file).toBe(path.join(dir, 'polyprune', 'config.json'));
      expect(await loadConfig(file)).toEqual({});
      await saveConfig({ url: 'http://127.0.0.1:8787', token: 'pp_secret' }, file);
      expect(JSON.parse(await readFile(file, 'utf8'))).toEqual({ url: 'http://127.0.0.1:8787', token: 'pp_secret' });
      expect((await stat(file)).mode & 0o777).toBe(0o600);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('renderTable', () => {
  it('pads columns to their widest cell and right-aligns numbers', () => {
    expect(
      renderTable(
        ['a', 'num'],
        [
          ['xx', '1.5'],
          ['y', '10.25'],
        ],
        ['left', 'right'],
      ),
    ).toBe(['a     num', '--  -----', 'xx    1.5', 'y   10.25'].join('\n'));
  });
});

describe('renderLeaderboard', () => {
  const cell = (value: number, p: number | null = null) => ({
    value,
    n: 200,
    lo: null,
    subset: null,
    seed: null,
    limit: null,
    templateLang: null,
    hi: null,
    delta: null,
    deltaLo: null,
    deltaHi: null,
    p,
    denseRunId: null,
    runId: 'r',
  });
  const base = { model: 'm', modelName: 'lm', runId: 'r1', pattern: null, note: null };
  it('prints accuracies as percentages with n per suite, Δ against dense and significance marks', () => {
    const text = renderLeaderboard({
      model: 'm',
      format: 'mc',
      scoring: 'paper',
      metric: 'acc',
      lowerIsBetter: false,
      languages: ['en', 'fr'],
      columns: [
        { suiteId: 's-en', suite: 'mc-en', format: 'mc', lang: 'en', chance: null },
        { suiteId: 's-fr', suite: 'mc-fr', format: 'mc', lang: 'fr', chance: null },
      ],
      note: null,
      rows: [
        {
          ...base,
          variant: 'dense',
          method: 'dense',
          sparsity: null,
          calibration: null,
          dense: true,
          cells: { 's-en': cell(0.9), 's-fr': cell(0.8) },
          mean: 0.85,
          meanNonEnglish: 0.8,
          deltaVsDense: null,
        },
        {
          ...base,
          variant: 'wanda 50% mt:fr-en',
          method: 'wanda',
          sparsity: 0.5,
          pattern: 'unstructured',
          calibration: 'mt:fr-en',
          dense: false,
          cells: { 's-en': cell(0.85, 0.01) },
          mean: 0.85,
          meanNonEnglish: null,
          deltaVsDense: -0.0125,
        },
      ],
    });
    const lines = text.split('\n');
    expect(lines[0]).toBe('mc · acc % · scoring paper');
    expect(lines[1]).toMatch(/^variant\s+en mc-en n=200\s+fr mc-fr n=200\s+mean/);
    expect(lines[3]).toMatch(/^dense\s+90\.0\s+80\.0\s+85\.0\s+80\.0$/);
    // A suite without a score shows a dash rather than 0; a significant cell carries a star.
    expect(lines[4]).toMatch(/^wanda 50% mt:fr-en\s+85\.0\*\s+–\s+85\.0\s+–\s+-1\.3$/);
    expect(lines[5]).toMatch(/^\* differs from dense/);
  });

  it('prints BLEU as stored (0–100, one decimal) with its own unit, as chrF', () => {
    const text = renderLeaderboard({
      model: 'm',
      format: 'mt',
      scoring: 'paper',
      metric: 'bleu',
      lowerIsBetter: false,
      languages: ['fr'],
      columns: [{ suiteId: 's-fr', suite: 'mt-fr', format: 'mt', lang: 'fr', chance: null }],
      note: null,
      rows: [
        {
          ...base,
          variant: 'dense',
          method: 'dense',
          sparsity: null,
          calibration: null,
          dense: true,
          cells: { 's-fr': cell(22.5) },
          mean: 22.5,
          meanNonEnglish: 22.5,
          deltaVsDense: null,
        },
        {
          ...base,
          variant: 'wanda 50% mt:fr-en',
          method: 'wanda',
          sparsity: 0.5,
          pattern: 'unstructured',
          calibration: 'mt:fr-en',
          dense: false,
          cells: { 's-fr': cell(18.75, 0.004) },
          mean: 18.75,
          meanNonEnglish: 18.75,
          deltaVsDense: -3.75,
        },
      ],
    });
    const lines = text.split('\n');
    expect(lines[0]).toBe('mt · bleu · scoring paper');
    expect(lines[3]).toMatch(/^dense\s+22\.5\s+22\.5\s+22\.5$/);
    expect(lines[4]).toMatch(/^wanda 50% mt:fr-en\s+18\.8\*\s+18\.8\s+18\.8\s+-3\.8$/);
    expect(describeInterval({ mean: -3.75, lo: -6.5, hi: -1, p: 0.004, n: 4 }, 'bleu')).toBe('Δ -3.8 bleu [-6.5, -1.0], significant (p = 0.004) at n = 4');
  });
});
