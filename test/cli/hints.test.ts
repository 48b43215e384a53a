/** The CLI parsed in-process against a loopback server: flags that reach the spec, refusals that name the fix, tables that fit. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Command } from 'commander';
import { ApiRequestError } from '@polyprune/shared/http';
import type { JobInfo } from '@polyprune/cli/api';
import { withFlagHints } from '@polyprune/cli/commands/data';
import { overallLine, registerJobs } from '@polyprune/cli/commands/jobs';
import { UsageError } from '@polyprune/cli/context';
import { corpusHint, sparsityArg } from '@polyprune/cli/hints';
import { renderLeaderboard, renderResults, renderTable } from '@polyprune/cli/table';
import { queuedJob } from './answers';
import { json, startServer, type TestServer } from '../helpers/server';

let server: TestServer;
beforeAll(async () => {
  server = await startServer();
});
afterAll(() => server.close());

/** The jobs commands as `polyprune` has them, errors thrown instead of exiting, output captured. */
function program(out: string[]) {
  const p = new Command('polyprune').option('--url <url>').option('--token <token>').option('--json').exitOverride();
  p.configureOutput({ writeErr: (s) => out.push(s), writeOut: (s) => out.push(s) });
  registerJobs(p);
  for (const c of p.commands) c.exitOverride().configureOutput({ writeErr: (s) => out.push(s), writeOut: (s) => out.push(s) });
  return p;
}
const argv = (...a: string[]) => ['--url', server.url, '--token', 'pp_test', ...a];

describe('--sparsity', () => {
  it('says "did you mean 0.5?" for 50, and takes fractions', async () => {
    expect(() => sparsityArg('--sparsity')('50')).toThrow('did you mean 0.5?');
    expect(() => sparsityArg('--sparsity')('1')).toThrow('did you mean 0.01?');
    expect(() => sparsityArg('--sparsity')('-0.2')).toThrow('between 0 and 1');
    expect(sparsityArg('--sparsity')('0.5')).toBe(0.5);
    const out: string[] = [];
    await expect(program(out).parseAsync(argv('prune', '--model', 'm', '--method', 'magnitude', '--sparsity', '50'), { from: 'user' })).rejects.toThrow();
    expect(out.join('')).toContain('did you mean 0.5?');
    expect(server.requests).toHaveLength(0);
  });
});

describe('evaluate', () => {
  it('refuses calibration flags instead of dropping them', async () => {
    const out: string[] = [];
    const run = program(out).parseAsync(argv('evaluate', '--model', 'm', '--suite', 's', '--samples', '8', '--max-length', '64'), { from: 'user' });
    await expect(run).rejects.toThrow(UsageError);
    await expect(run).rejects.toThrow('--samples, --max-length apply to prune and sweep only');
    // unknown to evaluate at all
    await expect(program(out).parseAsync(argv('evaluate', '--model', 'm', '--suite', 's', '--corpus', 'c'), { from: 'user' })).rejects.toThrow();
    expect(server.requests).toHaveLength(0);
  });
});

describe('--limit and --limit-seed', () => {
  it('reach the job spec of prune and evaluate, and the sweep base', async () => {
    server.handle((req, res, body) => {
      const b = JSON.parse(body.toString());
      if (req.url === '/v1/sweeps') json(res, 201, { sweepId: 'swp_1', jobs: [] });
      else json(res, 201, queuedJob(b));
    });
    const out: string[] = [];
    const write = process.stdout.write;
    process.stdout.write = (() => true) as typeof process.stdout.write;
    try {
      await program(out).parseAsync(argv('evaluate', '--model', 'm', '--suite', 's', '--limit', '200', '--limit-seed', '3'), { from: 'user' });
      await program(out).parseAsync(argv('prune', '--model', 'm', '--method', 'magnitude', '--limit', '50'), { from: 'user' });
      await program(out).parseAsync(argv('sweep', '--model', 'm', '--pair', 'crp_1', '--limit', '100'), { from: 'user' });
    } finally {
      process.stdout.write = write;
    }
    const bodies = server.requests.map((r) => JSON.parse(r.body.toString()));
    expect(bodies[0]).toMatchObject({ kind: 'evaluate', limit: 200, limitSeed: 3 });
    expect(bodies[1]).toMatchObject({ kind: 'prune', limit: 50 });
    expect(bodies[1].limitSeed).toBeUndefined();
    expect(bodies[2].base).toMatchObject({ limit: 100 });
    await expect(program(out).parseAsync(argv('evaluate', '--model', 'm', '--suite', 's', '--limit-seed', '3'), { from: 'user' })).rejects.toThrow(
      '--limit-seed needs --limit',
    );
  });
});

describe('prune --method sparsegpt', () => {
  it('sends its calibration and options, and refuses them where they do not apply', async () => {
    server.handle((_req, res, body) => json(res, 201, queuedJob(JSON.parse(body.toString()), 'job_2')));
    const before = server.requests.length;
    const out: string[] = [];
    const write = process.stdout.write;
    process.stdout.write = (() => true) as typeof process.stdout.write;
    try {
      await program(out).parseAsync(argv('prune', '--model', 'm', '--method', 'sparsegpt', '--corpus', 'crp_1', '--percdamp', '0.05', '--blocksize', '64'), {
        from: 'user',
      });
    } finally {
      process.stdout.write = write;
    }
    const body = JSON.parse(server.requests[before]!.body.toString());
    expect(body).toMatchObject({ method: 'sparsegpt', percdamp: 0.05, blocksize: 64, calibration: { corpusId: 'crp_1' } });
    await expect(program(out).parseAsync(argv('prune', '--model', 'm', '--method', 'sparsegpt'), { from: 'user' })).rejects.toThrow('sparsegpt needs --corpus');
    await expect(program(out).parseAsync(argv('prune', '--model', 'm', '--method', 'magnitude', '--percdamp', '0.1'), { from: 'user' })).rejects.toThrow(
      '--percdamp and --blocksize are options of --method sparsegpt',
    );
    expect(server.requests).toHaveLength(before + 1);
  });
});

describe('unknown_corpus', () => {
  it('tells someone who passed a file to upload it first', () => {
    const e = corpusHint(new ApiRequestError(422, 'unknown_corpus', 'corpus data/fr-en.tsv not found'), ['data/fr-en.tsv']) as ApiRequestError;
    expect(e.message).toContain('upload it first: polyprune corpora upload data/fr-en.tsv');
    expect(e.code).toBe('unknown_corpus');
    const id = new ApiRequestError(422, 'unknown_corpus', 'corpus crp_x not found');
    expect(corpusHint(id, ['crp_x'])).toBe(id);
  });
});

describe('upload refusals at the command line', () => {
  const refusal = (message: string, reason: string) =>
    Promise.reject(new ApiRequestError(422, 'invalid_lines', message, { problems: [{ line: 2, reason, message: '' }], total: 1 }));
  it('names --strict for control characters, --skip-bad-lines for other bad lines, and nothing to skip for spaces-for-tabs', async () => {
    const control = withFlagHints(
      refusal(
        '1 line(s) with control characters; first at line 2: "line" contains control characters. Fix them, or upload without onError=reject: control characters are then stripped and counted (stats.controlChars), and the lines kept',
        'control_chars',
      ),
    );
    await expect(control).rejects.toThrow('Fix them, or rerun without --strict: control characters are then stripped');
    await expect(control).rejects.not.toThrow('onError');
    const other = withFlagHints(refusal('1 invalid line(s); first at line 2: expected "source<TAB>target". Fix them or pass ?onError=skip', 'missing_tab'));
    await expect(other).rejects.toThrow('rerun with --skip-bad-lines');
    const spaces = withFlagHints(refusal('looks like spaces, not tabs: all 500 lines have runs of spaces', 'spaces_not_tabs'));
    await expect(spaces).rejects.toThrow(/looks like spaces, not tabs: all 500 lines have runs of spaces$/);
  });
});

describe('tables that fit 120 columns', () => {
  it('wrap long headers onto their own lines, then cut the widest column', () => {
    const header = Array.from({ length: 8 }, (_, i) => `l${i}\nsuite-with-a-long-name-${i}\nn=1000`);
    const text = renderTable(['variant', ...header], [['wanda 50% mt:fr-en', ...header.map(() => '58.1')]]);
    const lines = text.split('\n');
    for (const l of lines) expect(l.length).toBeLessThanOrEqual(120);
    expect(lines[0]).toMatch(/^\s+l0\s+l1/);
    expect(lines.some((l) => l.includes('…'))).toBe(true);
    // a narrow table keeps its one-line header
    expect(renderTable(['a\nb', 'c'], [['1', '2']]).split('\n')[0]).toBe('a b  c');
  });

  it('keep a leaderboard of many suites within 120 columns', () => {
    const cols = ['fr', 'de', 'es', 'sw', 'zh', 'ar', 'hi', 'ru'].map((lang) => ({
      key: lang,
      suiteId: `suite_${lang}`,
      suite: `xnli-${lang}-validation`,
      format: 'xnli',
      lang,
      chance: 1 / 3,
      limit: null,
      limitSeed: null,
      templateLang: null,
      subset: null,
      seed: null,
      n: 2490,
      nNote: null,
    }));
    const cell = {
      value: 0.5,
      n: 2490,
      lo: null,
      hi: null,
      delta: null,
      deltaLo: null,
      deltaHi: null,
      p: null,
      subset: null,
      seed: null,
      limit: null,
      limitSeed: null,
      templateLang: null,
      denseRunId: null,
      runId: 'r',
    };
    const text = renderLeaderboard({
      model: 'm',
      format: 'xnli',
      scoring: 'paper',
      metric: 'acc',
      lowerIsBetter: false,
      columns: cols,
      meanColumns: cols.map((c) => c.key),
      languages: cols.map((c) => c.lang),
      note: null,
      rows: [
        {
          model: 'm',
          modelName: 'lm',
          runId: 'r',
          variant: 'dense',
          method: 'dense',
          sparsity: null,
          pattern: null,
          calibration: null,
          dense: true,
          cells: Object.fromEntries(cols.map((c) => [c.key, cell])),
          mean: 0.5,
          meanNonEnglish: 0.5,
          covers: cols.map((c) => c.key),
          deltaVsDense: null,
          deltaCovers: [],
          note: null,
        },
      ],
    });
    const table = text.split('\n').slice(1, 6);
    for (const l of table) expect(l.length).toBeLessThanOrEqual(120);
    // the header wraps (language and suite, then n), and what still does not fit is abbreviated
    expect(table[0]).toMatch(/^\s+fr xnli…/);
    expect(table[1]).toMatch(/^variant\s+n=2490/);
    expect(table[3]).toMatch(/^dense\s+50\.0/);
  });
});

describe('the end of a watch', () => {
  const j = (status: string) => ({ status }) as JobInfo;
  it('counts the jobs that ended, and prints each job’s scores in the unit people read', () => {
    expect(overallLine([j('succeeded'), j('failed'), j('running'), j('queued')])).toBe('2/4 jobs ended (1 succeeded, 1 did not)');
    expect(overallLine([j('queued')])).toBe('0/1 jobs ended');
    const text = renderResults([
      {
        label: 'dense',
        scores: [
          { format: 'xnli', lang: 'fr', scoring: 'paper', metric: 'acc', value: 0.581, n: 10 },
          { format: 'xnli', lang: 'fr', scoring: 'harness', metric: 'acc', value: 0.4, n: 10 },
          { format: 'ppl', lang: 'fr', scoring: 'paper', metric: 'ppl', value: 21.734, n: 10 },
        ] as never,
      },
      { label: 'wanda 0.5 mt fr-en', scores: [{ format: 'xnli', lang: 'fr', scoring: 'paper', metric: 'acc_lo', value: 0.5, n: 10 }] as never },
    ]);
    const lines = text.split('\n');
    expect(lines[0]).toMatch(/^job\s+ppl fr\s+xnli fr$/);
    expect(lines[2]).toMatch(/^dense\s+21\.73\s+58\.1$/);
    expect(lines[3]).toMatch(/^wanda 0\.5 mt fr-en\s+–\s+–$/);
    expect(lines[4]).toBe('ppl ppl · xnli acc %');
  });
});
