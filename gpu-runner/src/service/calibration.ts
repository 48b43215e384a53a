/**
 * From a prune job's corpus inputs to tokenized calibration samples (design §3.1), using the
 * engine's text builder. Corpus rows are JSONL {src, tgt} with the languages in the input's meta.
 */
import type { CalibrationSpec } from '../../../shared/src/api/jobs';
import { buildDemonstrations, tokenizeCalibration, type CalibrationBatch, type DemoCorpus, type DemoKind, type SentencePair } from '../calibrate/text';
import type { LoadedTokenizer } from '../tokenize/index';
import { readJsonl } from './suites';
import type { JobContext } from './worker-loop';

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

export function calibrationSet(corpus: CorpusData, kind: DemoKind, cal: CalibrationSpec, tok: LoadedTokenizer, samples = cal.samples): CalibrationSet {
  const need = samples * (cal.shots + 1) - 1;
  const texts = buildDemonstrations(corpus, kind, {
    shots: cal.shots,
    samples,
    eosToken: tok.eosToken,
    direction: orientation(corpus, cal.direction),
    // Small user corpora still calibrate; the run records that pairs were reused.
    onShortCorpus: 'wrap',
  });
  // The reference tokenizes with the post-processor's special prefix (XGLM `</s>`, LLaMA `<s>`).
  return { tokens: tokenizeCalibration(texts, tok, cal.maxLength, { prefixIds: tok.prefixIds ?? [] }), wrapped: corpus.pairs.length < need, texts };
}
