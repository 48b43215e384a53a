import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { selectRowMask } from '@polyprune/gpu-runner/prune/masks';
import { firstDiff, lcg, refRowMask } from './reference.js';

const root = path.resolve(import.meta.dirname, '../../..');

describe('the WebAssembly mask kernel', () => {
  it('mask-tile.wasm is what `npm run build:wasm` makes of gpu-runner/wasm/mask-tile.ts', async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'mask-tile-'));
    try {
      const out = path.join(dir, 'mask-tile.wasm');
      const asc = path.join(root, 'node_modules/.bin/asc');
      await promisify(execFile)(asc, ['gpu-runner/wasm/mask-tile.ts', '--config', 'gpu-runner/wasm/asconfig.json', '--target', 'release', '-o', out], {
        cwd: root,
      });
      const built = await fs.readFile(out);
      const committed = await fs.readFile(path.join(root, 'gpu-runner/src/prune/mask-tile.wasm'));
      expect(built.equals(committed), 'run `npm run build:wasm` and commit gpu-runner/src/prune/mask-tile.wasm').toBe(true);
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  }, 60_000);

  // Scores over the whole float range (several radix rounds), with repeats (ties at the threshold)
  // and both zeros; neuron counts around the 16-lane groups and 64-neuron tiles.
  const r = lcg(2024);
  const anyFloat = () => {
    const u = r();
    if (u < 0.05) return r() < 0.5 ? 0 : -0;
    const magnitude = 2 ** Math.floor(r() * 270 - 145) * (1 + r());
    return Math.fround(r() < 0.5 ? -magnitude : magnitude);
  };
  const cases: Array<[number, number]> = [
    [1, 17],
    [2, 64],
    [3, 65],
    [16, 31],
    [97, 16],
    [257, 130],
    [1000, 70],
  ];
  for (const [dIn, dOut] of cases) {
    it(`[${dIn}, ${dOut}], scores from 1e-44 to 1e38 with repeats: the full stable sort's mask, plain and scaled, both directions`, () => {
      const pool = Array.from({ length: Math.max(4, dIn >> 2) }, anyFloat);
      const values = Float32Array.from({ length: dIn * dOut }, () => (r() < 0.3 ? pool[Math.floor(r() * pool.length)]! : anyFloat()));
      const factor = Float64Array.from({ length: dIn }, () => (r() < 0.1 ? 0 : 2 ** (r() * 20 - 10)));
      const scaled = Float32Array.from(values, (v, x) => Math.abs(v) * factor[Math.floor(x / dOut)]!);
      for (const p of [0.01, 0.5, 0.77, 0.999]) {
        for (const dropTop of [false, true]) {
          const plain = selectRowMask(values, { dIn, dOut }, p, dropTop);
          const want = refRowMask(values, dIn, dOut, p, dropTop);
          expect(firstDiff(plain, want), `plain p=${p} dropTop=${dropTop}`).toBe(-1);
          const weight = values.slice();
          const got = selectRowMask({ weight, factor, zeroMasked: true }, { dIn, dOut }, p, dropTop);
          const wantScaled = refRowMask(scaled, dIn, dOut, p, dropTop);
          expect(firstDiff(got, wantScaled), `scaled p=${p} dropTop=${dropTop}`).toBe(-1);
          // The weight as it was where kept, +0 where dropped.
          const zeroed = Float32Array.from(values, (v, x) => (wantScaled[x] ? v : 0));
          expect(firstDiff(new Int32Array(weight.buffer), new Int32Array(zeroed.buffer)), 'zeroed weight').toBe(-1);
        }
      }
    });
  }
});
