/**
 * Turns "score these token sequences" into as few, as dense forward passes as the graph allows:
 * - sequences are sorted by length and cut into batches under a token budget (little padding);
 * - identical sequences run once (for every graph);
 * - when the graph's KV cache continues multi-token steps correctly (measured: cache-probe.ts), each
 *   group's shared prefix (an example's context across its choices) runs once and the choices
 *   continue from its cache.
 * Graphs whose cache also continues correctly after padding (position_ids and a mask fed) take
 * right-padded prefix batches; for the others, prefix batches hold prefixes of exactly equal length
 * so caches never contain padding — such graphs derive positions from the past length.
 */
import type { ProgressFn } from '../types.js';
import { forward, gatherCache } from './forward.js';
import { writeTokenLogProbs } from './logprobs.js';
import type { EvalModel } from './model.js';

export interface ScoreRequest {
  /** the full sequence fed to the model */
  tokens: Int32Array;
  /** first position whose log-prob is wanted (≥ 1: position 0 has no prediction) */
  scoreFrom: number;
  /** requests with the same group (an example's choices) may share their common prefix */
  group?: number;
}

export interface BatchOptions {
  /** padded tokens per forward pass (batch × longest row) */
  maxBatchTokens?: number;
  maxBatchSize?: number;
  /** upper bound on batch × length × vocab floats returned as logits (memory guard for 250k vocabs) */
  maxLogitFloats?: number;
  /** share prefixes through the KV cache when the graph has one (default true) */
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
}

export interface ScoreResult {
  /** logprobs[i][k] = log p(tokens[scoreFrom+k] | tokens[< scoreFrom+k]) for request i */
  logprobs: Float64Array[];
  stats: ScoreStats;
}

/** Cuts items (already sorted by length) into consecutive batches under the budgets. Pure. */
export function planBatches(lengths: number[], maxBatchTokens: number, maxBatchSize: number): number[][] {
  const order = lengths.map((_, i) => i).sort((a, b) => lengths[a]! - lengths[b]! || a - b);
  const batches: number[][] = [];
  let current: number[] = [];
  let longest = 0;
  for (const i of order) {
    const len = lengths[i]!;
    const nextLongest = Math.max(longest, len);
    if (current.length > 0 && (current.length >= maxBatchSize || nextLongest * (current.length + 1) > maxBatchTokens)) {
      batches.push(current);
      current = [];
      longest = 0;
    }
    current.push(i);
    longest = Math.max(longest, len);
  }
  if (current.length > 0) batches.push(current);
  return batches;
}

/** Longest common prefix length of token sequences. Pure. */
export function commonPrefixLength(seqs: Int32Array[]): number {
  if (seqs.length === 0) return 0;
  let n = Math.min(...seqs.map((s) => s.length));
  const first = seqs[0]!;
  for (const s of seqs) {
    let i = 0;
    while (i < n && s[i] === first[i]) i++;
    n = i;
  }
  return n;
}

function budgets(model: EvalModel, opts: BatchOptions): { tokens: number; size: number } {
  const vocab = model.tokenizer.vocabSize;
  const logitTokens = Math.max(1, Math.floor((opts.maxLogitFloats ?? 2 ** 26) / Math.max(vocab, 1)));
  return { tokens: Math.max(1, Math.min(opts.maxBatchTokens ?? 4096, logitTokens)), size: opts.maxBatchSize ?? 64 };
}

interface SharedGroup {
  /** indices into the unique sequences */
  members: number[];
  prefix: number;
}

interface Unique {
  tokens: Int32Array;
  /** the smallest scoreFrom among its requesters */
  scoreFrom: number;
  group?: number;
}

/** Scores every request; see ScoreResult. */
export async function scoreRequests(model: EvalModel, requests: ScoreRequest[], opts: BatchOptions = {}): Promise<ScoreResult> {
  for (const r of requests) {
    if (r.scoreFrom < 1 || r.scoreFrom > r.tokens.length) throw new Error(`scoreFrom ${r.scoreFrom} outside 1..${r.tokens.length}`);
  }
  const { tokens: maxTokens, size: maxSize } = budgets(model, opts);
  const stage = opts.stage ?? 'score';
  const stats: ScoreStats = {
    sequences: requests.length,
    naiveTokens: requests.reduce((s, r) => s + r.tokens.length, 0),
    forwardTokens: 0,
    paddedTokens: 0,
    batches: 0,
    dedupedSequences: 0,
    sharedPrefixTokens: 0,
  };

  // Identical sequences run once (a unique sequence joins its first requester's group).
  const unique = new Map<string, number>();
  const uniq: Unique[] = [];
  const owner = new Int32Array(requests.length);
  requests.forEach((r, i) => {
    const key = r.tokens.join(',');
    const k = unique.get(key);
    if (k !== undefined) {
      uniq[k]!.scoreFrom = Math.min(uniq[k]!.scoreFrom, r.scoreFrom);
      stats.dedupedSequences++;
      owner[i] = k;
    } else {
      unique.set(key, uniq.length);
      owner[i] = uniq.length;
      uniq.push({ tokens: r.tokens, scoreFrom: r.scoreFrom, group: r.group });
    }
  });
  // ulp[u][k] = log p(tokens[scoreFrom + k] | …) for unique sequence u
  const ulp = uniq.map((u) => new Float64Array(u.tokens.length - u.scoreFrom));

  // Shared-prefix groups (KV graphs only); everything else is recomputed in full.
  const shared: SharedGroup[] = [];
  const rest: number[] = [];
  if (model.cache.prefix && opts.sharePrefix !== false) {
    const groups = new Map<number, number[]>();
    uniq.forEach((u, i) => {
      if (u.group === undefined) rest.push(i);
      else {
        const g = groups.get(u.group);
        if (g) g.push(i);
        else groups.set(u.group, [i]);
      }
    });
    for (const members of groups.values()) {
      const seqs = members.map((i) => uniq[i]!.tokens);
      // every member must keep ≥ 1 token to feed after the cache
      const prefix = Math.min(commonPrefixLength(seqs), Math.min(...seqs.map((s) => s.length)) - 1);
      if (members.length > 1 && prefix >= 1) shared.push({ members, prefix });
      else rest.push(...members);
    }
  } else {
    uniq.forEach((_, i) => rest.push(i));
  }
  const fullBatches = planBatches(
    rest.map((i) => uniq[i]!.tokens.length),
    maxTokens,
    maxSize,
  ).map((b) => b.map((k) => rest[k]!));

  // Shared groups: graphs whose cache was measured to continue correctly after padding (position_ids
  // and a mask fed) take right-padded prefixes; other graphs get buckets of exactly equal prefix length.
  const padPrefixes = model.cache.padded;
  const prefixBatches: SharedGroup[][] = [];
  const buckets = new Map<number, SharedGroup[]>();
  for (const g of shared) {
    const key = padPrefixes ? 0 : g.prefix;
    const bucket = buckets.get(key);
    if (bucket) bucket.push(g);
    else buckets.set(key, [g]);
  }
  for (const [, groups] of [...buckets].sort((a, b) => a[0] - b[0])) {
    const sorted = [...groups].sort((a, b) => a.prefix - b.prefix);
    let cur: SharedGroup[] = [];
    for (const g of sorted) {
      if (cur.length > 0 && (cur.length >= maxSize || (cur.length + 1) * g.prefix > maxTokens)) {
        prefixBatches.push(cur);
        cur = [];
      }
      cur.push(g);
    }
    if (cur.length) prefixBatches.push(cur);
  }
  // continuation batches are planned per prefix batch; count them up front for honest progress
  const contPlans = prefixBatches.map((groups) => {
    const items: { req: number; row: number; prefix: number }[] = [];
    groups.forEach((g, row) => g.members.forEach((req) => items.push({ req, row, prefix: g.prefix })));
    const longest = groups[groups.length - 1]!.prefix;
    // the cache is as long as the longest prefix in the batch: count it in the budget
    const lens = items.map((it) => uniq[it.req]!.tokens.length - it.prefix + longest);
    return { items, batches: planBatches(lens, maxTokens, maxSize) };
  });
  const totalBatches = fullBatches.length + prefixBatches.length + contPlans.reduce((s, p) => s + p.batches.length, 0);
  let done = 0;
  const tick = () => {
    stats.batches++;
    opts.onProgress?.(stage, ++done, totalBatches);
  };

  for (const batch of fullBatches) {
    const rows = batch.map((k) => uniq[k]!.tokens);
    const out = await forward(model, rows);
    stats.forwardTokens += rows.reduce((s, r) => s + r.length, 0);
    stats.paddedTokens += out.batch * out.runLength;
    batch.forEach((k, row) => {
      const u = uniq[k]!;
      writeTokenLogProbs(out.logits, row, out.runLength, out.vocab, 0, u.tokens, u.scoreFrom, u.tokens.length, ulp[k]!, 0);
    });
    tick();
  }

  for (let b = 0; b < prefixBatches.length; b++) {
    const groups = prefixBatches[b]!;
    const rows = groups.map((g) => uniq[g.members[0]!]!.tokens.subarray(0, g.prefix));
    const pre = await forward(model, rows, undefined, true);
    stats.forwardTokens += rows.reduce((n, r) => n + r.length, 0);
    stats.paddedTokens += pre.batch * pre.runLength;
    tick();
    // positions inside the prefix (and the first token after it) come from the prefix pass
    groups.forEach((g, row) => {
      const prefix = g.prefix;
      stats.sharedPrefixTokens += (g.members.length - 1) * prefix;
      // positions before the prefix end are the same for every member: normalise them once
      const minFrom = Math.min(...g.members.map((i) => uniq[i]!.scoreFrom));
      const inside = new Float64Array(Math.max(0, prefix - minFrom));
      if (inside.length) writeTokenLogProbs(pre.logits, row, pre.runLength, pre.vocab, 0, rows[row]!, minFrom, prefix, inside, 0);
      for (const i of g.members) {
        const u = uniq[i]!;
        if (u.scoreFrom < prefix) ulp[i]!.set(inside.subarray(u.scoreFrom - minFrom));
        if (u.scoreFrom <= prefix) {
          writeTokenLogProbs(pre.logits, row, pre.runLength, pre.vocab, 0, u.tokens, prefix, prefix + 1, ulp[i]!, prefix - u.scoreFrom);
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
      const out = await forward(model, contRows, cache);
      stats.forwardTokens += contRows.reduce((n, r) => n + r.length, 0);
      stats.paddedTokens += out.batch * out.runLength;
      items.forEach((it, row) => {
        const u = uniq[it.req]!;
        const from = Math.max(u.scoreFrom, it.prefix + 1);
        if (from < u.tokens.length) {
          // the continuation's first token sits at position it.prefix, whatever padding the cache holds
          writeTokenLogProbs(out.logits, row, out.runLength, out.vocab, it.prefix, u.tokens, from, u.tokens.length, ulp[it.req]!, from - u.scoreFrom);
        }
      });
      tick();
    }
  }
  const logprobs = requests.map((r, i) => ulp[owner[i]!]!.slice(r.scoreFrom - uniq[owner[i]!]!.scoreFrom));
  return { logprobs, stats };
}
