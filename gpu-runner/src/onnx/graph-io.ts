/**
 * A decoder graph's I/O contract, read from the session's own input/output names, element types
 * and shapes (and the model's config where a dim is symbolic), never assumed from its family. One
 * description serves calibration (which feeds an empty cache) and evaluation (which continues one).
 *
 * Layouts understood (docs/real-exports.md):
 * - token inputs `input_ids`, optional `attention_mask`, `position_ids`, `token_type_ids`, int64 or int32;
 * - `past_key_values.{i}.key|value` (optimum, model builder), including BLOOM's split
 *   `[batch*heads, head_dim, past]` / `[batch*heads, past, head_dim]`;
 * - stacked `past_{i}` `[2, batch, heads, past, head_dim]` (torch.onnx, ORT transformer optimizer);
 * - `use_cache_branch` of optimum's merged decoders.
 */
import type { Session } from '../ort.js';
import { LOGIT_ROWS_INPUT } from './head-gather.js';
import { TARGET_IDS_INPUT, TOKEN_LOGPROBS_OUTPUT } from './token-logprobs.js';

export type IntType = 'int64' | 'int32';

/** Non-cache inputs a decoder export may take (everything else must be a past key/value cache). */
export const TOKEN_INPUTS: ReadonlySet<string> = new Set(['input_ids', 'attention_mask', 'position_ids', 'token_type_ids', 'use_cache_branch']);

export interface TokenInput {
  name: string;
  type: IntType;
}

/** One past input and the present output that feeds it next time. */
export interface CacheEntry {
  past: string;
  present: string;
  /**
   * Shape template: -1 the batch dim (times `rowsPerSequence`), -2 the past-length dim, others fixed.
   * Per entry, since BLOOM's key and value caches differ in layout.
   */
  shape: number[];
}

export interface PastLayout {
  entries: CacheEntry[];
  /** dim holding the batch (0 normally, 1 for stacked `[2, batch, …]` caches) */
  batchAxis: number;
  /** rows per sequence along the batch dim (num_heads for BLOOM-style `[batch*heads, …]` caches) */
  rowsPerSequence: number;
  elementType: 'float32' | 'float16';
  layers: number;
}

export interface GraphIO {
  ids: TokenInput;
  /** absent: the graph takes no attention mask (it is then evaluated without padding in its caches) */
  mask?: TokenInput;
  positions?: TokenInput;
  tokenTypes?: TokenInput;
  /** the logits output, or undefined when the graph ends elsewhere (prunable, not scorable) */
  logits?: string;
  /** every output name, for messages */
  outputs: string[];
  hasPositionIds: boolean;
  past?: PastLayout;
  /** optimum "merged" decoders select their cached branch with this boolean input */
  useCacheBranch?: string;
  /** the input choosing which flattened positions get logits (head-gather.ts), when the graph was given one */
  logitRows?: string;
  /** the targets input and log-probs output token-logprobs.ts added, when it did */
  tokenLogProbs?: { targets: string; output: string };
}

export type ModelConfig = Record<string, unknown>;

const num = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);

/** Heads of the KV cache (GQA: the key/value heads) from whichever config names them. */
export function configHeads(config: ModelConfig, kind: 'kv' | 'attention' = 'kv'): number | undefined {
  const kv = kind === 'kv' ? (num(config.num_key_value_heads) ?? num(config.n_head_kv) ?? num(config.num_kv_heads)) : undefined;
  return kv ?? num(config.num_attention_heads) ?? num(config.n_head) ?? num(config.attention_heads) ?? num(config.num_heads);
}

const PAST_KV = /^past_key_values[._](\d+)[._](key|value)$/;
const PAST_SPLIT = /^past[._](key|value)[._](\d+)$/;
const PAST_STACKED = /^past[._](\d+)$/;

interface PastName {
  layer: number;
  kind: 'key' | 'value' | 'stacked';
  presents: string[];
}

export function parsePast(name: string): PastName | undefined {
  let m = PAST_KV.exec(name);
  if (m) {
    const [, l, k] = m;
    return { layer: Number(l), kind: k as 'key' | 'value', presents: [`present.${l}.${k}`, `present_key_values.${l}.${k}`, `present_${l}_${k}`] };
  }
  m = PAST_SPLIT.exec(name);
  if (m) {
    const [, k, l] = m;
    return { layer: Number(l), kind: k as 'key' | 'value', presents: [`present_${k}_${l}`, `present.${k}.${l}`, `present.${l}.${k}`] };
  }
  m = PAST_STACKED.exec(name);
  if (m) return { layer: Number(m[1]), kind: 'stacked', presents: [`present_${m[1]}`, `present.${m[1]}`] };
  return undefined;
}

function tokenInput(session: Session, name: string): TokenInput {
  const meta = session.inputMetadata.find((m) => m.name === name);
  const type = meta?.isTensor ? meta.type : 'int64';
  if (type !== 'int64' && type !== 'int32') throw new Error(`graph input "${name}" is ${type}; expected int64 or int32`);
  return { name, type };
}

/** Resolves a cache input's declared shape into a template (see CacheEntry.shape). */
export function cacheShape(name: string, dims: ReadonlyArray<number | string>, config: ModelConfig, stacked: boolean) {
  let batchAxis = -1;
  let rowsPerSequence = 1;
  let pastAxis = -1;
  const shape = dims.map((dim, i) => {
    if (typeof dim === 'number' && dim >= 0) return dim;
    const d = String(dim);
    if (batchAxis < 0 && /batch|^N$|^b$/i.test(d)) {
      batchAxis = i;
      // "batch_size*num_heads" / "batch_size x num_heads" (older BLOOM exports) carry heads in the batch dim
      if (/\*|\bx\b|head/i.test(d)) {
        const heads = configHeads(config, 'attention');
        if (!heads) throw new Error(`cache input ${name} has dim "${d}": needs num_attention_heads from config.json`);
        rowsPerSequence = heads;
      }
      return -1;
    }
    if (pastAxis < 0 && /past|seq|len|total|cache|max/i.test(d)) {
      pastAxis = i;
      return -2;
    }
    if (/head/i.test(d)) {
      const heads = configHeads(config);
      if (heads) return heads;
    }
    // An unnamed dynamic dim: the first is the batch, the next the past length.
    if (batchAxis < 0 && i <= (stacked ? 1 : 0)) {
      batchAxis = i;
      return -1;
    }
    if (pastAxis < 0) {
      pastAxis = i;
      return -2;
    }
    throw new Error(`cannot resolve dim "${d}" of cache input ${name} (shape ${JSON.stringify(dims)})`);
  });
  if (batchAxis < 0) throw new Error(`no batch dim in cache input ${name} (shape ${JSON.stringify(dims)})`);
  if (pastAxis < 0) throw new Error(`no past-length dim in cache input ${name} (shape ${JSON.stringify(dims)})`);
  return { shape, batchAxis, rowsPerSequence };
}

/** Reads the graph's I/O contract; throws, naming what was found, when the graph is no decoder LM. */
export function describeGraph(session: Session, config: ModelConfig = {}): GraphIO {
  const inputs = new Set(session.inputNames);
  if (!inputs.has('input_ids')) throw new Error(`model graph has no "input_ids" input (inputs: ${session.inputNames.join(', ')})`);
  const outputs = [...session.outputNames];
  const logits = outputs.includes('logits') ? 'logits' : outputs.find((o) => /logits|lm_logits|scores/i.test(o));
  const io: GraphIO = { ids: tokenInput(session, 'input_ids'), outputs, hasPositionIds: inputs.has('position_ids') };
  if (logits) io.logits = logits;
  if (inputs.has('attention_mask')) io.mask = tokenInput(session, 'attention_mask');
  if (inputs.has('position_ids')) io.positions = tokenInput(session, 'position_ids');
  if (inputs.has('token_type_ids')) io.tokenTypes = tokenInput(session, 'token_type_ids');
  if (inputs.has('use_cache_branch')) io.useCacheBranch = 'use_cache_branch';
  if (inputs.has(LOGIT_ROWS_INPUT)) io.logitRows = LOGIT_ROWS_INPUT;
  if (io.logitRows && inputs.has(TARGET_IDS_INPUT) && outputs.includes(TOKEN_LOGPROBS_OUTPUT))
    io.tokenLogProbs = { targets: TARGET_IDS_INPUT, output: TOKEN_LOGPROBS_OUTPUT };

  const past: Array<PastName & { name: string }> = [];
  for (const name of session.inputNames) {
    if (TOKEN_INPUTS.has(name) || name === LOGIT_ROWS_INPUT || name === TARGET_IDS_INPUT) continue;
    const p = parsePast(name);
    if (!p) {
      throw new Error(
        `model input "${name}" not understood: expected input_ids, attention_mask, position_ids, token_type_ids, ` +
          'use_cache_branch and past_key_values.{i}.key/value or past_{i} caches',
      );
    }
    past.push({ ...p, name });
  }
  if (past.length === 0) return io;

  const entries: CacheEntry[] = [];
  let layout: Omit<PastLayout, 'entries' | 'layers'> | undefined;
  for (const p of past.sort((a, b) => a.layer - b.layer || a.kind.localeCompare(b.kind))) {
    const present = p.presents.find((n) => outputs.includes(n));
    if (!present) throw new Error(`graph has cache input ${p.name} but no matching present output (tried ${p.presents.join(', ')})`);
    const meta = session.inputMetadata.find((m) => m.name === p.name);
    if (!meta?.isTensor) throw new Error(`no tensor metadata for cache input ${p.name}`);
    if (meta.type !== 'float32' && meta.type !== 'float16') {
      throw new Error(`cache input ${p.name} is ${meta.type}; expected float32 or float16`);
    }
    const s = cacheShape(p.name, meta.shape, config, p.kind === 'stacked');
    if (layout && (layout.batchAxis !== s.batchAxis || layout.rowsPerSequence !== s.rowsPerSequence || layout.elementType !== meta.type)) {
      throw new Error(`cache input ${p.name} differs in layout from ${entries[0]!.past}`);
    }
    layout ??= { batchAxis: s.batchAxis, rowsPerSequence: s.rowsPerSequence, elementType: meta.type };
    entries.push({ past: p.name, present, shape: s.shape });
  }
  const layers = new Set(past.map((p) => p.layer));
  for (const l of layers) {
    const kinds = past.filter((p) => p.layer === l).map((p) => p.kind);
    if (!kinds.includes('stacked') && !(kinds.includes('key') && kinds.includes('value'))) throw new Error(`layer ${l} has only one of past key/value`);
  }
  io.past = { entries, ...layout!, layers: layers.size };
  return io;
}

/** Dims of a cache tensor for `batch` sequences and `length` past positions. */
export function cacheDims(past: PastLayout, entry: CacheEntry, batch: number, length: number): number[] {
  return entry.shape.map((d) => (d === -1 ? batch * past.rowsPerSequence : d === -2 ? length : d));
}

/**
 * position_ids as HF computes them from the attention mask ([rows, width], a KV cache's slots
 * first): the count of real tokens up to each one, minus one (0 before the first), so pads take the
 * position of the real token before them. Only the last `length` columns (the tokens fed now) are
 * returned. Calibration and evaluation both feed these.
 */
export function positionIdsFromMask(mask: ArrayLike<number | bigint>, rows: number, width: number, length = width): BigInt64Array {
  const out = new BigInt64Array(rows * length);
  for (let r = 0; r < rows; r++) {
    let seen = 0;
    for (let t = 0; t < width; t++) {
      if (Number(mask[r * width + t]) !== 0) seen++;
      const j = t - (width - length);
      if (j >= 0) out[r * length + j] = BigInt(Math.max(seen - 1, 0));
    }
  }
  return out;
}
