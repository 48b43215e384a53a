// vitest setupFiles of the webgpu project: sessions that name no device open on TEST_DEVICE.
import { configureSessions } from '@polyprune/gpu-runner/ort';
import { TEST_DEVICE } from './device.js';

configureSessions({ device: TEST_DEVICE });
