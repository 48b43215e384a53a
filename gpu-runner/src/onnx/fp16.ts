/**
 * IEEE 754 half <-> single conversion over typed arrays. fp16 weights are widened to fp32 for all
 * math and narrowed back (round to nearest even) only when a model is written.
 */

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24;
  if (exp === 0x1f) return frac ? NaN : sign * Infinity;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

function floatToHalf(x: number): number {
  f32[0] = x;
  const bits = u32[0]!;
  const sign = (bits >>> 16) & 0x8000;
  const exp = (bits >>> 23) & 0xff;
  let mant = bits & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  const e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    // Subnormal half (or zero): shift the implicit bit in and round to nearest even.
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    const half = 1 << (shift - 1);
    const rest = mant & ((1 << shift) - 1);
    let v = mant >>> shift;
    if (rest > half || (rest === half && v & 1)) v++;
    return sign | v;
  }
  let v = (e << 10) | (mant >>> 13);
  const rest = mant & 0x1fff;
  if (rest > 0x1000 || (rest === 0x1000 && v & 1)) v++; // a carry into the exponent is correct rounding
  return sign | v;
}

// A 64K-entry table makes widening a plain indexed copy.
let table: Float32Array | undefined;
function halfTable(): Float32Array {
  if (!table) {
    table = new Float32Array(65536);
    for (let h = 0; h < 65536; h++) table[h] = halfToFloat(h);
  }
  return table;
}

export function fp16ToFp32(src: Uint16Array, out: Float32Array = new Float32Array(src.length)): Float32Array {
  const t = halfTable();
  for (let i = 0; i < src.length; i++) out[i] = t[src[i]!]!;
  return out;
}

export function fp32ToFp16(src: Float32Array, out = new Uint16Array(src.length)): Uint16Array {
  for (let i = 0; i < src.length; i++) out[i] = floatToHalf(src[i]!);
  return out;
}

/**
 * fp16 tensor data comes in two shapes: raw halves in a Uint16Array (Node 20/22), or a native
 * Float16Array (Node 24+), which onnxruntime-common uses for every float16 tensor where it exists,
 * outputs included. Everything that reads or makes fp16 data goes through the helpers below (and
 * `float16Tensor` / `feedable` in ort.ts for tensors), so the engine sees the same bits on both.
 */
const NativeFloat16 = (globalThis as { Float16Array?: new (...args: never[]) => ArrayLike<number> & ArrayBufferView }).Float16Array;

/** Whether this runtime has a native Float16Array (onnxruntime then hands fp16 tensors over as one). */
export const hasNativeFloat16Array = NativeFloat16 !== undefined;

/** Whether `data` is fp16 tensor data: raw halves or a native Float16Array. */
export function isFloat16Data(data: unknown): data is Uint16Array | (ArrayLike<number> & ArrayBufferView) {
  return data instanceof Uint16Array || (NativeFloat16 !== undefined && data instanceof NativeFloat16);
}

/**
 * The raw halves of fp16 tensor data, sharing its memory (no copy): a Uint16Array as it is, a
 * native Float16Array viewed as Uint16Array. Writing to the result changes the tensor.
 */
export function halvesOf(data: unknown): Uint16Array {
  if (data instanceof Uint16Array) return data;
  if (NativeFloat16 && data instanceof NativeFloat16) return new Uint16Array(data.buffer, data.byteOffset, data.byteLength / 2);
  throw new Error(`expected float16 data, got ${Object.prototype.toString.call(data)}`);
}

/**
 * Tensor data as fp32: float32 as it is, float16 from raw halves (Uint16Array) or a native
 * Float16Array, whichever this Node hands over (both widened through the same table).
 */
export function asFloat32(data: unknown): Float32Array {
  if (data instanceof Float32Array) return data;
  if (isFloat16Data(data)) return fp16ToFp32(halvesOf(data));
  throw new Error(`expected float32 or float16 data, got ${Object.prototype.toString.call(data)}`);
}
