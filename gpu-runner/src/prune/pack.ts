/**
 * Masks as packed bitsets, and the file that holds all masks of a model (docs/mask-format.md).
 *
 * Bit layout of one layer (PackedMask.bits)
 * -----------------------------------------
 *   1 bit per weight, 1 = keep, 0 = pruned.
 *   Weights are numbered in PyTorch row-major order of the [dOut][dIn] weight (nn.Linear.weight):
 *     b = o·dIn + i        (o: output neuron, i: input channel)
 *   Bit b lives in byte ⌊b/8⌋ at bit position b mod 8, least significant bit first:
 *     keep(o, i) = (bits[b >> 3] >> (b & 7)) & 1
 *   Length ⌈dIn·dOut/8⌉ bytes; unused high bits of the last byte are 0.
 *   PyTorch order (not the runner's [dIn, dOut]) so that a row of bits is one output neuron, the unit
 *   masks are chosen in, and so that `torch.from_numpy(np.unpackbits(b, bitorder='little'))` reshaped
 *   to [dOut, dIn] is the mask of nn.Linear.weight directly.
 *
 * Container (all layers of one model)
 * -----------------------------------
 *   offset 0      4 bytes   magic "PPMK"
 *   offset 4      4 bytes   uint32 little-endian H: byte length of the JSON header (incl. padding)
 *   offset 8      H bytes   UTF-8 JSON header, right-padded with spaces so the payload starts at a
 *                           multiple of 8
 *   offset 8+H    payload   the layers' bitsets, back to back, at the offsets the header gives
 *
 *   header = { format: "polyprune-mask", version: 1, bitOrder: "lsb-first", order: "dOut-major",
 *              layers: [{ id, dIn, dOut, offset, byteLength, kept }], meta?: {...} }
 *   offset is relative to the payload start; kept is the number of 1 bits (checked on read).
 */
import type { LayerMask } from '../types.js';

export interface PackedMask {
  id: string;
  dIn: number;
  dOut: number;
  /** ⌈dIn·dOut/8⌉ bytes, layout above. */
  bits: Uint8Array;
}

export interface MaskFileLayer {
  id: string;
  dIn: number;
  dOut: number;
  offset: number;
  byteLength: number;
  kept: number;
}

export interface MaskFileHeader {
  format: 'polyprune-mask';
  version: 1;
  bitOrder: 'lsb-first';
  order: 'dOut-major';
  layers: MaskFileLayer[];
  /** Free JSON the writer attaches (method, sparsity, model sha256, …). */
  meta?: Record<string, unknown>;
}

const MAGIC = [0x50, 0x50, 0x4d, 0x4b]; // "PPMK"
const PREFIX = 8;

export function packedByteLength(dIn: number, dOut: number): number {
  return Math.ceil((dIn * dOut) / 8);
}

const POPCOUNT = new Uint8Array(256);
for (let v = 1; v < 256; v++) POPCOUNT[v] = (v & 1) + POPCOUNT[v >> 1]!;

export function popcount(bits: Uint8Array): number {
  let n = 0;
  for (let x = 0; x < bits.length; x++) n += POPCOUNT[bits[x]!]!;
  return n;
}

export function packLayerMask(mask: LayerMask): PackedMask {
  const { id, dIn, dOut, keep } = mask;
  if (keep.length !== dIn * dOut) throw new Error(`mask ${id} has ${keep.length} entries, expected ${dIn}·${dOut}`);
  const bits = new Uint8Array(packedByteLength(dIn, dOut));
  // Read the [dIn, dOut] mask contiguously; the writes stride by dIn bits.
  for (let i = 0; i < dIn; i++) {
    const row = i * dOut;
    for (let o = 0; o < dOut; o++) {
      if (keep[row + o] !== 0) {
        const b = o * dIn + i;
        bits[b >>> 3]! |= 1 << (b & 7);
      }
    }
  }
  return { id, dIn, dOut, bits };
}

export function unpackLayerMask(packed: PackedMask): LayerMask {
  const { id, dIn, dOut, bits } = packed;
  if (bits.length !== packedByteLength(dIn, dOut)) {
    throw new Error(`packed mask ${id} has ${bits.length} bytes, expected ${packedByteLength(dIn, dOut)} for [${dOut}, ${dIn}]`);
  }
  const keep = new Uint8Array(dIn * dOut);
  for (let i = 0; i < dIn; i++) {
    const row = i * dOut;
    for (let o = 0; o < dOut; o++) {
      const b = o * dIn + i;
      keep[row + o] = (bits[b >>> 3]! >>> (b & 7)) & 1;
    }
  }
  return { id, dIn, dOut, keep };
}

/** Serializes packed layers (in the given order) into one container. */
export function writeMaskFile(layers: readonly PackedMask[], meta?: Record<string, unknown>): Uint8Array {
  const seen = new Set<string>();
  let offset = 0;
  const entries: MaskFileLayer[] = layers.map((l) => {
    if (seen.has(l.id)) throw new Error(`duplicate layer id ${l.id}`);
    seen.add(l.id);
    if (l.bits.length !== packedByteLength(l.dIn, l.dOut)) throw new Error(`packed mask ${l.id} has the wrong byte length`);
    const e = { id: l.id, dIn: l.dIn, dOut: l.dOut, offset, byteLength: l.bits.length, kept: popcount(l.bits) };
    offset += l.bits.length;
    return e;
  });
  const header: MaskFileHeader = {
    format: 'polyprune-mask',
    version: 1,
    bitOrder: 'lsb-first',
    order: 'dOut-major',
    layers: entries,
    ...(meta ? { meta } : {}),
  };
  const json = new TextEncoder().encode(JSON.stringify(header));
  const headerLength = Math.ceil(json.length / 8) * 8;
  const out = new Uint8Array(PREFIX + headerLength + offset);
  out.set(MAGIC, 0);
  new DataView(out.buffer).setUint32(4, headerLength, true);
  out.fill(0x20, PREFIX, PREFIX + headerLength);
  out.set(json, PREFIX);
  const payload = PREFIX + headerLength;
  layers.forEach((l, k) => out.set(l.bits, payload + entries[k]!.offset));
  return out;
}

export interface MaskFile {
  header: MaskFileHeader;
  /** Views into the input bytes (no copy): unpack one layer at a time for large models. */
  layers: PackedMask[];
}

function fail(msg: string): never {
  throw new Error(`invalid mask file: ${msg}`);
}

/**
 * Parses and checks the magic and JSON header. `head` holds at least the first 8 + H bytes of a file
 * of `fileLength` bytes; layer bounds are checked against the file length.
 */
export function parseMaskHeader(head: Uint8Array, fileLength: number): { header: MaskFileHeader; payload: number } {
  if (head.length < PREFIX || MAGIC.some((m, k) => head[k] !== m)) fail('missing "PPMK" magic');
  const headerLength = new DataView(head.buffer, head.byteOffset, head.byteLength).getUint32(4, true);
  if (PREFIX + headerLength > fileLength) fail(`header length ${headerLength} exceeds the file (${fileLength} bytes)`);
  if (PREFIX + headerLength > head.length) fail(`header of ${headerLength} bytes not read whole`);
  let header: MaskFileHeader;
  try {
    header = JSON.parse(new TextDecoder().decode(head.subarray(PREFIX, PREFIX + headerLength)));
  } catch (err) {
    fail(`header is not JSON (${(err as Error).message})`);
  }
  if (header.format !== 'polyprune-mask') fail(`format is ${JSON.stringify(header.format)}, expected "polyprune-mask"`);
  if (header.version !== 1) fail(`version ${header.version} not supported (expected 1)`);
  if (header.bitOrder !== 'lsb-first' || header.order !== 'dOut-major') fail('unsupported bitOrder/order');
  if (!Array.isArray(header.layers)) fail('header.layers is not an array');
  const payload = PREFIX + headerLength;
  for (const l of header.layers) {
    const dimsOk = [l.dIn, l.dOut, l.offset, l.byteLength].every((v) => Number.isInteger(v) && v >= 0);
    if (typeof l.id !== 'string' || !dimsOk) fail(`bad layer entry ${JSON.stringify(l)}`);
    if (l.byteLength !== packedByteLength(l.dIn, l.dOut)) fail(`layer ${l.id}: byteLength ${l.byteLength} ≠ ⌈${l.dIn}·${l.dOut}/8⌉`);
    if (payload + l.offset + l.byteLength > fileLength) fail(`layer ${l.id} runs past the end of the file`);
  }
  if (new Set(header.layers.map((l) => l.id)).size !== header.layers.length) fail('duplicate layer ids');
  return { header, payload };
}

/** One layer's bits checked against its header entry: zero padding bits and the 1-bit count. */
export function checkedLayer(l: MaskFileLayer, bits: Uint8Array): PackedMask {
  if (bits.length !== l.byteLength) fail(`layer ${l.id}: ${bits.length} bytes read, header says ${l.byteLength}`);
  const used = (l.dIn * l.dOut) % 8;
  if (used !== 0 && bits[bits.length - 1]! >>> used !== 0) fail(`layer ${l.id}: padding bits are not zero`);
  if (popcount(bits) !== l.kept) fail(`layer ${l.id}: ${popcount(bits)} kept weights, header says ${l.kept}`);
  return { id: l.id, dIn: l.dIn, dOut: l.dOut, bits };
}

/** Parses and checks a container: magic, header fields, bounds, byte lengths and 1-bit counts. */
export function readMaskFile(bytes: Uint8Array): MaskFile {
  const { header, payload } = parseMaskHeader(bytes, bytes.length);
  const layers = header.layers.map((l) => checkedLayer(l, bytes.subarray(payload + l.offset, payload + l.offset + l.byteLength)));
  return { header, layers };
}

/** All masks of a model → one container. */
export function packMasks(masks: Iterable<LayerMask>, meta?: Record<string, unknown>): Uint8Array {
  return writeMaskFile([...masks].map(packLayerMask), meta);
}

/** One container → all masks, unpacked to the runner's [dIn, dOut] layout. */
export function unpackMasks(bytes: Uint8Array): { meta: Record<string, unknown> | undefined; masks: LayerMask[] } {
  const file = readMaskFile(bytes);
  return { meta: file.header.meta, masks: file.layers.map(unpackLayerMask) };
}
