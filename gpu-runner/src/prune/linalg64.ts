/**
 * Float64 dense linear algebra for SparseGPT: Cholesky factorisation and triangular inverse of
 * d_in × d_in Hessians (d_in up to 16,384) and the GEMMs of its weight update.
 *
 * The O(n³) work runs in onnxruntime's CPU Gemm (double is supported there, multithreaded; tens of
 * GFLOP/s where a JS triple loop manages ~1), on one small graph per (transA, transB, alpha, beta)
 * with symbolic shapes; only the b × b diagonal blocks (b = 128) are factorised in JS, so JS does
 * O(n²·b). onnxruntime is already the runner's compute engine, so no new dependency is needed.
 * Matrices are row-major Float64Array (Float32Array where the caller asks for fp32 GEMMs).
 */
import { ort, type Session } from '../ort.js';
import { DataType, onnx } from './../onnx/proto.js';

/** Size of the diagonal blocks factorised in JS. */
export const PANEL = 128;

type Float = Float64Array | Float32Array;

interface GemmKey {
  transA: 0 | 1;
  transB: 0 | 1;
  alpha: number;
  beta: number;
  type: 'float64' | 'float32';
}

function gemmGraph(k: GemmKey, withC: boolean): Uint8Array {
  const elemType = k.type === 'float64' ? DataType.DOUBLE : DataType.FLOAT;
  const vi = (name: string) =>
    onnx.ValueInfoProto.create({
      name,
      type: onnx.TypeProto.create({
        tensorType: onnx.TypeProto.Tensor.create({
          elemType,
          shape: onnx.TensorShapeProto.create({
            dim: [onnx.TensorShapeProto.Dimension.create({ dimParam: `${name}0` }), onnx.TensorShapeProto.Dimension.create({ dimParam: `${name}1` })],
          }),
        }),
      }),
    });
  const f = (name: string, v: number) => onnx.AttributeProto.create({ name, type: onnx.AttributeProto.AttributeType.FLOAT, f: v });
  const i = (name: string, v: number) => onnx.AttributeProto.create({ name, type: onnx.AttributeProto.AttributeType.INT, i: v });
  const inputs = withC ? ['A', 'B', 'C'] : ['A', 'B'];
  const node = onnx.NodeProto.create({
    opType: 'Gemm',
    input: inputs,
    output: ['Y'],
    attribute: [f('alpha', k.alpha), f('beta', withC ? k.beta : 0), i('transA', k.transA), i('transB', k.transB)],
  });
  const graph = onnx.GraphProto.create({ name: 'pp_gemm', node: [node], input: inputs.map(vi), output: [vi('Y')] });
  return onnx.ModelProto.encode(onnx.ModelProto.create({ irVersion: 8, opsetImport: [{ domain: '', version: 13 }], graph })).finish();
}

/** A row-major matrix. */
export interface Mat<T extends Float = Float64Array> {
  rows: number;
  cols: number;
  data: T;
}

/** onnxruntime Gemm sessions, opened on first use and kept until `release`. */
export class Gemm {
  private sessions = new Map<string, Promise<Session>>();

  private session(k: GemmKey, withC: boolean): Promise<Session> {
    const key = `${k.type}/${k.transA}${k.transB}/${k.alpha}/${withC ? k.beta : 'noC'}`;
    let s = this.sessions.get(key);
    if (!s) {
      s = ort.InferenceSession.create(gemmGraph(k, withC), { executionProviders: ['cpu'], graphOptimizationLevel: 'all' });
      this.sessions.set(key, s);
    }
    return s;
  }

  /** alpha·op(A)·op(B) + beta·C (C optional), as a new matrix of A's element type. */
  async run<T extends Float>(
    a: Mat<T>,
    b: Mat<T>,
    opts: { transA?: boolean; transB?: boolean; alpha?: number; beta?: number; c?: Mat<T> } = {},
  ): Promise<Mat<T>> {
    const type = a.data instanceof Float64Array ? 'float64' : 'float32';
    const k: GemmKey = { transA: opts.transA ? 1 : 0, transB: opts.transB ? 1 : 0, alpha: opts.alpha ?? 1, beta: opts.beta ?? 1, type };
    const rows = opts.transA ? a.cols : a.rows;
    const inner = opts.transA ? a.rows : a.cols;
    const cols = opts.transB ? b.rows : b.cols;
    if ((opts.transB ? b.cols : b.rows) !== inner) throw new Error(`gemm: inner dimensions ${inner} and ${opts.transB ? b.cols : b.rows} differ`);
    if (opts.c && (opts.c.rows !== rows || opts.c.cols !== cols)) throw new Error(`gemm: C is ${opts.c.rows}x${opts.c.cols}, expected ${rows}x${cols}`);
    const t = (m: Mat<T>) => new ort.Tensor(type, m.data, [m.rows, m.cols]);
    if (rows === 0 || cols === 0 || inner === 0) {
      const data = (type === 'float64' ? new Float64Array(rows * cols) : new Float32Array(rows * cols)) as T;
      if (opts.c) for (let x = 0; x < data.length; x++) data[x] = (opts.beta ?? 1) * opts.c.data[x]!;
      return { rows, cols, data };
    }
    const s = await this.session(k, !!opts.c);
    const out = await s.run({ A: t(a), B: t(b), ...(opts.c ? { C: t(opts.c) } : {}) });
    return { rows, cols, data: out.Y!.data as T };
  }

  async release(): Promise<void> {
    const all = [...this.sessions.values()];
    this.sessions.clear();
    for (const s of all) await (await s).release();
  }
}

export class NotPositiveDefinite extends Error {}

/** In-place unblocked Cholesky of the n × n block at `a` (row stride `ld`); the upper part is left as is. */
function cholUnblocked(a: Float64Array, off: number, ld: number, n: number, at: number): void {
  for (let j = 0; j < n; j++) {
    const rj = off + j * ld;
    let s = a[rj + j]!;
    for (let k = 0; k < j; k++) s -= a[rj + k]! * a[rj + k]!;
    if (!(s > 0)) throw new NotPositiveDefinite(`matrix is not positive definite (pivot ${at + j} is ${s})`);
    const d = Math.sqrt(s);
    a[rj + j] = d;
    for (let i = j + 1; i < n; i++) {
      const ri = off + i * ld;
      let t = a[ri + j]!;
      for (let k = 0; k < j; k++) t -= a[ri + k]! * a[rj + k]!;
      a[ri + j] = t / d;
    }
  }
}

/** Inverse of the lower-triangular n × n matrix `l` (row-major), by forward substitution. */
function lowerInverseSmall(l: Float64Array, n: number): Float64Array {
  const x = new Float64Array(n * n);
  for (let j = 0; j < n; j++) {
    x[j * n + j] = 1 / l[j * n + j]!;
    for (let i = j + 1; i < n; i++) {
      let s = 0;
      for (let k = j; k < i; k++) s += l[i * n + k]! * x[k * n + j]!;
      x[i * n + j] = -s / l[i * n + i]!;
    }
  }
  return x;
}

function sub(m: Mat, r0: number, r1: number, c0: number, c1: number): Mat {
  const rows = r1 - r0;
  const cols = c1 - c0;
  const data = new Float64Array(rows * cols);
  for (let i = 0; i < rows; i++) data.set(m.data.subarray((r0 + i) * m.cols + c0, (r0 + i) * m.cols + c1), i * cols);
  return { rows, cols, data };
}

function put(m: Mat, r0: number, c0: number, s: Mat): void {
  for (let i = 0; i < s.rows; i++) m.data.set(s.data.subarray(i * s.cols, (i + 1) * s.cols), (r0 + i) * m.cols + c0);
}

/**
 * The lower Cholesky factor L of a symmetric positive definite matrix (H = L·Lᵀ) and its inverse,
 * recursively on halves: with H = [[A, Bᵀ], [B, C]],
 *   (L11, X11) = rec(A);  L21 = B·X11ᵀ;  (L22, X22) = rec(C − L21·L21ᵀ);  X21 = −X22·L21·X11.
 * Four Gemms of half size per level, 4n³/3 flops in all (two thirds of one n×n×n Gemm), and all of
 * them square-ish, which onnxruntime runs near its peak (skinny right-looking panel updates ran at
 * a quarter of it). Blocks of at most `panel` rows are factorised and inverted in JS. Only the
 * lower triangle of `h` is read.
 */
export async function choleskyWithInverse(gemm: Gemm, h: Mat, panel = PANEL, at = 0): Promise<{ l: Mat; inv: Mat }> {
  const n = h.rows;
  if (n <= panel) {
    const d = Float64Array.from(h.data);
    cholUnblocked(d, 0, n, n, at);
    for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) d[i * n + j] = 0;
    return { l: { rows: n, cols: n, data: d }, inv: { rows: n, cols: n, data: lowerInverseSmall(d, n) } };
  }
  const k = Math.ceil(n / 2 / panel) * panel;
  const top = await choleskyWithInverse(gemm, sub(h, 0, k, 0, k), panel, at);
  const l21 = await gemm.run(sub(h, k, n, 0, k), top.inv, { transB: true });
  const schur = await gemm.run(l21, l21, { transB: true, alpha: -1, beta: 1, c: sub(h, k, n, k, n) });
  const bottom = await choleskyWithInverse(gemm, schur, panel, at + k);
  const x21 = await gemm.run(bottom.inv, await gemm.run(l21, top.inv), { alpha: -1 });
  const l: Mat = { rows: n, cols: n, data: new Float64Array(n * n) };
  put(l, 0, 0, top.l);
  put(l, k, 0, l21);
  put(l, k, k, bottom.l);
  const inv: Mat = { rows: n, cols: n, data: new Float64Array(n * n) };
  put(inv, 0, 0, top.inv);
  put(inv, k, 0, x21);
  put(inv, k, k, bottom.inv);
  return { l, inv };
}

/** Lower Cholesky factor L (H = L·Lᵀ); see choleskyWithInverse. */
export async function cholesky(gemm: Gemm, h: Mat, panel = PANEL): Promise<Mat> {
  return (await choleskyWithInverse(gemm, h, panel)).l;
}

/**
 * L⁻¹ of a lower-triangular matrix, recursively: [[A, 0], [B, C]]⁻¹ = [[A⁻¹, 0], [−C⁻¹·B·A⁻¹, C⁻¹]],
 * the off-diagonal block as two Gemms; blocks of at most `panel` rows by forward substitution.
 */
export async function lowerInverse(gemm: Gemm, l: Mat, panel = PANEL): Promise<Mat> {
  const n = l.rows;
  if (n <= panel) return { rows: n, cols: n, data: lowerInverseSmall(l.data, n) };
  const h = Math.ceil(n / 2 / panel) * panel;
  const ai = await lowerInverse(gemm, sub(l, 0, h, 0, h), panel);
  const ci = await lowerInverse(gemm, sub(l, h, n, h, n), panel);
  const bai = await gemm.run(sub(l, h, n, 0, h), ai);
  const x21 = await gemm.run(ci, bai, { alpha: -1 });
  const x: Mat = { rows: n, cols: n, data: new Float64Array(n * n) };
  put(x, 0, 0, ai);
  put(x, h, 0, x21);
  put(x, h, h, ci);
  return x;
}

/** J·M·J: rows and columns in reverse order. */
export function reversed(m: Mat): Mat {
  const n = m.rows;
  const out = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) out[(n - 1 - i) * n + (n - 1 - j)] = m.data[i * n + j]!;
  return { rows: n, cols: n, data: out };
}

/**
 * The upper Cholesky factor U of H⁻¹ (H⁻¹ = Uᵀ·U), what upstream SparseGPT gets from
 * cholesky(cholesky_inverse(cholesky(H)), upper=True). With J the reversal, chol(J·H·J) = L̃ gives
 * H = V·Vᵀ for the upper V = J·L̃·J, so H⁻¹ = (V⁻¹)ᵀ·V⁻¹ and, Cholesky factors being unique,
 * U = V⁻¹ = J·L̃⁻¹·J: one factorisation and one triangular inverse instead of two and a full inverse.
 */
export async function inverseUpperCholesky(gemm: Gemm, h: Mat, panel = PANEL): Promise<Mat> {
  return reversed((await choleskyWithInverse(gemm, reversed(h), panel)).inv);
}
