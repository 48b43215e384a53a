/**
 * From a prune job's corpus inputs to tokenized calibration samples (docs/design.md §3.1), using the
 * engine's text builder. Corpus rows are JSONL {src, tgt} with the languages in the input's meta.
 */
import type { CalibrationSpec } from '@polyprune/shared/api/jobs';
import { buildDemonstrations, tokenizeCalibration, type CalibrationBatch, type DemoCorpus, type DemoKind, type SentencePair } from '../calibrate/text';
import { allocateSamples, interleave } from '../calibrate/mix';
import type { LoadedTokenizer } from '../tokenize/index';
import { readJsonl } from './suites';
import type { JobContext } from './lease-loop';

export interface CorpusData extends DemoCorpus {
  pairs: SentencePair[];
}

export async function loadCorpus(ctx: JobContext, role: 'corpus' | 'contrast'): Promise<CorpusData> {
  const inp = ctx.inputs.find((i) => i.role === role);
  if (!inp) throw new Error(`the job has no ${role} input`);
  const rows = (await readJsonl(await ctx.input(inp.name))) as SentencePair[];
  const srcLang = String(inp.meta.src ?? '');
  const tgtLang = String(inp.meta.tgt ?? '');
  if (!srcLang || !tgtLang) throw new Error(`${role} input ${inp.name} does not say its languages (meta.src/meta.tgt)`);
  return { pairs: rows, srcLang, tgtLang };
}

/**
 * "x-en" puts the non-English side first whichever side of the corpus it is on; "en-x" the other
 * way round. Both sides English (or neither): the corpus order is kept for x-en.
 */
export function orientation(corpus: DemoCorpus, direction: CalibrationSpec['direction']): 'forward' | 'reverse' {
  const srcIsEnglish = corpus.srcLang === 'en' || corpus.srcLang.startsWith('en-');
  const xFirst = srcIsEnglish ? 'reverse' : 'forward';
  if (direction === 'x-en') return xFirst;
  return xFirst === 'forward' ? 'reverse' : 'forward';
}

export interface CalibrationSet {
  tokens: CalibrationBatch;
  /** Whether the corpus was shorter than samples × (shots + 1) and pairs were reused. */
  wrapped: boolean;
  texts: string[];
}

/** One corpus's demonstrations for `samples` samples, and whether its pairs ran out and were reused. */
function demoTexts(corpus: CorpusData, kind: DemoKind, cal: CalibrationSpec, tok: LoadedTokenizer, samples: number): { texts: string[]; wrapped: boolean } {
  const need = samples * (cal.shots + 1) - 1;
  const texts = buildDemonstrations(corpus, kind, {
    shots: cal.shots,
    samples,
    eosToken: tok.eosToken,
    direction: orientation(corpus, cal.direction),
    // Small user corpora still calibrate; the run records that pairs were reused.
    onShortCorpus: 'wrap',
  });
  return { texts, wrapped: corpus.pairs.length < need };
}

// The reference tokenizes with the post-processor's special prefix (XGLM `</s>`, LLaMA `<s>`).
const tokenize = (texts: string[], cal: CalibrationSpec, tok: LoadedTokenizer) =>
  tokenizeCalibration(texts, tok, cal.maxLength, { prefixIds: tok.prefixIds ?? [] });

export function calibrationSet(corpus: CorpusData, kind: DemoKind, cal: CalibrationSpec, tok: LoadedTokenizer, samples = cal.samples): CalibrationSet {
  const { texts, wrapped } = demoTexts(corpus, kind, cal, tok, samples);
  return { tokens: tokenize(texts, cal, tok), wrapped, texts };
}

/** A corpus of a calibration mix, as the lease hands it over (meta.index, meta.weight). */
export interface MixCorpus extends CorpusData {
  corpusId: string;
  weight: number;
}

/** Every corpus input of the job in the mix's order; a single-corpus job is a mix of one of weight 1. */
export async function loadCorpora(ctx: JobContext): Promise<MixCorpus[]> {
  const inputs = ctx.inputs.filter((i) => i.role === 'corpus').sort((a, b) => Number(a.meta.index ?? 0) - Number(b.meta.index ?? 0));
  if (!inputs.length) throw new Error('the job has no corpus input');
  const out: MixCorpus[] = [];
  for (const inp of inputs) {
    const rows = (await readJsonl(await ctx.input(inp.name))) as SentencePair[];
    const srcLang = String(inp.meta.src ?? '');
    const tgtLang = String(inp.meta.tgt ?? '');
    if (!srcLang || !tgtLang) throw new Error(`corpus input ${inp.name} does not say its languages (meta.src/meta.tgt)`);
    const weight = inp.meta.weight === undefined ? 1 : Number(inp.meta.weight);
    if (!(weight > 0)) throw new Error(`corpus input ${inp.name} has weight ${String(inp.meta.weight)}; weights must be > 0`);
    out.push({ pairs: rows, srcLang, tgtLang, corpusId: String(inp.meta.corpusId ?? inp.name), weight });
  }
  return out;
}

/** What the run records about each corpus of a mix. */
export interface MixPart {
  corpusId: string;
  pair: string;
  weight: number;
  samples: number;
  corpusPairs: number;
  wrapped: boolean;
}

export interface MixCalibrationSet extends CalibrationSet {
  parts: MixPart[];
  /** index into `parts` of each sample's corpus */
  source: number[];
}

/**
 * The calibration set of a mix (calibrate/mix.ts has the rule): samples allocated by weight, each
 * corpus's first windows as a single-corpus job takes them, interleaved round robin. A mix of one
 * corpus is exactly calibrationSet.
 */
export function mixCalibrationSet(
  corpora: readonly MixCorpus[],
  kind: DemoKind,
  cal: CalibrationSpec,
  tok: LoadedTokenizer,
  samples = cal.samples,
): MixCalibrationSet {
  const counts = allocateSamples(
    samples,
    corpora.map((c) => c.weight),
  );
  const built = corpora.map((c, k) => (counts[k]! > 0 ? demoTexts(c, kind, cal, tok, counts[k]!) : { texts: [], wrapped: false }));
  const { items: texts, source } = interleave(built.map((b) => b.texts));
  const parts = corpora.map((c, k) => ({
    corpusId: c.corpusId,
    pair: `${c.srcLang}-${c.tgtLang}`,
    weight: c.weight,
    samples: counts[k]!,
    corpusPairs: c.pairs.length,
    wrapped: built[k]!.wrapped,
  }));
  return { tokens: tokenize(texts, cal, tok), wrapped: parts.some((p) => p.wrapped), texts, parts, source };
}
