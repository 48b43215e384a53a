import { execFile } from 'node:child_process';
import { readFile, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applyMigrations, freePort, repoRoot, startWorker, type WorkerProcess } from '../../scripts/lib/stack';

/**
 * The README's curl examples, executed verbatim (only API and ADMIN are set for this stack):
 * documentation that stops working fails CI.
 */
const run = promisify(execFile);
const ADMIN = 'pp_admin_e2e_readme_0123456789abcdef';
let worker: WorkerProcess;
let state: string;
let blocks: { title: string; code: string }[];

async function readmeBlocks() {
  const md = await readFile(path.join(repoRoot, 'README.md'), 'utf8');
  const start = md.indexOf('## The API by example');
  const end = md.indexOf('\n## ', start + 5);
  const section = md.slice(start, end === -1 ? undefined : end);
  const out: { title: string; code: string }[] = [];
  let title = 'setup';
  for (const part of section.split(/^(### .*)$/m)) {
    if (part.startsWith('### ')) title = part.slice(4).trim();
    for (const m of part.matchAll(/```bash\n([\s\S]*?)```/g)) out.push({ title, code: m[1]! });
  }
  return out;
}

async function bash(script: string) {
  const { stdout, stderr } = await run('bash', ['-c', script], { cwd: repoRoot, maxBuffer: 10 * 1024 * 1024, timeout: 120_000 });
  return { stdout, stderr };
}

beforeAll(async () => {
  blocks = await readmeBlocks();
  state = await mkdtemp(path.join(os.tmpdir(), 'pp-readme-'));
  await applyMigrations(state);
  worker = await startWorker({ port: await freePort(), persistTo: state, vars: { ADMIN_TOKEN: ADMIN } });
});

afterAll(async () => {
  await worker?.stop();
  if (state) await rm(state, { recursive: true, force: true });
});

describe('README examples', () => {
  it('has examples for every resource', () => {
    expect(blocks.map((b) => b.title)).toEqual(
      expect.arrayContaining([
        'Tokens (admin)',
        'Models',
        'Corpora (bilingual sentence pairs)',
        'Suites (evaluation data)',
        'Jobs and sweeps',
        'Runs and leaderboards',
      ]),
    );
  });

  it('run as written against wrangler dev', async () => {
    const setup = blocks[0]!.code.replace(/^export API=.*$/m, `export API=${worker.url}`).replace(/^export ADMIN=.*$/m, `export ADMIN=${ADMIN}`);
    expect(setup).toContain(worker.url);
    const beforeRuns = blocks.slice(1).filter((b) => b.title !== 'Runs and leaderboards');
    const last = blocks.find((b) => b.title === 'Runs and leaderboards')!;
    // One shell for all blocks, as a reader would paste them; then finish one job the way a runner
    // would, so the runs/leaderboards block has something to show.
    const finishOne = `
      L=$(curl -s -X POST $API/v1/runner/lease -H "Authorization: Bearer $RUNNER" -H 'content-type: application/json' -d '{"runnerId":"readme"}')
      J=$(echo "$L" | json job.id); T=$(echo "$L" | json leaseToken); S=$(echo "$L" | json job.spec.suites.0)
      curl -s -X POST $API/v1/runner/jobs/$J/complete -H "Authorization: Bearer $RUNNER" -H 'content-type: application/json' \\
        -d "{\\"leaseToken\\":\\"$T\\",\\"result\\":{\\"scores\\":[{\\"suiteId\\":\\"$S\\",\\"format\\":\\"mc\\",\\"lang\\":\\"fr\\",\\"scoring\\":\\"paper\\",\\"metric\\":\\"acc\\",\\"value\\":0.5,\\"n\\":48}]}}" > /dev/null
      echo "---runs---"`;
    const script = ['set -uo pipefail', setup, ...beforeRuns.map((b) => `echo "---${b.title}---"\n${b.code}`), finishOne, last.code].join('\n');
    const { stdout, stderr } = await bash(script);
    const lines = stdout.split('\n');
    expect(stderr).not.toMatch(/command not found|No such file|syntax error/);
    // `json` prints "undefined" when a field is missing: no example may hit that.
    expect(
      lines.filter((l) => l.trim() === 'undefined'),
      stdout,
    ).toEqual([]);
    expect(stdout).toContain('"openapi":"3.1.0"');
    expect(lines).toContain('true'); // model complete
    expect(lines).toContain('206'); // range request
    expect(lines).toContain('apache-2.0');
    expect(stdout).toMatch(/"line":2,"reason":"missing_tab"/);
    expect(stdout).toContain('"missing_tab":1');
    expect(stdout).toMatch(/xnli row: "label"/);
    expect(lines).toContain('two-files'); // FLORES-style two-file upload
    expect(stdout).toContain('src has 5 lines, tgt has 4');
    expect(stdout).toMatch(/"n":2,"seed":1,"of":4/); // suite subset
    expect(lines).toContain('auto'); // templateLang
    expect(stdout).toContain('Unrecognized key: "rows"');
    expect(lines).toContain('queued');
    expect(lines).toContain('4'); // sweep: 2 sparsities × (wanda, magnitude)
    expect(lines).toContain('analyze'); // sweep with analyze: true
    expect(stdout).toContain('not_cancelable');
    const afterRuns = stdout.slice(stdout.indexOf('---runs---'));
    expect(afterRuns).toMatch(/\["fr"\]/);
    expect(afterRuns).toMatch(/wanda 50% mt:fr-en|dense/);
  });
});
