/**
 * The device the session-level suites open their sessions on: POLYPRUNE_TEST_DEVICE (default cpu).
 * vitest.webgpu.config.ts runs the same files with "webgpu" (docs/gpu.md).
 */
import type { Device } from '@polyprune/gpu-runner/ort';

export const TEST_DEVICE: Device = parseDevice(process.env.POLYPRUNE_TEST_DEVICE);

function parseDevice(v: string | undefined): Device {
  if (v === undefined || v === '' || v === 'cpu') return 'cpu';
  if (v === 'webgpu' || v === 'cuda') return v;
  throw new Error(`POLYPRUNE_TEST_DEVICE must be cpu, webgpu or cuda, got "${v}"`);
}
