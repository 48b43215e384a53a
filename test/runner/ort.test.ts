import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { createSession, cudaStatus } from '@polyprune/gpu-runner/ort';

const model = path.join(import.meta.dirname, '../fixtures/models/gpt2/model.onnx');

describe('execution provider choice', () => {
  it('auto falls back to CPU with a logged reason when CUDA is unavailable, and cuda then fails clearly', async () => {
    const logs: string[] = [];
    const { session, device } = await createSession(model, { device: 'auto', log: (m) => logs.push(m) });
    expect(session.inputNames).toContain('input_ids');
    const status = cudaStatus();
    if (status.available) {
      expect(device).toBe('cuda');
      return;
    }
    expect(device).toBe('cpu');
    expect(logs.join('\n')).toContain(status.reason!);
    await expect(createSession(model, { device: 'cuda' })).rejects.toThrow(/CUDA execution provider requested but unavailable/);
  });

  it('cpu is always available', async () => {
    expect((await createSession(model, { device: 'cpu' })).device).toBe('cpu');
  });
});
