/**
 * Reading an ONNX model and its initializers. The graph protobuf is read whole (protobuf caps it
 * at 2 GB anyway); weights stored as external data are read one tensor at a time by offset and
 * length, so a multi-GB data file is never held in one buffer.
 *
 * Inline weights are not read at all: the file is decoded field by field (lazy-decode.ts) and each
 * large inline initializer becomes an external reference to its own bytes inside the model file,
 * so onnxruntime and the pruning steps read those weights from the file when they need them.
 */
import { closeSync, openSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { decodeModelLazily } from './lazy-decode.js';
import { readFully, readFullySync } from './read-fully.js';
import path from 'node:path';
import { DataType, bytesPerElement, dimsOf, onnx, weightDType, type ModelProto, type TensorProto, type WeightDType } from './proto.js';
import { fp16ToFp32 } from './fp16.js';

export interface OnnxModel {
  proto: ModelProto;
  /** Directory external-data locations are relative to. */
  dir: string;
  /** Initializers by name (the same objects as in proto.graph.initializer). */
  initializers: Map<string, TensorProto>;
  /** File name of the model itself when its inline weights are read lazily from it. */
  selfFile?: string;
}

/** Inline tensors below this stay in memory (shapes, biases, norms): not worth a file read. */
const LAZY_MIN_BYTES = 4096;

/** A weight widened to fp32, with the element type it is stored in. */
export interface Weight {
  name: string;
  dims: number[];
  dtype: WeightDType;
  data: Float32Array;
}

export async function loadModel(file: string): Promise<OnnxModel> {
  const selfFile = path.basename(file);
  let decoded: { proto: ModelProto; lazy: number };
  try {
    decoded = await decodeModelLazily(file, {
      minBytes: LAZY_MIN_BYTES,
      lazyType: (dt) => dt === DataType.FLOAT || dt === DataType.FLOAT16,
      selfName: selfFile,
    });
  } catch (err) {
    throw new Error(`cannot read ONNX model ${file}: ${(err as Error).message}`);
  }
  const model = modelFromProto(decoded.proto, path.dirname(path.resolve(file)));
  if (decoded.lazy > 0) model.selfFile = selfFile;
  return model;
}

export function modelFromProto(proto: ModelProto, dir = process.cwd()): OnnxModel {
  if (!proto.graph) throw new Error('ONNX model has no graph');
  const initializers = new Map<string, TensorProto>();
  for (const t of proto.graph.initializer ?? []) initializers.set(t.name ?? '', t);
  return { proto, dir, initializers };
}

export function isExternal(t: TensorProto): boolean {
  return t.dataLocation === onnx.TensorProto.DataLocation.EXTERNAL;
}

/** Whether the model's own form stores weights in separate data files (not counting lazily read inline weights). */
export function hasExternalData(model: OnnxModel): boolean {
  for (const t of model.initializers.values()) if (isExternal(t) && externalRef(t).location !== model.selfFile) return true;
  return false;
}

export interface ExternalRef {
  location: string;
  offset: number;
  length: number;
}

export function externalRef(t: TensorProto): ExternalRef {
  const kv = new Map((t.externalData ?? []).map((e) => [e.key ?? '', e.value ?? '']));
  const location = kv.get('location');
  if (!location) throw new Error(`initializer ${t.name} is external but names no location`);
  const offset = Number(kv.get('offset') ?? 0);
  const length = kv.has('length') ? Number(kv.get('length')) : -1;
  return { location, offset, length };
}

function elementCount(t: TensorProto): number {
  return dimsOf(t).reduce((a, b) => a * b, 1);
}

/** Little-endian bytes of a float32/float16 initializer, wherever it is stored. */
export async function readTensorBytes(model: OnnxModel, t: TensorProto): Promise<Uint8Array> {
  const dtype = weightDType(t.dataType);
  const n = elementCount(t);
  const byteLength = n * bytesPerElement(dtype);
  if (isExternal(t)) {
    // One piece as large as the tensor.
    for await (const whole of externalChunks(model, t, Math.max(1, byteLength))) return whole;
    return new Uint8Array(0);
  }
  if (t.rawData && t.rawData.length > 0) {
    if (t.rawData.length !== byteLength) {
      throw new Error(`initializer ${t.name}: raw_data has ${t.rawData.length} bytes, dims need ${byteLength}`);
    }
    return t.rawData;
  }
  if (dtype === 'float32' && t.floatData && t.floatData.length === n) {
    return new Uint8Array(Float32Array.from(t.floatData).buffer);
  }
  // fp16 without raw_data is stored one half per int32_data element (ONNX spec).
  if (dtype === 'float16' && t.int32Data && t.int32Data.length === n) {
    return new Uint8Array(Uint16Array.from(t.int32Data).buffer);
  }
  if (n === 0) return new Uint8Array(0);
  throw new Error(`initializer ${t.name}: no data found (expected raw_data, float_data/int32_data or external data)`);
}

/**
 * readTensorBytes into `into` (exactly the tensor's byte length): external data is read straight
 * into it, so a caller that reuses its buffers (sequential calibration, block after block) neither
 * allocates nor copies.
 */
export async function readTensorInto(model: OnnxModel, t: TensorProto, into: Uint8Array): Promise<void> {
  const byteLength = elementCount(t) * bytesPerElement(weightDType(t.dataType));
  if (into.byteLength !== byteLength) throw new Error(`initializer ${t.name}: ${byteLength} bytes, buffer of ${into.byteLength}`);
  if (!isExternal(t)) {
    into.set(await readTensorBytes(model, t));
    return;
  }
  const ref = externalRef(t);
  if (ref.length >= 0 && ref.length !== byteLength) {
    throw new Error(`initializer ${t.name}: external length ${ref.length} != ${byteLength} bytes for its dims`);
  }
  const file = path.resolve(model.dir, ref.location);
  // Synchronously: each asynchronous step (open, read, close) is a thread-pool round trip, 1–2 ms
  // on this machine whatever its size, and a block's weights are read between two passes with
  // nothing else to do (XGLM-564M's sequential run: 0.5 s of such waits, measured). A tensor is read
  // whole here anyway; streamed copies go through tensorChunks.
  const fd = openSync(file, 'r');
  try {
    readFullySync(fd, into, ref.offset, `external data ${file} ends before ${t.name} (offset ${ref.offset})`);
  } finally {
    closeSync(fd);
  }
}

/** Pieces large tensors are copied in (writing a pruned model must not hold a 1 GB embedding). */
export const COPY_CHUNK_BYTES = 16 << 20;

/**
 * A tensor's stored bytes in pieces of at most `chunk` bytes: external data is read piece by piece,
 * so copying a tensor never holds it whole.
 */
export async function* tensorChunks(model: OnnxModel, t: TensorProto, chunk = COPY_CHUNK_BYTES): AsyncGenerator<Uint8Array> {
  if (isExternal(t)) {
    yield* externalChunks(model, t, chunk);
    return;
  }
  const bytes = await readTensorBytes(model, t);
  for (let at = 0; at < bytes.byteLength; at += chunk) yield bytes.subarray(at, Math.min(bytes.byteLength, at + chunk));
}

/** An external tensor's bytes read from its data file in pieces of at most `chunk` bytes. */
async function* externalChunks(model: OnnxModel, t: TensorProto, chunk: number): AsyncGenerator<Uint8Array> {
  const byteLength = elementCount(t) * bytesPerElement(weightDType(t.dataType));
  const ref = externalRef(t);
  if (ref.length >= 0 && ref.length !== byteLength) {
    throw new Error(`initializer ${t.name}: external length ${ref.length} != ${byteLength} bytes for its dims`);
  }
  const file = path.resolve(model.dir, ref.location);
  const fh = await open(file, 'r');
  try {
    for (let at = 0; at < byteLength; at += chunk) {
      const buf = new Uint8Array(Math.min(chunk, byteLength - at));
      await readFully(fh, buf, ref.offset + at, `external data ${file} ends before ${t.name} (offset ${ref.offset})`);
      yield buf;
    }
  } finally {
    await fh.close();
  }
}

/** Decode little-endian bytes into fp32 (copying, since the bytes may not be aligned). */
export function bytesToFloat32(bytes: Uint8Array, dtype: WeightDType): Float32Array {
  if (dtype === 'float32') {
    const out = new Float32Array(bytes.byteLength / 4);
    new Uint8Array(out.buffer).set(bytes);
    return out;
  }
  const half = new Uint16Array(bytes.byteLength / 2);
  new Uint8Array(half.buffer).set(bytes);
  return fp16ToFp32(half);
}

/**
 * A weight as float32 (fp16 widened). `alloc` makes the array it is returned in (mask selection
 * passes one in its heap); external data is read straight into it.
 */
export async function readWeight(model: OnnxModel, name: string, alloc: (n: number) => Float32Array = (n) => new Float32Array(n)): Promise<Weight> {
  const t = model.initializers.get(name);
  if (!t) throw new Error(`initializer ${name} not found in the model`);
  const dtype = weightDType(t.dataType);
  if (isExternal(t)) {
    // Read straight into the array it is returned in: a buffer of bytes first, then a copy into a
    // second fresh array, read XGLM-564M's 144 linears at 0.7 GB/s (page faults twice and a copy).
    const n = elementCount(t);
    if (dtype === 'float32') {
      const data = alloc(n);
      await readTensorInto(model, t, new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
      return { name, dims: dimsOf(t), dtype, data };
    }
    const half = new Uint16Array(n);
    await readTensorInto(model, t, new Uint8Array(half.buffer));
    return { name, dims: dimsOf(t), dtype, data: fp16ToFp32(half, alloc(n)) };
  }
  const bytes = await readTensorBytes(model, t);
  return { name, dims: dimsOf(t), dtype, data: bytesToFloat32(bytes, dtype) };
}

export function isFloatWeight(t: TensorProto): boolean {
  return t.dataType === DataType.FLOAT || t.dataType === DataType.FLOAT16;
}
