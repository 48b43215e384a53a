import { defineConfig } from 'vitest/config';

// Node: the runner's tests, and those of the CLI, of shared/ and of the repository as a whole.
export default defineConfig({
  test: {
    name: 'runner',
    environment: 'node',
    include: ['test/runner/**/*.test.ts', 'test/shared/**/*.test.ts', 'test/cli/**/*.test.ts', 'test/repo/**/*.test.ts'],
    testTimeout: 120_000,
    pool: 'forks',
  },
});
