/**
 * `npm run bench -- calibration --device webgpu`: the devices a bench measures, side by side in one
 * run. CPU always (the baseline); the named device next to it. Ratios are device time / CPU time
 * on the same machine in the same process: on lavapipe (Mesa's software Vulkan) they say the path
 * works and what it costs there, not how fast a GPU is.
 */
import type { Device } from '@polyprune/gpu-runner/ort';

export function benchDevices(argv = process.argv): Device[] {
  const i = argv.indexOf('--device');
  if (i < 0) return ['cpu'];
  const d = argv[i + 1];
  if (d !== 'cpu' && d !== 'webgpu' && d !== 'cuda') {
    console.error(`--device takes cpu, webgpu or cuda, got "${d ?? ''}"`);
    process.exit(2);
  }
  return d === 'cpu' ? ['cpu'] : ['cpu', d];
}
