/**
 * The `polyprune` CLI as a user runs it (bin/polyprune.mjs in a child process) against a real stack:
 * login, uploads, a watched prune job, the leaderboard, downloads, and the exit codes.
 */
import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { unpackMasks } from '@polyprune/gpu-runner/prune/pack';
import { repoRoot } from '../../scripts/lib/stack';
import { modelDir, startTestStack, type TestStack } from './helpers';

let t: TestStack;
let env: NodeJS.ProcessEnv;

function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [path.join(repoRoot, 'bin/polyprune.mjs'), ...args], { env, cwd: t.tmp, timeout: 300_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}
const json = async (args: string[]) => {
  const r = await cli([...args, '--json']);
  expect(r.code, `${r.stderr}\n${r.stdout}`).toBe(0);
  return JSON.parse(r.stdout);
};

beforeAll(async () => {
  t = await startTestStack();
  // No POLYPRUNE_* from the outside: the CLI must use what `login` stored in this temp home.
  env = { PATH: process.env.PATH, HOME: t.tmp, XDG_CONFIG_HOME: path.join(t.tmp, 'config') };
});
afterAll(async () => {
  await t?.close();
});

describe('polyprune CLI', () => {
  it('logs in, uploads, prunes with --watch, and shows and downloads the results', async () => {
    const login = await cli(['login', '--url', t.stack.url, '--token', t.stack.adminToken]);
    expect(login.code, login.stderr).toBe(0);
    const cfg = JSON.parse(await readFile(path.join(t.tmp, 'config/polyprune/config.json'), 'utf8'));
    expect(cfg).toEqual({ url: t.stack.url, token: t.stack.adminToken });

    const m = modelDir();
    const files = ['model.onnx', 'tokenizer.json', 'config.json'].map((f) => path.join(m.dir, f));
    const model = await json(['models', 'create', '--name', 'cli model', '--family', m.family, '--upload', ...files]);
    expect(model.complete).toBe(true);
    const corpus = await json(['corpora', 'upload', path.join(repoRoot, 'demo/data/corpus.fr-en.tsv'), '--src', 'fr', '--tgt', 'en']);
    expect(corpus.stats.pairsKept).toBe(320);
    // FLORES-style: two line-aligned files, FLORES-200 codes.
    const flores = (f: string) => path.join(repoRoot, 'test/fixtures/datasets', f);
    const two = await json([
      'corpora',
      'upload',
      '--src',
      'fra_Latn',
      '--tgt',
      'eng_Latn',
      '--src-file',
      flores('fra_Latn.devtest'),
      '--tgt-file',
      flores('eng_Latn.devtest'),
    ]);
    expect(two).toMatchObject({ src: 'fr', tgt: 'en', stats: { format: 'two-files', pairsKept: 5 } });
    const suite = await json(['suites', 'upload', path.join(repoRoot, 'demo/data/suite.mc.fr.jsonl'), '--format', 'mc', '--lang', 'fr']);

    // Exit code last: on failure the job's own error (in the JSON) says more than the code.
    const watched = await cli([
      '--json',
      'prune',
      '--model',
      model.id,
      '--corpus',
      corpus.id,
      '--sparsity',
      '0.5',
      '--samples',
      '4',
      '--shots',
      '2',
      '--max-length',
      '48',
      '--mode',
      'oneshot',
      '--suite',
      suite.id,
      '--watch',
    ]);
    const jobs = JSON.parse(watched.stdout || '[]');
    expect(jobs).toHaveLength(1);
    expect(jobs[0].status, jobs[0].error).toBe('succeeded');
    expect(watched.code).toBe(0);

    const board = await json(['leaderboard', '--model', model.id, '--format', 'mc']);
    expect(board.rows.map((r: { variant: string }) => r.variant)).toEqual(['wanda 50% mt:fr-en oneshot']);
    const table = await cli(['leaderboard', '--model', model.id, '--format', 'mc']);
    expect(table.code).toBe(0);
    expect(table.stdout).toMatch(/wanda 50% mt:fr-en oneshot\s+\d+\.\d/);
    expect(table.stdout).toContain(`/leaderboards/${model.id}`);

    const saved = await json(['runs', 'download', jobs[0].runId, '--artifact', 'masks.bin', '--out', 'out']);
    expect(saved[0].name).toBe('masks.bin');
    const { masks } = unpackMasks(new Uint8Array(await readFile(path.join(t.tmp, 'out/masks.bin'))));
    const kept = masks.reduce((a, mk) => a + mk.keep.reduce((x, k) => x + k, 0), 0);
    const total = masks.reduce((a, mk) => a + mk.keep.length, 0);
    expect(1 - kept / total).toBeCloseTo(0.5, 6);
  });

  it('exits 2 on wrong usage and 1 when the API refuses', async () => {
    expect((await cli(['prune', '--sparsity', '0.5'])).code).toBe(2); // --model missing
    expect((await cli(['prune', '--model', 'm', '--sparsity', 'half'])).code).toBe(2);
    expect((await cli(['no-such-command'])).code).toBe(2);
    const missing = await cli(['jobs', 'get', 'job_does_not_exist']);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('404');
    const denied = await cli(['models', 'list', '--token', 'pp_wrong_token_0123456789']);
    expect(denied.code).toBe(1);
    expect(denied.stderr).toContain('401');
    expect((await cli(['--help'])).code).toBe(0);
  });

  it('names its own flag, not the query parameter, when an upload has bad lines', async () => {
    await writeFile(path.join(t.tmp, 'bad.tsv'), 'Bonjour.\tHello.\nno tab on this line\nMerci.\tThank you.\n');
    const refused = await cli(['corpora', 'upload', 'bad.tsv', '--src', 'fr', '--tgt', 'en']);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('invalid_lines');
    expect(refused.stderr).toContain('line 2');
    expect(refused.stderr).toContain('rerun with --skip-bad-lines');
    expect(refused.stderr).not.toContain('onError');
    const kept = await json(['corpora', 'upload', 'bad.tsv', '--src', 'fr', '--tgt', 'en', '--skip-bad-lines']);
    expect(kept.stats.pairsKept).toBe(2);
  });
});
