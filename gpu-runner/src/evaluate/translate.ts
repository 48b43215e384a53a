/**
 * Few-shot translation scored by chrF and BLEU (sacreBLEU's defaults). The prompt uses the calibration format (docs/design.md §3):
 * "{SrcName}: {s}{EOS}{TgtName}: {t}{EOS}" per shot, then "{SrcName}: {src}{EOS}{TgtName}:", and the
 * model continues greedily until EOS or the token limit. Segments are encoded separately around the
 * EOS id, as a tokenizer that splits out its special tokens would, so no tokenizer has to parse
 * "</s>" out of text.
 */
import type { MtRow } from '@polyprune/shared/suites';
import { languageName } from '@polyprune/shared/languages';
import type { LoadedTokenizer } from '../tokenize/index.js';
import type { ProgressFn } from '../types.js';
import { planBatches } from './batch-plan.js';
import { BATCH_DEFAULTS, batchTokens, type BatchOptions } from './batching.js';
import { BLEU_SIGNATURE, bleuFromStats, bleuStats, sumBleuStats, type BleuStats } from './bleu.js';
import { CHRF_SIGNATURE, corpusChrf, sentenceChrf } from './chrf.js';
import { forward, gatherCache, logitOffset, type KvCache } from './forward.js';
import { argmaxAt } from './logprobs.js';
import type { EvalModel } from './model.js';

export function translationPromptText(shots: MtRow[], src: string, srcName: string, tgtName: string, eos: string): string {
  return shots.map((p) => `${srcName}: ${p.src}${eos}${tgtName}: ${p.tgt}${eos}`).join('') + `${srcName}: ${src}${eos}${tgtName}:`;
}

export function translationPromptTokens(tok: LoadedTokenizer, shots: MtRow[], src: string, srcName: string, tgtName: string): Int32Array {
  const ids: number[] = [];
  for (const p of shots) ids.push(...tok.encode(`${srcName}: ${p.src}`), tok.eosId, ...tok.encode(`${tgtName}: ${p.tgt}`), tok.eosId);
  ids.push(...tok.encode(`${srcName}: ${src}`), tok.eosId, ...tok.encode(`${tgtName}:`));
  return Int32Array.from(ids);
}

export interface DecodeOptions extends BatchOptions {
  maxNewTokens?: number;
  /** decoding stops at any of these (default: the tokenizer's EOS) */
  stopIds?: number[];
}

export interface DecodeStats {
  forwardTokens: number;
  steps: number;
  usedCache: boolean;
}

/**
 * Greedy decoding of every prompt; returns the generated ids (stop token excluded).
 * With a KV cache, finished rows leave the batch (their cache rows are dropped); without one, each
 * step recomputes the right-padded sequences.
 */
export async function greedyDecode(model: EvalModel, prompts: Int32Array[], opts: DecodeOptions = {}): Promise<{ outputs: Int32Array[]; stats: DecodeStats }> {
  const maxNew = opts.maxNewTokens ?? 64;
  const stop = new Set(opts.stopIds ?? [model.tokenizer.eosId]);
  const outputs: number[][] = prompts.map(() => []);
  const stats: DecodeStats = { forwardTokens: 0, steps: 0, usedCache: model.cache.step };
  // The prompt pass returns logits for every prompt token: the same logits budget as scoring.
  const maxTokens = batchTokens(model, opts);
  const maxSize = opts.maxBatchSize ?? BATCH_DEFAULTS.decoding;
  const stage = opts.stage ?? 'translate';
  const progress: ProgressFn = opts.onProgress ?? (() => {});
  for (const p of prompts) if (p.length === 0) throw new Error('empty prompt');

  // graphs with position_ids can continue a padded cache, so prompts of any length share a batch;
  // others decode equal-length prompts in lockstep so their caches never hold padding
  const padded = model.cache.step && model.cache.padded;
  let batches: number[][];
  if (model.cache.step && !padded) {
    const byLen = new Map<number, number[]>();
    prompts.forEach((p, i) => {
      const same = byLen.get(p.length);
      if (same) same.push(i);
      else byLen.set(p.length, [i]);
    });
    batches = [];
    for (const [len, idx] of [...byLen].sort((a, b) => a[0] - b[0])) {
      const per = Math.max(1, Math.min(maxSize, Math.floor(maxTokens / (len + maxNew))));
      for (let i = 0; i < idx.length; i += per) batches.push(idx.slice(i, i + per));
    }
  } else {
    batches = planBatches(
      prompts.map((p) => p.length + maxNew),
      maxTokens,
      maxSize,
    );
  }

  for (let b = 0; b < batches.length; b++) {
    let active = batches[b]!;
    if (model.cache.step) {
      const first = active.map((i) => prompts[i]!);
      // Only each row's last step predicts a token: the head runs on those alone.
      let out = await forward(
        model,
        first,
        undefined,
        true,
        first.map((r) => [r.length - 1, r.length] as const),
      );
      stats.forwardTokens += first.reduce((n, r) => n + r.length, 0);
      // the step whose logits predict each row's next token
      let last = first.map((r) => r.length - 1);
      for (let step = 0; step < maxNew && active.length; step++) {
        stats.steps++;
        const next = active.map((_, row) => argmaxAt(out.logits, logitOffset(out, row, last[row]!), out.vocab));
        const keep: number[] = [];
        active.forEach((i, row) => {
          if (stop.has(next[row]!)) return;
          outputs[i]!.push(next[row]!);
          keep.push(row);
        });
        if (!keep.length || step === maxNew - 1) break;
        const cacheLen = out.mask.length / active.length;
        const valid = padded ? out.mask : undefined;
        const cache: KvCache =
          keep.length === active.length
            ? { length: cacheLen, tensors: out.present!, ...(valid ? { valid } : {}) }
            : gatherCache(out.present!, active.length, keep, cacheLen, valid, model.io.past!.batchAxis);
        active = keep.map((row) => active[row]!);
        out = await forward(
          model,
          keep.map((row) => Int32Array.of(next[row]!)),
          cache,
          true,
        );
        stats.forwardTokens += keep.length;
        last = keep.map(() => 0);
      }
    } else {
      for (let step = 0; step < maxNew && active.length; step++) {
        stats.steps++;
        const rows = active.map((i) => Int32Array.from([...prompts[i]!, ...outputs[i]!]));
        const out = await forward(
          model,
          rows,
          undefined,
          false,
          rows.map((r) => [r.length - 1, r.length] as const),
        );
        stats.forwardTokens += rows.reduce((s, r) => s + r.length, 0);
        active = active.filter((i, row) => {
          const t = argmaxAt(out.logits, logitOffset(out, row, rows[row]!.length - 1), out.vocab);
          if (stop.has(t)) return false;
          outputs[i]!.push(t);
          return true;
        });
      }
    }
    progress(stage, b + 1, batches.length);
  }
  return { outputs: outputs.map((o) => Int32Array.from(o)), stats };
}

export interface TranslationOptions extends DecodeOptions {
  /** demonstrations; default: the suite's first `numShots` rows, which are then not evaluated */
  shots?: MtRow[];
  numShots?: number;
}

export interface TranslationPrediction {
  index: number;
  hypothesis: string;
  reference: string;
  chrf: number;
  /** sacreBLEU's sentence_bleu (effective order); absent from samples stored before BLEU was added */
  bleu?: number;
  /** the sentence's BLEU sufficient statistics, which corpus BLEU and its bootstrap sum; absent as `bleu` */
  bleuStats?: BleuStats;
}

/** What the mt metrics are, in sacreBLEU's signature notation (recorded with the run). */
export const translationSignatures = { bleu: BLEU_SIGNATURE, chrf: CHRF_SIGNATURE } as const;

/** Cuts a generation where the model starts a new demonstration instead of emitting EOS. */
export function cleanHypothesis(text: string, srcName: string): string {
  const cut = text.indexOf(`${srcName}:`);
  return (cut >= 0 ? text.slice(0, cut) : text).trim();
}

export async function evaluateTranslation(
  model: EvalModel,
  rows: MtRow[],
  srcLang: string,
  tgtLang: string,
  opts: TranslationOptions = {},
): Promise<{ metrics: { chrf: number; bleu: number; n: number; shots: number }; predictions: TranslationPrediction[]; stats: DecodeStats }> {
  const srcName = languageName(srcLang);
  const tgtName = languageName(tgtLang);
  const numShots = opts.shots ? opts.shots.length : Math.min(opts.numShots ?? 4, Math.max(0, rows.length - 1));
  const shots = opts.shots ?? rows.slice(0, numShots);
  const offset = opts.shots ? 0 : numShots;
  const evalRows = rows.slice(offset);
  const maxNew = opts.maxNewTokens ?? 64;
  const budget = model.contextLength - maxNew;
  if (budget < 1) throw new Error(`context length ${model.contextLength} leaves no room for ${maxNew} new tokens`);
  const prompts = evalRows.map((r) => {
    // drop the earliest demonstrations first, then left-truncate, so the prompt plus output fits
    for (let k = 0; k <= shots.length; k++) {
      const ids = translationPromptTokens(model.tokenizer, shots.slice(k), r.src, srcName, tgtName);
      if (ids.length <= budget) return ids;
      if (k === shots.length) return ids.slice(ids.length - budget);
    }
    throw new Error('unreachable');
  });
  const { outputs, stats } = await greedyDecode(model, prompts, opts);
  const predictions = evalRows.map((r, i) => {
    const hypothesis = cleanHypothesis(model.tokenizer.decode(Array.from(outputs[i]!)), srcName);
    const counts = bleuStats(hypothesis, r.tgt);
    const bleu = bleuFromStats(counts, { effectiveOrder: true }).score;
    return { index: i + offset, hypothesis, reference: r.tgt, chrf: sentenceChrf(hypothesis, r.tgt), bleu, bleuStats: counts };
  });
  const chrf = corpusChrf(
    predictions.map((p) => p.hypothesis),
    predictions.map((p) => p.reference),
  );
  const bleu = bleuFromStats(sumBleuStats(predictions.map((p) => p.bleuStats))).score;
  return { metrics: { chrf, bleu, n: predictions.length, shots: shots.length }, predictions, stats };
}
