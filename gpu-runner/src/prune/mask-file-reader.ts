/**
 * masks.bin read from disk one layer at a time: comparing the masks of several runs of a large model
 * needs one layer of each in memory, never whole files (a 7B model's masks are ~0.8 GB per run).
 */
import { open, type FileHandle } from 'node:fs/promises';
import { checkedLayer, type MaskFileHeader, type PackedMask, parseMaskHeader } from './pack.js';

export interface MaskFileReader {
  header: MaskFileHeader;
  /** Reads and checks one layer (padding bits, 1-bit count). */
  layer(id: string): Promise<PackedMask>;
  close(): Promise<void>;
}

export async function openMaskFile(file: string): Promise<MaskFileReader> {
  const fh: FileHandle = await open(file, 'r');
  try {
    const size = (await fh.stat()).size;
    const prefix = new Uint8Array(Math.min(8, size));
    await fh.read(prefix, 0, prefix.length, 0);
    const headerLength = prefix.length === 8 ? new DataView(prefix.buffer).getUint32(4, true) : 0;
    const head = new Uint8Array(Math.min(size, 8 + headerLength));
    await fh.read(head, 0, head.length, 0);
    const { header, payload } = parseMaskHeader(head, size);
    const byId = new Map(header.layers.map((l) => [l.id, l]));
    return {
      header,
      async layer(id) {
        const l = byId.get(id);
        if (!l) throw new Error(`${file}: no layer ${id}`);
        const bits = new Uint8Array(l.byteLength);
        const { bytesRead } = await fh.read(bits, 0, l.byteLength, payload + l.offset);
        if (bytesRead !== l.byteLength) throw new Error(`invalid mask file: layer ${id} truncated (${bytesRead} of ${l.byteLength} bytes)`);
        return checkedLayer(l, bits);
      },
      close: () => fh.close(),
    };
  } catch (err) {
    await fh.close();
    throw err;
  }
}
