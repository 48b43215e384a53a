/**
 * How far two masks of the same layer agree (docs/design.md §3.7), computed on the packed bitsets
 * of masks.bin (docs/mask-format.md: 1 = keep, rows are output neurons, row o holds bits
 * o·dIn … o·dIn+dIn−1). P_A and P_B are the pruned weights.
 *
 * - Jaccard |P_A ∩ P_B| / |P_A ∪ P_B| (1 when neither prunes anything).
 * - Chance: the pruned weights of each row drawn uniformly at random with the counts the masks have,
 *   independently for A and B — row by row, because Wanda and N:M choose within a row. Then
 *   E|P_A ∩ P_B| = Σ_r a_r·b_r / dIn, and the chance Jaccard is E|∩| / (|P_A| + |P_B| − E|∩|), a ratio
 *   of expectations (exact as the layer grows; for p = 50% on both sides it is 1/3).
 * - Rows identical: output neurons whose kept input channels are the same in both masks.
 * - LMF share: of the weights kept by one mask and pruned by the other, those whose input channel is
 *   in a given set (the large-magnitude features), and the count an even spread over input channels
 *   would put there: differing·|S|/dIn per layer.
 */
import { type PackedMask, popcount } from '../prune/pack.js';

export interface OverlapCounts {
  prunedA: number;
  prunedB: number;
  both: number;
  either: number;
  expectedBoth: number;
  rows: number;
  rowsIdentical: number;
  differing: number;
  /** null: no LMF channel set for this layer */
  differingInLmf: number | null;
  expectedInLmf: number | null;
}

export interface OverlapFigures extends OverlapCounts {
  jaccard: number;
  jaccardChance: number;
}

const POPCOUNT = new Uint8Array(256);
for (let v = 1; v < 256; v++) POPCOUNT[v] = (v & 1) + POPCOUNT[v >> 1]!;

const bit = (bits: Uint8Array, b: number) => (bits[b >>> 3]! >>> (b & 7)) & 1;

/** Pruned weights per output row (dIn − kept). Computed once per mask and shared by its pairs. */
export function prunedPerRow(m: PackedMask): Int32Array {
  const out = new Int32Array(m.dOut);
  if (m.dIn % 8 === 0) {
    const bytes = m.dIn / 8;
    for (let o = 0; o < m.dOut; o++) out[o] = m.dIn - popcount(m.bits.subarray(o * bytes, (o + 1) * bytes));
    return out;
  }
  for (let o = 0; o < m.dOut; o++) {
    let kept = 0;
    for (let i = 0, b = o * m.dIn; i < m.dIn; i++, b++) kept += bit(m.bits, b);
    out[o] = m.dIn - kept;
  }
  return out;
}

/** A set of input channels as a packed bitset over dIn (LSB first), the layout of one mask row. */
export function channelSet(dIn: number, channels: Iterable<number>): Uint8Array {
  const out = new Uint8Array(Math.ceil(dIn / 8));
  for (const c of channels) {
    if (!Number.isInteger(c) || c < 0 || c >= dIn) throw new Error(`channel ${c} outside [0, ${dIn})`);
    out[c >>> 3]! |= 1 << (c & 7);
  }
  return out;
}

export interface LayerOverlapOptions {
  /** prunedPerRow of A and B when already computed */
  rowsA?: Int32Array;
  rowsB?: Int32Array;
  /** channelSet(dIn, LMF channels); omitted: no LMF figures */
  lmf?: Uint8Array;
}

/** Counts of one layer; A and B must have the same shape. */
export function layerOverlap(a: PackedMask, b: PackedMask, o: LayerOverlapOptions = {}): OverlapCounts {
  if (a.dIn !== b.dIn || a.dOut !== b.dOut || a.bits.length !== b.bits.length) {
    throw new Error(`cannot compare mask ${a.id} [${a.dOut}×${a.dIn}] with ${b.id} [${b.dOut}×${b.dIn}]`);
  }
  const { dIn, dOut } = a;
  const rowsA = o.rowsA ?? prunedPerRow(a);
  const rowsB = o.rowsB ?? prunedPerRow(b);
  let prunedA = 0;
  let prunedB = 0;
  let expectedBoth = 0;
  for (let r = 0; r < dOut; r++) {
    prunedA += rowsA[r]!;
    prunedB += rowsB[r]!;
    expectedBoth += (rowsA[r]! * rowsB[r]!) / dIn;
  }
  let keptBoth = 0;
  let keptEither = 0;
  let rowsIdentical = 0;
  let inLmf = 0;
  const lmf = o.lmf;
  if (dIn % 8 === 0) {
    // Rows start on byte boundaries: whole bytes, one popcount table lookup each.
    const bytes = dIn / 8;
    for (let r = 0; r < dOut; r++) {
      let same = true;
      for (let k = 0, x = r * bytes; k < bytes; k++, x++) {
        const va = a.bits[x]!;
        const vb = b.bits[x]!;
        keptBoth += POPCOUNT[va & vb]!;
        keptEither += POPCOUNT[va | vb]!;
        if (va !== vb) {
          same = false;
          if (lmf) inLmf += POPCOUNT[(va ^ vb) & lmf[k]!]!;
        }
      }
      if (same) rowsIdentical++;
    }
  } else {
    for (let r = 0; r < dOut; r++) {
      let same = true;
      for (let i = 0, x = r * dIn; i < dIn; i++, x++) {
        const va = bit(a.bits, x);
        const vb = bit(b.bits, x);
        keptBoth += va & vb;
        keptEither += va | vb;
        if (va !== vb) {
          same = false;
          if (lmf) inLmf += bit(lmf, i);
        }
      }
      if (same) rowsIdentical++;
    }
  }
  const total = dIn * dOut;
  const differing = keptEither - keptBoth;
  return {
    prunedA,
    prunedB,
    both: total - keptEither,
    either: total - keptBoth,
    expectedBoth,
    rows: dOut,
    rowsIdentical,
    differing,
    differingInLmf: lmf ? inLmf : null,
    expectedInLmf: lmf ? (differing * popcount(lmf)) / dIn : null,
  };
}

/** Sums layers (overall figures are weight-weighted); LMF counts over the layers that have them. */
export function sumOverlaps(list: readonly OverlapCounts[]): OverlapCounts {
  const out: OverlapCounts = {
    prunedA: 0,
    prunedB: 0,
    both: 0,
    either: 0,
    expectedBoth: 0,
    rows: 0,
    rowsIdentical: 0,
    differing: 0,
    differingInLmf: null,
    expectedInLmf: null,
  };
  for (const c of list) {
    out.prunedA += c.prunedA;
    out.prunedB += c.prunedB;
    out.both += c.both;
    out.either += c.either;
    out.expectedBoth += c.expectedBoth;
    out.rows += c.rows;
    out.rowsIdentical += c.rowsIdentical;
    out.differing += c.differing;
    if (c.differingInLmf !== null) {
      out.differingInLmf = (out.differingInLmf ?? 0) + c.differingInLmf;
      out.expectedInLmf = (out.expectedInLmf ?? 0) + c.expectedInLmf!;
    }
  }
  return out;
}

export function overlapFigures(c: OverlapCounts): OverlapFigures {
  const chanceUnion = c.prunedA + c.prunedB - c.expectedBoth;
  return {
    ...c,
    jaccard: c.either === 0 ? 1 : c.both / c.either,
    jaccardChance: chanceUnion <= 0 ? 1 : Math.min(1, c.expectedBoth / chanceUnion),
  };
}

/**
 * Over the layers that have an LMF set: the share of their differing weights that sit in LMF
 * channels, and the share an even spread would give. Null when no layer has a set or the masks do
 * not differ in those layers.
 */
export function lmfShares(layers: readonly OverlapCounts[]): { share: number | null; expected: number | null } {
  let differing = 0;
  let inLmf = 0;
  let expected = 0;
  for (const c of layers) {
    if (c.differingInLmf === null) continue;
    differing += c.differing;
    inLmf += c.differingInLmf;
    expected += c.expectedInLmf!;
  }
  return differing === 0 ? { share: null, expected: null } : { share: inLmf / differing, expected: expected / differing };
}
