/**
 * Evaluation throughput on an XNLI-shaped suite (3 choices per example sharing one context):
 * scored prompt tokens per second of evaluateSuite vs a plain batched forward pass over the same
 * prompts (fixed batches of 32, in suite order, right-padded, logits only: no log-softmax at all),
 * and the forward tokens saved by prefix sharing (KV graph) or dedupe (graph without a cache).
 * Models are built in memory (same weights with and without a KV cache) so the bench needs no fixtures.
 */
import { NO_CACHE, probeCache } from '@polyprune/gpu-runner/evaluate/cache-probe';
import { describeGraph, evaluateSuite, type EvalModel, type ScoreStats } from '@polyprune/gpu-runner/evaluate/index';
import { createSession, type Device, int64Tensor, type Session } from '@polyprune/gpu-runner/ort';
import { buildTinyModel, byteTokenizer, type TinyModelSpec } from '../test/runner/helpers/tiny-lm.js';
import { benchDevices } from './device.js';

const EXAMPLES = Number(process.env.BENCH_EVAL_EXAMPLES ?? 120);
const REPEATS = Number(process.env.BENCH_EVAL_REPEATS ?? 3);
const words = 'the a cat dog house river city market teacher walked quickly slowly under over near built old new small large'.split(' ');

function rng(seed: number) {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 4294967296;
  };
}

/** XNLI-like rows: premises of 8–30 words, hypotheses of 4–10, a few repeated rows. */
function xnliSuite(n: number) {
  const r = rng(11);
  const sentence = (min: number, max: number) => {
    const k = min + Math.floor(r() * (max - min + 1));
    const w = Array.from({ length: k }, () => words[Math.floor(r() * words.length)]!);
    return w.join(' ').replace(/^./, (c) => c.toUpperCase()) + '.';
  };
  const rows = Array.from({ length: n }, () => ({ premise: sentence(8, 30), hypothesis: sentence(4, 10), label: Math.floor(r() * 3) }));
  for (let i = 0; i < n / 20; i++) rows[n - 1 - i] = rows[i]!;
  return rows;
}

async function open(spec: TinyModelSpec, device: Device): Promise<EvalModel> {
  // one intra-op thread: the machine is shared, and a single thread is the least disturbed by neighbours
  const { session } = await createSession(buildTinyModel(spec), { device, intraOpThreads: 1 });
  const model: EvalModel = { session, tokenizer: byteTokenizer(), io: describeGraph(session), contextLength: spec.maxPositions, cache: NO_CACHE };
  model.cache = await probeCache(model);
  return model;
}

/** The baseline: every prompt through the graph once, fixed batches, no sorting, no scoring. */
async function plainForward(session: Session, prompts: number[][], batch = 32): Promise<number> {
  let tokens = 0;
  for (let i = 0; i < prompts.length; i += batch) {
    const rows = prompts.slice(i, i + batch);
    const len = Math.max(...rows.map((r) => r.length));
    const ids = new BigInt64Array(rows.length * len);
    const mask = new BigInt64Array(rows.length * len);
    rows.forEach((r, b) => {
      r.forEach((t, j) => {
        ids[b * len + j] = BigInt(t);
        mask[b * len + j] = 1n;
      });
    });
    await session.run({ input_ids: int64Tensor(ids, [rows.length, len]), attention_mask: int64Tensor(mask, [rows.length, len]) });
    tokens += rows.reduce((s, r) => s + r.length, 0);
  }
  return tokens;
}

export async function run(): Promise<void> {
  const devices = benchDevices();
  const rates = new Map<Device, Map<string, number>>();
  for (const device of devices) {
    if (devices.length > 1) console.log(`\n[${device}]`);
    rates.set(device, await runOn(device));
  }
  const cpu = rates.get('cpu')!;
  const other = devices[1];
  if (!other) return;
  console.log(`\n${other} rate / cpu rate (same process, same prompts):`);
  for (const [name, r] of rates.get(other)!) console.log(`  ${name.padEnd(36)} ×${(r / cpu.get(name)!).toFixed(2)}`);
}

/** Tokens per second of the baseline and of every scoring variant, on one device. */
async function runOn(device: Device): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  const spec: TinyModelSpec = { vocab: 259, dModel: 128, heads: 4, layers: 4, maxPositions: 512, seed: 3 };
  const plain = await open(spec, device);
  const kv = await open({ ...spec, pastKv: true }, device);
  const kvPos = await open({ ...spec, pastKv: true, positionIds: true }, device);
  const rows = xnliSuite(EXAMPLES);
  const tok = plain.tokenizer;
  const prompts = rows.flatMap((r) => ['Yes', 'Also', 'No'].map((w) => tok.encode(`${r.premise} , right? ${w} , ${r.hypothesis}`)));
  const promptTokens = prompts.reduce((s, p) => s + p.length, 0);

  // the machine is shared: best of a few repeats, after a warm-up, is the least noisy figure
  const best = async (f: () => Promise<unknown>) => {
    await f();
    let min = Infinity;
    for (let i = 0; i < REPEATS; i++) {
      const t0 = performance.now();
      await f();
      min = Math.min(min, performance.now() - t0);
    }
    return min / 1000;
  };
  const baseSec = await best(() => plainForward(plain.session, prompts));
  const baseRate = promptTokens / baseSec;
  out.set('plain forward', baseRate);
  console.log(`evaluate: XNLI-shaped suite, ${rows.length} examples × 3 choices = ${prompts.length} prompts, ${promptTokens} prompt tokens`);
  console.log(`  plain batched forward (batch 32, suite order, no scoring): ${baseRate.toFixed(0)} tokens/s (${baseSec.toFixed(2)} s)`);
  // the same, length-sorted: separates the gain from less padding from the cost of scoring
  const sorted = [...prompts].sort((a, b) => a.length - b.length);
  const sortedSec = await best(() => plainForward(plain.session, sorted));
  console.log(`  plain batched forward (batch 32, length-sorted, no scoring): ${(promptTokens / sortedSec).toFixed(0)} tokens/s`);

  for (const [name, model, opts] of [
    ['no KV graph (dedupe)', plain, {}],
    ['KV graph, prefix sharing', kv, {}],
    ['KV graph, sharing off', kv, { sharePrefix: false }],
    ['KV+position_ids, sharing', kvPos, {}],
  ] as const) {
    for (const scoring of ['harness', 'paper'] as const) {
      let s: ScoreStats | undefined;
      const sec = await best(async () => {
        s = (await evaluateSuite(model, rows, 'xnli', 'en', { scoring, ...opts })).stats as ScoreStats;
      });
      if (!s) throw new Error('no stats');
      const rate = s.naiveTokens / sec;
      out.set(`${name} ${scoring}`, rate);
      const saved = s.naiveTokens - s.forwardTokens;
      console.log(
        `  ${name.padEnd(26)} ${scoring.padEnd(7)}: ${rate.toFixed(0)} scored tokens/s (×${(rate / baseRate).toFixed(2)} vs plain forward), ` +
          `forward tokens ${s.forwardTokens}/${s.naiveTokens} (saved ${saved}, ${((100 * saved) / s.naiveTokens).toFixed(1)}%: ` +
          `prefix ${s.sharedPrefixTokens}, dedupe ${s.dedupedSequences} prompts), padding ${(100 * (1 - s.forwardTokens / s.paddedTokens)).toFixed(1)}%, ${s.batches} batches`,
      );
    }
  }
  for (const m of [plain, kv, kvPos]) await m.session.release();
  return out;
}

if (import.meta.url === `file://${process.argv[1]}`) await run();
