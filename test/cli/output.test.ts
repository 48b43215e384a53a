/** The CLI's pure parts: where configuration comes from, and how a leaderboard prints. */
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { configPath, loadConfig, saveConfig } from '@polyprune/cli/config';
import { describeInterval, renderLeaderboard, renderTable } from '@polyprune/cli/table';
import type { Leaderboard, LeaderboardColumn, LeaderboardRow } from '@polyprune/shared/api/leaderboards';
import { nNote } from '@polyprune/shared/cell-identity';

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
  const cell = (value: number, p: number | null = null, n = 200) => ({
    value,
    n,
    lo: null,
    subset: null,
    seed: null,
    limit: null,
    limitSeed: null,
    templateLang: null,
    hi: null,
    delta: null,
    deltaLo: null,
    deltaHi: null,
    p,
    denseRunId: null,
    runId: 'r',
  });
  const column = (key: string, lang: string, extra: Partial<LeaderboardColumn> = {}): LeaderboardColumn => ({
    key,
    suiteId: key,
    suite: `mc-${lang}`,
    format: 'mc',
    lang,
    chance: null,
    limit: null,
    limitSeed: null,
    templateLang: null,
    subset: null,
    seed: null,
    n: 200,
    nNote: null,
    ...extra,
  });
  const base = { model: 'm', modelName: 'lm', runId: 'r1', pattern: null, note: null };
  type Scores = Pick<LeaderboardRow, 'cells' | 'mean' | 'meanNonEnglish' | 'covers'>;
  const denseRow = (scores: Scores): LeaderboardRow => ({
    ...base,
    variant: 'dense',
    method: 'dense',
    sparsity: null,
    calibration: null,
    dense: true,
    deltaVsDense: null,
    deltaCovers: [],
    ...scores,
  });
  /** Wanda at 50% calibrated on fr→en translation; `rest` overrides what else differs (Δ, pattern). */
  const wandaRow = (scores: Scores & Pick<LeaderboardRow, 'deltaVsDense' | 'deltaCovers'>, rest: Partial<LeaderboardRow> = {}): LeaderboardRow => ({
    ...base,
    variant: 'wanda 50% mt:fr-en',
    method: 'wanda',
    sparsity: 0.5,
    pattern: 'unstructured',
    calibration: 'mt:fr-en',
    dense: false,
    ...scores,
    ...rest,
  });
  /** One model's board, scored as in the paper, higher is better. */
  const board = (b: Pick<Leaderboard, 'format' | 'metric' | 'languages' | 'columns' | 'meanColumns' | 'rows'>): Leaderboard => ({
    model: 'm',
    scoring: 'paper',
    lowerIsBetter: false,
    note: null,
    ...b,
  });
  it('prints accuracies as percentages with n per column, Δ against dense and significance marks', () => {
    const text = renderLeaderboard(
      board({
        format: 'mc',
        metric: 'acc',
        languages: ['en', 'fr'],
        columns: [column('s-en', 'en'), column('s-fr', 'fr')],
        meanColumns: ['s-en'],
        rows: [
          denseRow({ cells: { 's-en': cell(0.9), 's-fr': cell(0.8) }, mean: 0.9, meanNonEnglish: null, covers: ['s-en'] }),
          wandaRow({ cells: { 's-en': cell(0.85, 0.01) }, mean: 0.85, meanNonEnglish: null, covers: ['s-en'], deltaVsDense: -0.05, deltaCovers: ['s-en'] }),
        ],
      }),
    );
    const lines = text.split('\n');
    expect(lines[0]).toBe('mc · acc % · scoring paper');
    // fr is outside the means: the pruned row has no fr cell.
    expect(lines[1]).toMatch(/^variant\s+en mc-en n=200\s+fr mc-fr n=200†\s+mean/);
    expect(lines[3]).toMatch(/^dense\s+90\.0\s+80\.0\s+90\.0\s+–$/);
    // A column without a score shows a dash rather than 0; a significant cell carries a star.
    expect(lines[4]).toMatch(/^wanda 50% mt:fr-en\s+85\.0\*\s+–\s+85\.0\s+–\s+-5\.0$/);
    expect(lines[5]).toMatch(/^\* differs from dense/);
    expect(lines[6]).toBe('† not in the means: not every row has this column');
  });

  it('names a column’s row limit and template words, marks a Δ over other columns than the mean, and says what n counts for mt', () => {
    const mt = (key: string, extra: Partial<LeaderboardColumn>) => column(key, 'fr', { format: 'mt', suite: 'flores-fr', nNote: nNote('mt'), ...extra });
    const text = renderLeaderboard(
      board({
        format: 'mt',
        metric: 'chrf',
        languages: ['fr'],
        columns: [mt('a', { n: 44 }), mt('b', { limit: 24, limitSeed: 3, n: 20 }), column('c', 'fr', { templateLang: 'fr', n: null })],
        meanColumns: ['a'],
        rows: [
          wandaRow(
            { cells: { a: cell(40, null, 44), b: cell(38, null, 20) }, mean: 40, meanNonEnglish: 40, covers: ['a'], deltaVsDense: -2, deltaCovers: ['a', 'b'] },
            { pattern: null },
          ),
        ],
      }),
    );
    const lines = text.split('\n');
    // wider than 120 columns on one line: the headers wrap (suite, rows and template, n)
    const rule = lines.findIndex((l) => /^-+ /.test(l));
    const head = lines.slice(1, rule);
    for (const l of lines.slice(0, rule + 2)) expect(l.length).toBeLessThanOrEqual(120);
    expect(head[0]).toMatch(/fr flores-fr\s+fr flores-fr\s+fr mc-fr/);
    expect(head[1]).toMatch(/^\s+\[24 rows seed 3\]\s+\[template fr\]/);
    expect(head[2]).toMatch(/n=44\s+n=20†\s+n varies†/);
    expect(lines[rule + 1]).toMatch(/-2\.0‡$/);
    expect(text).toContain('‡ Δ over the columns shared with dense, not those of the mean');
    expect(text).toContain('mt: n counts the rows translated: the first rows evaluated (up to 4) are the prompt’s demonstrations and are not scored');
  });

  it('prints BLEU as stored (0–100, one decimal) with its own unit, as chrF', () => {
    const text = renderLeaderboard(
      board({
        format: 'mt',
        metric: 'bleu',
        languages: ['fr'],
        columns: [column('s-fr', 'fr', { suite: 'mt-fr', format: 'mt' })],
        meanColumns: ['s-fr'],
        rows: [
          denseRow({ cells: { 's-fr': cell(22.5) }, mean: 22.5, meanNonEnglish: 22.5, covers: ['s-fr'] }),
          wandaRow({ cells: { 's-fr': cell(18.75, 0.004) }, mean: 18.75, meanNonEnglish: 18.75, covers: ['s-fr'], deltaVsDense: -3.75, deltaCovers: ['s-fr'] }),
        ],
      }),
    );
    const lines = text.split('\n');
    expect(lines[0]).toBe('mt · bleu · scoring paper');
    expect(lines[3]).toMatch(/^dense\s+22\.5\s+22\.5\s+22\.5$/);
    expect(lines[4]).toMatch(/^wanda 50% mt:fr-en\s+18\.8\*\s+18\.8\s+18\.8\s+-3\.8$/);
    expect(describeInterval({ mean: -3.75, lo: -6.5, hi: -1, p: 0.004, n: 4 }, 'bleu')).toBe('Δ -3.8 bleu [-6.5, -1.0], significant (p = 0.004) at n = 4');
  });
});
