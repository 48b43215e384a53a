/**
 * The two multiple-choice scorings, always named in results:
 * - `paper`: mean token log-prob of the whole prompt (every token after the first fed token), as the
 *   reference code scores a rendered prompt;
 * - `harness`: sum log-prob of the continuation given the context (lm-evaluation-harness `acc`), and
 *   that sum divided by the continuation's UTF-8 byte length (`acc_norm`).
 * Tokenisation follows the harness: encode(context + continuation) once and split it at the length
 * of encode(context), so merges across the boundary tokenise as in the full prompt.
 */
import type { LoadedTokenizer } from '../tokenize/index.js';
import type { RenderedExample } from './templates.js';

export type Scoring = 'paper' | 'harness';

export interface EncodedChoice {
  tokens: Int32Array;
  /** index of the first continuation token in `tokens` (≥ 1) */
  contStart: number;
  /** UTF-8 bytes of the continuation string (acc_norm's denominator) */
  contBytes: number;
}

export interface EncodeOptions {
  /** token prepended to every prompt (e.g. a BOS the model was trained with); none by default */
  bosId?: number;
  /** token conditioning an empty context; the harness uses the end-of-text token */
  emptyContextId: number;
  /** longest sequence the model takes; longer prompts lose tokens on the left, as in the harness */
  contextLength: number;
}

const utf8 = new TextEncoder();

export function encodeChoices(tok: LoadedTokenizer, ex: RenderedExample, opts: EncodeOptions): EncodedChoice[] {
  const ctxLen = ex.context ? tok.encode(ex.context).length : 0;
  const lead: number[] = opts.bosId !== undefined ? [opts.bosId] : ex.context ? [] : [opts.emptyContextId];
  return ex.continuations.map((cont) => {
    const whole = tok.encode(ex.context + cont);
    if (whole.length === 0) throw new Error('prompt encodes to no tokens');
    let tokens = Int32Array.from([...lead, ...whole]);
    // at least one continuation token, and position 0 is never scored
    let contStart = Math.max(1, Math.min(lead.length + ctxLen, tokens.length - 1));
    if (tokens.length > opts.contextLength) {
      const drop = tokens.length - opts.contextLength;
      tokens = tokens.slice(drop);
      contStart = Math.max(1, contStart - drop);
    }
    return { tokens, contStart, contBytes: utf8.encode(cont).length };
  });
}

/** First position each scoring needs log-probs from. */
export function scoreFrom(choice: EncodedChoice, scoring: Scoring): number {
  return scoring === 'paper' ? 1 : choice.contStart;
}

export interface ChoiceScores {
  /** the scoring's score per choice (paper: mean log-prob; harness: sum log-prob) */
  scores: number[];
  /** harness only: sum log-prob / continuation bytes */
  scoresNorm?: number[];
}

/** `logprobs[c]` holds the log-probs of choice c from scoreFrom(choice, scoring) on. */
export function choiceScores(choices: EncodedChoice[], logprobs: Float64Array[], scoring: Scoring): ChoiceScores {
  const sums = logprobs.map((lp) => {
    let s = 0;
    for (let i = 0; i < lp.length; i++) s += lp[i]!;
    return s;
  });
  if (scoring === 'paper') return { scores: sums.map((s, c) => s / Math.max(1, logprobs[c]!.length)) };
  return { scores: sums, scoresNorm: sums.map((s, c) => s / Math.max(1, choices[c]!.contBytes)) };
}

/** Index of the highest score, first on ties (deterministic). */
export function argmax(values: number[]): number {
  let best = 0;
  for (let i = 1; i < values.length; i++) if (values[i]! > values[best]!) best = i;
  return best;
}
