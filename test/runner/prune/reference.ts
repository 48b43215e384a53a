/**
 * Deliberately plain references for the prune tests: JS arrays, full sorts with the tie rules
 * written out, nested loops. Nothing here is shared with the implementation.
 */

/** Small LCG (Numerical Recipes constants) — independent of the implementation's PRNG. */
export function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 4294967296;
  };
}

export type ScoreKind = 'continuous' | 'ties' | 'constant' | 'ascending' | 'descending' | 'zeros-and-ties' | 'signed';

/** [dIn, dOut] float32 scores of various shapes of difficulty. */
export function makeScores(dIn: number, dOut: number, kind: ScoreKind, seed: number): Float32Array {
  const r = lcg(seed);
  const out = new Float32Array(dIn * dOut);
  for (let i = 0; i < dIn; i++) {
    for (let o = 0; o < dOut; o++) {
      let v: number;
      switch (kind) {
        case 'continuous':
          v = r() * 10;
          break;
        case 'ties':
          v = Math.floor(r() * 4);
          break;
        case 'constant':
          v = 1.5;
          break;
        case 'ascending':
          v = i + o * 0.5;
          break;
        case 'descending':
          v = dIn - i;
          break;
        case 'zeros-and-ties':
          v = r() < 0.6 ? 0 : Math.floor(r() * 3) * 0.25;
          break;
        // Not produced by the score functions, but masks accept any non-NaN float: signs, ±0, ±∞.
        case 'signed': {
          const u = r();
          v = u < 0.1 ? -0 : u < 0.2 ? 0 : u < 0.25 ? -Infinity : u < 0.3 ? Infinity : (r() - 0.5) * 1e3;
          break;
        }
      }
      out[i * dOut + o] = v;
    }
  }
  return out;
}

interface Entry {
  s: number;
  i: number;
}

/** Stable order of dropping: ascending score (descending with dropTop), then ascending input index. */
function dropOrder(entries: Entry[], dropTop: boolean): Entry[] {
  return [...entries].sort((a, b) => {
    if (a.s !== b.s) return dropTop ? b.s - a.s : a.s - b.s;
    return a.i - b.i;
  });
}

export function refRowMask(scores: Float32Array, dIn: number, dOut: number, p: number, dropTop: boolean): Uint8Array {
  const keep = new Uint8Array(dIn * dOut).fill(1);
  const k = Math.floor(dIn * p);
  for (let o = 0; o < dOut; o++) {
    const row: Entry[] = [];
    for (let i = 0; i < dIn; i++) row.push({ s: scores[i * dOut + o]!, i });
    for (const e of dropOrder(row, dropTop).slice(0, k)) keep[e.i * dOut + o] = 0;
  }
  return keep;
}

export function refNmMask(scores: Float32Array, dIn: number, dOut: number, n: number, m: number, dropTop: boolean): Uint8Array {
  const keep = new Uint8Array(dIn * dOut).fill(1);
  for (let o = 0; o < dOut; o++) {
    for (let g = 0; g < dIn / m; g++) {
      const group: Entry[] = [];
      for (let r = 0; r < m; r++) group.push({ s: scores[(g * m + r) * dOut + o]!, i: g * m + r });
      for (const e of dropOrder(group, dropTop).slice(0, m - n)) keep[e.i * dOut + o] = 0;
    }
  }
  return keep;
}

export function refMatrixMask(scores: Float32Array, dIn: number, dOut: number, p: number, dropTop: boolean): Uint8Array {
  const all: Entry[] = [];
  // Entry.i is the PyTorch flat index o*dIn + i, the documented tie order for the matrix variant.
  for (let o = 0; o < dOut; o++) for (let i = 0; i < dIn; i++) all.push({ s: scores[i * dOut + o]!, i: o * dIn + i });
  const keep = new Uint8Array(dIn * dOut).fill(1);
  for (const e of dropOrder(all, dropTop).slice(0, Math.floor(dIn * dOut * p))) {
    const o = Math.floor(e.i / dIn);
    const i = e.i % dIn;
    keep[i * dOut + o] = 0;
  }
  return keep;
}

/** First differing index, for readable failures. */
export function firstDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return -2;
  for (let x = 0; x < a.length; x++) if (a[x] !== b[x]) return x;
  return -1;
}
