/**
 * Reads what an ONNX ModelProto refers to — external-data files, ops, graph inputs/outputs —
 * straight off the protobuf wire format, without decoding tensors: a graph with inline weights
 * (up to 2 GB) is walked by skipping every length-delimited field it does not descend into, so
 * raw_data is never read. Sources are random-access (bytes in memory, or R2 range reads in ~1 MiB
 * windows), so a skip costs nothing but the next window's read.
 */
import type { GraphInfo } from '@polyprune/shared/model-files';

export interface ByteSource {
  size: number;
  /** exactly `length` bytes at `offset` (the reader never asks past the end) */
  read(offset: number, length: number): Promise<Uint8Array>;
}

/** Not protobuf, or protobuf that is not an ONNX ModelProto; the message is one line. */
export class InvalidOnnx extends Error {}

export const bytesSource = (b: Uint8Array): ByteSource => ({ size: b.byteLength, read: async (o, n) => b.subarray(o, o + n) });

export function r2Source(bucket: R2Bucket, key: string, size: number): ByteSource {
  return {
    size,
    async read(offset, length) {
      const obj = await bucket.get(key, { range: { offset, length } });
      if (!obj) throw new Error(`object ${key} vanished while scanning it`);
      return new Uint8Array(await obj.arrayBuffer());
    },
  };
}

const WINDOW = 1 << 20;
/** Names and op types are short; anything longer is not a graph we can read (and must not be buffered). */
const MAX_STRING = 1 << 20;
/** Subgraphs nest (If inside Loop inside BeamSearch) but never this deep. */
const MAX_DEPTH = 64;

const bad = (why: string) => new InvalidOnnx(why);

/** A cursor over a ByteSource with one buffered window; sync reads inside it, async refills. */
class Reader {
  private buf: Uint8Array = new Uint8Array(0);
  private base = 0;
  pos = 0;
  constructor(
    private readonly src: ByteSource,
    private readonly window: number,
  ) {}

  /** Whether the next n bytes are in the window (checked first: most fields need no await at all). */
  has(n: number) {
    return this.pos >= this.base && this.pos + n <= this.base + this.buf.length;
  }

  /** Makes the next min(n, bytes left) bytes readable without awaiting. */
  async ensure(n: number) {
    if (n === 0 || this.has(n)) return;
    const len = Math.min(Math.max(n, this.window), this.src.size - this.pos);
    if (len <= 0) throw bad(`truncated at byte ${this.pos}`);
    this.buf = await this.src.read(this.pos, len);
    this.base = this.pos;
  }

  varint(): number {
    let v = 0;
    let mul = 1;
    for (let i = 0; i < 10; i++) {
      const at = this.pos - this.base;
      if (at >= this.buf.length) throw bad(`truncated varint at byte ${this.pos}`);
      const b = this.buf[at]!;
      this.pos++;
      v += (b & 0x7f) * mul; // multiplication, not shifts: lengths and int64 exceed 32 bits
      if (b < 0x80) return v;
      mul *= 128;
    }
    throw bad(`varint longer than 10 bytes at byte ${this.pos}`);
  }

  async string(len: number): Promise<string> {
    if (len > MAX_STRING) throw bad(`a ${len}-byte name at byte ${this.pos}`);
    if (!this.has(len)) await this.ensure(len);
    const at = this.pos - this.base;
    if (at + len > this.buf.length) throw bad(`truncated at byte ${this.pos}`);
    this.pos += len;
    try {
      return utf8.decode(this.buf.subarray(at, at + len));
    } catch {
      throw bad(`invalid UTF-8 in a string at byte ${this.pos - len}`);
    }
  }
}

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false });

interface Field {
  num: number;
  wire: number;
  /** varint value, or byte length of a length-delimited field */
  value: number;
  /** absolute end of a length-delimited field's payload */
  end: number;
}

/**
 * Calls `each` for every field of the message ending at `end`. Length-delimited fields `each`
 * does not consume (leaves r.pos at the payload start) are skipped without reading them.
 */
async function fields(r: Reader, end: number, what: string, each: (f: Field) => Promise<void> | void) {
  while (r.pos < end) {
    const head = Math.min(20, end - r.pos);
    if (!r.has(head)) await r.ensure(head);
    const at = r.pos;
    const tag = r.varint();
    const num = Math.floor(tag / 8);
    const wire = tag % 8;
    if (num === 0) throw bad(`field number 0 in ${what} at byte ${at}`);
    let value = 0;
    if (wire === 0) value = r.varint();
    else if (wire === 1) r.pos += 8;
    else if (wire === 5) r.pos += 4;
    else if (wire === 2) value = r.varint();
    else throw bad(`wire type ${wire} (field ${num} of ${what}) at byte ${at}: not ONNX protobuf`);
    const start = r.pos;
    const fieldEnd = wire === 2 ? start + value : start;
    if (fieldEnd > end) throw bad(`field ${num} of ${what} at byte ${at} runs past its message (truncated or not protobuf)`);
    const pending = each({ num, wire, value, end: fieldEnd });
    if (pending) await pending;
    if (wire === 2) {
      if (r.pos !== start && r.pos !== fieldEnd) throw bad(`field ${num} of ${what} at byte ${at} is malformed`);
      r.pos = fieldEnd;
    }
  }
  if (r.pos !== end) throw bad(`${what} ends inside a field (byte ${r.pos}, expected ${end})`);
}

function expectWire(f: Field, wire: number, what: string) {
  if (f.wire !== wire) throw bad(`field ${f.num} of ${what} has wire type ${f.wire}, expected ${wire}`);
}

interface Acc {
  externalData: Set<string>;
  ops: Set<string>;
}

// TensorProto: raw_data=9 (skipped), external_data=13 (key=1, value=2), data_location=14 (1 = EXTERNAL).
async function tensor(r: Reader, end: number, acc: Acc) {
  let location: string | undefined;
  let external = false;
  await fields(r, end, 'TensorProto', async (f) => {
    if (f.num === 14) {
      expectWire(f, 0, 'TensorProto');
      external = f.value === 1;
    } else if (f.num === 13) {
      expectWire(f, 2, 'TensorProto');
      let key: string | undefined;
      let value: string | undefined;
      await fields(r, f.end, 'StringStringEntryProto', async (e) => {
        if (e.num === 1 && e.wire === 2) key = await r.string(e.value);
        else if (e.num === 2 && e.wire === 2) value = await r.string(e.value);
      });
      if (key === 'location') location = value;
    }
  });
  // onnxruntime reads external data only for data_location EXTERNAL; so do we.
  if (external) {
    if (!location) throw bad('a tensor with external data names no location');
    acc.externalData.add(location.replace(/^(\.\/)+/, ''));
  }
}

// SparseTensorProto: values=1, indices=2 (both TensorProto, either may be external).
async function sparseTensor(r: Reader, end: number, acc: Acc) {
  await fields(r, end, 'SparseTensorProto', async (f) => {
    if ((f.num === 1 || f.num === 2) && f.wire === 2) await tensor(r, f.end, acc);
  });
}

// AttributeProto: t=5, g=6, tensors=10, graphs=11, sparse_tensor=22, sparse_tensors=23.
async function attribute(r: Reader, end: number, acc: Acc, depth: number) {
  await fields(r, end, 'AttributeProto', async (f) => {
    if (f.wire !== 2) return;
    if (f.num === 6 || f.num === 11) await graph(r, f.end, acc, depth + 1);
    else if (f.num === 5 || f.num === 10) await tensor(r, f.end, acc);
    else if (f.num === 22 || f.num === 23) await sparseTensor(r, f.end, acc);
  });
}

// NodeProto: op_type=4, domain=7, attribute=5.
async function node(r: Reader, end: number, acc: Acc, depth: number) {
  let op: string | undefined;
  let domain = '';
  await fields(r, end, 'NodeProto', async (f) => {
    if (f.num === 4) {
      expectWire(f, 2, 'NodeProto');
      op = await r.string(f.value);
    } else if (f.num === 7) {
      expectWire(f, 2, 'NodeProto');
      domain = await r.string(f.value);
    } else if (f.num === 5) {
      expectWire(f, 2, 'NodeProto');
      await attribute(r, f.end, acc, depth);
    }
  });
  if (!op) throw bad('a node without op_type');
  acc.ops.add(`${domain === '' || domain === 'ai.onnx' ? 'ai.onnx' : domain}:${op}`);
}

// ValueInfoProto: name=1.
async function valueName(r: Reader, end: number): Promise<string> {
  let name = '';
  await fields(r, end, 'ValueInfoProto', async (f) => {
    if (f.num === 1 && f.wire === 2) name = await r.string(f.value);
  });
  return name;
}

// GraphProto: node=1, initializer=5, input=11, output=12, sparse_initializer=15.
async function graph(r: Reader, end: number, acc: Acc, depth: number, io?: { inputs: string[]; outputs: string[] }) {
  if (depth > MAX_DEPTH) throw bad(`subgraphs nested deeper than ${MAX_DEPTH}`);
  await fields(r, end, 'GraphProto', async (f) => {
    if (f.wire !== 2) return;
    if (f.num === 1) await node(r, f.end, acc, depth);
    else if (f.num === 5) await tensor(r, f.end, acc);
    else if (f.num === 15) await sparseTensor(r, f.end, acc);
    else if (io && f.num === 11) io.inputs.push(await valueName(r, f.end));
    else if (io && f.num === 12) io.outputs.push(await valueName(r, f.end));
  });
}

/** Scans a ModelProto (ir_version=1, graph=7, opset_import=8: what onnxruntime requires). Throws InvalidOnnx for anything else. */
export async function scanOnnx(src: ByteSource, window = WINDOW): Promise<GraphInfo> {
  const r = new Reader(src, window);
  const acc: Acc = { externalData: new Set(), ops: new Set() };
  const io = { inputs: [] as string[], outputs: [] as string[] };
  let irVersion = false;
  let opsets = 0;
  let graphs = 0;
  if (src.size === 0) throw bad('empty file');
  await fields(r, src.size, 'ModelProto', async (f) => {
    if (f.num === 1) {
      expectWire(f, 0, 'ModelProto');
      irVersion = true;
    } else if (f.num === 7) {
      expectWire(f, 2, 'ModelProto');
      graphs++;
      await graph(r, f.end, acc, 0, io);
    } else if (f.num === 8) {
      expectWire(f, 2, 'ModelProto');
      opsets++;
    }
  });
  if (!irVersion) throw bad('no ir_version: not an ONNX ModelProto');
  if (graphs !== 1) throw bad(graphs ? 'more than one graph' : 'no graph: not an ONNX ModelProto');
  if (!opsets) throw bad('no opset_import: not an ONNX ModelProto');
  return { externalData: [...acc.externalData].sort(), ops: [...acc.ops].sort(), inputs: io.inputs, outputs: io.outputs };
}

export const scanOnnxBytes = (bytes: Uint8Array) => scanOnnx(bytesSource(bytes), Math.max(bytes.byteLength, 1));
