/**
 * Per-row results of an evaluation, kept as an artifact (`samples.jsonl.gz`, what
 * lm-evaluation-harness calls logged samples): a header naming the model bytes, template language and
 * suite bytes, then one line per (suite, scoring, row) with the engine's prediction — per-choice
 * log-likelihoods and token counts, prediction and label for multiple choice; nll and tokens for
 * perplexity; hypothesis and chrF for translation. A prune job's paired bootstrap reads the dense
 * model's rows from here instead of scoring the dense model again.
 */
import { gunzipSync, gzipSync } from 'node:zlib';
import type { SuiteResult } from '../evaluate/index';
import type { McPrediction } from '../evaluate/multipleChoice';

export interface SamplesHeader {
  /** sha256 of the graph file the rows were scored with (the dense model's for dense samples) */
  modelSha256: string | null;
  dense: boolean;
  templateLang: string;
  /** suite id → sha256 of the suite's bytes */
  suites: Record<string, string>;
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

/** Multiple-choice rows per `${suiteId}/${scoring}`, with the header to check them against. */
export function decodeSamples(bytes: Uint8Array): { header: SamplesHeader; rows: Map<string, McPrediction[]> } {
  const lines = gunzipSync(bytes).toString('utf8').split('\n').filter(Boolean);
  const first = JSON.parse(lines[0] ?? '{}') as { header?: SamplesHeader };
  if (!first.header) throw new Error('samples file has no header line');
  const rows = new Map<string, McPrediction[]>();
  for (const [i, line] of lines.slice(1).entries()) {
    const r = JSON.parse(line) as McPrediction & { suiteId: string; scoring: string; correct?: boolean };
    if (typeof r.correct !== 'boolean') continue; // perplexity and translation rows
    if (typeof r.index !== 'number') throw new Error(`samples line ${i + 2} has no row index`);
    const k = `${r.suiteId}/${r.scoring}`;
    const list = rows.get(k) ?? [];
    list.push(r);
    rows.set(k, list);
  }
  return { header: first.header, rows };
}
