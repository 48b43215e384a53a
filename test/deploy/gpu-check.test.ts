/**
 * The device check's bundle (scripts/gpu-check.sh, scripts/gpu-check/; docs/gpu.md), offline: the
 * script parses, the bundles build and run on Node with only the native packages beside them, the
 * device runs exactly the webgpu project's files, the stand-in for vitest's runner reports
 * passes, failures, skips and timeouts as vitest would name and count them, and Node with its ICU
 * data trimmed answers Intl in English as the full Node does.
 */
import { execFile } from 'node:child_process';
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildBundles, buildTests, ROOT } from '../../scripts/gpu-check/build';
import { listIcuPackage, trimIcuPackage, trimNodeIcu } from '../../scripts/gpu-check/icu-trim';
import type { Report } from '../../scripts/gpu-check/test-runner';

const run = promisify(execFile);
const node = path.join(ROOT, 'node_modules/.bin/node');
let dir: string;

beforeAll(async () => {
  // inside the repo, so the bundles' external packages resolve from its node_modules
  await mkdir(path.join(ROOT, 'test/artifacts'), { recursive: true });
  dir = await mkdtemp(path.join(ROOT, 'test/artifacts/gpu-check-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('scripts/gpu-check.sh', () => {
  it('parses, and the device command fits the tool’s 2000 characters', async () => {
    await run('bash', ['-n', path.join(ROOT, 'scripts/gpu-check.sh')]);
    const doc = await readFile(path.join(ROOT, 'docs/gpu.md'), 'utf8');
    const command = /command `([^`]+)`, carry `\[".gl", ".gpu"\]`/.exec(doc)?.[1];
    expect(command).toBe('bash scripts/gpu-check.sh');
    expect(command!.length).toBeLessThanOrEqual(2000);
    const script = await readFile(path.join(ROOT, 'scripts/gpu-check.sh'), 'utf8');
    expect(script).toContain(`device run: command "${command}", carry [".gl", ".gpu"], timeout_s 600`);
  });
});

describe('device bundles', () => {
  it('build, and tests.mjs lists the files vitest runs in the webgpu project', async () => {
    const [probe, , tests] = await buildBundles(dir);
    const listed = (await run(node, [tests!, '--list'], { cwd: ROOT })).stdout.trim().split('\n');
    const vitest = await run(path.join(ROOT, 'node_modules/.bin/vitest'), ['list', '--config', 'vitest.webgpu.config.ts', '--filesOnly'], {
      cwd: ROOT,
      timeout: 60_000,
    });
    const theirs = vitest.stdout
      .split('\n')
      .map((l) => l.replace(/^\[webgpu\] /, '').trim())
      .filter(Boolean);
    expect(listed.length).toBeGreaterThan(0);
    expect([...listed].sort()).toEqual([...theirs].sort());
    // the runner's probe from its bundle: device resolution and the one-layer check path
    const p = await run(node, [probe!, '--probe'], { cwd: ROOT, env: { ...process.env, POLYPRUNE_DEVICE: 'cpu' }, timeout: 60_000 });
    expect(p.stdout).toContain('device cpu resolves to cpu');
  });

  it('the test runner counts passes, failures, skips and timeouts, and names .each cases as vitest does', async () => {
    const rel = path.relative(ROOT, path.join(dir, 'sample.test.ts')).split(path.sep).join('/');
    await writeFile(
      path.join(ROOT, rel),
      `import { describe, expect, it } from 'vitest';
describe.each([{ dir: 'gpt2', n: 2 }, { dir: 'bloom', n: 3 }])('$dir layout', ({ n }) => {
  it('adds', () => expect(n + n).toBe(2 * n));
  it.runIf(n === 3)('only for bloom', () => expect(n).toBe(3));
});
describe('plain', () => {
  it.each([[1, 2], [2, 5]])('%s doubled is %s', (a, b) => expect(a * 2).toBe(b));
  it('rejects', async () => { await expect(Promise.reject(new Error('boom'))).rejects.toThrow(/boom/); });
  it('hangs', () => new Promise(() => {}));
});
`,
    );
    const tests = path.join(dir, 'sample-tests.mjs');
    await buildTests(tests, { files: [rel], setupFiles: [], env: { SAMPLE: '1' }, testTimeout: 300 });
    const json = path.join(dir, 'report.json');
    const child = run(node, [tests, '--json', json, '--budget-s', '60'], { cwd: ROOT, timeout: 60_000 });
    await expect(child).rejects.toMatchObject({ code: 1 });
    const report = JSON.parse(await readFile(json, 'utf8')) as Report;
    const byName = Object.fromEntries(report.testResults[0]!.assertionResults.map((t) => [t.fullName, t.status]));
    expect(byName).toEqual({
      'gpt2 layout > adds': 'passed',
      'gpt2 layout > only for bloom': 'skipped',
      'bloom layout > adds': 'passed',
      'bloom layout > only for bloom': 'passed',
      'plain > 1 doubled is 2': 'passed',
      'plain > 2 doubled is 5': 'failed',
      'plain > rejects': 'passed',
      'plain > hangs': 'failed',
    });
    expect(report).toMatchObject({ success: false, numTotalTests: 8, numPassedTests: 5, numFailedTests: 2, numPendingTests: 1, numFailedTestSuites: 1 });
    const failures = report.testResults[0]!.assertionResults.flatMap((t) => t.failureMessages).join('\n');
    expect(failures).toContain('expected 4 to be 5');
    expect(failures).toContain('Test timed out in 300ms');
  });
});

/** A CmnD package written the plain way: items in 32-byte slots (the trim writes 16-byte ones). */
function icuPackage(items: Array<[string, string]>): Buffer {
  const header = Buffer.alloc(32);
  header.writeUInt16LE(32, 0);
  header.set([0xda, 0x27], 2);
  header.writeUInt16LE(20, 4);
  header.write('CmnD', 12, 'latin1');
  const names = items.map(([n]) => `${n}\0`).join('');
  const first = Math.ceil((4 + 8 * items.length + names.length) / 32) * 32;
  const toc = Buffer.alloc(first + 32 * items.length);
  toc.writeUInt32LE(items.length, 0);
  let nameAt = 4 + 8 * items.length;
  toc.write(names, nameAt, 'latin1');
  for (const [i, [n, data]] of items.entries()) {
    toc.writeUInt32LE(nameAt, 4 + 8 * i);
    toc.writeUInt32LE(first + 32 * i, 8 + 8 * i);
    toc.write(data, first + 32 * i, 'latin1');
    nameAt += n.length + 1;
  }
  return Buffer.concat([header, toc]);
}

describe('icu-trim', () => {
  it('keeps every item but the resource bundles of other locales, bytes unchanged', () => {
    const items: Array<[string, string]> = [
      ['icudt78l/coll/de.res', 'coll de'],
      ['icudt78l/coll/root.res', 'coll root rules'],
      ['icudt78l/de.res', 'german'],
      ['icudt78l/en.res', 'english'],
      ['icudt78l/en_US.res', 'us'],
      ['icudt78l/nfkc.nrm', 'normalization'],
      ['icudt78l/pool.res', 'shared strings'],
      ['icudt78l/res_index.res', 'index'],
      ['icudt78l/sr_Latn_BA.res', 'serbian'],
      ['icudt78l/supplementalData.res', 'supplemental'],
      ['icudt78l/zoneinfo64.res', 'zones'],
    ];
    const out = listIcuPackage(trimIcuPackage(icuPackage(items)));
    const want = items.filter(([n]) => !['icudt78l/coll/de.res', 'icudt78l/de.res', 'icudt78l/sr_Latn_BA.res'].includes(n));
    expect(out.map((it) => it.name)).toEqual(want.map(([n]) => n));
    for (const [i, it] of out.entries()) {
      const data = want[i]![1];
      expect(it.data.toString('latin1', 0, data.length)).toBe(data);
      expect(it.data.subarray(data.length).every((b) => b === 0)).toBe(true);
    }
  });

  it('Node with trimmed ICU data answers Intl in English as the full Node does; other locales fall back', async () => {
    const full = path.join(ROOT, 'node_modules/node/bin/node');
    const trimmed = path.join(dir, 'node-icu-trimmed');
    const r = trimNodeIcu(await readFile(full));
    expect(r.after).toBeLessThan(r.before / 2);
    await writeFile(trimmed, r.binary);
    await chmod(trimmed, 0o755);
    const script = `console.log(JSON.stringify({
      en: (1234567.891).toLocaleString('en-US'), date: new Date(0).toLocaleString('en-US', { timeZone: 'Asia/Tokyo' }),
      nfkc: '\ufb01\u2460'.normalize('NFKC'), letters: /\\p{L}+/u.exec('日本語abc')[0], sort: ['b', 'a', 'ä', 'z'].sort((x, y) => x.localeCompare(y)).join(''),
      plural: new Intl.PluralRules('en').select(1), words: [...new Intl.Segmenter('en', { granularity: 'word' }).segment('Hello world')].length,
      de: (1234.5).toLocaleString('de-DE') }))`;
    const answer = async (bin: string) => JSON.parse((await run(bin, ['-e', script])).stdout) as Record<string, string>;
    const [a, b] = [await answer(full), await answer(trimmed)];
    expect(a.de).toBe('1.234,5');
    expect(b.de).toBe('1,234.5');
    expect({ ...b, de: a.de }).toEqual(a);
  });
});
