/**
 * Token-weighted perplexity of a language's held-out text. A text longer than the context is
 * scored with a sliding window: each window holds up to `contextLength` tokens, advances by
 * `stride` (< contextLength), and scores only the tokens no earlier window scored, so every token after the first
 * is scored exactly once with up to contextLength − stride tokens of left context.
 */
import type { ScoreRequest } from './batch-plan.js';
import { scoreRequests, type BatchOptions, type ScoreStats } from './batching.js';
import type { EvalModel } from './model.js';

export interface Window {
  begin: number;
  end: number;
  /** first position scored, relative to `begin` */
  scoreFrom: number;
}

/** Windows over a sequence of n tokens. Pure. */
export function slidingWindows(n: number, contextLength: number, stride: number): Window[] {
  // a window must keep ≥ 1 token of overlap: its first token has no prediction inside it
  if (stride < 1 || stride >= contextLength) throw new Error(`stride ${stride} must be in 1..${contextLength - 1}`);
  if (n < 2) return [];
  const windows: Window[] = [];
  let scoredUpTo = 1; // position 0 has no prediction
  for (let begin = 0; ; begin += stride) {
    const end = Math.min(begin + contextLength, n);
    windows.push({ begin, end, scoreFrom: scoredUpTo - begin });
    scoredUpTo = end;
    if (end === n) break;
  }
  return windows;
}

export interface PerplexityOptions extends BatchOptions {
  /** window advance for long texts; default half the context */
  stride?: number;
  /** prepended to each text so its first token is scored too */
  bosId?: number;
}

export interface PerplexityMetrics {
  perplexity: number;
  /** total negative log-likelihood (nats) */
  nll: number;
  tokens: number;
  bytes: number;
  /** nll in bits per UTF-8 byte: comparable across tokenizers */
  bitsPerByte: number;
}

export interface TextScore {
  index: number;
  tokens: number;
  nll: number;
}

export async function evaluatePerplexity(
  model: EvalModel,
  texts: string[],
  opts: PerplexityOptions = {},
): Promise<{ metrics: PerplexityMetrics; perText: TextScore[]; stats: ScoreStats }> {
  const L = model.contextLength;
  const stride = opts.stride ?? Math.max(1, Math.floor(L / 2));
  const requests: ScoreRequest[] = [];
  const owner: number[] = [];
  const utf8 = new TextEncoder();
  let bytes = 0;
  texts.forEach((text, index) => {
    bytes += utf8.encode(text).length;
    const ids = model.tokenizer.encode(text);
    const seq = Int32Array.from(opts.bosId !== undefined ? [opts.bosId, ...ids] : ids);
    for (const w of slidingWindows(seq.length, L, stride)) {
      requests.push({ tokens: seq.subarray(w.begin, w.end), scoreFrom: w.scoreFrom });
      owner.push(index);
    }
  });
  const { logprobs, stats } = await scoreRequests(model, requests, { ...opts, stage: opts.stage ?? 'perplexity' });
  const perText: TextScore[] = texts.map((_, index) => ({ index, tokens: 0, nll: 0 }));
  logprobs.forEach((lp, r) => {
    const t = perText[owner[r]!]!;
    t.tokens += lp.length;
    for (let k = 0; k < lp.length; k++) t.nll -= lp[k]!;
  });
  let nll = 0;
  let tokens = 0;
  for (const t of perText) {
    nll += t.nll;
    tokens += t.tokens;
  }
  return {
    metrics: {
      perplexity: tokens ? Math.exp(nll / tokens) : NaN,
      nll,
      tokens,
      bytes,
      bitsPerByte: bytes ? nll / Math.LN2 / bytes : NaN,
    },
    perText,
    stats,
  };
}
