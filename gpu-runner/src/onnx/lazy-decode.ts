/**
 * Decoding a model file without reading its inline weights: the file is walked as protobuf
 * (ModelProto → graph → initializer → raw_data) through a small buffered reader, every field but
 * a large raw_data is collected and decoded with onnx-proto, and each large raw_data becomes an
 * external reference to its own bytes in the model file. Peak memory is the graph structure, not
 * the weights.
 */
import { open, type FileHandle } from 'node:fs/promises';
import { encodeVarint, onnx, type ModelProto, type TensorProto } from './proto.js';
import { readFully } from './read-fully.js';

const CHUNK = 1 << 20;
// Field numbers of the messages walked here (onnx.proto).
const MODEL_GRAPH = 7;
const GRAPH_INITIALIZER = 5;
const TENSOR_DATA_TYPE = 2;
const TENSOR_RAW_DATA = 9;

class FileReader {
  private buf = new Uint8Array(0);
  private start = 0; // file offset of buf[0]
  pos = 0;
  constructor(
    private fh: FileHandle,
    readonly size: number,
  ) {}

  private async ensure(n: number): Promise<void> {
    if (this.pos >= this.start && this.pos + n <= this.start + this.buf.length) return;
    const want = Math.max(n, CHUNK);
    const next = new Uint8Array(Math.min(want, this.size - this.pos));
    let done = 0;
    while (done < next.length) {
      const { bytesRead } = await this.fh.read(next, done, next.length - done, this.pos + done);
      if (bytesRead === 0) break;
      done += bytesRead;
    }
    if (done < n) throw new Error(`truncated ONNX file: needed ${n} bytes at offset ${this.pos}, file has ${this.size}`);
    this.buf = next;
    this.start = this.pos;
  }

  async varint(): Promise<number> {
    let result = 0;
    let scale = 1;
    for (let i = 0; i < 10; i++) {
      await this.ensure(1);
      const b = this.buf[this.pos - this.start]!;
      this.pos++;
      result += (b & 0x7f) * scale;
      if (b < 0x80) return result;
      scale *= 128;
    }
    throw new Error(`malformed varint at offset ${this.pos}`);
  }

  async bytes(n: number): Promise<Uint8Array> {
    if (n > CHUNK) {
      const out = new Uint8Array(n);
      await readFully(this.fh, out, this.pos, `truncated ONNX file: needed ${n} bytes at offset ${this.pos}, file has ${this.size}`);
      this.pos += n;
      return out;
    }
    await this.ensure(n);
    const out = this.buf.slice(this.pos - this.start, this.pos - this.start + n);
    this.pos += n;
    return out;
  }

  skip(n: number): void {
    if (this.pos + n > this.size) throw new Error(`truncated ONNX file: field of ${n} bytes at offset ${this.pos}`);
    this.pos += n;
  }
}

/** Collected (tag, value) pieces re-assembled into one message encoding. */
class Pieces {
  parts: Uint8Array[] = [];
  add(...p: Uint8Array[]) {
    this.parts.push(...p);
  }
  join(): Uint8Array {
    const out = new Uint8Array(this.parts.reduce((s, p) => s + p.length, 0));
    let at = 0;
    for (const p of this.parts) {
      out.set(p, at);
      at += p.length;
    }
    return out;
  }
}

/** Reads one field's value (after its tag) and returns its encoded bytes (tag included). */
async function copyField(r: FileReader, tag: number): Promise<Uint8Array> {
  const wire = tag & 7;
  const head = encodeVarint(tag);
  if (wire === 0) return concat(head, encodeVarint(await r.varint()));
  if (wire === 1) return concat(head, await r.bytes(8));
  if (wire === 5) return concat(head, await r.bytes(4));
  if (wire === 2) {
    const n = await r.varint();
    return concat(head, encodeVarint(n), await r.bytes(n));
  }
  throw new Error(`unsupported protobuf wire type ${wire} at offset ${r.pos}`);
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const p = new Pieces();
  p.add(...parts);
  return p.join();
}

export interface LazyDecodeOptions {
  /** raw_data at least this large is left in the file. */
  minBytes: number;
  /** Whether a tensor of this data type may be left in the file (float weights only). */
  lazyType: (dataType: number) => boolean;
  /** The name external references use for the model file itself. */
  selfName: string;
}

async function readTensor(r: FileReader, end: number, opts: LazyDecodeOptions): Promise<TensorProto> {
  const rest = new Pieces();
  let raw: { offset: number; length: number } | undefined;
  let dataType = 0;
  while (r.pos < end) {
    const tag = await r.varint();
    const field = Math.floor(tag / 8);
    if (field === TENSOR_RAW_DATA && (tag & 7) === 2) {
      const n = await r.varint();
      raw = { offset: r.pos, length: n };
      r.skip(n);
      continue;
    }
    const bytes = await copyField(r, tag);
    if (field === TENSOR_DATA_TYPE && (tag & 7) === 0) dataType = onnx.TensorProto.decode(bytes).dataType ?? 0;
    rest.add(bytes);
  }
  const t = onnx.TensorProto.decode(rest.join());
  if (raw) {
    if (raw.length >= opts.minBytes && opts.lazyType(dataType)) {
      t.dataLocation = onnx.TensorProto.DataLocation.EXTERNAL;
      t.externalData = [
        onnx.StringStringEntryProto.create({ key: 'location', value: opts.selfName }),
        onnx.StringStringEntryProto.create({ key: 'offset', value: String(raw.offset) }),
        onnx.StringStringEntryProto.create({ key: 'length', value: String(raw.length) }),
      ];
    } else {
      const save = r.pos;
      r.pos = raw.offset;
      t.rawData = await r.bytes(raw.length);
      r.pos = save;
    }
  }
  return t;
}

/** Decodes `file` leaving large float raw_data in place; returns the model and how many were left. */
export async function decodeModelLazily(file: string, opts: LazyDecodeOptions): Promise<{ proto: ModelProto; lazy: number }> {
  const fh = await open(file, 'r');
  try {
    const r = new FileReader(fh, (await fh.stat()).size);
    const modelRest = new Pieces();
    const graphRest = new Pieces();
    const initializers: TensorProto[] = [];
    let sawGraph = false;
    while (r.pos < r.size) {
      const tag = await r.varint();
      if (Math.floor(tag / 8) !== MODEL_GRAPH || (tag & 7) !== 2) {
        modelRest.add(await copyField(r, tag));
        continue;
      }
      sawGraph = true;
      const graphLen = await r.varint(); // read before taking r.pos: the length precedes the body
      const end = r.pos + graphLen;
      while (r.pos < end) {
        const gtag = await r.varint();
        if (Math.floor(gtag / 8) === GRAPH_INITIALIZER && (gtag & 7) === 2) {
          const tensorLen = await r.varint();
          const tend = r.pos + tensorLen;
          initializers.push(await readTensor(r, tend, opts));
          r.pos = tend;
        } else graphRest.add(await copyField(r, gtag));
      }
    }
    if (!sawGraph) throw new Error('ONNX model has no graph');
    const proto = onnx.ModelProto.decode(modelRest.join());
    proto.graph = onnx.GraphProto.decode(graphRest.join());
    proto.graph.initializer = initializers;
    return {
      proto,
      lazy: initializers.filter((t) => t.dataLocation === onnx.TensorProto.DataLocation.EXTERNAL && t.externalData?.[0]?.value === opts.selfName).length,
    };
  } finally {
    await fh.close();
  }
}
