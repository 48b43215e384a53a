/** Masks written out plainly for the analysis tests: booleans per (row, input), packed by the format's definition. */
import type { PackedMask } from '@polyprune/gpu-runner/prune/pack';
import { lcg } from '../prune/reference.js';

/** keep[o][i] as plain booleans: row o is output neuron o. */
export type Plain = boolean[][];

/** Packs by the format's definition (docs/mask-format.md): bit o·dIn + i, LSB first. */
export function packPlain(id: string, keep: Plain): PackedMask {
  const dOut = keep.length;
  const dIn = keep[0]!.length;
  const bits = new Uint8Array(Math.ceil((dIn * dOut) / 8));
  keep.forEach((row, o) =>
    row.forEach((k, i) => {
      if (k) bits[Math.floor((o * dIn + i) / 8)]! += 2 ** ((o * dIn + i) % 8);
    }),
  );
  return { id, dIn, dOut, bits };
}

/** Each row prunes exactly `pruned` inputs, chosen uniformly (a Fisher–Yates shuffle). */
export function randomRows(dIn: number, dOut: number, pruned: number, seed: number): Plain {
  const r = lcg(seed);
  return Array.from({ length: dOut }, () => {
    const idx = Array.from({ length: dIn }, (_, i) => i);
    for (let i = dIn - 1; i > 0; i--) {
      const j = Math.floor(r() * (i + 1));
      [idx[i], idx[j]] = [idx[j]!, idx[i]!];
    }
    const drop = new Set(idx.slice(0, pruned));
    return Array.from({ length: dIn }, (_, i) => !drop.has(i));
  });
}
