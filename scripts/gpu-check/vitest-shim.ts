/**
 * What the webgpu project's test files import from 'vitest', for the device bundle (build.ts): the
 * real `expect` (vitest's own, which runs outside its runner) and a collector for describe/it, so
 * the files run unchanged without vitest's runner, vite and their native binaries (too large for the
 * device's 64 MiB carry limit). Covers what those files use: describe(.each/.skip/.runIf/.skipIf),
 * it/test(.each/.skip/.runIf/.skipIf); no hooks, .only or concurrency. A file that imports anything
 * else from 'vitest' fails the bundle build (esbuild: no matching export), not the device run.
 */
import { expect } from 'vitest';

export { expect };

export type TestFn = () => unknown;

export interface TestCase {
  kind: 'test';
  name: string;
  fn: TestFn;
  skip: boolean;
  timeout: number | undefined;
}

export interface Suite {
  kind: 'suite';
  name: string;
  children: Array<Suite | TestCase>;
  skip: boolean;
}

let current: Suite = { kind: 'suite', name: '', children: [], skip: false };

/** The tree collected since the last call, which starts a fresh one. */
export function takeCollected(): Suite {
  const root = current;
  current = { kind: 'suite', name: '', children: [], skip: false };
  return root;
}

function addSuite(name: string, fn: () => unknown, skip: boolean): void {
  const suite: Suite = { kind: 'suite', name, children: [], skip: skip || current.skip };
  current.children.push(suite);
  const parent = current;
  current = suite;
  try {
    const r = fn();
    if (r instanceof Promise) throw new Error(`describe("${name}") returned a promise: suites are collected synchronously`);
  } finally {
    current = parent;
  }
}

function addTest(name: string, fn: TestFn, skip: boolean, timeout?: number): void {
  current.children.push({ kind: 'test', name, fn, skip: skip || current.skip, timeout });
}

/** vitest's name formatting for .each: printf-style %s %d %i %f %j %o %# %%, and $key.path for object rows. */
export function formatName(template: string, row: unknown, index: number): string {
  const args = Array.isArray(row) ? [...row] : [row];
  let out = template.replace(/%[sdifjo#%]/g, (m) => {
    if (m === '%%') return '%';
    if (m === '%#') return String(index);
    if (args.length === 0) return m;
    const v = args.shift();
    if (m === '%d' || m === '%i') return String(m === '%i' ? Math.trunc(Number(v)) : Number(v));
    if (m === '%f') return String(Number(v));
    if (m === '%j' || m === '%o') return JSON.stringify(v);
    return typeof v === 'string' ? v : typeof v === 'object' && v !== null ? JSON.stringify(v) : String(v);
  });
  if (row !== null && typeof row === 'object' && !Array.isArray(row)) {
    out = out.replace(/\$([A-Za-z_][\w.]*)/g, (m, key: string) => {
      let v: unknown = row;
      for (const k of key.split('.')) v = v !== null && typeof v === 'object' ? (v as Record<string, unknown>)[k] : undefined;
      return v === undefined ? m : typeof v === 'string' ? v : JSON.stringify(v);
    });
  }
  return out.replace(/\$#/g, String(index));
}

type EachFn = (...args: never[]) => unknown;
const spread = (row: unknown): unknown[] => (Array.isArray(row) ? row : [row]);

function eachOf(register: (name: string, fn: () => unknown, timeout?: number) => void) {
  return (rows: readonly unknown[]) =>
    (template: string, fn: EachFn, timeout?: number): void => {
      const call = fn as unknown as (...a: unknown[]) => unknown;
      rows.forEach((row, i) => register(formatName(template, row, i), () => call(...spread(row)), timeout));
    };
}

type ItFn = (name: string, fn: TestFn, timeout?: number) => void;

function makeIt(): ItFn & {
  each: ReturnType<typeof eachOf>;
  skip: ItFn;
  runIf: (cond: unknown) => ItFn;
  skipIf: (cond: unknown) => ItFn;
} {
  const it = (name: string, fn: TestFn, timeout?: number) => addTest(name, fn, false, timeout);
  return Object.assign(it, {
    each: eachOf((name, fn, timeout) => addTest(name, fn, false, timeout)),
    skip: (name: string, fn: TestFn, timeout?: number) => addTest(name, fn, true, timeout),
    runIf: (cond: unknown) => (name: string, fn: TestFn, timeout?: number) => addTest(name, fn, !cond, timeout),
    skipIf: (cond: unknown) => (name: string, fn: TestFn, timeout?: number) => addTest(name, fn, Boolean(cond), timeout),
  });
}

export const it = makeIt();
export const test = it;

export const describe = Object.assign((name: string, fn: () => unknown) => addSuite(name, fn, false), {
  each: eachOf((name, fn) => addSuite(name, fn, false)),
  skip: (name: string, fn: () => unknown) => addSuite(name, fn, true),
  runIf: (cond: unknown) => (name: string, fn: () => unknown) => addSuite(name, fn, !cond),
  skipIf: (cond: unknown) => (name: string, fn: () => unknown) => addSuite(name, fn, Boolean(cond)),
});
