import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    name: 'runner',
    environment: 'node',
    include: ['test/runner/**/*.test.ts', 'test/shared/**/*.test.ts'],
    testTimeout: 120_000,
    pool: 'forks',
  },
});
