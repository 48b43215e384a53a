/**
 * Writing a model. Small models are written with inline raw_data; large ones (or ones that came
 * with external data) get an external data file written tensor by tensor, so peak memory stays
 * at one changed (masked) tensor plus the graph; unchanged tensors are copied in pieces.
 *
 * A model whose weights came in one external data file, under the name it keeps, gets that file
 * cloned instead (`cloneableSource`): a reflink where the file system has them, an in-kernel copy
 * elsewhere, then only the changed tensors are written over their own byte ranges. The rest
 * (embeddings, head, norms: 92 % of the peer bench's 4-layer XGLM, less of a deep model) never passes
 * through JavaScript, and the pruned file is the source's byte for byte outside the changed ranges,
 * offsets included.
 *
 * With `linkSource` that copy is not made at all: a hard link to the source's data file holds the
 * unchanged tensors and a second, sparse file holds only the changed ones, at the offsets they
 * have in the one-file form (the peer bench's 2.3 GB copy becomes a link and 0.2 GB of writes).
 * Such a model is for this machine: `portable` describes the one-file form a download gives (the
 * graph's bytes, the data file as ranges of the two), which an upload reads without writing it.
 */
import { constants } from 'node:fs';
import { copyFile, link, open, realpath, rm, stat, writeFile, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import type { FileRange, UploadSource } from '@polyprune/shared/multipart-upload';
import { bytesPerElement, dimsOf, encodeVarint, onnx, weightDType, type GraphMessage, type ModelProto, type TensorMessage, type TensorProto } from './proto.js';
import { externalRef, hasExternalData, isExternal, isFloatWeight, readTensorInto, tensorChunks, type OnnxModel } from './read.js';

/** protobuf refuses messages over 2 GB; stay clear of it with the inline form. */
const INLINE_LIMIT_BYTES = 1 << 30;
/** Tensors smaller than this stay inline even in external mode (as onnx's own save does). */
const EXTERNAL_MIN_BYTES = 1024;
/** Bytes of a source data file no initializer reads (alignment, leftovers) a clone may carry along, besides 1 %. */
const CLONE_SLACK_BYTES = 1 << 20;

export interface SaveOptions {
  /** true: external data file; false: inline; 'auto' (default): external when the source used it or the weights exceed 1 GiB. */
  externalData?: boolean | 'auto';
  /** File name of the external data file, next to the model (default: the one the source recorded, else "<model file>.data"). */
  dataFileName?: string;
  /**
   * Called with each float initializer's bytes; return replacement bytes of the same length (e.g.
   * with pruned weights zeroed) or undefined to keep them. The bytes are the writer's own copy,
   * reused for the next tensor once these are written: a transform may change them in place and
   * return them.
   */
  transform?: (t: TensorProto, bytes: Uint8Array) => Uint8Array | undefined | Promise<Uint8Array | undefined>;
  /**
   * Which tensors `transform` may change (default: all of them). The others are copied in pieces,
   * never read whole: a pruned model's 1 GB embedding passes through 16 MiB at a time.
   */
  transforms?: (t: TensorProto) => boolean;
  /**
   * Where the source's data file could be cloned, link it instead and write the changed tensors to
   * `<data file>.changed` (see the top of this file); else (another file system, no hard links) the
   * clone. The model then reads the source's file: an upload must send `portable`, not the files.
   */
  linkSource?: boolean;
}

/** A file of the one-graph, one-data-file form, by name, and where its bytes are. */
export interface PortableFile {
  name: string;
  source: UploadSource;
}

export interface SavedModel {
  modelPath: string;
  /** The external data file the graph names (with linkSource: the link to the source's). */
  dataPath: string | undefined;
  /** With linkSource: the file holding the changed tensors, beside the link. */
  changedPath?: string;
  weightBytes: number;
  /** The model as a user downloads it: the graph file, then its data file if it has one. */
  portable: PortableFile[];
}

export function initializerBytes(model: OnnxModel): number {
  let total = 0;
  for (const t of model.initializers.values()) {
    if (!isFloatWeight(t)) continue;
    total += dimsOf(t).reduce((a, b) => a * b, 1) * bytesPerElement(weightDType(t.dataType));
  }
  return total;
}

/** A copy of `t` without its data fields, to be refilled. */
function header(t: TensorProto): TensorMessage {
  const { rawData: _r, floatData: _f, int32Data: _i, externalData: _e, dataLocation: _l, ...rest } = t as TensorMessage;
  return onnx.TensorProto.create({ ...rest });
}

export async function saveModel(model: OnnxModel, outPath: string, opts: SaveOptions = {}): Promise<SavedModel> {
  // Weights may be read lazily from the source file(s): never overwrite one while reading it.
  const sources = new Set([...model.initializers.values()].filter(isExternal).map((t) => path.resolve(model.dir, externalRef(t).location)));
  const mode = opts.externalData ?? 'auto';
  const external = mode === 'auto' ? hasExternalData(model) || initializerBytes(model) > INLINE_LIMIT_BYTES : mode;
  // A pruned model keeps the external-data file name its graph recorded (model.onnx_data,
  // decoder_model_merged.onnx_data, model.onnx.data): users and loaders expect it.
  const recorded = new Set(
    [...model.initializers.values()]
      .filter(isExternal)
      .map((t) => externalRef(t).location)
      .filter((l) => l !== model.selfFile),
  );
  const dataFileName = opts.dataFileName ?? (recorded.size === 1 ? [...recorded][0]! : `${path.basename(outPath)}.data`);
  const dataPath = external ? path.join(path.dirname(outPath), dataFileName) : undefined;
  const changedName = `${dataFileName}.changed`;
  const changedPath = dataPath && opts.linkSource ? path.join(path.dirname(outPath), changedName) : undefined;
  const targets = [outPath, dataPath, changedPath].filter((t) => t !== undefined);
  for (const target of targets) {
    if (sources.has(path.resolve(target))) throw new Error(`cannot write ${target}: the model's weights are read from it`);
  }
  // The same file under another name (a hard link, as a cache may place inputs) would be truncated
  // or patched in place just as well.
  const ids = new Set<string>();
  for (const s of sources) {
    const st = await stat(s).catch(() => undefined);
    if (st) ids.add(`${st.dev}:${st.ino}`);
  }
  for (const target of targets) {
    const st = await stat(target).catch(() => undefined);
    if (st && ids.has(`${st.dev}:${st.ino}`)) throw new Error(`cannot write ${target}: it is a link to a file the model's weights are read from`);
  }
  // Written as new files, never through an existing name: that may be a hard link to some other
  // model's data (an earlier linkSource save, a cache entry).
  for (const target of targets) await rm(target, { force: true });
  const transforms = (t: TensorProto) => opts.transform !== undefined && (opts.transforms?.(t) ?? true);
  // One buffer for every changed tensor, each written before the next is read: fresh buffers cost
  // more in page faults (the bench's 192 MiB of linears) than the reading and the masking together.
  let scratch = new Uint8Array(0);
  /** The tensor's final bytes: in the reused buffer, or (`own`) in new memory that stays the caller's. */
  const readFinal = async (t: TensorProto, own = false): Promise<Uint8Array> => {
    const length = tensorByteLength(t);
    if (!own && scratch.byteLength < length) scratch = new Uint8Array(length);
    const bytes = own ? new Uint8Array(length) : scratch.subarray(0, length);
    await readTensorInto(model, t, bytes);
    const replaced = transforms(t) ? await opts.transform!(t, bytes) : undefined;
    if (replaced && replaced.byteLength !== bytes.byteLength) throw new Error(`transform changed the size of ${t.name}`);
    return replaced ?? bytes;
  };
  const contents = async function* (t: TensorProto): AsyncGenerator<Uint8Array> {
    if (transforms(t)) yield await readFinal(t);
    else yield* tensorChunks(model, t);
  };
  for (const t of model.proto.graph!.initializer ?? []) {
    if (!isFloatWeight(t) && isExternal(t)) throw new Error(`initializer ${t.name}: external non-float tensors are not supported`);
  }
  const weightBytes = initializerBytes(model);
  if (!dataPath) {
    await writeInlineStreaming(model.proto, outPath, contents);
    return { modelPath: outPath, dataPath, weightBytes, portable: [{ name: path.basename(outPath), source: { path: outPath } }] };
  }
  const clone = await cloneableSource(model, dataFileName);
  const linked = clone && changedPath ? await tryLink(clone.file, dataPath) : false;
  if (clone && !linked) await copyFile(clone.file, dataPath, constants.COPYFILE_FICLONE);
  // Tensors written here: into the clone, or (linked) into the changed file at the same offsets.
  const writeTo = linked ? changedPath! : dataPath;
  const writtenName = linked ? changedName : dataFileName;
  const fh = await open(writeTo, clone && !linked ? 'r+' : 'w');
  const written: TensorProto[] = [];
  // What the graph of the one-file form holds: every tensor written here named by the data file.
  const portable: TensorProto[] = [];
  const changedRanges: Array<[number, number]> = [];
  // Tensors the clone does not hold (inline in the source, or read lazily from its graph file) go after its end.
  let offset = clone?.size ?? 0;
  try {
    for (const t of model.proto.graph!.initializer ?? []) {
      // Non-float tensors (shapes, indices) are copied as they are.
      if (!isFloatWeight(t)) {
        written.push(t);
        portable.push(t);
        continue;
      }
      if (clone?.holds(t)) {
        // Same location, offset and length as in the source; only changed bytes are written.
        portable.push(t);
        if (!transforms(t)) {
          written.push(t);
          continue;
        }
        const ref = externalRef(t);
        await writeAll(fh, await readFinal(t), ref.offset);
        written.push(linked ? externalAt(t, changedName, ref.offset, tensorByteLength(t)) : t);
        changedRanges.push([ref.offset, ref.offset + tensorByteLength(t)]);
        continue;
      }
      const byteLength = tensorByteLength(t);
      if (byteLength >= EXTERNAL_MIN_BYTES) {
        // 64-byte alignment keeps memory-mapped reads of the file aligned for every element type.
        offset += (64 - (offset % 64)) % 64;
        const wrote = await writePieces(fh, contents(t), offset);
        if (wrote !== byteLength) throw new Error(`initializer ${t.name}: ${wrote} bytes read, ${byteLength} expected`);
        written.push(externalAt(t, writtenName, offset, byteLength));
        portable.push(externalAt(t, dataFileName, offset, byteLength));
        offset += byteLength;
      } else {
        const out = header(t);
        out.rawData = await readFinal(t, true);
        written.push(out);
        portable.push(out);
      }
    }
  } finally {
    await fh.close();
  }
  await writeFile(outPath, onnx.ModelProto.encode(withInitializers(model.proto, written)).finish());
  const files = { modelPath: outPath, dataPath, weightBytes };
  if (!linked) {
    const portableFiles = [outPath, dataPath].map((f) => ({ name: path.basename(f), source: { path: f } }));
    return { ...files, portable: portableFiles };
  }
  const graph = onnx.ModelProto.encode(withInitializers(model.proto, portable)).finish();
  const ranges = portableRanges(dataPath, changedPath!, changedRanges, clone!.size, offset);
  return {
    ...files,
    changedPath,
    portable: [
      { name: path.basename(outPath), source: graph },
      { name: dataFileName, source: { ranges } },
    ],
  };
}

/** A copy of `t` that reads its bytes from `location` at `offset`. */
function externalAt(t: TensorProto, location: string, offset: number, length: number): TensorMessage {
  const out = header(t);
  out.dataLocation = onnx.TensorProto.DataLocation.EXTERNAL;
  out.externalData = [
    onnx.StringStringEntryProto.create({ key: 'location', value: location }),
    onnx.StringStringEntryProto.create({ key: 'offset', value: String(offset) }),
    onnx.StringStringEntryProto.create({ key: 'length', value: String(length) }),
  ];
  return out;
}

/**
 * A hard link at `dest` to the source's data file (the file itself, not a symlink on the way to
 * it); false where one cannot be made (another file system, links not allowed), for the clone then.
 */
async function tryLink(source: string, dest: string): Promise<boolean> {
  try {
    await link(await realpath(source), dest);
    return true;
  } catch {
    return false;
  }
}

/**
 * The one-file form's data file as ranges of the link and the changed file: the source's bytes up to
 * its size except the changed tensors' ranges, then what was written after it (the tensors the source
 * did not hold, alignment gaps included: the changed file reads zeros there, as the one file does).
 */
function portableRanges(linkPath: string, changedPath: string, changed: Array<[number, number]>, sourceSize: number, end: number): FileRange[] {
  const ranges: FileRange[] = [];
  const put = (file: string, from: number, to: number) => {
    if (to <= from) return;
    const last = ranges.at(-1);
    if (last && last.path === file && last.offset + last.length === from) last.length += to - from;
    else ranges.push({ path: file, offset: from, length: to - from });
  };
  let at = 0;
  for (const [from, to] of [...changed].sort((a, b) => a[0] - b[0])) {
    put(linkPath, at, from);
    put(changedPath, from, to);
    at = to;
  }
  put(linkPath, at, sourceSize);
  put(changedPath, sourceSize, end);
  return ranges;
}

/**
 * The source's external data file, when the written model may start from a copy of it: the model's
 * float initializers keep their data in exactly one such file, named as the output's will be, at
 * ranges inside it that do not overlap (a changed tensor is written over its own range only), and
 * those ranges hold nearly all of its bytes (a file with dead weight, e.g. an initializer dropped
 * after export, is written afresh without it instead).
 */
async function cloneableSource(
  model: OnnxModel,
  dataFileName: string,
): Promise<{ file: string; size: number; holds: (t: TensorProto) => boolean } | undefined> {
  const ranges: Array<[number, number]> = [];
  for (const t of model.initializers.values()) {
    if (!isFloatWeight(t) || !isExternal(t)) continue;
    const ref = externalRef(t);
    if (ref.location === model.selfFile) continue;
    if (ref.location !== dataFileName) return undefined;
    const length = tensorByteLength(t);
    if (ref.length >= 0 && ref.length !== length) return undefined;
    ranges.push([ref.offset, ref.offset + length]);
  }
  if (ranges.length === 0) return undefined;
  const file = path.resolve(model.dir, dataFileName);
  const size = (await stat(file)).size;
  ranges.sort((a, b) => a[0] - b[0]);
  let used = 0;
  let end = 0;
  for (const [from, to] of ranges) {
    if (from < end || to > size) return undefined;
    used += to - from;
    end = to;
  }
  if (size - used > CLONE_SLACK_BYTES + size / 100) return undefined;
  const holds = (t: TensorProto) => isExternal(t) && externalRef(t).location === dataFileName;
  return { file, size, holds };
}

const tensorByteLength = (t: TensorProto) => dimsOf(t).reduce((a, b) => a * b, 1) * bytesPerElement(weightDType(t.dataType));

/** Writes the pieces one after the other from `at`; returns how many bytes they held. */
async function writePieces(fh: FileHandle, pieces: AsyncIterable<Uint8Array>, at: number): Promise<number> {
  let done = 0;
  for await (const piece of pieces) {
    await writeAll(fh, piece, at + done);
    done += piece.byteLength;
  }
  return done;
}

async function writeAll(fh: FileHandle, bytes: Uint8Array, at: number): Promise<void> {
  let done = 0;
  while (done < bytes.byteLength) {
    const { bytesWritten } = await fh.write(bytes, done, bytes.byteLength - done, at + done);
    done += bytesWritten;
  }
}

// Protobuf tags (field number << 3 | wire type 2) of the length-delimited fields written by hand.
const TAG_MODEL_GRAPH = 0x3a; // ModelProto.graph = 7
const TAG_GRAPH_INITIALIZER = 0x2a; // GraphProto.initializer = 5
const TAG_TENSOR_RAW_DATA = 0x4a; // TensorProto.raw_data = 9

/**
 * Writes an inline model without ever holding all its weights: protobuf fields may come in any
 * order and a message may be written as concatenated pieces, so the file is the model without its
 * graph, then the graph's length and its non-initializer fields, then each initializer as
 * (header fields ++ raw_data) read one at a time. Sizes are known beforehand from the dims.
 */
async function writeInlineStreaming(proto: ModelProto, outPath: string, contents: (t: TensorProto) => AsyncIterable<Uint8Array>): Promise<void> {
  const g = proto.graph!;
  const inits = g.initializer ?? [];
  const pieces = inits.map((t) => {
    if (!isFloatWeight(t)) return { t, head: onnx.TensorProto.encode(t).finish(), raw: 0 };
    const raw = dimsOf(t).reduce((a, b) => a * b, 1) * bytesPerElement(weightDType(t.dataType));
    return { t, head: onnx.TensorProto.encode(header(t)).finish(), raw };
  });
  const tensorLen = (p: (typeof pieces)[number]) => p.head.length + (p.raw > 0 ? 1 + encodeVarint(p.raw).length + p.raw : 0);
  const { graph: _g, ...rest } = proto;
  const modelRest = onnx.ModelProto.encode(onnx.ModelProto.create({ ...rest })).finish();
  const graphRest = onnx.GraphProto.encode(onnx.GraphProto.create({ ...(g as GraphMessage), initializer: [] })).finish();
  let graphLen = graphRest.length;
  for (const p of pieces) graphLen += 1 + encodeVarint(tensorLen(p)).length + tensorLen(p);
  const fh = await open(outPath, 'w');
  try {
    let at = 0;
    const put = async (b: Uint8Array) => {
      await writeAll(fh, b, at);
      at += b.byteLength;
    };
    await put(modelRest);
    await put(Uint8Array.of(TAG_MODEL_GRAPH));
    await put(encodeVarint(graphLen));
    await put(graphRest);
    for (const p of pieces) {
      await put(Uint8Array.of(TAG_GRAPH_INITIALIZER));
      await put(encodeVarint(tensorLen(p)));
      await put(p.head);
      if (p.raw > 0) {
        await put(Uint8Array.of(TAG_TENSOR_RAW_DATA));
        await put(encodeVarint(p.raw));
        const wrote = await writePieces(fh, contents(p.t), at);
        if (wrote !== p.raw) throw new Error(`initializer ${p.t.name}: ${wrote} bytes read, ${p.raw} expected`);
        at += wrote;
      }
    }
  } finally {
    await fh.close();
  }
}

/** A shallow copy of a model whose graph has the given initializers. */
export function withInitializers(proto: ModelProto, initializer: TensorProto[]): ModelProto {
  const graph = onnx.GraphProto.create({ ...(proto.graph as GraphMessage), initializer });
  return onnx.ModelProto.create({ ...proto, graph });
}
