#!/usr/bin/env node
// Check the real-exporter fixtures (test/fixtures/real/*) against their plain fp32 references
// (test/fixtures/real-reference/*) with onnxruntime-node:
//   - the model loads from its path (external data resolved next to it) and has exactly the expected I/O;
//   - step 1 with an empty cache (past length 0; use_cache_branch=false for the merged graph),
//     step 2 (3 tokens) and step 3 (1 token) fed with the returned present.* as past (use_cache_branch=true);
//     every step's logits (last_state) equal the reference's on the same 10 tokens;
//   - one right-padded batch: the attention mask masks the same keys as the reference's.
// Tolerance: 1e-4 absolute for fp32 layouts, 2e-2 for fp16 (fp16 outputs are read as fp32).
//
// Usage: node scripts/demo-model/check_real_exports.mjs [realDir] [referenceDir]
// Exit status 1 when any check fails. Written for polyprune (build-time check; no test framework needed).
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);
const ort = require('onnxruntime-node');

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const realDir = process.argv[2] ?? join(root, 'test/fixtures/real');
const refDir = process.argv[3] ?? join(root, 'test/fixtures/real-reference');

const B = 2; // batch
const STEPS = [6, 3, 1]; // tokens per step: prefill, a multi-token cached step, a single-token step
const TOTAL = STEPS.reduce((a, b) => a + b, 0);
const L = 2; // layers

// What each folder must look like. cache: split = past_key_values.{i}.key/value [b, heads, past, hd];
// bloom = key [b*heads, hd, past], value [b*heads, past, hd]; stacked = past_{i} [2, b, heads, past, hd].
const CASES = [
  {
    name: 'optimum-llama-merged', file: 'decoder_model_merged.onnx', cache: 'split', heads: 2, hd: 8, dtype: 'float32',
    inputs: ['input_ids', 'attention_mask', 'position_ids', ...split('past_key_values'), 'use_cache_branch'],
    outputs: ['logits', ...split('present')], tol: 1e-4,
  },
  {
    name: 'optimum-gpt2', file: 'model.onnx', cache: 'split', heads: 4, hd: 8, dtype: 'float32',
    inputs: ['input_ids', ...split('past_key_values'), 'attention_mask', 'position_ids'],
    outputs: ['logits', ...split('present')], tol: 1e-4,
  },
  {
    name: 'optimum-bloom-fp16', file: 'model_fp16.onnx', cache: 'bloom', heads: 4, hd: 8, dtype: 'float16',
    inputs: ['input_ids', ...split('past_key_values'), 'attention_mask'],
    outputs: ['logits', ...split('present')], tol: 2e-2,
  },
  {
    name: 'torch-plain', file: 'model.onnx', cache: 'stacked', heads: 4, hd: 8, dtype: 'float32',
    inputs: ['input_ids', 'past_0', 'past_1'], outputs: ['logits', 'present_0', 'present_1'], tol: 1e-4,
  },
  {
    name: 'torch-last-state', file: 'model.onnx', cache: 'stacked', heads: 4, hd: 8, dtype: 'float32',
    inputs: ['input_ids', 'past_0', 'past_1'], outputs: ['last_state', 'present_0', 'present_1'], tol: 1e-4,
  },
];

function split(prefix) {
  const names = [];
  for (let i = 0; i < L; i++) names.push(`${prefix}.${i}.key`, `${prefix}.${i}.value`);
  return names;
}

// Deterministic token ids in [4, 288): no special tokens.
const TOKENS = Array.from({ length: B }, (_, b) => Array.from({ length: TOTAL }, (_, t) => 4 + ((37 * t + 101 * b + 11) % 284)));

const int64 = (rows) => new ort.Tensor('int64', BigInt64Array.from(rows.flat().map(BigInt)), [rows.length, rows[0].length]);

function f16ToF32(h) {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const f = h & 0x3ff;
  if (e === 0) return s * 2 ** -14 * (f / 1024);
  if (e === 31) return f ? Number.NaN : s * Number.POSITIVE_INFINITY;
  return s * 2 ** (e - 15) * (1 + f / 1024);
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
const floats = (t) => (t.type === 'float16' ? Array.from(halvesOf(t.data), f16ToF32) : Array.from(t.data));

function emptyCache(c, name) {
  const dims = c.cache === 'split' ? [B, c.heads, 0, c.hd]
    : c.cache === 'stacked' ? [2, B, c.heads, 0, c.hd]
      : name.endsWith('.key') ? [B * c.heads, c.hd, 0] : [B * c.heads, 0, c.hd];
  return c.dtype === 'float16' ? float16Tensor(new Uint16Array(0), dims) : new ort.Tensor('float32', new Float32Array(0), dims);
}

const pastName = (present) => present.replace(/^present\./, 'past_key_values.').replace(/^present_/, 'past_');
const cacheInputs = (s) => s.inputNames.filter((n) => n.startsWith('past'));

// One call of the real layout: tokens [b][s] (window [start, start+s) of the sequence), a cache, a mask row set.
function feeds(c, session, ids, past, pastLen, mask) {
  const s = ids[0].length;
  const f = { input_ids: int64(ids) };
  for (const name of cacheInputs(session)) f[name] = past?.[name] ?? emptyCache(c, name);
  if (session.inputNames.includes('attention_mask')) f.attention_mask = int64(mask);
  if (session.inputNames.includes('position_ids')) {
    // what optimum / transformers.js feed: cumsum(mask) - 1 (1 where padded), for this step's tokens
    f.position_ids = int64(mask.map((row) => {
      let acc = 0;
      const pos = row.map((m) => { acc += m; return m ? acc - 1 : 1; });
      return pos.slice(pastLen, pastLen + s);
    }));
  }
  if (session.inputNames.includes('use_cache_branch')) f.use_cache_branch = new ort.Tensor('bool', [pastLen > 0], [1]);
  return f;
}

function compare(real, ref, vocab, rows, from, s, keep = () => true) {
  // real: [B, s, V] of this step; ref: [B, TOTAL or s', V]; position t of the step is reference position from+t
  let max = 0;
  const refLen = ref.dims[1];
  for (let b = 0; b < rows; b++) {
    for (let t = 0; t < s; t++) {
      if (!keep(b, from + t)) continue;
      for (let v = 0; v < vocab; v++) {
        const d = Math.abs(real.f[(b * s + t) * vocab + v] - ref.f[(b * refLen + from + t) * vocab + v]);
        if (!(d <= max)) max = Number.isNaN(d) ? Number.POSITIVE_INFINITY : d;
      }
    }
  }
  return max;
}

const fmtMeta = (m) => `${m.name} ${m.type}[${m.shape.map((d) => (typeof d === 'string' ? `"${d}"` : d)).join(', ')}]`;

let failures = 0;
function check(ok, msg) {
  console.log(`  ${ok ? 'ok  ' : 'FAIL'} ${msg}`);
  if (!ok) failures++;
}

for (const c of CASES) {
  console.log(`\n== ${c.name}/${c.file}`);
  const session = await ort.InferenceSession.create(join(realDir, c.name, c.file));
  const ref = await ort.InferenceSession.create(join(refDir, c.name, 'model.onnx'));
  for (const m of session.inputMetadata) console.log(`  in   ${fmtMeta(m)}`);
  for (const m of session.outputMetadata) console.log(`  out  ${fmtMeta(m)}`);
  check(JSON.stringify(session.inputNames) === JSON.stringify(c.inputs), `inputs are ${c.inputs.join(', ')}`);
  check(JSON.stringify(session.outputNames) === JSON.stringify(c.outputs), `outputs are ${c.outputs.join(', ')}`);
  const out = c.outputs[0];

  // reference on the whole sequence, no padding
  const fullMask = TOKENS.map((row) => row.map(() => 1));
  const refOut = (await ref.run({ input_ids: int64(TOKENS), attention_mask: int64(fullMask) }))[ref.outputNames[0]];
  const refAll = { f: floats(refOut), dims: refOut.dims };
  const vocab = refOut.dims[2];
  const spread = Math.max(...refAll.f) - Math.min(...refAll.f);
  check(spread > 1, `reference ${out} vary (max - min = ${spread.toFixed(2)}), so equality means something`);

  // real layout, step by step through its cache
  let past = null;
  let pastLen = 0;
  for (const s of STEPS) {
    const ids = TOKENS.map((row) => row.slice(pastLen, pastLen + s));
    const mask = TOKENS.map((row) => row.slice(0, pastLen + s).map(() => 1));
    const res = await session.run(feeds(c, session, ids, past, pastLen, mask));
    const logits = res[out];
    check(logits.type === c.dtype && logits.dims.join() === [B, s, vocab].join(),
      `step past=${pastLen} s=${s}${c.inputs.includes('use_cache_branch') ? ` use_cache_branch=${pastLen > 0}` : ''}: ${out} ${logits.type}[${logits.dims}]`);
    const diff = compare({ f: floats(logits) }, refAll, vocab, B, pastLen, s);
    check(diff <= c.tol, `  max |${out} - reference| = ${diff.toExponential(2)} (tolerance ${c.tol})`);
    past = {};
    const shapes = [];
    for (const name of c.outputs.slice(1)) {
      past[pastName(name)] = feedable(res[name]);
      shapes.push(`${name}[${res[name].dims}]`);
    }
    const t = pastLen + s;
    const want = c.cache === 'split' ? [B, c.heads, t, c.hd] : c.cache === 'stacked' ? [2, B, c.heads, t, c.hd] : null;
    const okShapes = c.outputs.slice(1).every((n) => {
      const d = res[n].dims.join();
      if (want) return d === want.join() && res[n].type === c.dtype;
      return d === (n.endsWith('.key') ? [B * c.heads, c.hd, t] : [B * c.heads, t, c.hd]).join() && res[n].type === c.dtype;
    });
    check(okShapes, `  ${shapes.slice(0, 2).join(' ')} … (past ${pastLen} -> ${t})`);
    pastLen = t;
  }

  // padding: row 1 right-padded by 3 tokens, one call from an empty cache, compared on real tokens only
  if (c.inputs.includes('attention_mask')) {
    const n = STEPS[0] + STEPS[1];
    const ids = TOKENS.map((row) => row.slice(0, n));
    const mask = ids.map((row, b) => row.map((_, t) => (b === 1 && t >= n - 3 ? 0 : 1)));
    const res = await session.run(feeds(c, session, ids, null, 0, mask));
    const r = (await ref.run({ input_ids: int64(ids), attention_mask: int64(mask) }))[ref.outputNames[0]];
    const diff = compare({ f: floats(res[out]) }, { f: floats(r), dims: r.dims }, vocab, B, 0, n, (b, t) => mask[b][t] === 1);
    check(diff <= c.tol, `right padding (row 1: 3 pads): max |${out} - reference| on real tokens = ${diff.toExponential(2)}`);
  } else {
    console.log('  --   no attention_mask input: padding cannot be expressed (the reference pads; this layout cannot)');
  }
}

console.log(failures ? `\n${failures} check(s) FAILED` : '\nall checks passed');
process.exit(failures ? 1 : 0);
