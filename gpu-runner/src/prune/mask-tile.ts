/**
 * Per-neuron mask selection on the WebAssembly kernel (gpu-runner/wasm/mask-tile.ts, compiled to
 * mask-tile.wasm beside this file by `npm run build:wasm`), in place in the heap's shared memory
 * (wasm-heap.ts): each thread instantiates the kernel over it once and hands it tiles of up to 64
 * neurons by address (masks.ts copies arrays that lie elsewhere in for the selection and back).
 */
import fs from 'node:fs';
import type { WasmHeap } from './wasm-heap.js';

/** Neurons a tile (the kernel's most). */
export const TILE = 64;

interface Kernel {
  scratchBytes(dIn: number): number;
  selectTile(
    weights: number,
    keep: number,
    stride: number,
    width: number,
    dIn: number,
    k: number,
    dropTop: number,
    zero: number,
    scaled: number,
    scratch: number,
  ): number;
}

let compiled: WebAssembly.Module | undefined;
/** This thread's kernel and the heap (by id) whose memory it was instantiated over. */
let instance: { heap: number; memory: WebAssembly.Memory; kernel: Kernel } | undefined;

/** This thread's kernel over the memory of heap `heap` (instantiated when the heap is new to it). */
export function kernelOver(heap: number, memory: WebAssembly.Memory): Kernel {
  if (instance?.heap !== heap) {
    compiled ??= new WebAssembly.Module(fs.readFileSync(new URL('./mask-tile.wasm', import.meta.url)));
    const kernel = new WebAssembly.Instance(compiled, { env: { memory } }).exports as unknown as Kernel;
    instance = { heap, memory, kernel };
  }
  return instance.kernel;
}

/** Lets this thread's kernel instance go, and with it its hold on a dropped heap's memory. */
export function forgetKernel(): void {
  instance = undefined;
}

/** A layer laid out in the heap, as a thread needs it to select ranges of its neurons. */
export interface HeapLayer {
  /** byte offsets of the canonical [dIn, dOut] weights (scores without `factor`) and of the mask */
  weightAt: number;
  keepAt: number;
  /** the scores are |W|·factor (masks.ts ScaledWeight); absent: the array holds the scores */
  factor?: Float64Array;
  zero: boolean;
  dIn: number;
  dOut: number;
  k: number;
  dropTop: boolean;
}

function nanScore(x: number): Error {
  return new Error(`scores[${x}] is NaN (a NaN weight or statistic upstream)`);
}

/** The NaN score of the tile [t0, t0 + width) a neuron-by-neuron pass meets first, as an error naming it. */
function firstNaN(memory: WebAssembly.Memory, layer: HeapLayer, t0: number, width: number): Error {
  const { dIn, dOut, factor } = layer;
  const values = new Float32Array(memory.buffer, layer.weightAt, dIn * dOut);
  for (let c = 0; c < width; c++) {
    for (let i = 0; i < dIn; i++) {
      const x = i * dOut + t0 + c;
      if (Number.isNaN(factor ? Math.fround(Math.abs(values[x]!) * factor[i]!) : values[x]!)) return nanScore(x);
    }
  }
  return new Error('mask selection found a NaN score it cannot place');
}

/**
 * The neurons [o0, o1) of `layer` (0 < k < dIn), selected in place by this thread's kernel;
 * `scratch`: this thread's, scratchBytes(dIn) bytes at least.
 */
export function selectInPlace(kernel: Kernel, memory: WebAssembly.Memory, layer: HeapLayer, scratch: number, o0: number, o1: number): void {
  const { dIn, dOut, k, factor } = layer;
  if (factor) new Float64Array(memory.buffer, scratch, dIn).set(factor);
  for (let t0 = o0; t0 < o1; t0 += TILE) {
    const width = Math.min(TILE, o1 - t0);
    const failed = kernel.selectTile(layer.weightAt + 4 * t0, layer.keepAt + t0, dOut, width, dIn, k, +layer.dropTop, +layer.zero, +!!factor, scratch);
    if (failed) throw firstNaN(memory, layer, t0, width);
  }
}

/**
 * selectInPlace over the (layer, o0, o1) triples of `ranges` (flat; layer indexes `layers`), each
 * taken by whichever thread increments the shared `next` first, until none is left: a thread
 * slowed by other work (the calling thread setting the next block up, another process) takes
 * fewer, instead of every thread waiting for the slowest of equal shares. Any split gives the same
 * masks. `scratch` must fit the layers' largest dIn.
 */
export function takeRanges(kernel: Kernel, memory: WebAssembly.Memory, layers: HeapLayer[], scratch: number, ranges: Int32Array, next: Int32Array): void {
  for (let r = Atomics.add(next, 0, 1); 3 * r < ranges.length; r = Atomics.add(next, 0, 1)) {
    selectInPlace(kernel, memory, layers[ranges[3 * r]!]!, scratch, ranges[3 * r + 1]!, ranges[3 * r + 2]!);
  }
}

/**
 * A thread's scratch in a heap for layers of up to dIn inputs: taken once, and again (the old one
 * left behind) for a heap it has none in or a layer with more inputs than it fits.
 */
export class Scratch {
  private held: { heap: number; at: number; dIn: number } | undefined;

  in(heap: WasmHeap, dIn: number): number {
    const have = this.held;
    if (have?.heap === heap.id && have.dIn >= dIn) return have.at;
    const at = heap.alloc(kernelOver(heap.id, heap.memory).scratchBytes(dIn));
    if (at === undefined) throw new Error(`mask selection: no room for scratch of a layer with ${dIn} inputs`);
    this.held = { heap: heap.id, at, dIn };
    return at;
  }
}

/** The calling thread's scratch (workers are given theirs: mask-threads.ts). */
const own = new Scratch();

export function scratchIn(heap: WasmHeap, dIn: number): number {
  return own.in(heap, dIn);
}
