/**
 * Calibration text (docs/design.md §3.1): few-shot demonstrations built from a corpus of sentence pairs,
 * then tokenized into fixed-size [samples, maxLength] tensors for onnxruntime.
 *
 * Reproduces the reference (Kim et al. 2024): sample k concatenates `shots` demonstrations taken from
 * consecutive pairs starting at pair k·(shots+1), so exactly one pair is skipped between samples;
 * each demonstration is `"{SrcName}: {s}{EOS}{TgtName}: {t}{EOS}"` with English language names and the
 * EOS token written literally as its token string; nothing separates demonstrations but the EOS.
 */
import { languageName } from '@polyprune/shared/languages';
import type { LoadedTokenizer } from '../tokenize/index.js';

/** One line of a bilingual corpus; `src` is the non-English side by polyprune's corpus convention. */
export interface SentencePair {
  src: string;
  tgt: string;
}

/** How one corpus is turned into demonstrations. */
export type DemoKind = 'mt' | 'mono';
export type CalibrationDataType = DemoKind | 'mt-contrast';

/**
 * `forward` writes the corpus' src side first (X→English for an X–English corpus, the reference
 * default); `reverse` writes the tgt side first. For `mono` the side written is the one a `forward`
 * (resp. `reverse`) demonstration would start with.
 */
export type Direction = 'forward' | 'reverse';

/**
 * What to do when the corpus holds fewer than `requiredPairs(shots, samples)` pairs.
 * `error` (default) fails loudly: silently making fewer samples would change the statistics.
 * `wrap` continues from the start of the corpus (pair index taken modulo the corpus size).
 */
export type ShortCorpusPolicy = 'error' | 'wrap';

/** A corpus with the languages of its two sides. */
export interface DemoCorpus {
  pairs: readonly SentencePair[];
  /** BCP-47 tag of the src side; its English name is used unless `srcName` is given. */
  srcLang: string;
  /** BCP-47 tag of the tgt side. */
  tgtLang: string;
  /** Literal name for corpora that are not natural languages (e.g. "Python" in a code contrast corpus). */
  srcName?: string;
  tgtName?: string;
}

export interface DemoOptions {
  /** Demonstrations per sample; the reference uses 4. */
  shots: number;
  /** Number of samples; the reference uses 100. */
  samples: number;
  /** The EOS token string, exactly as the tokenizer spells it (LoadedTokenizer.eosToken). */
  eosToken: string;
  direction?: Direction;
  onShortCorpus?: ShortCorpusPolicy;
}

export interface CalibrationTextOptions extends DemoOptions {
  srcLang: string;
  tgtLang: string;
  srcName?: string;
  tgtName?: string;
  dataType: CalibrationDataType;
  /** Required for `mt-contrast`: the second corpus (e.g. code), built as `kind` demonstrations. */
  contrast?: DemoCorpus & { kind: DemoKind };
}

export interface CalibrationTexts {
  texts: string[];
  /** Present for `mt-contrast` only: the texts whose statistics divide the translation statistics. */
  contrastTexts?: string[];
}

/** Pairs a corpus needs so that no pair is reused: the last sample needs no skipped pair after it. */
export function requiredPairs(shots: number, samples: number): number {
  return samples * (shots + 1) - 1;
}

function positiveInt(name: string, v: number): void {
  if (!Number.isInteger(v) || v < 1) throw new Error(`${name} must be a positive integer, got ${v}`);
}

/** Builds the sample strings of one corpus as `mt` or `mono` demonstrations. */
export function buildDemonstrations(corpus: DemoCorpus, kind: DemoKind, opts: DemoOptions): string[] {
  const { shots, samples, eosToken } = opts;
  positiveInt('shots', shots);
  positiveInt('samples', samples);
  if (eosToken.length === 0) throw new Error('eosToken is empty: the tokenizer must name its EOS token');
  const n = corpus.pairs.length;
  if (n === 0) throw new Error('the corpus has no sentence pairs');
  const need = requiredPairs(shots, samples);
  if (n < need && (opts.onShortCorpus ?? 'error') === 'error') {
    throw new Error(
      `corpus too small: ${samples} samples of ${shots} shots need ${need} pairs, found ${n} ` + `(lower samples/shots, or set onShortCorpus: 'wrap')`,
    );
  }
  const srcName = corpus.srcName ?? languageName(corpus.srcLang);
  const tgtName = corpus.tgtName ?? languageName(corpus.tgtLang);
  const reverse = (opts.direction ?? 'forward') === 'reverse';
  const [firstName, secondName] = reverse ? [tgtName, srcName] : [srcName, tgtName];

  const texts: string[] = [];
  for (let k = 0; k < samples; k++) {
    let text = '';
    for (let s = 0; s < shots; s++) {
      const pair = corpus.pairs[(k * (shots + 1) + s) % n]!;
      const [first, second] = reverse ? [pair.tgt, pair.src] : [pair.src, pair.tgt];
      text += `${firstName}: ${first}${eosToken}`;
      if (kind === 'mt') text += `${secondName}: ${second}${eosToken}`;
    }
    texts.push(text);
  }
  return texts;
}

/** Calibration texts for one job (docs/design.md §3.1), including the contrast texts of `mt-contrast`. */
export function buildCalibrationText(pairs: readonly SentencePair[], opts: CalibrationTextOptions): CalibrationTexts {
  const corpus: DemoCorpus = {
    pairs,
    srcLang: opts.srcLang,
    tgtLang: opts.tgtLang,
    ...(opts.srcName !== undefined ? { srcName: opts.srcName } : {}),
    ...(opts.tgtName !== undefined ? { tgtName: opts.tgtName } : {}),
  };
  if (opts.dataType !== 'mt-contrast') {
    if (opts.contrast) throw new Error(`a contrast corpus is only used with dataType 'mt-contrast', got '${opts.dataType}'`);
    return { texts: buildDemonstrations(corpus, opts.dataType, opts) };
  }
  if (!opts.contrast) throw new Error("dataType 'mt-contrast' needs a contrast corpus (options.contrast)");
  return {
    texts: buildDemonstrations(corpus, 'mt', opts),
    contrastTexts: buildDemonstrations(opts.contrast, opts.contrast.kind, opts),
  };
}

/** Tokenized calibration batch, laid out [samples, maxLength] row-major as onnxruntime wants it. */
export interface CalibrationBatch {
  samples: number;
  maxLength: number;
  inputIds: BigInt64Array;
  attentionMask: BigInt64Array;
  /** Real (unpadded) tokens per sample after truncation. */
  lengths: Int32Array;
  /** Tokens per sample before truncation (prefix included): longer than maxLength where a sample was cut. */
  fullLengths: Int32Array;
}

export interface TokenizeCalibrationOptions {
  /**
   * Ids put before each sample's tokens, inside maxLength. The reference tokenizes with the HF default
   * add_special_tokens=True, i.e. the tokenizer's post-processor prefix (XGLM `</s>`, LLaMA `<s>`,
   * nothing for GPT-2/BLOOM); LoadedTokenizer.encode adds none, so the caller passes it here.
   */
  prefixIds?: readonly number[];
}

/** Type-only subset of LoadedTokenizer this module needs, so tests can pass a fake. */
export type CalibrationTokenizer = Pick<LoadedTokenizer, 'encode' | 'eosId' | 'eosToken' | 'padId'>;

/**
 * Whether `encode` turns the literal EOS string into the single EOS id. It does for tokenizers that
 * list EOS as an added/special token (all HF decoder LMs); a tokenizer that would spell it out
 * character by character gets the EOS id spliced in between the encoded pieces instead.
 */
export function encodesEosLiterally(tok: CalibrationTokenizer): boolean {
  const ids = tok.encode(tok.eosToken);
  return ids.length === 1 && ids[0] === tok.eosId;
}

/** Token ids of one text whose EOS occurrences are the literal `tok.eosToken`. */
export function encodeWithEos(text: string, tok: CalibrationTokenizer, literal = encodesEosLiterally(tok)): number[] {
  if (literal) return tok.encode(text);
  const ids: number[] = [];
  const pieces = text.split(tok.eosToken);
  pieces.forEach((piece, i) => {
    if (i > 0) ids.push(tok.eosId);
    if (piece.length > 0) ids.push(...tok.encode(piece));
  });
  return ids;
}

/** Right-pads with `padId` (attention 0) and truncates on the right, as HF `padding='max_length'`. */
export function tokenizeCalibration(
  texts: readonly string[],
  tokenizer: CalibrationTokenizer,
  maxLength: number,
  opts: TokenizeCalibrationOptions = {},
): CalibrationBatch {
  positiveInt('maxLength', maxLength);
  if (texts.length === 0) throw new Error('no calibration texts to tokenize');
  if (tokenizer.eosToken.length === 0) throw new Error('tokenizer has no EOS token string; cannot locate EOS in the text');
  const literal = encodesEosLiterally(tokenizer);
  const prefix = opts.prefixIds ?? [];
  const samples = texts.length;
  const inputIds = new BigInt64Array(samples * maxLength).fill(BigInt(tokenizer.padId));
  const attentionMask = new BigInt64Array(samples * maxLength);
  const lengths = new Int32Array(samples);
  const fullLengths = new Int32Array(samples);
  texts.forEach((text, s) => {
    const ids = [...prefix, ...encodeWithEos(text, tokenizer, literal)];
    fullLengths[s] = ids.length;
    const len = Math.min(ids.length, maxLength);
    const base = s * maxLength;
    for (let t = 0; t < len; t++) {
      inputIds[base + t] = BigInt(ids[t]!);
      attentionMask[base + t] = 1n;
    }
    lengths[s] = len;
  });
  return { samples, maxLength, inputIds, attentionMask, lengths, fullLengths };
}

/** The samples cut at maxLength and their token lengths before the cut, for the run record. */
export function truncation(batch: Pick<CalibrationBatch, 'maxLength' | 'fullLengths'>): { samples: number; tokenLengths: number[] } {
  const tokenLengths = Array.from(batch.fullLengths).filter((n) => n > batch.maxLength);
  return { samples: tokenLengths.length, tokenLengths };
}
