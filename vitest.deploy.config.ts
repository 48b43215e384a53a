import { defineConfig } from 'vitest/config';

// What production is made of, checked offline: the Workers bundle (wrangler dry run) and the
// Kubernetes/KEDA manifests against the code they deploy.
export default defineConfig({
  test: {
    name: 'deploy',
    environment: 'node',
    include: ['test/deploy/**/*.test.ts'],
    testTimeout: 120_000,
    pool: 'forks',
  },
});
