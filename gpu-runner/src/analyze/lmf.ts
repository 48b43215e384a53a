/**
 * Large-magnitude-feature report (docs/design.md §3.5): which residual-stream dimensions carry the largest
 * (and smallest) activations in each block, for translation demonstrations vs monolingual text, and
 * how much those sets overlap across language pairs (the paper's Figures 1–3).
 *
 * Magnitude of dimension d in block b, precisely:
 *
 *     m_b,d = sqrt( (1/T) · Σ_t h_b[t, d]² )
 *
 * where h_b is the residual stream at the OUTPUT of block b and t runs over the T accumulated tokens
 * (all samples; positions whose mask is 0 are skipped). This is the L2 norm of the dimension over the
 * tokens divided by √T — the root mean square — so it does not depend on how tokens were batched or on
 * how many samples went in, and series of different lengths compare. Only the order of dimensions
 * within a block matters for top-k/bottom-k, and the accumulator keeps just Σ h² and T per block.
 */

/** Per-block running sums of squared residual activations. */
export class ResidualAccumulator {
  readonly blocks: number;
  readonly dim: number;
  private readonly sumSq: Float64Array[];
  private readonly tokens: Float64Array;

  constructor(blocks: number, dim: number) {
    if (!Number.isInteger(blocks) || blocks < 1 || !Number.isInteger(dim) || dim < 1) {
      throw new Error(`ResidualAccumulator needs positive integer blocks and dim, got ${blocks}, ${dim}`);
    }
    this.blocks = blocks;
    this.dim = dim;
    this.sumSq = Array.from({ length: blocks }, () => new Float64Array(dim));
    this.tokens = new Float64Array(blocks);
  }

  /**
   * Adds the residual stream of `block` for a run of tokens: `data` is [tokens, dim] row-major (a
   * [batch, seq, dim] output flattened is fine); `mask` (attention mask, one entry per token) skips
   * tokens whose entry is 0.
   */
  accumulateResidual(block: number, data: Float32Array, mask?: Uint8Array | BigInt64Array): void {
    if (!Number.isInteger(block) || block < 0 || block >= this.blocks) throw new Error(`block ${block} outside [0, ${this.blocks})`);
    const d = this.dim;
    if (data.length % d !== 0) throw new Error(`residual data of ${data.length} values is not [tokens, ${d}]`);
    const n = data.length / d;
    if (mask && mask.length !== n) throw new Error(`mask has ${mask.length} entries for ${n} tokens`);
    const acc = this.sumSq[block]!;
    let counted = 0;
    for (let t = 0; t < n; t++) {
      if (mask) {
        const m = mask[t]!;
        if (m === 0 || m === 0n) continue;
      }
      const base = t * d;
      for (let j = 0; j < d; j++) {
        const v = data[base + j]!;
        acc[j]! += v * v;
      }
      counted++;
    }
    this.tokens[block]! += counted;
  }

  tokenCount(block: number): number {
    return this.tokens[block]!;
  }

  /** m_b,d for every d (definition in the module comment). */
  magnitudes(block: number): Float64Array {
    const t = this.tokens[block]!;
    if (t === 0) throw new Error(`no tokens accumulated for block ${block}`);
    const s = this.sumSq[block]!;
    const out = new Float64Array(this.dim);
    for (let j = 0; j < this.dim; j++) out[j] = Math.sqrt(s[j]! / t);
    return out;
  }

  /** Adds another accumulator's sums (e.g. from a second runner or batch of samples). */
  merge(other: ResidualAccumulator): void {
    if (other.blocks !== this.blocks || other.dim !== this.dim) throw new Error('cannot merge accumulators of different shapes');
    for (let b = 0; b < this.blocks; b++) {
      const a = this.sumSq[b]!;
      const o = other.sumSq[b]!;
      for (let j = 0; j < this.dim; j++) a[j]! += o[j]!;
      this.tokens[b]! += other.tokens[b]!;
    }
  }

  /** Plain-JSON form, so the sums can be stored as a run artifact and reloaded. */
  toJSON(): ResidualAccumulatorJSON {
    return { blocks: this.blocks, dim: this.dim, tokens: [...this.tokens], sumSq: this.sumSq.map((s) => [...s]) };
  }

  static fromJSON(json: ResidualAccumulatorJSON): ResidualAccumulator {
    const acc = new ResidualAccumulator(json.blocks, json.dim);
    if (json.tokens.length !== json.blocks || json.sumSq.length !== json.blocks) throw new Error('accumulator JSON: wrong number of blocks');
    json.sumSq.forEach((s, b) => {
      if (s.length !== json.dim) throw new Error(`accumulator JSON: block ${b} has ${s.length} dims, expected ${json.dim}`);
      acc.sumSq[b]!.set(s);
      acc.tokens[b] = json.tokens[b]!;
    });
    return acc;
  }
}

export interface ResidualAccumulatorJSON {
  blocks: number;
  dim: number;
  tokens: number[];
  sumSq: number[][];
}

/** Residual statistics of one language pair: translation demonstrations, optionally monolingual text. */
export interface LmfInput {
  /** Label of the pair, e.g. "fr-en". */
  pair: string;
  translation: ResidualAccumulator;
  monolingual?: ResidualAccumulator;
}

export interface LmfOptions {
  /** Dimensions in each top/bottom set; alternatively `ratio` of dim (the reference uses 0.3). */
  k?: number;
  ratio?: number;
  /** Also emit every dimension's magnitude per block (for bar plots); off by default to keep JSON small. */
  includeMagnitudes?: boolean;
}

export interface LmfBlock {
  block: number;
  tokens: number;
  /** Dimensions by decreasing magnitude (ties: lower dimension first), with their magnitudes. */
  top: number[];
  topMagnitudes: number[];
  /** Dimensions by increasing magnitude (ties: lower dimension first). */
  bottom: number[];
  bottomMagnitudes: number[];
  magnitudes?: number[];
}

export interface LmfOverlapBlock {
  block: number;
  /** Jaccard |A∩B|/|A∪B| of top-k (resp. bottom-k) sets, indexed like `labels`. */
  top: number[][];
  bottom: number[][];
}

export interface LmfPairReport {
  pair: string;
  translation: LmfBlock[];
  monolingual?: LmfBlock[];
  /** Per block, Jaccard of the translation vs monolingual sets of this pair. */
  translationVsMonolingual?: { block: number; top: number; bottom: number }[];
}

export interface LmfReport {
  version: 1;
  magnitude: 'rms-over-tokens';
  k: number;
  blocks: number;
  dim: number;
  pairs: LmfPairReport[];
  overlap: {
    labels: string[];
    translation: LmfOverlapBlock[];
    /** Only when every pair has monolingual statistics. */
    monolingual?: LmfOverlapBlock[];
  };
}

/** Dimensions sorted by magnitude (descending for top), ties by dimension index; first k. */
export function rankDimensions(mag: Float64Array, k: number, order: 'top' | 'bottom'): number[] {
  const idx = Array.from({ length: mag.length }, (_, j) => j);
  const dir = order === 'top' ? -1 : 1;
  idx.sort((a, b) => dir * (mag[a]! - mag[b]!) || a - b);
  return idx.slice(0, k);
}

export function jaccard(a: readonly number[], b: readonly number[]): number {
  const sa = new Set(a);
  const sb = new Set(b);
  let inter = 0;
  for (const x of sa) if (sb.has(x)) inter++;
  const union = sa.size + sb.size - inter;
  return union === 0 ? 1 : inter / union;
}

function seriesReport(acc: ResidualAccumulator, k: number, label: string, withMagnitudes: boolean): LmfBlock[] {
  const out: LmfBlock[] = [];
  for (let b = 0; b < acc.blocks; b++) {
    if (acc.tokenCount(b) === 0) throw new Error(`${label}: no tokens accumulated for block ${b}`);
    const mag = acc.magnitudes(b);
    const top = rankDimensions(mag, k, 'top');
    const bottom = rankDimensions(mag, k, 'bottom');
    out.push({
      block: b,
      tokens: acc.tokenCount(b),
      top,
      topMagnitudes: top.map((j) => mag[j]!),
      bottom,
      bottomMagnitudes: bottom.map((j) => mag[j]!),
      ...(withMagnitudes ? { magnitudes: [...mag] } : {}),
    });
  }
  return out;
}

function overlapMatrices(series: LmfBlock[][], blocks: number): LmfOverlapBlock[] {
  const out: LmfOverlapBlock[] = [];
  for (let b = 0; b < blocks; b++) {
    const m = (pick: (x: LmfBlock) => number[]) => series.map((p) => series.map((q) => jaccard(pick(p[b]!), pick(q[b]!))));
    out.push({ block: b, top: m((x) => x.top), bottom: m((x) => x.bottom) });
  }
  return out;
}

export function buildLmfReport(inputs: readonly LmfInput[], opts: LmfOptions): LmfReport {
  if (inputs.length === 0) throw new Error('LMF report needs at least one language pair');
  const { blocks, dim } = inputs[0]!.translation;
  for (const inp of inputs) {
    for (const acc of [inp.translation, inp.monolingual]) {
      if (acc && (acc.blocks !== blocks || acc.dim !== dim)) {
        throw new Error(`${inp.pair}: accumulator is [${acc.blocks} blocks, ${acc.dim} dims], expected [${blocks}, ${dim}]`);
      }
    }
  }
  if (new Set(inputs.map((i) => i.pair)).size !== inputs.length) throw new Error('duplicate pair labels');
  if ((opts.k === undefined) === (opts.ratio === undefined)) throw new Error('give exactly one of k and ratio');
  const k = opts.k ?? Math.max(1, Math.floor(dim * opts.ratio!));
  if (!Number.isInteger(k) || k < 1 || k > dim) throw new Error(`k must be an integer in [1, ${dim}], got ${k}`);
  const withMag = opts.includeMagnitudes ?? false;

  const pairs: LmfPairReport[] = inputs.map((inp) => {
    const translation = seriesReport(inp.translation, k, `${inp.pair} translation`, withMag);
    if (!inp.monolingual) return { pair: inp.pair, translation };
    const monolingual = seriesReport(inp.monolingual, k, `${inp.pair} monolingual`, withMag);
    const translationVsMonolingual = translation.map((t, b) => ({
      block: b,
      top: jaccard(t.top, monolingual[b]!.top),
      bottom: jaccard(t.bottom, monolingual[b]!.bottom),
    }));
    return { pair: inp.pair, translation, monolingual, translationVsMonolingual };
  });

  const allMono = pairs.every((p) => p.monolingual);
  return {
    version: 1,
    magnitude: 'rms-over-tokens',
    k,
    blocks,
    dim,
    pairs,
    overlap: {
      labels: pairs.map((p) => p.pair),
      translation: overlapMatrices(
        pairs.map((p) => p.translation),
        blocks,
      ),
      ...(allMono
        ? {
            monolingual: overlapMatrices(
              pairs.map((p) => p.monolingual!),
              blocks,
            ),
          }
        : {}),
    },
  };
}
