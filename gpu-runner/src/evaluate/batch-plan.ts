/**
 * The pure planning half of batching.ts: which sequences run, in which batches, and which share a
 * prefix through the KV cache. Nothing here touches the model; batching.ts runs the plans.
 */

export interface ScoreRequest {
  /** the full sequence fed to the model */
  tokens: Int32Array;
  /** first position whose log-prob is wanted (≥ 1: position 0 has no prediction) */
  scoreFrom: number;
  /** requests with the same group (an example's choices) may share their common prefix */
  group?: number;
}

export interface Unique {
  tokens: Int32Array;
  /** the smallest scoreFrom among its requesters */
  scoreFrom: number;
  group?: number;
}

export interface SharedGroup {
  /** indices into the unique sequences */
  members: number[];
  prefix: number;
}

/** The continuation passes of one prefix batch. */
export interface ContinuationPlan {
  /** req: a unique sequence; row: its group's row in the prefix batch; prefix: that group's prefix */
  items: { req: number; row: number; prefix: number }[];
  /** indices into items */
  batches: number[][];
}

/**
 * Cuts items into consecutive batches, shortest first, under the budgets: padded tokens (batch ×
 * longest), items, and where `rows` is given, rows[i] summed under maxRows (LM-head rows). Pure.
 */
export function planBatches(lengths: number[], maxBatchTokens: number, maxBatchSize: number, rows?: { of: number[]; max: number }): number[][] {
  const order = lengths.map((_, i) => i).sort((a, b) => lengths[a]! - lengths[b]! || a - b);
  const batches: number[][] = [];
  let current: number[] = [];
  let longest = 0;
  let headRows = 0;
  for (const i of order) {
    const len = lengths[i]!;
    const nextLongest = Math.max(longest, len);
    const r = rows?.of[i] ?? 0;
    if (current.length > 0 && (current.length >= maxBatchSize || nextLongest * (current.length + 1) > maxBatchTokens || (rows && headRows + r > rows.max))) {
      batches.push(current);
      current = [];
      longest = 0;
      headRows = 0;
    }
    current.push(i);
    longest = Math.max(longest, len);
    headRows += r;
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

/**
 * Identical sequences run once: owner[i] is request i's unique sequence, which joins its first
 * requester's group and scores from the smallest scoreFrom asking for it. Pure.
 */
export function dedupeRequests(requests: ScoreRequest[]): { uniq: Unique[]; owner: Int32Array; deduped: number } {
  const index = new Map<string, number>();
  const uniq: Unique[] = [];
  const owner = new Int32Array(requests.length);
  let deduped = 0;
  requests.forEach((r, i) => {
    const key = r.tokens.join(',');
    const k = index.get(key);
    if (k !== undefined) {
      uniq[k]!.scoreFrom = Math.min(uniq[k]!.scoreFrom, r.scoreFrom);
      deduped++;
      owner[i] = k;
    } else {
      index.set(key, uniq.length);
      owner[i] = uniq.length;
      uniq.push({ tokens: r.tokens, scoreFrom: r.scoreFrom, group: r.group });
    }
  });
  return { uniq, owner, deduped };
}

/**
 * Splits unique sequences into groups that share a prefix (only when `enabled`: a KV graph) and the
 * rest, which run in full. Every member keeps ≥ 1 token to feed after the cache. Pure.
 */
export function groupSharedPrefixes(uniq: Unique[], enabled: boolean): { shared: SharedGroup[]; rest: number[] } {
  const shared: SharedGroup[] = [];
  const rest: number[] = [];
  if (!enabled) return { shared, rest: uniq.map((_, i) => i) };
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
    const prefix = Math.min(commonPrefixLength(seqs), Math.min(...seqs.map((s) => s.length)) - 1);
    if (members.length > 1 && prefix >= 1) shared.push({ members, prefix });
    else rest.push(...members);
  }
  return { shared, rest };
}

/**
 * Batches of the sequences that run in full, as indices into uniq. With `head` (a graph whose head
 * computes only the positions read), the positions sequence i computes (from head.start[i] on) count
 * against head.maxRows per pass. Pure.
 */
export function planFullBatches(uniq: Unique[], rest: number[], maxTokens: number, maxSize: number, head?: { start: Int32Array; maxRows: number }): number[][] {
  return planBatches(
    rest.map((i) => uniq[i]!.tokens.length),
    maxTokens,
    maxSize,
    head ? { of: rest.map((i) => Math.max(0, uniq[i]!.tokens.length - head.start[i]!)), max: head.maxRows } : undefined,
  ).map((b) => b.map((k) => rest[k]!));
}

/**
 * Batches of shared prefixes. `padded` graphs (cache measured to continue correctly after padding)
 * take right-padded prefixes of any length; the others get buckets of exactly equal prefix length,
 * so their caches never contain padding. Pure.
 */
export function planPrefixBatches(shared: SharedGroup[], padded: boolean, maxTokens: number, maxSize: number): SharedGroup[][] {
  const prefixBatches: SharedGroup[][] = [];
  const buckets = new Map<number, SharedGroup[]>();
  for (const g of shared) {
    const key = padded ? 0 : g.prefix;
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
  return prefixBatches;
}

/**
 * The continuation batches of each prefix batch, planned up front so progress counts them. The cache
 * is as long as the longest prefix in its batch, so it counts in the token budget. Pure.
 */
export function planContinuations(prefixBatches: SharedGroup[][], uniq: Unique[], maxTokens: number, maxSize: number): ContinuationPlan[] {
  return prefixBatches.map((groups) => {
    const items: ContinuationPlan['items'] = [];
    groups.forEach((g, row) => g.members.forEach((req) => items.push({ req, row, prefix: g.prefix })));
    const longest = groups[groups.length - 1]!.prefix;
    const lens = items.map((it) => uniq[it.req]!.tokens.length - it.prefix + longest);
    return { items, batches: planBatches(lens, maxTokens, maxSize) };
  });
}

/** Positions [from, end) of unique sequence `to` copied from `from`'s log-probs. */
export interface PositionCopy {
  to: number;
  from: number;
  end: number;
}

function compareTokens(a: Int32Array, b: Int32Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return a.length - b.length;
}

/**
 * Sequences run in full whose first tokens are the same (an XNLI example's prompts share its
 * premise) have the same log-probs there: position p depends on tokens[0..p] alone. Each sequence's
 * scored positions up to its longest common prefix with another copy that one's log-probs, so the
 * head computes each distinct prefix once (the blocks still run every token: without a KV cache the
 * later positions need them). In lexicographic order the common prefix with an earlier sequence is
 * the least of the neighbours' common prefixes between them, so the nearest earlier sequence that
 * scores from no later shares the most; it comes first in the copies, which are applied in order.
 * `start[i]`: the first position sequence i computes itself. Pure.
 */
export function planPositionCopies(uniq: Unique[], rest: number[]): { copies: PositionCopy[]; start: Int32Array } {
  const start = Int32Array.from(uniq, (u) => u.scoreFrom);
  const copies: PositionCopy[] = [];
  const order = [...rest].sort((a, b) => compareTokens(uniq[a]!.tokens, uniq[b]!.tokens) || a - b);
  // lcp[k]: common prefix of order[k - 1] and order[k]
  const lcp = order.map((i, k) => (k ? commonPrefixLength([uniq[order[k - 1]!]!.tokens, uniq[i]!.tokens]) : 0));
  for (let k = 1; k < order.length; k++) {
    const to = order[k]!;
    const m = uniq[to]!;
    let shared = Infinity;
    for (let j = k - 1; j >= 0; j--) {
      shared = Math.min(shared, lcp[j + 1]!);
      if (shared <= m.scoreFrom) break;
      // the source has the positions from its own scoreFrom on
      if (uniq[order[j]!]!.scoreFrom > m.scoreFrom) continue;
      const end = Math.min(shared, m.tokens.length);
      copies.push({ to, from: order[j]!, end });
      start[to] = end;
      break;
    }
  }
  return { copies, start };
}

/** Per-request log-probs from the unique sequences' (which may start earlier). Pure. */
export function assembleLogProbs(requests: ScoreRequest[], uniq: Unique[], owner: Int32Array, ulp: Float64Array[]): Float64Array[] {
  return requests.map((r, i) => ulp[owner[i]!]!.slice(r.scoreFrom - uniq[owner[i]!]!.scoreFrom));
}
