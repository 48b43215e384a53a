/** Small conveniences shared by the onnx/ and calibrate/ tests. */
import path from 'node:path';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { modelFromProto, type OnnxModel } from '@polyprune/gpu-runner/onnx/read';
import { onnx, type ModelProto } from '@polyprune/gpu-runner/onnx/proto';
import { createSession, int64Tensor, type Session, type Tensor } from '@polyprune/gpu-runner/ort';
import { openSession } from '@polyprune/gpu-runner/onnx/session';
import type { CalibrationSample } from '@polyprune/gpu-runner/calibrate/batches';
import { buildModel, type TinyParams, type TinySpec } from './graph-builder.js';
import { TEST_DEVICE } from './device.js';

export const FIXTURES = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../fixtures/models');

/** A committed fixture model; a missing one fails the test that needs it (never skips it). */
export function fixture(name: string): string {
  const p = path.join(FIXTURES, name, 'model.onnx');
  if (!existsSync(p)) throw new Error(`committed fixture ${path.relative(process.cwd(), p)} is missing (git checkout -- test/fixtures/models)`);
  return p;
}

export function tiny(spec: TinySpec): { model: OnnxModel; params: TinyParams } {
  const { proto, params } = buildModel(spec);
  return { model: modelFromProto(proto), params };
}

/** Right-padded token rows: `lengths[k]` real tokens in row k, ids drawn deterministically below `vocab`. */
export function tokenRows(lengths: number[], seqLen: number, vocab: number, seed = 7): { ids: number[][]; mask: number[][] } {
  const ids: number[][] = [];
  const mask: number[][] = [];
  lengths.forEach((len, k) => {
    ids.push(Array.from({ length: seqLen }, (_, t) => (t < len ? (seed * 31 + k * 17 + t * 13) % vocab : 1)));
    mask.push(Array.from({ length: seqLen }, (_, t) => (t < len ? 1 : 0)));
  });
  return { ids, mask };
}

export function toSamples(ids: number[][], mask: number[][]): CalibrationSample[] {
  return ids.map((row, k) => ({ inputIds: BigInt64Array.from(row.map(BigInt)), attentionMask: BigInt64Array.from(mask[k]!.map(BigInt)) }));
}

/** Runs a model (bytes or path) on token rows with extra feeds, plain onnxruntime, CPU. */
export async function runPlain(
  model: ModelProto | string,
  ids: number[][],
  mask: number[][],
  extra: Record<string, Tensor> = {},
  fetches?: string[],
  externalDir?: string,
): Promise<Record<string, Tensor>> {
  // A modified graph whose weights stay external needs a model file beside its data (openSession).
  const opened: { session: Session; release(): Promise<void> } =
    typeof model !== 'string' && externalDir
      ? await openSession(model, externalDir, { device: TEST_DEVICE })
      : await createSession(typeof model === 'string' ? model : onnx.ModelProto.encode(model).finish(), { device: TEST_DEVICE }).then(({ session }) => ({
          session,
          release: () => session.release(),
        }));
  const session = opened.session;
  const dims = [ids.length, ids[0]!.length];
  const feeds: Record<string, Tensor> = {
    input_ids: int64Tensor(BigInt64Array.from(ids.flat().map(BigInt)), dims),
    attention_mask: int64Tensor(BigInt64Array.from(mask.flat().map(BigInt)), dims),
    ...extra,
  };
  try {
    return fetches ? await session.run(feeds, fetches) : await session.run(feeds);
  } finally {
    await opened.release();
  }
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return Infinity;
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

/** max |a-b| / max(|b|, floor) */
export function maxRelDiff(a: ArrayLike<number>, b: ArrayLike<number>, floor = 1e-3): number {
  if (a.length !== b.length) return Infinity;
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!) / Math.max(Math.abs(b[i]!), floor));
  return m;
}
