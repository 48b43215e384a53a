#!/usr/bin/env node
// Checks the fixtures built by scripts/demo-model/contrib_exports.py with onnxruntime-node (CPU):
// each real-exporter fixture (test/fixtures/real/<name>) against its plain fp32 reference
// (test/fixtures/real-reference/<name>) on the same tokens:
//   step 1: prompt of 5 tokens, past length 0           -> logits of all 5 positions
//   step 2: 1 token, past = present of step 1           -> logits of position 6
//   step 3: 2 tokens, past = present of step 2 (probe)  -> logits of positions 7-8 (multi-token step on a
//           non-empty past: reported, not required)
//   pad:    batch with right padding (second row 3 real tokens + 2 pads), past 0 -> logits of real tokens
// Tolerances: fp32 1e-4 abs, fp16 3e-2 abs. Also loads the refusal fixtures and says what ORT makes of them.
// Usage: node scripts/demo-model/check_contrib_exports.mjs   (exit 1 on a failed required check)
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const require = createRequire(path.join(REPO, 'package.json'));
const ort = require('onnxruntime-node');

const VOCAB = 288;
const IDS = [
  [0, 45, 107, 200, 33, 71, 150, 9],
  [0, 12, 250, 99, 180, 64, 5, 140],
];

// ---- fp16 <-> fp32 -------------------------------------------------------------------------------
const f32buf = new Float32Array(1);
const u32buf = new Uint32Array(f32buf.buffer);
function toHalf(x) {
  f32buf[0] = x;
  const b = u32buf[0];
  const sign = (b >>> 16) & 0x8000;
  let exp = ((b >>> 23) & 0xff) - 127 + 15;
  let man = b & 0x7fffff;
  if (exp >= 31) return sign | 0x7c00;
  if (exp <= 0) {
    if (exp < -10) return sign;
    man |= 0x800000;
    const shift = 14 - exp;
    let h = man >>> shift;
    if ((man >>> (shift - 1)) & 1) h += 1;
    return sign | h;
  }
  let h = sign | (exp << 10) | (man >>> 13);
  if (man & 0x1000) h += 1; // round half up (good enough for test inputs)
  return h;
}
function fromHalf(h) {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >>> 10) & 0x1f;
  const man = h & 0x3ff;
  if (exp === 0) return sign * man * 2 ** -24;
  if (exp === 31) return man ? Number.NaN : sign * Number.POSITIVE_INFINITY;
  return sign * (1 + man / 1024) * 2 ** (exp - 15);
}
// fp16 tensor data is raw halves (Uint16Array) on Node 20/22 and a native Float16Array on Node 24+,
// which onnxruntime-node 1.30 reads as 0 bytes when fed: read halves, and feed fp16 as halves
// (as gpu-runner/src/onnx/fp16.ts halvesOf and gpu-runner/src/ort.ts float16Tensor/feedable do).
const halvesOf = (d) => (d instanceof Uint16Array ? d : new Uint16Array(d.buffer, d.byteOffset, d.byteLength / 2));
function float16Tensor(halves, dims) {
  const t = new ort.Tensor('float16', halves, dims);
  if (!(t.data instanceof Uint16Array)) Object.defineProperty(t, 'data', { value: halves, enumerable: true });
  return t;
}
const feedable = (t) => (t.type === 'float16' ? float16Tensor(halvesOf(t.data), t.dims) : t);
const asF32 = (t) => (t.type === 'float16' ? Float32Array.from(halvesOf(t.data), fromHalf) : Float32Array.from(t.data));

// ---- tensors --------------------------------------------------------------------------------------
const i64 = (rows) => new ort.Tensor('int64', BigInt64Array.from(rows.flat().map(BigInt)), [rows.length, rows[0].length]);
const i32 = (rows) => new ort.Tensor('int32', Int32Array.from(rows.flat()), [rows.length, rows[0].length]);
const ints = (dt, rows) => (dt === 'int32' ? i32(rows) : i64(rows));
const zeros = (dt, dims) =>
  dt === 'float16' ? float16Tensor(new Uint16Array(0), dims) : new ort.Tensor('float32', new Float32Array(0), dims);

// logits [B, S, V] -> value at (b, s, v)
function maxDiff(a, aS, aOff, b, bS, bOff, count, rows = [0, 1], skip = () => false) {
  let m = 0;
  for (const r of rows)
    for (let s = 0; s < count; s++) {
      if (skip(r, s)) continue;
      const ia = (r * aS + aOff + s) * VOCAB;
      const ib = (r * bS + bOff + s) * VOCAB;
      for (let v = 0; v < VOCAB; v++) m = Math.max(m, Math.abs(a[ia + v] - b[ib + v]));
    }
  return m;
}

const FIXTURES = [
  { name: 'genai-llama-fp16', io: 'float16', tol: 3e-2, cache: 'genai', ids: 'int64', pos: null, kv: [2, 16], L: 2 },
  { name: 'genai-llama-fp32-mha', io: 'float32', tol: 1e-4, cache: 'genai', ids: 'int64', pos: 'int64', kv: [4, 8], L: 2 },
  { name: 'ort-fused-gpt2', io: 'float32', tol: 1e-4, cache: 'gpt2', ids: 'int32', pos: 'int32', kv: [4, 8], L: 2 },
];

function feeds(fx, tokens, mask, pastLen, past) {
  const B = tokens.length;
  const f = { input_ids: ints(fx.ids, tokens), attention_mask: ints(fx.ids, mask) };
  if (fx.pos) {
    // positions = number of real tokens before (HF generate's cumsum rule)
    const pos = mask.map((row) => {
      let c = 0;
      const all = row.map((m) => {
        c += m;
        return Math.max(c - 1, 0);
      });
      return all.slice(pastLen);
    });
    f.position_ids = ints(fx.pos, pos);
  }
  const [h, d] = fx.kv;
  for (let i = 0; i < fx.L; i++) {
    if (fx.cache === 'genai') {
      f[`past_key_values.${i}.key`] = past ? feedable(past[`present.${i}.key`]) : zeros(fx.io, [B, h, 0, d]);
      f[`past_key_values.${i}.value`] = past ? feedable(past[`present.${i}.value`]) : zeros(fx.io, [B, h, 0, d]);
    } else {
      f[`past_${i}`] = past ? feedable(past[`present_${i}`]) : zeros(fx.io, [2, B, h, 0, d]);
    }
  }
  return f;
}

const ones = (B, T) => Array.from({ length: B }, () => Array(T).fill(1));
const slice = (a, b) => IDS.map((r) => r.slice(a, b));

let failed = 0;
const report = (ok, required, msg) => {
  const tag = ok ? 'PASS' : required ? 'FAIL' : 'NOTE';
  if (!ok && required) failed++;
  console.log(`  ${tag} ${msg}`);
};

for (const fx of FIXTURES) {
  console.log(`${fx.name} (${fx.io}, tolerance ${fx.tol})`);
  const real = await ort.InferenceSession.create(path.join(REPO, 'test/fixtures/real', fx.name, 'model.onnx'));
  const ref = await ort.InferenceSession.create(path.join(REPO, 'test/fixtures/real-reference', fx.name, 'model.onnx'));
  console.log(`  inputs  ${real.inputNames.join(', ')}`);
  console.log(`  outputs ${real.outputNames.join(', ')}`);
  const refFull = asF32((await ref.run({ input_ids: i64(IDS), attention_mask: i64(ones(2, 8)) })).logits);

  // step 1
  const o1 = await real.run(feeds(fx, slice(0, 5), ones(2, 5), 0, null));
  const l1 = asF32(o1.logits);
  const d1 = maxDiff(l1, 5, 0, refFull, 8, 0, 5);
  const finite = l1.every(Number.isFinite);
  report(d1 <= fx.tol && finite, true, `step 1 (5 tokens, past 0): logits ${o1.logits.type} [${o1.logits.dims}] max|diff| ${d1.toExponential(2)}`);
  // step 2
  const o2 = await real.run(feeds(fx, slice(5, 6), ones(2, 6), 5, o1));
  const d2 = maxDiff(asF32(o2.logits), 1, 0, refFull, 8, 5, 1);
  const presentName = fx.cache === 'genai' ? 'present.0.key' : 'present_0';
  report(d2 <= fx.tol, true, `step 2 (1 token, past 5): max|diff| ${d2.toExponential(2)}, ${presentName} [${o2[presentName].dims}]`);
  // step 3: multi-token step after a non-empty past
  try {
    const o3 = await real.run(feeds(fx, slice(6, 8), ones(2, 8), 6, o2));
    const d3 = maxDiff(asF32(o3.logits), 2, 0, refFull, 8, 6, 2);
    report(d3 <= fx.tol, false, `step 3 (2 tokens, past 6): runs, max|diff| ${d3.toExponential(2)}${d3 <= fx.tol ? '' : ' (WRONG logits)'}`);
  } catch (e) {
    report(false, false, `step 3 (2 tokens, past 6): rejected: ${String(e.message).split('\n')[0].slice(0, 200)}`);
    // the same with batch size 1 (GroupQueryAttention's CPU kernel only refuses batch > 1)
    try {
      const one = (t) => {
        const d = t.dims;
        const n = t.data.length / d[0];
        return new ort.Tensor(t.type, t.data.slice(0, n), [1, ...d.slice(1)]);
      };
      const past1 = Object.fromEntries(Object.entries(o2).map(([k, v]) => [k, fx.cache === 'gpt2' ? v : one(v)]));
      const f = feeds(fx, [IDS[0].slice(6, 8)], [Array(8).fill(1)], 6, past1);
      const o3 = await real.run(f);
      const d3 = maxDiff(asF32(o3.logits), 2, 0, refFull, 8, 6, 2, [0]);
      report(d3 <= fx.tol, false, `step 3 with batch 1: runs, max|diff| ${d3.toExponential(2)}${d3 <= fx.tol ? '' : ' (WRONG logits)'}`);
    } catch (e1) {
      report(false, false, `step 3 with batch 1: rejected: ${String(e1.message).split('\n')[0].slice(0, 160)}`);
    }
  }
  // right padding, past 0
  const padMask = [
    [1, 1, 1, 1, 1],
    [1, 1, 1, 0, 0],
  ];
  const padIds = [IDS[0].slice(0, 5), [...IDS[1].slice(0, 3), 1, 1]];
  const rp = asF32((await ref.run({ input_ids: i64(padIds), attention_mask: i64(padMask) })).logits);
  const op = asF32((await real.run(feeds(fx, padIds, padMask, 0, null))).logits);
  const dp = maxDiff(op, 5, 0, rp, 5, 0, 5, [0, 1], (r, s) => padMask[r][s] === 0);
  report(dp <= fx.tol, false, `right padding (row 2: 3 tokens + 2 pads), past 0: real tokens max|diff| ${dp.toExponential(2)}`);
  // left padding, past 0 (positions fed as cumsum(mask) - 1 where the graph takes position_ids)
  const lpMask = [
    [1, 1, 1, 1, 1],
    [0, 0, 1, 1, 1],
  ];
  const lpIds = [IDS[0].slice(0, 5), [1, 1, ...IDS[1].slice(0, 3)]];
  const rl = asF32((await ref.run({ input_ids: i64(lpIds), attention_mask: i64(lpMask) })).logits);
  const ol = asF32((await real.run(feeds(fx, lpIds, lpMask, 0, null))).logits);
  const dl = maxDiff(ol, 5, 0, rl, 5, 0, 5, [0, 1], (r, s) => lpMask[r][s] === 0);
  report(dl <= fx.tol, false, `left padding (row 2: 2 pads + 3 tokens), past 0: real tokens max|diff| ${dl.toExponential(2)}`);
}

// ---- refusal fixtures: what a plain onnxruntime load says ------------------------------------------
console.log('refuse/* (informational: what onnxruntime-node does with each)');
for (const name of ['matmulnbits', 'qdq', 'beam-search', 'missing-data', 'tokenizer-oob']) {
  const file = path.join(REPO, 'test/fixtures/refuse', name, 'model.onnx');
  if (!existsSync(file)) {
    console.log(`  ${name}: missing`);
    failed++;
    continue;
  }
  try {
    const s = await ort.InferenceSession.create(file);
    let ran = '';
    if (name === 'beam-search') {
      const out = await s.run({
        input_ids: i32([[0, 45, 107]]),
        max_length: new ort.Tensor('int32', Int32Array.from([8]), [1]),
        min_length: new ort.Tensor('int32', Int32Array.from([1]), [1]),
        num_beams: new ort.Tensor('int32', Int32Array.from([2]), [1]),
        num_return_sequences: new ort.Tensor('int32', Int32Array.from([1]), [1]),
        length_penalty: new ort.Tensor('float32', Float32Array.from([1]), [1]),
        repetition_penalty: new ort.Tensor('float32', Float32Array.from([1]), [1]),
      });
      ran = `runs: sequences [${out.sequences.dims}] = ${Array.from(out.sequences.data).join(' ')}`;
    } else if (name === 'matmulnbits') {
      const f = { input_ids: i64([[0, 45, 107]]), attention_mask: i64([[1, 1, 1]]) };
      for (let i = 0; i < 2; i++) {
        f[`past_key_values.${i}.key`] = zeros('float32', [1, 2, 0, 16]);
        f[`past_key_values.${i}.value`] = zeros('float32', [1, 2, 0, 16]);
      }
      const out = await s.run(f);
      ran = `runs: logits ${out.logits.type} [${out.logits.dims}]`;
    } else if (name === 'tokenizer-oob') {
      const out = await s.run({ input_ids: i64([[0, 45, 63]]), attention_mask: i64([[1, 1, 1]]) });
      ran = `runs with ids < 64: logits [${out.logits.dims}]`;
      try {
        await s.run({ input_ids: i64([[0, 200]]), attention_mask: i64([[1, 1]]) });
        ran += '; id 200 also ran';
      } catch (e) {
        ran += `; id 200: ${String(e.message).split('\n')[0].slice(0, 120)}`;
      }
    } else {
      const out = await s.run({ input_ids: i64([[0, 45, 107]]), attention_mask: i64([[1, 1, 1]]) });
      ran = `runs: logits [${out.logits.dims}]`;
    }
    console.log(`  ${name}: loads; ${ran}; ops: ${opsOf(name)}`);
  } catch (e) {
    console.log(`  ${name}: ${String(e.message).split('\n')[0].slice(0, 200)}`);
  }
}
function opsOf(name) {
  return { matmulnbits: 'MatMulNBits', qdq: 'DynamicQuantizeLinear/MatMulInteger/DequantizeLinear', 'beam-search': 'BeamSearch', 'tokenizer-oob': 'plain' }[name] ?? '';
}

console.log(failed ? `${failed} required check(s) failed` : 'all required checks passed');
process.exit(failed ? 1 : 0);
