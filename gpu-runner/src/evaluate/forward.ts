/**
 * One forward pass of a decoder LM over a right-padded batch, optionally continuing a KV cache.
 * A cache may contain padding slots (marked invalid, masked out) only when the graph takes
 * position_ids and an attention mask: other graphs derive positions from the past length, which
 * padding would shift, so for them every cache row must be fully valid (equal-length sequences).
 * Right padding of the fed rows needs no mask: a causal model's real positions never see the pads
 * after them. fp16 logits are widened to fp32.
 */
import { asFloat32, halvesOf } from '../onnx/fp16.js';
import { cacheDims, positionIdsFromMask } from '../onnx/graph-io.js';
import { feedable, float16Tensor, float32Tensor, intTensor, ort, zeroTensor, type Tensor } from '../ort.js';
import type { EvalModel } from './eval-model.js';

/** Past key/values for a batch: one tensor per past input name, all with past length `length`. */
export interface KvCache {
  length: number;
  tensors: Map<string, Tensor>;
  /** valid[b * length + j] = 1 when slot j of row b holds a real token; absent: all valid */
  valid?: Uint8Array;
}

export interface ForwardOutput {
  /** [batch, runLength, vocab], or with `rowOf` only the rows asked for, [n, vocab]; empty when `tokenLogProbs` came instead */
  logits: Float32Array;
  /** with targets on a graph that computes their log-probs (token-logprobs.ts): those, in place of the logits */
  tokenLogProbs?: TokenLogProbs;
  batch: number;
  /** padded length of this run */
  runLength: number;
  vocab: number;
  /** when only some positions got logits: rowOf[b * runLength + step] = their logits row, -1 where none */
  rowOf?: Int32Array;
  /** present key/values keyed by the past input name they feed next time (only when requested) */
  present?: Map<string, Tensor>;
  /** the attention mask used ([batch, past + runLength]): the validity of the present's slots */
  mask: Uint8Array;
}

function emptyPast(model: EvalModel, batch: number): Map<string, Tensor> {
  const past = model.io.past!;
  const m = new Map<string, Tensor>();
  for (const e of past.entries) m.set(e.past, zeroTensor(past.elementType, cacheDims(past, e, batch, 0)));
  return m;
}

/** Log-probs of k targets per logits row: values[r * k + j] = log p(targets[r * k + j]) at row r. */
export interface TokenLogProbs {
  values: Float32Array;
  targets: Int32Array;
  k: number;
}

/** The token ids whose log-probs a pass wants at batch row `row`, run step `step`. */
export type TargetsOf = (row: number, step: number) => ArrayLike<number>;

/** Offset of the logits of batch row `row`, run step `step` in `out.logits`. */
export function logitOffset(out: Pick<ForwardOutput, 'runLength' | 'vocab' | 'rowOf'>, row: number, step: number): number {
  const flat = row * out.runLength + step;
  if (!out.rowOf) return flat * out.vocab;
  const r = out.rowOf[flat]!;
  if (!(r >= 0)) throw new Error(`no logits were computed for row ${row}, step ${step}`);
  return r * out.vocab;
}

/** The flattened positions [from, to) of each row, in order; at least one (an empty Gather is not worth the risk). */
function logitRows(steps: ReadonlyArray<readonly [number, number]>, runLength: number): { rows: BigInt64Array; rowOf: Int32Array } {
  const rowOf = new Int32Array(steps.length * runLength).fill(-1);
  const picked: number[] = [];
  steps.forEach(([from, to], b) => {
    for (let s = Math.max(0, from); s < Math.min(to, runLength); s++) {
      rowOf[b * runLength + s] = picked.length;
      picked.push(b * runLength + s);
    }
  });
  if (!picked.length) picked.push(0);
  return { rows: BigInt64Array.from(picked, (v) => BigInt(v)), rowOf };
}

/** The [1, n, k] targets of the flattened rows fed, k the most any row wants (short rows repeat their first; none: token 0). */
function targetIds(rows: BigInt64Array, runLength: number, targetsOf?: TargetsOf): { ids: BigInt64Array; targets: Int32Array; k: number } {
  const lists = Array.from(rows, (flat) => {
    const f = Number(flat);
    return targetsOf ? Array.from(targetsOf(Math.floor(f / runLength), f % runLength)) : [];
  });
  const k = Math.max(1, ...lists.map((l) => l.length));
  const targets = new Int32Array(rows.length * k);
  lists.forEach((l, r) => {
    for (let j = 0; j < k; j++) targets[r * k + j] = l[j] ?? l[0] ?? 0;
  });
  return { ids: BigInt64Array.from(targets, (v) => BigInt(v)), targets, k };
}

/**
 * Runs `rows` (token ids, right-padded with the tokenizer's pad id) after an optional cache.
 * `wantPresent` asks for the updated cache (only honoured when the graph has one). `steps[b]`, when
 * given, is the range of run steps of row b whose logits the caller reads: a graph whose head was
 * given a row input (head-gather.ts) computes only those, and `rowOf` says where they are. With
 * `targetsOf` as well, a graph that computes target log-probs (token-logprobs.ts) returns those
 * instead of the logits (`tokenLogProbs`); the caller reads them with writeTokenLogProbs.
 */
export async function forward(
  model: EvalModel,
  rows: Int32Array[],
  cache?: KvCache,
  wantPresent = false,
  steps?: ReadonlyArray<readonly [number, number]>,
  targetsOf?: TargetsOf,
): Promise<ForwardOutput> {
  const batch = rows.length;
  let runLength = 0;
  for (const r of rows) runLength = Math.max(runLength, r.length);
  if (batch === 0 || runLength === 0) throw new Error('forward needs at least one non-empty row');
  const pastLength = cache?.length ?? 0;
  const total = pastLength + runLength;
  const valid = cache?.valid;
  if (valid && valid.length !== batch * pastLength) throw new Error(`cache validity has ${valid.length} slots, expected ${batch} × ${pastLength}`);
  if (valid && (!model.io.hasPositionIds || !model.io.mask) && valid.includes(0)) {
    throw new Error('a padded KV cache needs a graph with position_ids and attention_mask (positions would shift otherwise)');
  }
  const ids = new BigInt64Array(batch * runLength).fill(BigInt(model.tokenizer.padId));
  const mask = new Uint8Array(batch * total);
  for (let b = 0; b < batch; b++) {
    const r = rows[b]!;
    for (let j = 0; j < pastLength; j++) mask[b * total + j] = valid ? valid[b * pastLength + j]! : 1;
    for (let j = 0; j < r.length; j++) {
      ids[b * runLength + j] = BigInt(r[j]!);
      mask[b * total + pastLength + j] = 1;
    }
  }
  // Pads get positions too (masked, never read), within the row's own range.
  const positions = positionIdsFromMask(mask, batch, total, runLength);
  const io = model.io;
  const feeds: Record<string, Tensor> = { [io.ids.name]: intTensor(io.ids.type, ids, [batch, runLength]) };
  if (io.mask)
    feeds[io.mask.name] = intTensor(
      io.mask.type,
      BigInt64Array.from(mask, (v) => BigInt(v)),
      [batch, total],
    );
  if (io.positions) feeds[io.positions.name] = intTensor(io.positions.type, positions, [batch, runLength]);
  if (io.tokenTypes) feeds[io.tokenTypes.name] = intTensor(io.tokenTypes.type, new BigInt64Array(batch * runLength), [batch, runLength]);
  if (model.io.useCacheBranch) feeds[model.io.useCacheBranch] = new ort.Tensor('bool', new Uint8Array([pastLength > 0 ? 1 : 0]), [1]);
  let rowOf: Int32Array | undefined;
  if (io.logitRows) {
    if (steps && steps.length !== batch) throw new Error(`logit steps for ${steps.length} rows, expected ${batch}`);
    const picked = steps ? logitRows(steps, runLength) : undefined;
    rowOf = picked?.rowOf;
    // Without steps every position, in order: the logits keep their [batch, runLength, vocab] layout.
    const all = picked?.rows ?? BigInt64Array.from({ length: batch * runLength }, (_, k) => BigInt(k));
    feeds[io.logitRows] = new ort.Tensor('int64', all, [1, all.length]);
  }
  if (!io.logits) throw new Error(`the graph has no logits output (outputs: ${io.outputs.join(', ')})`);
  const fetchLogProbs = !!(io.tokenLogProbs && steps && targetsOf);
  let targets: ReturnType<typeof targetIds> | undefined;
  if (io.tokenLogProbs) {
    // The input is fed whatever is fetched (greedy decoding wants the logits: any target will do).
    const rowsFed = (feeds[io.logitRows!] as Tensor).data as BigInt64Array;
    targets = targetIds(rowsFed, runLength, fetchLogProbs ? targetsOf : undefined);
    feeds[io.tokenLogProbs.targets] = new ort.Tensor('int64', targets.ids, [1, rowsFed.length, targets.k]);
  }
  const fetches = [fetchLogProbs ? io.tokenLogProbs!.output : io.logits];
  if (model.io.past) {
    const past = cache?.tensors ?? emptyPast(model, batch);
    // A cache is often a run's present tensors as onnxruntime handed them over (fp16: see feedable).
    for (const [name, t] of past) feeds[name] = feedable(t);
    if (wantPresent) for (const e of model.io.past.entries) fetches.push(e.present);
  } else if (cache) {
    throw new Error('a KV cache was passed but the graph has no past_key_values inputs');
  }
  const out = await model.session.run(feeds, fetches);
  if (fetchLogProbs) {
    const lp = out[io.tokenLogProbs!.output]!;
    if (lp.type !== 'float32' || lp.data.length !== targets!.targets.length)
      throw new Error(`target log-probs are ${lp.type} ${JSON.stringify(lp.dims)}; expected float32 for ${targets!.targets.length} targets`);
    const result: ForwardOutput = {
      logits: new Float32Array(0),
      tokenLogProbs: { values: lp.data as Float32Array, targets: targets!.targets, k: targets!.k },
      batch,
      runLength,
      vocab: model.tokenizer.vocabSize,
      mask,
      ...(rowOf ? { rowOf } : {}),
    };
    if (wantPresent && model.io.past) result.present = new Map(model.io.past.entries.map((e) => [e.past, out[e.present]!]));
    return result;
  }
  const logitsT = out[io.logits]!;
  if (logitsT.type !== 'float32' && logitsT.type !== 'float16') throw new Error(`logits are ${logitsT.type}; expected float32 or float16`);
  const dims = logitsT.dims;
  const vocab = dims[dims.length - 1]!;
  if (io.logitRows) {
    const fed = (feeds[io.logitRows] as Tensor).dims[1]!;
    if (dims.length !== 3 || dims[0] !== 1 || dims[1] !== fed)
      throw new Error(`logits shape ${JSON.stringify(dims)} does not match the ${fed} rows asked for × vocab`);
  } else if (dims.length !== 3 || dims[0] !== batch || dims[1] !== runLength) {
    throw new Error(`logits shape ${JSON.stringify(dims)} does not match batch ${batch} × ${runLength} × vocab`);
  }
  const result: ForwardOutput = { logits: asFloat32(logitsT.data), batch, runLength, vocab, mask, ...(rowOf ? { rowOf } : {}) };
  if (wantPresent && model.io.past) {
    result.present = new Map();
    for (const e of model.io.past.entries) result.present.set(e.past, out[e.present]!);
  }
  return result;
}

/**
 * Builds a cache for a new batch by picking sequences (by index) out of a run's present tensors.
 * Works for any cache layout whose batch dim is `batchAxis` (0, or 1 for stacked `[2, batch, …]`
 * caches), with batch or batch×heads rows: within each slice before that axis, each sequence owns
 * a contiguous block of 1/batch of it.
 */
export function gatherCache(
  present: Map<string, Tensor>,
  sourceBatch: number,
  pick: number[],
  length: number,
  sourceValid?: Uint8Array,
  batchAxis = 0,
): KvCache {
  const tensors = new Map<string, Tensor>();
  let valid: Uint8Array | undefined;
  if (sourceValid) {
    valid = new Uint8Array(pick.length * length);
    pick.forEach((src, i) => valid!.set(sourceValid.subarray(src * length, (src + 1) * length), i * length));
  }
  for (const [name, t] of present) {
    if (t.type !== 'float32' && t.type !== 'float16') throw new Error(`cache ${name} is ${t.type}; expected float32 or float16`);
    // fp16 caches are copied as raw halves, whatever typed array this Node hands them over as.
    const data: Float32Array | Uint16Array = t.type === 'float16' ? halvesOf(t.data) : (t.data as Float32Array);
    const outer = t.dims.slice(0, batchAxis).reduce((a, b) => a * b, 1);
    const slice = data.length / outer;
    const block = slice / sourceBatch;
    const out = t.type === 'float16' ? new Uint16Array(outer * block * pick.length) : new Float32Array(outer * block * pick.length);
    for (let s = 0; s < outer; s++) {
      for (let i = 0; i < pick.length; i++) {
        const from = s * slice + pick[i]! * block;
        out.set(data.subarray(from, from + block), (s * pick.length + i) * block);
      }
    }
    const dims = [...t.dims];
    dims[batchAxis] = (dims[batchAxis]! / sourceBatch) * pick.length;
    tensors.set(name, out instanceof Uint16Array ? float16Tensor(out, dims) : float32Tensor(out, dims));
  }
  return valid ? { length, tensors, valid } : { length, tensors };
}
