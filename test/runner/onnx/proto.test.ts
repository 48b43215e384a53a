/**
 * The varint the hand-written protobuf (streamed model writes, lazily decoded fields) is built
 * from, against protobufjs's own encoding of the same value: a byte of difference would make a file
 * onnxruntime and onnx-proto read differently from what was meant.
 */
import { describe, expect, it } from 'vitest';
import { encodeVarint, onnx } from '@polyprune/gpu-runner/onnx/proto';

/** protobufjs's bytes for n: ModelProto.ir_version is an int64 field 1, so its encoding is tag 0x08 then n's varint. */
function reference(n: number): Uint8Array {
  const bytes = onnx.ModelProto.encode(onnx.ModelProto.create({ irVersion: n })).finish();
  expect(bytes[0]).toBe(0x08);
  return bytes.subarray(1);
}

describe('encodeVarint', () => {
  it('is the bytes protobufjs writes, around every 7-bit boundary and past 2^32', () => {
    const values = [1, 2, 127, 128, 300, 16_383, 16_384, 2 ** 31 - 1, 2 ** 31, 2 ** 32 - 1, 2 ** 32, 2 ** 32 + 1, 5_000_000_000, 2 ** 53 - 1];
    for (let k = 7; k <= 49; k += 7) values.push(2 ** k - 1, 2 ** k, 2 ** k + 1);
    for (const n of values) expect(Array.from(encodeVarint(n)), String(n)).toEqual(Array.from(reference(n)));
  });

  it('0 is one zero byte (protobufjs leaves a default 0 out, so it has no reference here)', () => {
    expect(Array.from(encodeVarint(0))).toEqual([0]);
  });
});
