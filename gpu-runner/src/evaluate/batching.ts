/**
 * Turns "score these token sequences" into as few, as dense forward passes as the graph allows:
 * - sequences are sorted by length and cut into batches under a token budget (little padding);
 * - identical sequences run once (for every graph);
 * - when the graph's KV cache continues multi-token steps correctly (measured: cache-probe.ts), each
 *   group's shared prefix (an example's context across its choices) runs once and the choices
 *   continue from its cache;
 * - otherwise sequences that begin alike still send each distinct prefix through the LM head once:
 *   the log-probs of their common leading positions are copied (planPositionCopies).
 * Graphs whose cache also continues correctly after padding (position_ids and a mask fed) take
 * right-padded prefix batches; for the others, prefix batches hold prefixes of exactly equal length
 * so caches never contain padding — such graphs derive positions from the past length.
 * Planning is pure (batch-plan.ts); this file runs the plans.
 */
import type { ProgressFn } from '../types.js';
import {
  assembleLogProbs,
  dedupeRequests,
  groupSharedPrefixes,
  planContinuations,
  planFullBatches,
  planPositionCopies,
  planPrefixBatches,
  type ContinuationPlan,
  type PositionCopy,
  type ScoreRequest,
  type SharedGroup,
  type Unique,
} from './batch-plan.js';
import { forward, gatherCache } from './forward.js';
import { nextTokenTargets, predictingSteps, writeTokenLogProbs } from './logprobs.js';
import { logitTokens, type EvalModel } from './model.js';

export interface BatchOptions {
  /** padded tokens per forward pass (batch × longest row) */
  maxBatchTokens?: number;
  maxBatchSize?: number;
  /** upper bound on the logits floats of a pass, head rows × vocab (memory guard for 250k vocabs): every padded token where the head is not gathered */
  maxLogitFloats?: number;
  /** share prefixes (default true): through the KV cache when the graph has one, else the log-probs of identical leading positions */
  sharePrefix?: boolean;
  onProgress?: ProgressFn;
  stage?: string;
}

export interface ScoreStats {
  sequences: number;
  /** tokens a one-sequence-per-pass evaluation would feed */
  naiveTokens: number;
  /** real (unpadded) tokens actually fed */
  forwardTokens: number;
  /** fed tokens including padding */
  paddedTokens: number;
  batches: number;
  /** requests answered by an identical sequence's pass */
  dedupedSequences: number;
  /** tokens not fed thanks to shared prefixes */
  sharedPrefixTokens: number;
  /** log-probs copied from a sequence run in full with the same tokens up to them (head rows not computed) */
  sharedPositions: number;
}

export interface ScoreResult {
  /** logprobs[i][k] = log p(tokens[scoreFrom+k] | tokens[< scoreFrom+k]) for request i */
  logprobs: Float64Array[];
  stats: ScoreStats;
}

/** Default budgets of a forward pass (setup.ts records them on the run). */
export const BATCH_DEFAULTS = { tokens: 4096, scoring: 64, decoding: 32 } as const;

/** Padded tokens per pass: the token budget, lowered where the logits would outgrow their budget. */
export function batchTokens(model: EvalModel, opts: Pick<BatchOptions, 'maxBatchTokens' | 'maxLogitFloats'> = {}): number {
  return Math.max(1, Math.min(opts.maxBatchTokens ?? BATCH_DEFAULTS.tokens, logitTokens(model, opts.maxLogitFloats)));
}

/**
 * Budgets of a pass over whole sequences where the head computes only the positions read
 * (head-gather.ts): the logits budget bounds those positions, no longer the padded tokens, which
 * keep the plain token budget. Undefined where the head runs on every position.
 */
export function gatheredHeadBudgets(
  model: EvalModel,
  opts: Pick<BatchOptions, 'maxBatchTokens' | 'maxLogitFloats'> = {},
): { tokens: number; headRows: number } | undefined {
  if (!model.io.logitRows) return undefined;
  return { tokens: Math.max(1, opts.maxBatchTokens ?? BATCH_DEFAULTS.tokens), headRows: logitTokens(model, opts.maxLogitFloats) };
}

function budgets(model: EvalModel, opts: BatchOptions): { tokens: number; size: number } {
  return { tokens: batchTokens(model, opts), size: opts.maxBatchSize ?? BATCH_DEFAULTS.scoring };
}

/** What the run stages share: the model, the unique sequences, their log-probs being filled, the tallies. */
interface Run {
  model: EvalModel;
  uniq: Unique[];
  /** ulp[u][k] = log p(tokens[scoreFrom + k] | …) for unique sequence u */
  ulp: Float64Array[];
  stats: ScoreStats;
  /** counts a finished forward pass (stats and progress) */
  tick: () => void;
}

/** Runs sequences in full; each computes its positions from start[k] on (planPositionCopies fills the rest afterwards). */
async function runFullBatches(run: Run, batches: number[][], start: Int32Array): Promise<void> {
  const { model, uniq, ulp, stats } = run;
  for (const batch of batches) {
    const rows = batch.map((k) => uniq[k]!.tokens);
    const out = await forward(
      model,
      rows,
      undefined,
      false,
      batch.map((k) => predictingSteps(0, start[k]!, uniq[k]!.tokens.length)),
      nextTokenTargets(rows.map((r) => [r])),
    );
    stats.forwardTokens += rows.reduce((s, r) => s + r.length, 0);
    stats.paddedTokens += out.batch * out.runLength;
    batch.forEach((k, row) => {
      const u = uniq[k]!;
      writeTokenLogProbs(out, row, 0, u.tokens, start[k]!, u.tokens.length, ulp[k]!, start[k]! - u.scoreFrom);
    });
    run.tick();
  }
}

/** Fills the positions each sequence copies, in plan order (a source is complete before it is read). */
function applyPositionCopies(run: Run, copies: PositionCopy[]): void {
  for (const { to, from, end } of copies) {
    const a = run.uniq[to]!.scoreFrom - run.uniq[from]!.scoreFrom;
    run.ulp[to]!.set(run.ulp[from]!.subarray(a, a + end - run.uniq[to]!.scoreFrom));
    run.stats.sharedPositions += end - run.uniq[to]!.scoreFrom;
  }
}

/** Each prefix batch runs once, then its members continue from the gathered cache. */
async function runPrefixBatches(run: Run, prefixBatches: SharedGroup[][], contPlans: ContinuationPlan[]): Promise<void> {
  const { model, uniq, ulp, stats } = run;
  const padPrefixes = model.cache.padded;
  for (let b = 0; b < prefixBatches.length; b++) {
    const groups = prefixBatches[b]!;
    const rows = groups.map((g) => uniq[g.members[0]!]!.tokens.subarray(0, g.prefix));
    // Logits for the positions up to the first token after the prefix, from the earliest member's scoreFrom.
    const preSteps = groups.map((g): [number, number] => {
      const minFrom = Math.min(...g.members.map((i) => uniq[i]!.scoreFrom));
      return minFrom <= g.prefix ? predictingSteps(0, minFrom, g.prefix + 1) : [0, 0];
    });
    // The prefix's last step predicts each member's own next token.
    const preTargets = nextTokenTargets(groups.map((g) => g.members.map((i) => uniq[i]!.tokens)));
    const pre = await forward(model, rows, undefined, true, preSteps, preTargets);
    stats.forwardTokens += rows.reduce((n, r) => n + r.length, 0);
    stats.paddedTokens += pre.batch * pre.runLength;
    run.tick();
    // positions inside the prefix (and the first token after it) come from the prefix pass
    groups.forEach((g, row) => {
      const prefix = g.prefix;
      stats.sharedPrefixTokens += (g.members.length - 1) * prefix;
      // positions before the prefix end are the same for every member: normalise them once
      const minFrom = Math.min(...g.members.map((i) => uniq[i]!.scoreFrom));
      const inside = new Float64Array(Math.max(0, prefix - minFrom));
      if (inside.length) writeTokenLogProbs(pre, row, 0, rows[row]!, minFrom, prefix, inside, 0);
      for (const i of g.members) {
        const u = uniq[i]!;
        if (u.scoreFrom < prefix) ulp[i]!.set(inside.subarray(u.scoreFrom - minFrom));
        if (u.scoreFrom <= prefix) {
          writeTokenLogProbs(pre, row, 0, u.tokens, prefix, prefix + 1, ulp[i]!, prefix - u.scoreFrom);
        }
      }
    });
    const plan = contPlans[b]!;
    for (const cb of plan.batches) {
      const items = cb.map((k) => plan.items[k]!);
      const cache = gatherCache(
        pre.present!,
        rows.length,
        items.map((it) => it.row),
        pre.runLength,
        padPrefixes ? pre.mask : undefined,
        model.io.past!.batchAxis,
      );
      const contRows = items.map((it) => uniq[it.req]!.tokens.subarray(it.prefix));
      const contSteps = items.map((it) => {
        const u = uniq[it.req]!;
        return predictingSteps(it.prefix, Math.max(u.scoreFrom, it.prefix + 1), u.tokens.length);
      });
      const contTargets = nextTokenTargets(contRows.map((r) => [r]));
      const out = await forward(model, contRows, cache, false, contSteps, contTargets);
      stats.forwardTokens += contRows.reduce((n, r) => n + r.length, 0);
      stats.paddedTokens += out.batch * out.runLength;
      items.forEach((it, row) => {
        const u = uniq[it.req]!;
        const from = Math.max(u.scoreFrom, it.prefix + 1);
        if (from < u.tokens.length) {
          // the continuation's first token sits at position it.prefix, whatever padding the cache holds
          writeTokenLogProbs(out, row, it.prefix, u.tokens, from, u.tokens.length, ulp[it.req]!, from - u.scoreFrom);
        }
      });
      run.tick();
    }
  }
}

/** Scores every request; see ScoreResult. */
export async function scoreRequests(model: EvalModel, requests: ScoreRequest[], opts: BatchOptions = {}): Promise<ScoreResult> {
  for (const r of requests) {
    if (r.scoreFrom < 1 || r.scoreFrom > r.tokens.length) throw new Error(`scoreFrom ${r.scoreFrom} outside 1..${r.tokens.length}`);
  }
  const { tokens: maxTokens, size: maxSize } = budgets(model, opts);
  const { uniq, owner, deduped } = dedupeRequests(requests);
  const { shared, rest } = groupSharedPrefixes(uniq, model.cache.prefix && opts.sharePrefix !== false);
  const positions = opts.sharePrefix !== false ? planPositionCopies(uniq, rest) : { copies: [], start: Int32Array.from(uniq, (u) => u.scoreFrom) };
  const gathered = gatheredHeadBudgets(model, opts);
  const fullBatches = gathered
    ? planFullBatches(uniq, rest, gathered.tokens, maxSize, { start: positions.start, maxRows: gathered.headRows })
    : planFullBatches(uniq, rest, maxTokens, maxSize);
  const prefixBatches = planPrefixBatches(shared, model.cache.padded, maxTokens, maxSize);
  const contPlans = planContinuations(prefixBatches, uniq, maxTokens, maxSize);

  const stats: ScoreStats = {
    sequences: requests.length,
    naiveTokens: requests.reduce((s, r) => s + r.tokens.length, 0),
    forwardTokens: 0,
    paddedTokens: 0,
    batches: 0,
    dedupedSequences: deduped,
    sharedPrefixTokens: 0,
    sharedPositions: 0,
  };
  const stage = opts.stage ?? 'score';
  const totalBatches = fullBatches.length + prefixBatches.length + contPlans.reduce((s, p) => s + p.batches.length, 0);
  let done = 0;
  const run: Run = {
    model,
    uniq,
    ulp: uniq.map((u) => new Float64Array(u.tokens.length - u.scoreFrom)),
    stats,
    tick: () => {
      stats.batches++;
      opts.onProgress?.(stage, ++done, totalBatches);
    },
  };
  await runFullBatches(run, fullBatches, positions.start);
  applyPositionCopies(run, positions.copies);
  await runPrefixBatches(run, prefixBatches, contPlans);
  return { logprobs: assembleLogProbs(requests, uniq, owner, run.ulp), stats };
}
