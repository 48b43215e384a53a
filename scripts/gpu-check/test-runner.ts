/**
 * The webgpu test project without vitest, for the device bundle (build.ts bundles this with the
 * project's files and vitest-shim.ts standing in for 'vitest'). As vitest's forks pool does, each
 * file runs in its own process, so module state (session defaults, caches) is per file.
 *
 *   node tests.mjs [--json FILE] [--budget-s N] [--only SUBSTR,…]   every file, one after another
 *   node tests.mjs --list                                            the files
 *   node tests.mjs --file F --result R                               one file (the child)
 *
 * Prints a line per test and vitest's summary lines ("Test Files …", "Tests …"), writes a JSON
 * report in the shape of vitest's json reporter (numPassedTests, testResults[].assertionResults…),
 * and exits 1 when anything failed or did not run. The budget stops starting files once it is
 * spent and kills the one running at the deadline (the device call has a hard 10-minute limit).
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { type Suite, type TestCase, takeCollected } from './vitest-shim';

export interface TestProject {
  /** repo-relative path → import of the file (lazy: the child imports one) */
  files: Record<string, () => Promise<unknown>>;
  setupFiles: Array<() => Promise<unknown>>;
  env: Record<string, string>;
  /** ms, vitest's testTimeout */
  testTimeout: number;
}

export interface TestResult {
  ancestorTitles: string[];
  title: string;
  fullName: string;
  status: 'passed' | 'failed' | 'skipped';
  duration: number;
  failureMessages: string[];
}

export interface FileResult {
  name: string;
  status: 'passed' | 'failed';
  message: string;
  duration: number;
  assertionResults: TestResult[];
}

export interface Report {
  success: boolean;
  numTotalTestSuites: number;
  numPassedTestSuites: number;
  numFailedTestSuites: number;
  numTotalTests: number;
  numPassedTests: number;
  numFailedTests: number;
  numPendingTests: number;
  startTime: number;
  duration: number;
  testResults: FileResult[];
}

function arg(argv: string[], name: string): string | undefined {
  const i = argv.indexOf(name);
  return i >= 0 ? argv[i + 1] : undefined;
}

export async function main(project: TestProject, argv = process.argv.slice(2)): Promise<never> {
  if (argv.includes('--list')) {
    for (const f of Object.keys(project.files)) console.log(f);
    process.exit(0);
  }
  const file = arg(argv, '--file');
  if (file !== undefined) await runFile(project, file, arg(argv, '--result'));
  const only = arg(argv, '--only')?.split(',').filter(Boolean);
  const files = Object.keys(project.files).filter((f) => !only || only.some((o) => f.includes(o)));
  const report = await runAll(files, Number(arg(argv, '--budget-s') ?? 540) * 1000);
  const json = arg(argv, '--json');
  if (json) writeFileSync(json, JSON.stringify(report, null, 1));
  process.exit(report.success ? 0 : 1);
}

/** The child: one file's tests in order, its result file rewritten after each (a kill keeps what ran). */
async function runFile(project: TestProject, file: string, resultFile: string | undefined): Promise<never> {
  const load = project.files[file];
  const t0 = performance.now();
  const result: FileResult = { name: file, status: 'passed', message: '', duration: 0, assertionResults: [] };
  const save = () => {
    result.duration = performance.now() - t0;
    if (resultFile) writeFileSync(resultFile, JSON.stringify(result));
  };
  const unhandled: string[] = [];
  process.on('unhandledRejection', (e) => unhandled.push(errorText(e)));
  process.on('uncaughtException', (e) => unhandled.push(errorText(e)));
  try {
    if (!load) throw new Error(`not a file of this project: ${file}`);
    Object.assign(process.env, project.env);
    for (const setup of project.setupFiles) await setup();
    await load();
    await runSuite(takeCollected(), [], project.testTimeout, file, result, save);
  } catch (e) {
    result.status = 'failed';
    result.message = errorText(e);
    console.log(` FAIL ${file}\n${indent(result.message)}`);
  }
  if (unhandled.length) {
    result.status = 'failed';
    result.message = [result.message, `unhandled errors:\n${unhandled.join('\n')}`].filter(Boolean).join('\n');
    console.log(` FAIL ${file}: unhandled errors\n${indent(unhandled.join('\n'))}`);
  }
  if (result.assertionResults.some((t) => t.status === 'failed')) result.status = 'failed';
  save();
  // Dawn's instance and onnxruntime's thread pools can keep the event loop alive.
  process.exit(result.status === 'passed' ? 0 : 1);
}

async function runSuite(suite: Suite, titles: string[], timeout: number, file: string, result: FileResult, save: () => void): Promise<void> {
  for (const c of suite.children) {
    if (c.kind === 'suite') await runSuite(c, [...titles, c.name], timeout, file, result, save);
    else {
      result.assertionResults.push(await runTest(c, titles, c.timeout ?? timeout, file));
      save();
    }
  }
}

async function runTest(t: TestCase, titles: string[], timeout: number, file: string): Promise<TestResult> {
  const fullName = [...titles, t.name].join(' > ');
  const base = { ancestorTitles: titles, title: t.name, fullName };
  if (t.skip) {
    console.log(` ↓ ${file} > ${fullName} [skipped]`);
    return { ...base, status: 'skipped', duration: 0, failureMessages: [] };
  }
  const t0 = performance.now();
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      Promise.resolve().then(t.fn),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`Test timed out in ${timeout}ms.`)), timeout);
      }),
    ]);
    const duration = performance.now() - t0;
    console.log(` ✓ ${file} > ${fullName} ${duration.toFixed(0)}ms`);
    return { ...base, status: 'passed', duration, failureMessages: [] };
  } catch (e) {
    const duration = performance.now() - t0;
    const message = errorText(e);
    console.log(` × ${file} > ${fullName} ${duration.toFixed(0)}ms\n${indent(message)}`);
    return { ...base, status: 'failed', duration, failureMessages: [message] };
  } finally {
    clearTimeout(timer);
  }
}

function errorText(e: unknown): string {
  if (!(e instanceof Error)) return String(e);
  const lines = [(e.stack ?? `${e.name}: ${e.message}`).split('\n').slice(0, 8).join('\n')];
  const a = e as Error & { showDiff?: boolean; expected?: unknown; actual?: unknown };
  if (a.showDiff) lines.push(`expected: ${short(a.expected)}`, `actual:   ${short(a.actual)}`);
  return lines.join('\n');
}

function short(v: unknown): string {
  let s: string;
  try {
    s = typeof v === 'string' ? JSON.stringify(v) : (JSON.stringify(v, (_, x) => (typeof x === 'bigint' ? `${x}n` : x)) ?? String(v));
  } catch {
    s = String(v);
  }
  return s.length > 400 ? `${s.slice(0, 400)}…` : s;
}

const indent = (s: string) =>
  s
    .split('\n')
    .map((l) => `     ${l}`)
    .join('\n');

/** The parent: every file in its own child, one after another, until the budget is spent. */
async function runAll(files: string[], budgetMs: number): Promise<Report> {
  const startTime = Date.now();
  const deadline = startTime + budgetMs;
  const dir = mkdtempSync(path.join(os.tmpdir(), 'pp-gpu-tests-'));
  const results: FileResult[] = [];
  try {
    for (const [i, file] of files.entries()) {
      const left = deadline - Date.now();
      if (left < 5_000) {
        const message = `not run: the ${Math.round(budgetMs / 1000)} s budget was spent`;
        console.log(` SKIP ${file}: ${message}`);
        results.push({ name: file, status: 'failed', message, duration: 0, assertionResults: [] });
        continue;
      }
      const resultFile = path.join(dir, `${i}.json`);
      const t0 = Date.now();
      const { code, signal, timedOut } = await child([...process.execArgv, process.argv[1]!, '--file', file, '--result', resultFile], left);
      const partial: FileResult | undefined = existsSync(resultFile) ? JSON.parse(readFileSync(resultFile, 'utf8')) : undefined;
      const r = partial ?? { name: file, status: 'failed', message: '', duration: Date.now() - t0, assertionResults: [] };
      // A child that ran to its end has said why it failed; otherwise say how it ended.
      const why = timedOut
        ? `killed at the budget's deadline after ${((Date.now() - t0) / 1000).toFixed(0)} s`
        : code !== 0 && (!partial || partial.status === 'passed')
          ? `exited with ${signal ?? `code ${code}`}`
          : undefined;
      if (why) {
        r.status = 'failed';
        r.message = [r.message, why].filter(Boolean).join('\n');
        console.log(` FAIL ${file}: ${why}`);
      }
      results.push(r);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const tests = results.flatMap((r) => r.assertionResults);
  const count = (s: TestResult['status']) => tests.filter((t) => t.status === s).length;
  const report: Report = {
    success: results.every((r) => r.status === 'passed'),
    numTotalTestSuites: results.length,
    numPassedTestSuites: results.filter((r) => r.status === 'passed').length,
    numFailedTestSuites: results.filter((r) => r.status === 'failed').length,
    numTotalTests: tests.length,
    numPassedTests: count('passed'),
    numFailedTests: count('failed'),
    numPendingTests: count('skipped'),
    startTime,
    duration: Date.now() - startTime,
    testResults: results,
  };
  console.log(summary(report));
  return report;
}

/** vitest's closing lines: "Test Files  6 passed | 1 failed (7)", "Tests  148 passed | 2 skipped (150)". */
export function summary(r: Report): string {
  const parts = (pairs: Array<[number, string]>, total: number) =>
    `${pairs
      .filter(([n]) => n > 0)
      .map(([n, w]) => `${n} ${w}`)
      .join(' | ')} (${total})`;
  return [
    '',
    ` Test Files  ${parts(
      [
        [r.numFailedTestSuites, 'failed'],
        [r.numPassedTestSuites, 'passed'],
      ],
      r.numTotalTestSuites,
    )}`,
    `      Tests  ${parts(
      [
        [r.numFailedTests, 'failed'],
        [r.numPassedTests, 'passed'],
        [r.numPendingTests, 'skipped'],
      ],
      r.numTotalTests,
    )}`,
    `   Duration  ${(r.duration / 1000).toFixed(1)}s`,
  ].join('\n');
}

function child(args: string[], timeoutMs: number): Promise<{ code: number | null; signal: string | null; timedOut: boolean }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, args, { stdio: ['ignore', 'inherit', 'inherit'] });
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      p.kill('SIGKILL');
    }, timeoutMs);
    p.on('exit', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, timedOut });
    });
  });
}
