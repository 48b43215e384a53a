/**
 * The independent reference the engine is checked against: one unpadded sequence per session run,
 * batch 1, no cache reuse, log-softmax in plain loops over JS numbers. Shares no code with
 * gpu-runner/src/evaluate.
 */
import { asFloat32 } from '@polyprune/gpu-runner/onnx/fp16';
import { int64Tensor, ort, type Session, type Tensor } from '@polyprune/gpu-runner/ort';

/** Logits of one sequence as rows of plain numbers. */
export async function plainLogits(session: Session, tokens: number[]): Promise<number[][]> {
  const n = tokens.length;
  const feeds: Record<string, Tensor> = {
    input_ids: int64Tensor(BigInt64Array.from(tokens.map(BigInt)), [1, n]),
    attention_mask: int64Tensor(new BigInt64Array(n).fill(1n), [1, n]),
  };
  if (session.inputNames.includes('position_ids')) {
    feeds.position_ids = int64Tensor(BigInt64Array.from(tokens.map((_, i) => BigInt(i))), [1, n]);
  }
  // The engine's sessions compute logits only for the rows they are given: all of them here.
  if (session.inputNames.includes('polyprune_logit_rows'))
    feeds.polyprune_logit_rows = int64Tensor(BigInt64Array.from(tokens.map((_, i) => BigInt(i))), [1, n]);
  // …and take target ids for the log-probs they can compute; this reference reads the logits instead.
  if (session.inputNames.includes('polyprune_target_ids')) feeds.polyprune_target_ids = int64Tensor(new BigInt64Array(n), [1, n, 1]);
  for (const m of session.inputMetadata) {
    if (!m.name.startsWith('past_key_values') || !m.isTensor) continue;
    const dims = m.shape.map((d, i) => (typeof d === 'number' ? d : i === 0 ? 1 : 0));
    feeds[m.name] = new ort.Tensor('float32', new Float32Array(0), dims);
  }
  const out = await session.run(feeds, ['logits']);
  const data = asFloat32(out.logits!.data);
  const vocab = out.logits!.dims[2]!;
  const rows: number[][] = [];
  for (let t = 0; t < n; t++) rows.push(Array.from(data.slice(t * vocab, (t + 1) * vocab)));
  return rows;
}

export function plainLogSoftmax(row: number[], target: number): number {
  let max = -Infinity;
  for (const v of row) if (v > max) max = v;
  let s = 0;
  for (const v of row) s += Math.exp(v - max);
  return row[target]! - max - Math.log(s);
}

/** lp[p] = log p(tokens[p] | tokens[<p]) for p ≥ 1 (lp[0] is NaN). */
export async function plainTokenLogProbs(session: Session, tokens: number[]): Promise<number[]> {
  const logits = await plainLogits(session, tokens);
  return tokens.map((t, p) => (p === 0 ? NaN : plainLogSoftmax(logits[p - 1]!, t)));
}

export function plainArgmax(row: number[]): number {
  let best = 0;
  for (let i = 1; i < row.length; i++) if (row[i]! > row[best]!) best = i;
  return best;
}
