import { defineConfig } from 'vitest/config';

// Four projects: the worker runs inside workerd with real D1/R2; the runner and the end-to-end suite
// run in Node against real onnxruntime and a real `wrangler dev`; deploy checks the production
// bundle and manifests offline.
export default defineConfig({
  test: {
    projects: ['./vitest.worker.config.ts', './vitest.runner.config.ts', './vitest.deploy.config.ts', './vitest.e2e.config.ts'],
  },
});
