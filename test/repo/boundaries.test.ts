/**
 * Package boundaries (docs/design.md, "Packages"): what each of the npm workspaces shared/, worker/,
 * gpu-runner/ and cli/ may import of the others. Code two packages need lives in shared/; another
 * package's code is imported by its name (`@polyprune/shared/api/jobs`), never by a relative path.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const root = path.join(import.meta.dirname, '../..');
type Pkg = 'worker' | 'gpu-runner' | 'cli' | 'shared';
/** Each package's sources, which `@polyprune/<package>/<path>` names (package.json "exports"). */
const packages: Record<Pkg, string> = { worker: 'worker/src', 'gpu-runner': 'gpu-runner/src', cli: 'cli', shared: 'shared/src' };

/** The packages each package may import; anything else is a crossing. */
const allowed: Record<Pkg, Pkg[]> = {
  shared: [],
  worker: ['shared'],
  'gpu-runner': ['shared'],
  cli: ['shared'],
};

/** Folders outside the packages whose imports are checked too (relative imports into a package are not allowed there either). */
const others = ['test', 'bench', 'scripts', 'bin'];
const skipped = new Set(['test/fixtures', 'test/artifacts', 'scripts/demo-model']);
/** This file: its examples of crossings are strings, not imports. */
const self = path.relative(root, import.meta.filename);

function sources(dir: string): string[] {
  return readdirSync(path.join(root, dir), { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && /\.(ts|tsx|mts|js|mjs)$/.test(e.name))
    .map((e) => path.relative(root, path.join(e.parentPath, e.name)))
    .filter((f) => ![...skipped].some((s) => f.startsWith(`${s}/`)) && !f.includes('node_modules/'));
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

/** The package a file belongs to (null: test, bench, scripts, bin). */
function ownPackage(file: string): Pkg | null {
  for (const [pkg, dir] of Object.entries(packages) as [Pkg, string][]) if (file === dir || file.startsWith(`${dir}/`)) return pkg;
  return null;
}

/** The package an import lands in: by name, or by a relative path into its sources (null: neither). */
function packageOf(file: string, spec: string): Pkg | null {
  const named = /^@polyprune\/([^/]+)/.exec(spec)?.[1];
  if (named) return named in packages ? (named as Pkg) : null;
  if (!spec.startsWith('.')) return null;
  return ownPackage(path.relative(root, path.resolve(root, path.dirname(file), spec)));
}

/** The source file an import names (`.js` written for `.ts`, a folder for its index.ts), if it is one. */
function resolveSource(file: string, spec: string, known: Set<string>): string | undefined {
  const named = /^@polyprune\/([^/]+)\/(.+)$/.exec(spec);
  let base: string;
  if (named) {
    const dir = packages[named[1] as Pkg];
    if (!dir) return undefined;
    base = `${dir}/${named[2]}`;
  } else if (spec.startsWith('.')) base = path.relative(root, path.resolve(root, path.dirname(file), spec));
  else return undefined;
  base = base.replace(/\.js$/, '');
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

/** What a file imports that its package may not, and relative imports into another package (or any, from outside the packages). */
function violations(file: string, code: string): string[] {
  const own = ownPackage(file);
  return specifiers(code).flatMap((s) => {
    const to = packageOf(file, s);
    if (!to || to === own) return [];
    if (s.startsWith('.')) return [`${file} reaches ${to} by a relative path: ${s} (write @polyprune/${to}/…)`];
    if (own && !allowed[own].includes(to)) return [`${file} imports ${s}`];
    return [];
  });
}

const pkgJson = (pkg: Pkg) => JSON.parse(readFileSync(path.join(root, pkg, 'package.json'), 'utf8')) as { name: string; dependencies?: Record<string, string> };

describe('package boundaries', () => {
  it('the scan sees every kind of import, and tells a crossing from an allowed import', () => {
    const code = `import a from '../x';\nimport type { B } from "../y";\nexport { c } from '../z';\nimport '../side';\nconst d = await import('../dyn');\nimport {\n  e,\n  f,\n} from '../multi';`;
    expect(specifiers(code).sort()).toEqual(['../dyn', '../multi', '../side', '../x', '../y', '../z']);
    expect(packageOf('cli/commands/data.ts', '../../worker/src/env')).toBe('worker');
    expect(packageOf('cli/commands/data.ts', '@polyprune/gpu-runner/ort')).toBe('gpu-runner');
    expect(packageOf('shared/src/http.ts', './api/errors')).toBe('shared');
    expect(packageOf('test/cli/hints.test.ts', '../helpers/server')).toBeNull();
    expect(violations('cli/commands/data.ts', "import { ort } from '@polyprune/gpu-runner/ort';")).toEqual([
      'cli/commands/data.ts imports @polyprune/gpu-runner/ort',
    ]);
    // Spelled through a template, so that the workspaces codemod does not take them for imports.
    const importing = (spec: string) => `import { x } from '${spec}';`;
    expect(violations('worker/src/index.ts', importing('../../shared/src/api/jobs'))).toHaveLength(1);
    expect(violations('test/worker/helpers.ts', importing('../../worker/src/index'))).toHaveLength(1);
    expect(violations('worker/src/routes/jobs.ts', "import { jobInfo } from '@polyprune/shared/api/jobs';\nimport { db } from '../lib/db';")).toEqual([]);
    expect(violations('test/worker/helpers.ts', "import { app } from '@polyprune/worker/index';")).toEqual([]);
    const known = new Set(['shared/src/api/jobs.ts', 'worker/src/pages/heatmap.tsx']);
    expect(resolveSource('worker/src/x.ts', '@polyprune/shared/api/jobs', known)).toBe('shared/src/api/jobs.ts');
    expect(resolveSource('test/x.ts', '@polyprune/worker/pages/heatmap.tsx', known)).toBe('worker/src/pages/heatmap.tsx');
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
    expect(graph.get('gpu-runner/src/service/lease-loop.ts')).toContain('shared/src/http.ts');
    expect(findCycle(graph)).toBeNull();
  });

  for (const [pkg, dir] of Object.entries(packages) as [Pkg, string][]) {
    it(`${dir}/ imports ${allowed[pkg].length ? `only ${allowed[pkg].join(', ')}` : 'no other package'}, by name`, () => {
      const files = sources(dir);
      expect(files.length).toBeGreaterThan(3);
      expect(files.flatMap((f) => violations(f, readFileSync(path.join(root, f), 'utf8')))).toEqual([]);
    });

    it(`${pkg}/package.json is @polyprune/${pkg} and lists the packages it imports, allowed ones only`, () => {
      const json = pkgJson(pkg);
      expect(json.name).toBe(`@polyprune/${pkg}`);
      const listed = Object.keys(json.dependencies ?? {}).filter((d) => d.startsWith('@polyprune/'));
      const imported = new Set(
        sources(dir).flatMap((f) => specifiers(readFileSync(path.join(root, f), 'utf8')).flatMap((s) => /^@polyprune\/[^/]+/.exec(s)?.[0] ?? [])),
      );
      expect(listed.sort()).toEqual(allowed[pkg].map((p) => `@polyprune/${p}`).sort());
      for (const name of imported) expect(listed, `${dir} imports ${name}`).toContain(name);
    });
  }

  it('tests, benchmarks and scripts reach package code by its name, never by a relative path', () => {
    const files = others.flatMap(sources).filter((f) => f !== self);
    expect(files.length).toBeGreaterThan(50);
    expect(files.flatMap((f) => violations(f, readFileSync(path.join(root, f), 'utf8')))).toEqual([]);
  });
});
