/**
 * Every script and test runs on the Node line pinned in package.json (devDependency "node", whose
 * binary npm scripts find first on PATH), and the runner image is built on the same line.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const root = path.join(import.meta.dirname, '../..');
const pkg = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as {
  engines: { node: string };
  devDependencies: Record<string, string>;
  scripts: Record<string, string>;
};
const pinned = pkg.devDependencies.node!;
const major = (v: string) => Number(v.replace(/^v/, '').split('.')[0]);

describe('toolchain', () => {
  it('the tests run on the pinned Node', () => {
    expect(pinned).toMatch(/^\d+\.\d+\.\d+$/);
    expect(process.version).toBe(`v${pinned}`);
  });

  it('engines names the pinned line', () => {
    expect(pkg.engines.node).toBe(`>=${pinned.split('.').slice(0, 2).join('.')} <${major(pinned) + 1}`);
  });

  it('every runner entry point starts Node with --expose-gc and a fixed glibc mmap threshold (memory given back between steps)', () => {
    const dockerfile = readFileSync(path.join(root, 'gpu-runner/Dockerfile'), 'utf8');
    expect(/^ENTRYPOINT \[(.*)\]$/m.exec(dockerfile)?.[1]).toContain('"--expose-gc", "--import", "tsx", "gpu-runner/src/service/main.ts"');
    expect(dockerfile).toMatch(/^ENV MALLOC_MMAP_THRESHOLD_=1048576$/m);
    expect(pkg.scripts.runner).toBe('MALLOC_MMAP_THRESHOLD_=1048576 exec node --expose-gc --import tsx gpu-runner/src/service/main.ts');
    expect(readFileSync(path.join(root, 'scripts/lib/stack.ts'), 'utf8')).toContain(
      "spawn(nodeBin, ['--expose-gc', '--import', 'tsx', path.join(repoRoot, 'gpu-runner/src/service/main.ts')]",
    );
  });

  it('the runner image uses the official Node image of the same line', () => {
    const dockerfile = readFileSync(path.join(root, 'gpu-runner/Dockerfile'), 'utf8');
    const arg = /^ARG NODE_VERSION=(\S+)$/m.exec(dockerfile)?.[1];
    expect(arg).toBeDefined();
    expect(major(arg!)).toBe(major(pinned));
    expect(dockerfile).toMatch(/^FROM node:\$\{NODE_VERSION\}-\S+ AS /m);
  });
});
