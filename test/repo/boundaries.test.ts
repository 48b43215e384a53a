/**
 * Package boundaries (docs/design.md, "Packages and their imports"): what each of worker/,
 * gpu-runner/, cli/ and shared/ may import of the others. Code two packages need lives in shared/.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const root = path.join(import.meta.dirname, '../..');
type Pkg = 'worker' | 'gpu-runner' | 'cli' | 'shared';
const packages: Record<Pkg, string> = { worker: 'worker/src', 'gpu-runner': 'gpu-runner/src', cli: 'cli', shared: 'shared/src' };

/** What each package must never import. */
const forbidden: Record<Pkg, Pkg[]> = {
  worker: ['gpu-runner', 'cli'],
  'gpu-runner': ['worker', 'cli'],
  cli: ['worker'],
  shared: ['worker', 'gpu-runner', 'cli'],
};

function sources(dir: string): string[] {
  return readdirSync(path.join(root, dir), { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && /\.(ts|tsx|mts|js|mjs)$/.test(e.name))
    .map((e) => path.relative(root, path.join(e.parentPath, e.name)));
}

/** Specifiers of static imports and re-exports (type-only ones too), dynamic imports and requires. */
function specifiers(code: string): string[] {
  const out: string[] = [];
  const patterns = [
    /\b(?:import|export)\s[^'";]*?\bfrom\s*['"]([^'"]+)['"]/g,
    /\bimport\s*['"]([^'"]+)['"]/g,
    /\b(?:import|require)\s*\(\s*['"]([^'"]+)['"]\s*\)/g,
  ];
  for (const re of patterns) for (const m of code.matchAll(re)) out.push(m[1]!);
  return out;
}

/** The source file a relative import names (`.js` written for `.ts`, a folder for its index.ts), if it is one. */
function resolveSource(file: string, spec: string, known: Set<string>): string | undefined {
  if (!spec.startsWith('.')) return undefined;
  const base = path.relative(root, path.resolve(root, path.dirname(file), spec)).replace(/\.js$/, '');
  return [`${base}.ts`, `${base}.tsx`, `${base}/index.ts`, base].find((c) => known.has(c));
}

/** One import cycle of the graph (files in order, the first repeated at the end), if there is one. */
function findCycle(graph: Map<string, string[]>): string[] | null {
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const visit = (f: string): string[] | null => {
    state.set(f, 'open');
    stack.push(f);
    for (const g of graph.get(f) ?? []) {
      if (state.get(g) === 'open') return [...stack.slice(stack.indexOf(g)), g];
      if (!state.has(g)) {
        const found = visit(g);
        if (found) return found;
      }
    }
    stack.pop();
    state.set(f, 'done');
    return null;
  };
  for (const f of graph.keys()) {
    if (state.has(f)) continue;
    const found = visit(f);
    if (found) return found;
  }
  return null;
}

/** The package a relative import from `file` lands in (null: outside the four, or a module of node_modules). */
function packageOf(file: string, spec: string): Pkg | null {
  if (!spec.startsWith('.')) return null;
  const target = path.relative(root, path.resolve(root, path.dirname(file), spec));
  for (const [pkg, dir] of Object.entries(packages) as [Pkg, string][]) if (target === dir || target.startsWith(`${dir}/`)) return pkg;
  return null;
}

describe('package boundaries', () => {
  it('the scan sees every kind of import', () => {
    const code = `import a from '../x';\nimport type { B } from "../y";\nexport { c } from '../z';\nimport '../side';\nconst d = await import('../dyn');\nimport {\n  e,\n  f,\n} from '../multi';`;
    expect(specifiers(code).sort()).toEqual(['../dyn', '../multi', '../side', '../x', '../y', '../z']);
    expect(packageOf('cli/commands/data.ts', '../../worker/src/env')).toBe('worker');
    expect(packageOf('cli/commands/data.ts', '../../gpu-runner/src/ort')).toBe('gpu-runner');
    expect(packageOf('shared/src/http.ts', './api/errors')).toBe('shared');
    expect(
      findCycle(
        new Map([
          ['a', ['b']],
          ['b', ['c']],
          ['c', ['a']],
        ]),
      ),
    ).toEqual(['a', 'b', 'c', 'a']);
    expect(
      findCycle(
        new Map([
          ['a', ['b', 'c']],
          ['b', ['c']],
          ['c', []],
        ]),
      ),
    ).toBeNull();
  });

  // Type-only cycles too: a type two modules share lives in a module of its own.
  it('no module imports itself through others', () => {
    const files = Object.values(packages).flatMap(sources);
    const known = new Set(files);
    const graph = new Map(
      files.map((f) => [f, specifiers(readFileSync(path.join(root, f), 'utf8')).flatMap((s) => resolveSource(f, s, known) ?? [])] as const),
    );
    expect(graph.get('gpu-runner/src/evaluate/model.ts')).toContain('gpu-runner/src/evaluate/cache-probe.ts');
    expect(findCycle(graph)).toBeNull();
  });

  for (const [pkg, dir] of Object.entries(packages) as [Pkg, string][]) {
    it(`${dir}/ imports none of ${forbidden[pkg].join(', ')}`, () => {
      const files = sources(dir);
      expect(files.length).toBeGreaterThan(3);
      const crossings = files.flatMap((f) =>
        specifiers(readFileSync(path.join(root, f), 'utf8'))
          .filter((s) => forbidden[pkg].includes(packageOf(f, s)!))
          .map((s) => `${f} imports ${s}`),
      );
      expect(crossings).toEqual([]);
    });
  }
});
