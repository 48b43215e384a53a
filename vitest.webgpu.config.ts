import { defineConfig } from 'vitest/config';

// The engine's session-level suites again, every session on onnxruntime's WebGPU provider
// (POLYPRUNE_TEST_DEVICE=webgpu), plus the CPU-vs-WebGPU parity checks of test/webgpu/.
// Needs a Vulkan driver (in CI: Mesa's lavapipe from bookworm-backports; see docs/gpu.md). Not a
// project of vitest.config.ts: `npm test` stays CPU-only; `npm run test:webgpu` runs this.
export default defineConfig({
  test: {
    name: 'webgpu',
    environment: 'node',
    env: { POLYPRUNE_TEST_DEVICE: 'webgpu' },
    setupFiles: ['test/runner/helpers/device-setup.ts'],
    include: [
      'test/webgpu/**/*.test.ts',
      'test/runner/calibrate/stats.test.ts',
      'test/runner/evaluate/scoring.test.ts',
      'test/runner/evaluate/translate.test.ts',
      'test/runner/evaluate/model.test.ts',
      'test/runner/real-exports/masks.test.ts',
      'test/runner/real-exports/evaluate.test.ts',
    ],
    testTimeout: 300_000,
    pool: 'forks',
  },
});
