import { defineConfig } from 'vitest/config';

// Three projects: the worker runs inside workerd with real D1/R2, the runner and the
// end-to-end suite run in Node against real onnxruntime and a real `wrangler dev`.
export default defineConfig({
  test: {
    projects: ['./vitest.worker.config.ts', './vitest.runner.config.ts', './vitest.e2e.config.ts'],
  },
});
