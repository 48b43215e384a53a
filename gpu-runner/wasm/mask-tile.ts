// Per-output-neuron mask selection (Wanda's "row", a column o of the canonical [dIn, dOut] layout)
// for one tile of up to 64 neurons, in AssemblyScript compiled to WebAssembly with SIMD. The
// semantics are prune/masks.ts selectRowMask's exactly: drop the k lowest keys of each neuron, ties
// by lower input index first. The weights (or scores) and the mask are read and written in place
// in a shared memory the module imports (gpu-runner/src/prune/wasm-heap.ts), which every mask
// thread's instance shares; each thread has its own scratch there. `npm run build:wasm` compiles
// this file to gpu-runner/src/prune/mask-tile.wasm (test/runner/prune/mask-tile.test.ts checks that
// the two agree).
//
// Why WebAssembly: the same algorithm in JavaScript cost ~10–13 ns a weight, most of it scalar
// float work and bounds checks that SIMD does four lanes at a time; here a tile costs ~3.5 ns.

/** Neurons a tile (the most selectTile takes): 256 bytes of each input's row are read together. */
const TILE: usize = 64;
const COUNTS: u32 = 4096;
/**
 * A neuron's keys start a cache line further than dIn·4 bytes after the previous one's: at dIn
 * 1024 or 4096 the 64 neurons' keys otherwise share one L1 set (4 KiB aliasing), and writing a row's
 * keys into them costs 4× as much (measured: 3.8 vs 1.0 ns a weight).
 */
const COLUMN_PAD: usize = 16;

// Scratch, from the base selectTile is given (scratchBytes long): where each part starts.
let keysAt: usize = 0;
let factorsAt: usize = 0;
let countsAt: usize = 0;
let candAt: usize = 0;
let nextAt: usize = 0;
let minAt: usize = 0;
let maxAt: usize = 0;
let thresholdAt: usize = 0;
let cutAt: usize = 0;
let lanesAt: usize = 0;
let tileAt: usize = 0;

// @ts-ignore: decorator
@inline function align64(x: usize): usize {
  return (x + 63) & ~(<usize>63);
}

/** Lays scratch out from `base` for dIn inputs; returns its end. */
function layout(base: usize, dIn: usize): usize {
  let p = align64(base);
  factorsAt = p;
  p = align64(p + dIn * 8);
  keysAt = p;
  p = align64(p + (dIn + COLUMN_PAD) * TILE * 4);
  countsAt = p;
  p = align64(p + <usize>COUNTS * 4);
  candAt = p;
  p = align64(p + dIn * 4);
  nextAt = p;
  p = align64(p + dIn * 4);
  minAt = p;
  p += TILE * 4;
  maxAt = p;
  p += TILE * 4;
  thresholdAt = p;
  p += TILE * 4;
  cutAt = p;
  p += TILE * 4;
  lanesAt = p;
  p = align64(p + 16);
  tileAt = p;
  p += <usize>dIn * TILE * 4;
  return p;
}

/** Bytes of scratch a thread needs for layers of dIn inputs (factors first: the caller writes them). */
export function scratchBytes(dIn: i32): usize {
  return layout(0, <usize>dIn);
}

/**
 * Four lanes of weights → their scores' ordered keys (select.ts toOrderedKeys): the score is
 * f32(|w|·f) computed in double (`scaled`), or the lanes themselves; `flip` negates (dropTop);
 * -0 becomes +0 so that equal scores get equal keys.
 */
// @ts-ignore: decorator
@inline function keys4(w: v128, f: v128, flip: v128, scaled: bool): v128 {
  let s = w;
  if (scaled) {
    const a = f32x4.abs(w);
    const lo = f64x2.mul(f64x2.promote_low_f32x4(a), f);
    const hi = f64x2.mul(f64x2.promote_low_f32x4(i32x4.shuffle(a, a, 2, 3, 0, 1)), f);
    s = i32x4.shuffle(f32x4.demote_f64x2_zero(lo), f32x4.demote_f64x2_zero(hi), 0, 1, 4, 5);
  }
  let u = v128.xor(s, flip);
  u = v128.andnot(u, i32x4.eq(u, i32x4.splat(0x80000000)));
  return v128.xor(u, v128.or(i32x4.shr_s(u, 31), i32x4.splat(0x80000000)));
}

/** All-ones lanes where the key is a NaN's (above +inf's key or below -inf's). */
// @ts-ignore: decorator
@inline function nanKeys(key: v128): v128 {
  return v128.or(i32x4.gt_u(key, i32x4.splat(0xff800000)), i32x4.lt_u(key, i32x4.splat(0x007fffff)));
}

/** Set by selectKth: keys strictly below the one returned, and keys equal to it. */
let below: u32 = 0;
let equal: u32 = 0;

/**
 * The key at index k of the n keys at `at` sorted ascending, all in [lo, hi]. Radix rounds whose
 * digit spans the current range with about a quarter as many buckets as candidates (the bucket
 * scans cost less than the keys then), each gathering the chosen bucket's keys for the next.
 */
function selectKth(at: usize, n: u32, k: u32, lo: u32, hi: u32): u32 {
  let cand = at;
  let other = candAt;
  let m = n;
  let rank = k;
  let under: u32 = 0;
  while (true) {
    if (lo == hi) {
      below = under;
      equal = m;
      return lo;
    }
    const span = hi - lo;
    const bits = <u32>32 - clz(span);
    const want = <u32>min(max(<i32>(31 - clz(m)) - 2, 4), 12);
    const shift = bits > want ? bits - want : 0;
    const buckets = (span >>> shift) + 1;
    memory.fill(countsAt, 0, <usize>buckets * 4);
    for (let x: u32 = 0; x < m; x++) {
      const at = countsAt + (<usize>((load<u32>(cand + (<usize>x << 2)) - lo) >>> shift) << 2);
      store<u32>(at, load<u32>(at) + 1);
    }
    let d: u32 = 0;
    let c = load<u32>(countsAt);
    while (c <= rank) {
      rank -= c;
      under += c;
      d++;
      c = load<u32>(countsAt + (<usize>d << 2));
    }
    const base = lo + (d << shift);
    if (shift == 0) {
      below = under;
      equal = c;
      return base;
    }
    // Gathered four keys a step: a bucket holds a few percent of them, so most steps find none.
    let j: usize = 0;
    let x: u32 = 0;
    const from = i32x4.splat(lo);
    const digit = i32x4.splat(d);
    for (; x + 4 <= m; x += 4) {
      const keys = v128.load(cand + (<usize>x << 2));
      let hits = i32x4.bitmask(i32x4.eq(i32x4.shr_u(i32x4.sub(keys, from), shift), digit));
      while (hits != 0) {
        const lane = ctz(hits);
        store<u32>(other + (j << 2), load<u32>(cand + (<usize>(x + lane) << 2)));
        j++;
        hits &= hits - 1;
      }
    }
    for (; x < m; x++) {
      const key = load<u32>(cand + (<usize>x << 2));
      store<u32>(other + (j << 2), key);
      j += <usize>(((key - lo) >>> shift) == d);
    }
    const top = base + ((<u32>1 << shift) - 1);
    if (top >= base && top < hi) hi = top;
    lo = base;
    m = c;
    const was = cand;
    cand = other;
    other = was == at ? nextAt : was;
  }
  return 0;
}

/**
 * The mask of the `width` (≤ 64) neurons whose weights (or scores, `scaled` false) start at byte
 * `weights`, `stride` lanes a row (dIn rows), written as bytes 0/1 from byte `keep` with the same
 * stride. k of each neuron's dIn go; `dropTop` drops the highest instead; `zero` also zeroes the
 * dropped weights in place. `scratch`: scratchBytes(dIn) bytes of this thread's, the dIn float64
 * factors first (scaled). Lanes past `width` are read, never written: a row's 16-lane group may
 * run into the next neurons, another thread's. Returns 1 without writing anything when a score is NaN.
 */
export function selectTile(weights: usize, keep: usize, stride: i32, width: i32, dIn: i32, k: i32, dropTop: bool, zero: bool, scaled: bool, scratch: usize): i32 {
  layout(scratch, <usize>dIn);
  const flip = i32x4.splat(dropTop ? 0x80000000 : 0);
  const column = (<usize>dIn + COLUMN_PAD) << 2;
  const rowBytes = <usize>stride << 2;
  const lanes = (width + 3) & ~3;
  // Keys, transposed neuron by neuron, with each neuron's range. Lanes past `width` in the last
  // group are other neurons' (or nothing's): a NaN there is not this tile's.
  const valid = i32x4.lt_s(i32x4(0, 1, 2, 3), i32x4.splat(width - (lanes - 4)));
  // The tile's rows first copied together: reading them from the layer, 256 bytes every few
  // KiB, in a loop of nothing but loads and wide stores keeps many rows' cache misses in flight
  // (with the keys' 64 scattered stores in the same loop it managed about one row at a time:
  // 3.1–5.0 vs 1.2 ns a weight for the keys pass, measured).
  const rowBytes4 = <usize>lanes << 2;
  for (let i = 0; i < dIn; i++) {
    const row = weights + <usize>i * rowBytes;
    const copy = tileAt + <usize>i * TILE * 4;
    for (let b: usize = 0; b < rowBytes4; b += 16) v128.store(copy + b, v128.load(row + b));
  }
  // Keys four neurons at a time, four inputs a step: the 4 × 4 block transposed in registers and
  // stored as each neuron's next four keys; the neurons' ranges kept in registers.
  let nan = i32x4.splat(0);
  let f = f64x2.splat(1);
  const rows4 = dIn & ~3;
  const rowStep = TILE * 4;
  for (let c = 0; c < lanes; c += 4) {
    let lo = i32x4.splat(0xffffffff);
    let hi = i32x4.splat(0);
    let bad = i32x4.splat(0);
    const col = tileAt + (<usize>c << 2);
    const to = keysAt + <usize>c * column;
    let i = 0;
    for (; i < rows4; i += 4) {
      const at = col + <usize>i * rowStep;
      if (scaled) f = f64x2.splat(load<f64>(factorsAt + (<usize>i << 3)));
      const k0 = keys4(v128.load(at), f, flip, scaled);
      if (scaled) f = f64x2.splat(load<f64>(factorsAt + (<usize>i << 3), 8));
      const k1 = keys4(v128.load(at + rowStep), f, flip, scaled);
      if (scaled) f = f64x2.splat(load<f64>(factorsAt + (<usize>i << 3), 16));
      const k2 = keys4(v128.load(at + 2 * rowStep), f, flip, scaled);
      if (scaled) f = f64x2.splat(load<f64>(factorsAt + (<usize>i << 3), 24));
      const k3 = keys4(v128.load(at + 3 * rowStep), f, flip, scaled);
      bad = v128.or(bad, v128.or(v128.or(nanKeys(k0), nanKeys(k1)), v128.or(nanKeys(k2), nanKeys(k3))));
      lo = i32x4.min_u(lo, i32x4.min_u(i32x4.min_u(k0, k1), i32x4.min_u(k2, k3)));
      hi = i32x4.max_u(hi, i32x4.max_u(i32x4.max_u(k0, k1), i32x4.max_u(k2, k3)));
      const a = i32x4.shuffle(k0, k1, 0, 4, 1, 5);
      const b = i32x4.shuffle(k2, k3, 0, 4, 1, 5);
      const p = i32x4.shuffle(k0, k1, 2, 6, 3, 7);
      const q = i32x4.shuffle(k2, k3, 2, 6, 3, 7);
      const out = to + (<usize>i << 2);
      v128.store(out, i32x4.shuffle(a, b, 0, 1, 4, 5));
      v128.store(out + column, i32x4.shuffle(a, b, 2, 3, 6, 7));
      v128.store(out + 2 * column, i32x4.shuffle(p, q, 0, 1, 4, 5));
      v128.store(out + 3 * column, i32x4.shuffle(p, q, 2, 3, 6, 7));
    }
    for (; i < dIn; i++) {
      if (scaled) f = f64x2.splat(load<f64>(factorsAt + (<usize>i << 3)));
      const key = keys4(v128.load(col + <usize>i * rowStep), f, flip, scaled);
      bad = v128.or(bad, nanKeys(key));
      lo = i32x4.min_u(lo, key);
      hi = i32x4.max_u(hi, key);
      const out = to + (<usize>i << 2);
      store<u32>(out, i32x4.extract_lane(key, 0));
      store<u32>(out + column, i32x4.extract_lane(key, 1));
      store<u32>(out + 2 * column, i32x4.extract_lane(key, 2));
      store<u32>(out + 3 * column, i32x4.extract_lane(key, 3));
    }
    nan = v128.or(nan, c + 4 < lanes ? bad : v128.and(bad, valid));
    v128.store(minAt + (<usize>c << 2), lo);
    v128.store(maxAt + (<usize>c << 2), hi);
  }
  if (v128.any_true(nan)) return 1;
  // Each neuron's threshold, and where its kept ties begin: of the keys equal to the threshold
  // the first k − below (lowest input index) go, the others stay.
  const groups = (width + 15) & ~15;
  for (let c = 0; c < groups; c++) {
    let t: u32 = 0xffffffff;
    let cut = dIn;
    if (c < width) {
      const keys = keysAt + <usize>c * column;
      t = selectKth(keys, dIn, k - 1, load<u32>(minAt + (<usize>c << 2)), load<u32>(maxAt + (<usize>c << 2)));
      for (let i = dIn - 1, kept = <i32>equal - (k - <i32>below); kept > 0; i--) {
        if (load<u32>(keys + (<usize>i << 2)) == t) {
          cut = i;
          kept--;
        }
      }
    }
    store<u32>(thresholdAt + (<usize>c << 2), t);
    store<i32>(cutAt + (<usize>c << 2), cut);
  }
  // The mask, row by row, sixteen neurons a step: kept = key > t, or key = t at or after the cut.
  // The keys are made again from the weights (cheaper than storing them a second time).
  const whole = width & ~15;
  const one = i8x16.splat(1);
  for (let i = 0; i < dIn; i++) {
    if (scaled) f = f64x2.splat(load<f64>(factorsAt + (<usize>i << 3)));
    const at = i32x4.splat(i);
    const row = weights + <usize>i * rowBytes;
    const mask = keep + <usize>i * <usize>stride;
    const copy = tileAt + <usize>i * TILE * 4;
    for (let c = 0; c < groups; c += 16) {
      const p = row + (<usize>c << 2);
      const q = <usize>c << 2;
      const w0 = v128.load(copy + q);
      const w1 = v128.load(copy + q, 16);
      const w2 = v128.load(copy + q, 32);
      const w3 = v128.load(copy + q, 48);
      const k0 = kept4(keys4(w0, f, flip, scaled), q, at);
      const k1 = kept4(keys4(w1, f, flip, scaled), q + 16, at);
      const k2 = kept4(keys4(w2, f, flip, scaled), q + 32, at);
      const k3 = kept4(keys4(w3, f, flip, scaled), q + 48, at);
      const bytes = v128.and(i8x16.narrow_i16x8_s(i16x8.narrow_i32x4_s(k0, k1), i16x8.narrow_i32x4_s(k2, k3)), one);
      if (c < whole) {
        if (zero) {
          v128.store(p, v128.and(w0, k0));
          v128.store(p, v128.and(w1, k1), 16);
          v128.store(p, v128.and(w2, k2), 32);
          v128.store(p, v128.and(w3, k3), 48);
        }
        v128.store(mask + <usize>c, bytes);
      } else {
        // The last, partial group: lane by lane, so that no other neuron's entry is written.
        partial(p, mask + <usize>c, width - c, bytes, zero);
      }
    }
  }
  return 0;
}

/** The first `n` (< 16) lanes of a group: mask bytes, and with `zero` +0 for each dropped weight. */
function partial(p: usize, mask: usize, n: i32, bytes: v128, zero: bool): void {
  v128.store(lanesAt, bytes);
  for (let j = 0; j < n; j++) {
    const kept = load<u8>(lanesAt + <usize>j);
    store<u8>(mask + <usize>j, kept);
    if (zero && kept == 0) store<u32>(p + (<usize>j << 2), 0);
  }
}

/** All-ones lanes where the weight stays: key above its neuron's threshold, or a kept tie. */
// @ts-ignore: decorator
@inline function kept4(key: v128, lane: usize, at: v128): v128 {
  const t = v128.load(thresholdAt + lane);
  const cut = v128.load(cutAt + lane);
  return v128.or(i32x4.gt_u(key, t), v128.and(i32x4.eq(key, t), i32x4.ge_s(at, cut)));
}
