/**
 * Per-row results of an evaluation, kept as an artifact (`samples.jsonl.gz`, what
 * lm-evaluation-harness calls logged samples): a header naming the model bytes, template language and
 * suite bytes, then one line per (suite, scoring, row) with the engine's prediction — per-choice
 * log-likelihoods and token counts, prediction and label for multiple choice; nll and tokens for
 * perplexity; hypothesis, reference, sentence chrF and BLEU and the BLEU statistics for translation.
 * A prune job's paired bootstrap reads the dense model's rows from here instead of scoring the dense
 * model again. Translation rows stored before BLEU was added have no `bleuStats`: the bootstrap
 * computes them from the hypothesis and reference.
 */
import { gunzipSync, gzipSync } from 'node:zlib';
import { rowsKey } from '@polyprune/shared/cell-identity';
import type { SuiteResult } from '../evaluate/index';
import type { McPrediction } from '../evaluate/multipleChoice';
import type { TextScore } from '../evaluate/perplexity';
import { isBleuStats } from '../evaluate/bleu';
import type { TranslationPrediction } from '../evaluate/translate';

export interface SamplesHeader {
  /** sha256 of the graph file the rows were scored with (the dense model's for dense samples) */
  modelSha256: string | null;
  dense: boolean;
  templateLang: string;
  /** the job's row limit (rows, seed) the rows were drawn with; null or absent: every row */
  limit?: { rows: number; seed: number } | null;
  /** suite id → sha256 of the suite's bytes */
  suites: Record<string, string>;
}

/**
 * Whether stored dense rows are the rows `want` scores: dense, the same model bytes, template words
 * and row limit (rows and seed). A row's index is its place among the rows evaluated, so rows of
 * another limit or seed would pair different rows under the same index.
 */
export function sameDenseRows(have: SamplesHeader, want: SamplesHeader): boolean {
  const sameLimit = rowsKey(have.limit?.rows, have.limit?.seed) === rowsKey(want.limit?.rows, want.limit?.seed);
  return have.dense && !!want.modelSha256 && have.modelSha256 === want.modelSha256 && have.templateLang === want.templateLang && sameLimit;
}

export interface SampleSet {
  suiteId: string;
  scoring: string;
  result: SuiteResult;
}

export function encodeSamples(header: SamplesHeader, sets: SampleSet[]): Uint8Array {
  const lines = [JSON.stringify({ header })];
  for (const s of sets) {
    for (const p of s.result.predictions) {
      lines.push(
        JSON.stringify({ suiteId: s.suiteId, scoring: s.scoring, format: s.result.format, lang: s.result.lang, resultScoring: s.result.scoring, ...p }),
      );
    }
  }
  return gzipSync(`${lines.join('\n')}\n`);
}

/**
 * Multiple-choice rows per `${suiteId}/${scoring}`, perplexity and translation rows per suite id
 * (they do not depend on the scoring), with the header to check them against.
 */
export function decodeSamples(bytes: Uint8Array): {
  header: SamplesHeader;
  rows: Map<string, McPrediction[]>;
  text: Map<string, TextScore[] | TranslationPrediction[]>;
} {
  const lines = gunzipSync(bytes).toString('utf8').split('\n').filter(Boolean);
  const first = JSON.parse(lines[0] ?? '{}') as { header?: SamplesHeader };
  if (!first.header) throw new Error('samples file has no header line');
  const rows = new Map<string, McPrediction[]>();
  const text = new Map<string, (TextScore | TranslationPrediction)[]>();
  for (const [i, line] of lines.slice(1).entries()) {
    const r = JSON.parse(line) as McPrediction & { suiteId: string; scoring: string; format?: string; correct?: boolean };
    if (typeof r.index !== 'number') throw new Error(`samples line ${i + 2} has no row index`);
    if (r.format === 'ppl' || r.format === 'mt') {
      const x = r as unknown as TextScore & TranslationPrediction;
      const ok = r.format === 'ppl' ? Number.isFinite(x.nll) && Number.isFinite(x.tokens) : typeof x.hypothesis === 'string' && typeof x.reference === 'string';
      if (!ok) throw new Error(`samples line ${i + 2} is a ${r.format} row without its ${r.format === 'ppl' ? 'nll and tokens' : 'hypothesis and reference'}`);
      if (r.format === 'mt' && x.bleuStats !== undefined && !isBleuStats(x.bleuStats)) {
        throw new Error(`samples line ${i + 2} has malformed bleuStats (want 10 non-negative integers)`);
      }
      text.set(r.suiteId, [...(text.get(r.suiteId) ?? []), x]);
      continue;
    }
    if (typeof r.correct !== 'boolean') continue;
    const k = `${r.suiteId}/${r.scoring}`;
    const list = rows.get(k) ?? [];
    list.push(r);
    rows.set(k, list);
  }
  return { header: first.header, rows, text: text as Map<string, TextScore[] | TranslationPrediction[]> };
}
