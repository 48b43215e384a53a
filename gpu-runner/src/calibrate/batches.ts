/**
 * Tokenized calibration samples grouped into model batches, and the batch size chosen from the
 * model's size and the memory this machine has free.
 */
import os from 'node:os';

/** One tokenized calibration sample, right-padded to the common length. */
export interface CalibrationSample {
  inputIds: BigInt64Array;
  attentionMask: BigInt64Array;
}

/**
 * All calibration samples tokenized together, [samples, maxLength] row-major; text.ts's
 * tokenizeCalibration result has this shape.
 */
export interface TokenizedCalibration {
  samples: number;
  maxLength: number;
  inputIds: BigInt64Array;
  attentionMask: BigInt64Array;
}

/** Per-sample views (no copy) of a tokenized calibration set. */
export function splitSamples(t: TokenizedCalibration): CalibrationSample[] {
  if (t.inputIds.length !== t.samples * t.maxLength || t.attentionMask.length !== t.samples * t.maxLength) {
    throw new Error(`tokenized calibration of ${t.samples}x${t.maxLength} has ${t.inputIds.length} ids and ${t.attentionMask.length} mask values`);
  }
  return Array.from({ length: t.samples }, (_, k) => ({
    inputIds: t.inputIds.subarray(k * t.maxLength, (k + 1) * t.maxLength),
    attentionMask: t.attentionMask.subarray(k * t.maxLength, (k + 1) * t.maxLength),
  }));
}

/** One onnxruntime run's worth of samples. */
export interface ModelBatch {
  /** [size, seqLen] row-major */
  inputIds: BigInt64Array;
  attentionMask: BigInt64Array;
  size: number;
  seqLen: number;
}

export function makeBatches(samples: CalibrationSample[], batchSize: number): ModelBatch[] {
  if (samples.length === 0) throw new Error('no calibration samples');
  const seqLen = samples[0]!.inputIds.length;
  for (const [i, s] of samples.entries()) {
    if (s.inputIds.length !== seqLen || s.attentionMask.length !== seqLen) {
      throw new Error(`calibration sample ${i} has length ${s.inputIds.length}/${s.attentionMask.length}, expected ${seqLen} (pad all samples to one length)`);
    }
  }
  const out: ModelBatch[] = [];
  for (let start = 0; start < samples.length; start += batchSize) {
    const group = samples.slice(start, start + batchSize);
    const inputIds = new BigInt64Array(group.length * seqLen);
    const attentionMask = new BigInt64Array(group.length * seqLen);
    group.forEach((s, k) => {
      inputIds.set(s.inputIds, k * seqLen);
      attentionMask.set(s.attentionMask, k * seqLen);
    });
    out.push({ inputIds, attentionMask, size: group.length, seqLen });
  }
  return out;
}

export interface BatchSizeInput {
  /** Bytes of weights the process holds (session plus any weights fed from JS). */
  weightBytes: number;
  seqLen: number;
  /** Sum of the widths of all tensors captured per token (the linears' inputs). */
  capturedWidth: number;
  /** Residual width, for a rough size of the attention scores. */
  hidden: number;
  samples: number;
  freeBytes?: number;
  /** The memory this runner may use (POLYPRUNE_MEMORY_LIMIT, a cgroup limit); caps `freeBytes`. */
  limitBytes?: number;
}

export interface BatchSizeChoice {
  batchSize: number;
  perSampleBytes: number;
  budgetBytes: number;
}

/**
 * What one sample costs: its captured activations twice (onnxruntime's output and our widened
 * copy) plus attention scores, which scale with seqLen² and roughly hidden/64 heads.
 */
export function perSampleBytes(x: Pick<BatchSizeInput, 'seqLen' | 'capturedWidth' | 'hidden'>): number {
  const heads = Math.max(1, Math.round(x.hidden / 64));
  return x.seqLen * x.capturedWidth * 4 * 2 + x.seqLen * x.seqLen * heads * 4 * 2 + x.seqLen * x.hidden * 4 * 8;
}

/** The activation budget (below) divided by what one sample costs. */
export function chooseBatchSize(x: BatchSizeInput): BatchSizeChoice {
  const free = Math.min(x.freeBytes ?? os.freemem(), x.limitBytes ?? Number.POSITIVE_INFINITY);
  const perSample = perSampleBytes(x);
  // Activations get at most a third of the model's size (but 256 MiB at least), and never more
  // than half the free memory left beside the weights: peak memory stays near 1.3× the model
  // whatever the machine, instead of growing into whatever happens to be free.
  const budgetBytes = Math.max(0, Math.min(free * 0.5 - x.weightBytes, Math.max(256 * 2 ** 20, x.weightBytes / 3)));
  const batchSize = Math.max(1, Math.min(64, x.samples, Math.floor(budgetBytes / perSample)));
  return { batchSize, perSampleBytes: perSample, budgetBytes };
}
