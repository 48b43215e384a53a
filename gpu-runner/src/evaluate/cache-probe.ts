/**
 * Measures what a graph's KV cache can do before the engine relies on it: a few tiny forward passes
 * compare cached continuations with full recomputation of the same tokens. Exporters differ — a
 * model-builder cache may reject a multi-token step after a non-empty past, a graph that derives
 * positions from the past length is wrong after padding — and a wrong cache would silently skew
 * every score, so each ability is used only when its probe agrees with the uncached logits.
 */
import { forward, type ForwardOutput } from './forward.js';
import type { CacheAbilities, EvalModel } from './eval-model.js';

export type { CacheAbilities };

export const NO_CACHE: CacheAbilities = { prefix: false, step: false, padded: false };

function logSoftmaxAt(out: ForwardOutput, row: number, pos: number): Float64Array {
  const v = out.vocab;
  const base = (row * out.runLength + pos) * v;
  let max = -Infinity;
  for (let k = 0; k < v; k++) max = Math.max(max, out.logits[base + k]!);
  let sum = 0;
  for (let k = 0; k < v; k++) sum += Math.exp(out.logits[base + k]! - max);
  const lse = max + Math.log(sum);
  const r = new Float64Array(v);
  for (let k = 0; k < v; k++) r[k] = out.logits[base + k]! - lse;
  return r;
}

function maxDiff(a: Float64Array, b: Float64Array): number {
  let d = 0;
  for (let k = 0; k < a.length; k++) d = Math.max(d, Math.abs(a[k]! - b[k]!));
  return d;
}

/** Token ids for the probe: the tokenizer's own encoding of plain text, padded out with small ids. */
function probeTokens(model: EvalModel): Int32Array {
  const ids = model.tokenizer.encode('The cat sleeps on the sofa. Le chat dort.').slice(0, 7);
  for (let k = 4; ids.length < 7; k++) ids.push(k % model.tokenizer.vocabSize);
  return Int32Array.from(ids);
}

export async function probeCache(model: EvalModel, log: (msg: string) => void = () => {}): Promise<CacheAbilities> {
  const past = model.io.past;
  if (!past) return NO_CACHE;
  const tol = past.elementType === 'float16' ? 5e-2 : 1e-3;
  const seq = probeTokens(model);
  const full = await forward(model, [seq]);
  const reference = (pos: number) => logSoftmaxAt(full, 0, pos);

  /**
   * Runs seq[0:cut] then seq[cut:end] from its cache, two rows at once as the engine batches them
   * (some caches accept a step for one sequence only); null when they agree with the full pass.
   */
  const continues = async (cut: number, end: number): Promise<string | null> => {
    try {
      const head = seq.subarray(0, cut);
      const tail = seq.subarray(cut, end);
      const pre = await forward(model, [head, head], undefined, true);
      const out = await forward(model, [tail, tail], { length: cut, tensors: pre.present! });
      for (const row of [0, 1]) {
        for (let p = cut; p < end; p++) {
          const d = maxDiff(logSoftmaxAt(out, row, p - cut), reference(p));
          if (!(d <= tol)) return `logits after the cache differ from a full pass by ${d.toExponential(2)}`;
        }
      }
      return null;
    } catch (err) {
      return (err as Error).message.split('\n')[0]!;
    }
  };
  const stepFail = await continues(seq.length - 1, seq.length);
  const prefixFail = stepFail ? stepFail : await continues(3, seq.length);
  let paddedFail: string | null = 'the graph does not take both position_ids and attention_mask';
  if (!prefixFail && model.io.hasPositionIds && model.io.mask) {
    try {
      // Two prefixes of different lengths share one right-padded batch, then continue to the end.
      const pre = await forward(model, [seq.subarray(0, 2), seq.subarray(0, 3)], undefined, true);
      const out = await forward(model, [seq.subarray(2), seq.subarray(3)], { length: pre.runLength, tensors: pre.present!, valid: pre.mask });
      paddedFail = null;
      for (const [row, cut] of [
        [0, 2],
        [1, 3],
      ] as const) {
        for (let p = cut; p < seq.length; p++) {
          const d = maxDiff(logSoftmaxAt(out, row, p - cut), reference(p));
          if (!(d <= tol)) paddedFail ??= `logits after a padded cache differ from a full pass by ${d.toExponential(2)}`;
        }
      }
    } catch (err) {
      paddedFail = (err as Error).message.split('\n')[0]!;
    }
  }
  const abilities: CacheAbilities = { step: !stepFail, prefix: !prefixFail, padded: !prefixFail && !paddedFail };
  const reason = stepFail ?? prefixFail ?? paddedFail;
  if (reason) {
    abilities.reason = reason;
    const off = [!abilities.step && 'cached decoding', !abilities.prefix && 'prefix sharing', !abilities.padded && 'padded prefix batches'].filter(Boolean);
    log(`KV cache: ${off.join(', ')} off (${reason}); falling back to full recomputation there`);
  }
  return abilities;
}
