/**
 * Per-neuron mask selection on the WebAssembly kernel (gpu-runner/wasm/mask-tile.ts, compiled to
 * mask-tile.wasm beside this file by `npm run build:wasm`): each tile of up to 64 neurons is copied
 * into the kernel's memory, selected there with SIMD, and its mask (and, with zeroMasked, its
 * zeroed weights) copied back. One kernel instance per thread, compiled on first use.
 */
import fs from 'node:fs';
import type { LayerShape, RowScores } from './masks.js';

/** Neurons a tile: 256 bytes of each input's row are read together (see masks.ts). */
export const TILE = 64;

interface Kernel {
  memory: WebAssembly.Memory;
  reserve(dIn: number, stride: number): void;
  tileWeights(): number;
  tileKeep(): number;
  factors(): number;
  selectTile(dIn: number, stride: number, width: number, k: number, dropTop: number, zero: number, scaled: number): number;
}

let kernel: Kernel | undefined;

function theKernel(): Kernel {
  if (!kernel) {
    const module = new WebAssembly.Module(fs.readFileSync(new URL('./mask-tile.wasm', import.meta.url)));
    kernel = new WebAssembly.Instance(module, {}).exports as unknown as Kernel;
  }
  return kernel;
}

function bitsOf(a: Float32Array): Int32Array {
  return new Int32Array(a.buffer, a.byteOffset, a.length);
}

function nanScore(x: number): Error {
  return new Error(`scores[${x}] is NaN (a NaN weight or statistic upstream)`);
}

/**
 * The first NaN score of the tile [t0, t0 + width), neuron by neuron: the index the error names
 * is the one a plain pass over the tile would meet first.
 */
function firstNaN(scores: RowScores, dIn: number, dOut: number, t0: number, width: number): Error {
  for (let c = 0; c < width; c++) {
    for (let i = 0; i < dIn; i++) {
      const x = i * dOut + t0 + c;
      const v = scores instanceof Float32Array ? scores[x]! : Math.fround(Math.abs(scores.weight[x]!) * scores.factor[i]!);
      if (Number.isNaN(v)) return nanScore(x);
    }
  }
  return new Error('mask selection found a NaN score it cannot place');
}

/**
 * masks.ts selectRowMaskColumns' tiles for 0 < k < dIn: the output neurons [o0, o1), k of each
 * neuron's dIn weights dropped, written into `keep`.
 */
export function selectTiles(scores: RowScores, shape: LayerShape, k: number, dropTop: boolean, o0: number, o1: number, keep: Uint8Array): void {
  const { dIn, dOut } = shape;
  const scaled = !(scores instanceof Float32Array);
  const zero = scaled && scores.zeroMasked === true;
  const source = bitsOf(scaled ? scores.weight : scores);
  const kernel = theKernel();
  kernel.reserve(dIn, TILE);
  // Views made after reserve: growing the memory detaches the views of its old buffer.
  const tile = new Int32Array(kernel.memory.buffer, kernel.tileWeights(), dIn * TILE);
  const mask = new Uint8Array(kernel.memory.buffer, kernel.tileKeep(), dIn * TILE);
  if (scaled) new Float64Array(kernel.memory.buffer, kernel.factors(), dIn).set(scores.factor);
  for (let t0 = o0; t0 < o1; t0 += TILE) {
    const width = Math.min(TILE, o1 - t0);
    // Rows of whole 16-lane groups; the lanes past the last neuron are zero.
    const stride = (width + 15) & ~15;
    for (let i = 0; i < dIn; i++) {
      const from = i * dOut + t0;
      const to = i * stride;
      for (let c = 0; c < width; c++) tile[to + c] = source[from + c]!;
      for (let c = width; c < stride; c++) tile[to + c] = 0;
    }
    if (kernel.selectTile(dIn, stride, width, k, +dropTop, +zero, +scaled) !== 0) throw firstNaN(scores, dIn, dOut, t0, width);
    for (let i = 0; i < dIn; i++) {
      const to = i * dOut + t0;
      const from = i * stride;
      for (let c = 0; c < width; c++) keep[to + c] = mask[from + c]!;
      if (zero) for (let c = 0; c < width; c++) source[to + c] = tile[from + c]!;
    }
  }
}
