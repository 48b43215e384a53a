/**
 * The JavaScript of the device bundle (`bash scripts/gpu-check.sh prepare`; docs/gpu.md): three
 * esbuild bundles that run on the bare Node binary, so the device needs of node_modules only the
 * packages with native code, kept external and shipped beside the bundles:
 *
 *   probe.mjs  gpu-runner/src/service/main.ts (`--probe`)
 *   bench.mjs  bench/index.ts (`calibration --device webgpu`, `evaluate --device webgpu`)
 *   tests.mjs  the files of vitest.webgpu.config.ts, run by test-runner.ts, with vitest-shim.ts as 'vitest'
 *
 *   tsx scripts/gpu-check/build.ts OUTDIR
 *
 * Source files that locate fixtures or the repo through import.meta.url get their own file's URL
 * under the repo root (POLYPRUNE_ROOT, else the working directory) instead of the bundle's, so
 * paths resolve as they do under tsx; createRequire(import.meta.url) keeps the bundle's, so
 * onnxruntime-node is found beside the bundle.
 */
import { globSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { type BuildOptions, build, type Plugin } from 'esbuild';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** Packages with native code: shipped as files beside the bundles (their .node files load relative to them). */
export const EXTERNAL = ['onnxruntime-node', 'onnxruntime-common', 'webgpu'];

const SHIM = path.join(ROOT, 'scripts/gpu-check/vitest-shim.ts');

export interface WebGpuProject {
  files: string[];
  setupFiles: string[];
  env: Record<string, string>;
  testTimeout: number;
}

/** The files, setup, env and timeout of vitest.webgpu.config.ts, the project the device runs. */
export async function webgpuProject(): Promise<WebGpuProject> {
  const { default: config } = await import('../../vitest.webgpu.config');
  const t = config.test ?? {};
  const files = [...new Set((t.include ?? []).flatMap((p) => globSync(p, { cwd: ROOT })))].sort();
  const setup = t.setupFiles === undefined ? [] : Array.isArray(t.setupFiles) ? t.setupFiles : [t.setupFiles];
  const env = Object.fromEntries(Object.entries(t.env ?? {}).map(([k, v]) => [k, String(v)]));
  return { files, setupFiles: setup, env, testTimeout: t.testTimeout ?? 5_000 };
}

/** import.meta.url → the source file's own URL under the repo root (see the header). */
const sourceUrls: Plugin = {
  name: 'source-import-meta-url',
  setup(b) {
    b.onLoad({ filter: /\.[cm]?ts$/ }, async (args) => {
      if (args.path.includes(`${path.sep}node_modules${path.sep}`)) return undefined;
      const text = await readFile(args.path, 'utf8');
      if (!text.includes('import.meta.url')) return undefined;
      const rel = path.relative(ROOT, args.path).split(path.sep).join('/');
      return { contents: text.replace(/(?<!createRequire\()import\.meta\.url/g, `__ppSourceUrl(${JSON.stringify(rel)})`), loader: 'ts' };
    });
  },
};

/** 'vitest' → vitest-shim.ts, except for the shim itself, which takes the real `expect`. */
const vitestShim: Plugin = {
  name: 'vitest-shim',
  setup(b) {
    b.onResolve({ filter: /^vitest$/ }, (args) => (args.importer === SHIM ? undefined : { path: SHIM }));
  },
};

// ESM bundles of CommonJS packages call require(); source URLs are resolved against the repo root.
const BANNER = [
  "import { createRequire as __ppCreateRequire } from 'node:module';",
  "import { pathToFileURL as __ppPathToFileURL } from 'node:url';",
  'const require = __ppCreateRequire(import.meta.url);',
  "const __ppRoot = __ppPathToFileURL((process.env.POLYPRUNE_ROOT || process.cwd()) + '/');",
  'const __ppSourceUrl = (rel) => new URL(rel, __ppRoot).href;',
].join('\n');

/** The entry of tests.mjs: the project's files as lazy imports, so each child evaluates only its own. */
export function testsEntry(project: WebGpuProject): string {
  const imp = (f: string) => `() => import(${JSON.stringify(`./${f}`)})`;
  return [
    "import { main } from './scripts/gpu-check/test-runner';",
    'await main({',
    `  files: {\n${project.files.map((f) => `    ${JSON.stringify(f)}: ${imp(f)},`).join('\n')}\n  },`,
    `  setupFiles: [${project.setupFiles.map(imp).join(', ')}],`,
    `  env: ${JSON.stringify(project.env)},`,
    `  testTimeout: ${project.testTimeout},`,
    '});',
  ].join('\n');
}

const COMMON: BuildOptions = {
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node24',
  external: EXTERNAL,
  banner: { js: BANNER },
  plugins: [sourceUrls, vitestShim],
  logLevel: 'warning',
  legalComments: 'none',
  absWorkingDir: ROOT,
};

/** tests.mjs for a project (the webgpu one, or a test's own). */
export async function buildTests(outfile: string, project: WebGpuProject): Promise<void> {
  await build({ ...COMMON, stdin: { contents: testsEntry(project), resolveDir: ROOT, sourcefile: 'gpu-check-tests.ts', loader: 'ts' }, outfile });
}

/** Writes probe.mjs, bench.mjs and tests.mjs into outDir; returns their paths. */
export async function buildBundles(outDir: string): Promise<string[]> {
  const out = (name: string) => path.join(outDir, name);
  await build({ ...COMMON, entryPoints: [path.join(ROOT, 'gpu-runner/src/service/main.ts')], outfile: out('probe.mjs') });
  await build({ ...COMMON, entryPoints: [path.join(ROOT, 'bench/index.ts')], outfile: out('bench.mjs') });
  await buildTests(out('tests.mjs'), await webgpuProject());
  return ['probe.mjs', 'bench.mjs', 'tests.mjs'].map(out);
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const outDir = process.argv[2];
  if (!outDir) {
    console.error('usage: tsx scripts/gpu-check/build.ts OUTDIR');
    process.exit(2);
  }
  for (const f of await buildBundles(path.resolve(outDir))) console.log(f);
}
