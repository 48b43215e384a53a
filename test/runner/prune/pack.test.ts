import { describe, expect, it } from 'vitest';
import { packedByteLength, packLayerMask, packMasks, readMaskFile, unpackLayerMask, unpackMasks, writeMaskFile } from '@polyprune/gpu-runner/prune/pack';
import type { LayerMask } from '@polyprune/gpu-runner/types';
import { lcg } from './reference.js';

function randomMask(id: string, dIn: number, dOut: number, seed: number): LayerMask {
  const r = lcg(seed);
  return { id, dIn, dOut, keep: Uint8Array.from({ length: dIn * dOut }, () => (r() < 0.5 ? 1 : 0)) };
}

/** Plain packer: list bits in [dOut][dIn] order as a JS array, then build bytes with powers of two. */
function refPack(mask: LayerMask): number[] {
  const bits: number[] = [];
  for (let o = 0; o < mask.dOut; o++) for (let i = 0; i < mask.dIn; i++) bits.push(mask.keep[i * mask.dOut + o]!);
  const bytes: number[] = [];
  for (let start = 0; start < bits.length; start += 8) {
    let byte = 0;
    for (let q = 0; q < 8 && start + q < bits.length; q++) byte += bits[start + q]! * 2 ** q;
    bytes.push(byte);
  }
  return bytes;
}

describe('layer bitsets', () => {
  it('puts W[i, o] (runner layout) at bit o·dIn + i, least significant bit first', () => {
    // dIn=3, dOut=4. Keep only W[i=1, o=2] → bit 2·3+1 = 7 → byte 0 = 0b1000_0000.
    const keep = new Uint8Array(12);
    keep[1 * 4 + 2] = 1;
    expect([...packLayerMask({ id: 'a', dIn: 3, dOut: 4, keep }).bits]).toEqual([0x80, 0x00]);
    // Keep only W[i=0, o=3] → bit 9 → byte 1, value 2.
    keep.fill(0);
    keep[0 * 4 + 3] = 1;
    expect([...packLayerMask({ id: 'a', dIn: 3, dOut: 4, keep }).bits]).toEqual([0x00, 0x02]);
  });

  for (const [dIn, dOut] of [
    [1, 1],
    [3, 5],
    [7, 9],
    [13, 17],
    [8, 8],
    [64, 3],
    [129, 31],
  ] as const) {
    it(`round-trips [${dIn}, ${dOut}] and matches the plain packer, padding bits zero`, () => {
      const mask = randomMask('x', dIn, dOut, dIn * 7 + dOut);
      const packed = packLayerMask(mask);
      expect(packed.bits.length).toBe(Math.ceil((dIn * dOut) / 8));
      expect([...packed.bits]).toEqual(refPack(mask));
      expect([...unpackLayerMask(packed).keep]).toEqual([...mask.keep]);
      const used = (dIn * dOut) % 8;
      if (used) expect(packed.bits[packed.bits.length - 1]! >> used).toBe(0);
    });
  }

  it('rejects a bitset of the wrong size', () => {
    expect(() => unpackLayerMask({ id: 'x', dIn: 3, dOut: 3, bits: new Uint8Array(1) })).toThrow(/expected 2/);
  });
});

describe('mask file', () => {
  const masks = [randomMask('block0.q', 5, 7, 1), randomMask('block0.fc1', 16, 3, 2), randomMask('block1.o', 1, 1, 3)];
  const meta = { method: 'wanda', sparsity: 0.5 };

  it('round-trips all layers and the meta', () => {
    const bytes = packMasks(masks, meta);
    const back = unpackMasks(bytes);
    expect(back.meta).toEqual(meta);
    expect(back.masks.map((m) => [m.id, m.dIn, m.dOut, [...m.keep]])).toEqual(masks.map((m) => [m.id, m.dIn, m.dOut, [...m.keep]]));
  });

  it('has the documented layout: magic, LE header length, padded JSON, payload at offsets', () => {
    const bytes = packMasks(masks, meta);
    expect(String.fromCharCode(...bytes.subarray(0, 4))).toBe('PPMK');
    const h = bytes[4]! + bytes[5]! * 256 + bytes[6]! * 65536 + bytes[7]! * 16777216;
    expect((8 + h) % 8).toBe(0);
    const header = JSON.parse(Buffer.from(bytes.subarray(8, 8 + h)).toString('utf8'));
    expect(header).toMatchObject({ format: 'polyprune-mask', version: 1, bitOrder: 'lsb-first', order: 'dOut-major', meta });
    let offset = 0;
    header.layers.forEach((l: { id: string; offset: number; byteLength: number; kept: number }, k: number) => {
      const m = masks[k]!;
      expect(l).toMatchObject({ id: m.id, dIn: m.dIn, dOut: m.dOut, offset, byteLength: packedByteLength(m.dIn, m.dOut) });
      expect(l.kept).toBe(m.keep.reduce((a, b) => a + b, 0));
      expect([...bytes.subarray(8 + h + l.offset, 8 + h + l.offset + l.byteLength)]).toEqual(refPack(m));
      offset += l.byteLength;
    });
    expect(bytes.length).toBe(8 + h + offset);
  });

  it('rejects corrupted files with a message', () => {
    const good = packMasks(masks, meta);
    const badMagic = good.slice();
    badMagic[0] = 0;
    expect(() => readMaskFile(badMagic)).toThrow(/magic/);
    expect(() => readMaskFile(good.subarray(0, good.length - 1))).toThrow(/past the end/);
    const h = good[4]! + good[5]! * 256;
    const flipped = good.slice();
    flipped[8 + h]! ^= 0x01;
    expect(() => readMaskFile(flipped)).toThrow(/kept weights/);
    // block0.q is 5·7 = 35 bits: bits 35..39 of its last byte (byte 4) are padding.
    const padded = good.slice();
    padded[8 + h + 4]! |= 0x80;
    expect(() => readMaskFile(padded)).toThrow(/padding/);
    expect(() => writeMaskFile([packLayerMask(masks[0]!), packLayerMask(masks[0]!)])).toThrow(/duplicate/);
  });

  it('gives per-layer views without copying the payload', () => {
    const bytes = packMasks(masks);
    const file = readMaskFile(bytes);
    expect(file.header.meta).toBeUndefined();
    expect(file.layers[1]!.bits.buffer).toBe(bytes.buffer);
    expect([...unpackLayerMask(file.layers[1]!).keep]).toEqual([...masks[1]!.keep]);
  });
});
