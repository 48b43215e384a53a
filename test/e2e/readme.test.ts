import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applyMigrations, freePort, repoRoot, startWorker, type WorkerProcess } from '../../scripts/lib/stack';

/**
 * The curl examples of docs/api.md, every `bash` block in order, executed verbatim (only API and
 * ADMIN are set for this stack): documentation that stops working fails CI.
 */
const run = promisify(execFile);
const ADMIN = 'pp_admin_e2e_readme_0123456789abcdef';
let worker: WorkerProcess;
let state: string;
let blocks: { title: string; code: string }[];

async function exampleBlocks() {
  const md = await readFile(path.join(repoRoot, 'docs/api.md'), 'utf8');
  const out: { title: string; code: string }[] = [];
  let title = 'setup';
  for (const part of md.split(/^(## .*)$/m)) {
    if (part.startsWith('## ')) title = part.slice(3).trim();
    for (const m of part.matchAll(/```bash\n([\s\S]*?)```/g)) out.push({ title, code: m[1]! });
  }
  return out;
}

async function bash(script: string) {
  const { stdout, stderr } = await run('bash', ['-c', script], { cwd: repoRoot, maxBuffer: 10 * 1024 * 1024, timeout: 120_000 });
  return { stdout, stderr };
}

beforeAll(async () => {
  blocks = await exampleBlocks();
  state = await mkdtemp(path.join(os.tmpdir(), 'pp-readme-'));
  await applyMigrations(state);
  worker = await startWorker({ port: await freePort(), persistTo: state, vars: { ADMIN_TOKEN: ADMIN } });
});

afterAll(async () => {
  await worker?.stop();
  if (state) await rm(state, { recursive: true, force: true });
});

describe('docs/api.md examples', () => {
  it('has examples for every resource', () => {
    expect(blocks.map((b) => b.title)).toEqual(
      expect.arrayContaining([
        'Tokens (admin)',
        'Models',
        'Corpora (bilingual sentence pairs)',
        'Suites (evaluation data)',
        'Runner protocol (what gpu-runner does; shown by hand)',
        'Jobs and sweeps',
        'Runs and leaderboards',
      ]),
    );
  });

  it('run as written against wrangler dev, every block in order', async () => {
    const setup = blocks[0]!.code.replace(/^export API=.*$/m, `export API=${worker.url}`).replace(/^export ADMIN=.*$/m, `export ADMIN=${ADMIN}`);
    expect(setup).toContain(worker.url);
    // Before the runs block, finish the oldest queued job the way a runner would (this stack has
    // none), so that block has something to show.
    const finishOne = `
      L=$(curl -s -X POST $API/v1/runner/lease -H "Authorization: Bearer $RUNNER" -H 'content-type: application/json' -d '{"runnerId":"readme"}')
      J=$(echo "$L" | json job.id); T=$(echo "$L" | json leaseToken); S=$(echo "$L" | json job.spec.suites.0)
      [ "$J" = "$JOB" ] && echo "finished the prune job"
      curl -s -X POST $API/v1/runner/jobs/$J/complete -H "Authorization: Bearer $RUNNER" -H 'content-type: application/json' \\
        -d "{\\"leaseToken\\":\\"$T\\",\\"result\\":{\\"scores\\":[{\\"suiteId\\":\\"$S\\",\\"format\\":\\"mc\\",\\"lang\\":\\"fr\\",\\"scoring\\":\\"paper\\",\\"metric\\":\\"acc\\",\\"value\\":0.5,\\"n\\":48}]}}" | json runId`;
    const steps = blocks.map((b, i) => {
      const code = i === 0 ? setup : b.code;
      const before = b.title === 'Runs and leaderboards' ? finishOne : '';
      return `echo "---block ${i}---"\n${before}\n${code}`;
    });
    const { stdout, stderr } = await bash(['set -uo pipefail', ...steps, 'echo "---end---"'].join('\n'));
    expect(stderr).not.toMatch(/command not found|No such file|syntax error|unbound variable/);
    // `json` prints "undefined" when a field is missing: no example may hit that.
    expect(
      stdout.split('\n').filter((l) => l.trim() === 'undefined'),
      stdout,
    ).toEqual([]);
    // Every block ran, in the page's order, and the shell got to the end.
    const out = blocks.map((_, i) => {
      const from = stdout.indexOf(`---block ${i}---\n`);
      expect(from, `block ${i} (${blocks[i]!.title}) did not run`).toBeGreaterThanOrEqual(0);
      const to = i + 1 < blocks.length ? stdout.indexOf(`---block ${i + 1}---\n`) : stdout.indexOf('---end---');
      expect(to, `block ${i + 1} does not follow block ${i}`).toBeGreaterThan(from);
      return stdout.slice(from, to);
    });
    const of = (title: string) => {
      const i = blocks.findIndex((b) => b.title === title);
      expect(i, title).toBeGreaterThanOrEqual(0);
      return { text: out[i]!, lines: out[i]!.split('\n') };
    };

    expect(of('setup').text).toContain('"openapi":"3.1.0"');
    const tokens = of('Tokens (admin)');
    expect(tokens.text).toMatch(/^\d{4}-\d\d-\d\dT/m); // revokedAt
    const models = of('Models');
    expect(models.lines).toContain('true'); // complete
    expect(models.lines).toContain('model.onnx'); // graph
    expect(models.lines).toContain('[]'); // missing
    expect(models.lines).toContain('invalid_onnx');
    expect(models.lines).toContain('apache-2.0');
    expect(models.lines).toContain('demo-xglm-tiny');
    const onnxSize = String((await stat(path.join(repoRoot, 'demo/model/model.onnx'))).size);
    expect(models.lines.filter((l) => l === onnxSize).length).toBe(1); // the multipart upload, hash checked
    expect(models.lines).toContain('206'); // range request
    const corpora = of('Corpora (bilingual sentence pairs)');
    expect(corpora.text).toMatch(/"line":2,"reason":"missing_tab"/);
    expect(corpora.text).toContain('"missing_tab":1');
    expect(corpora.lines).toContain('two-files'); // FLORES-style two-file upload
    // ?original=true serves the uploaded file: its sha256sum is the file's on disk
    const sums = corpora.lines.filter((l) => /^[0-9a-f]{64} {2}/.test(l)).map((l) => l.slice(0, 64));
    expect(sums).toHaveLength(2);
    expect(sums[0]).toBe(sums[1]);
    expect(corpora.text).toContain('src has 5 lines, tgt has 4');
    const suites = of('Suites (evaluation data)');
    expect(suites.text).toMatch(/xnli row: "label"/);
    expect(suites.text).toMatch(/"n":2,"seed":1,"of":4/); // suite subset
    const runner = of('Runner protocol (what gpu-runner does; shown by hand)');
    expect(runner.lines).toEqual(expect.arrayContaining(['leased the example job', '200', 'evaluate', 'canceled', 'lease_lost', 'not_cancelable']));
    const jobs = of('Jobs and sweeps');
    expect(jobs.lines).toContain('queued');
    expect(jobs.lines).toContain('4'); // sweep: 2 sparsities × (wanda, magnitude)
    expect(jobs.lines).toContain('"kind":"analyze","status":"queued"'); // sweep with analyze: true
    expect(jobs.lines).toContain('auto'); // templateLang
    expect(jobs.text).toContain('Unrecognized key: "rows"');
    const runs = of('Runs and leaderboards');
    expect(runs.lines).toContain('finished the prune job');
    expect(runs.lines).toContain('succeeded'); // the wait for the job's end
    expect(runs.text).toMatch(/^run_\w+$/m);
    expect(runs.text).toMatch(/\["fr"\]/);
    expect(runs.lines).toContain('wanda 50% mt:fr-en'); // the run of $JOB
  });
});
