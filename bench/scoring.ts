/**
 * `npm run bench -- scoring`: multiple-choice scoring on a wide-vocabulary model, tokens per second
 * ÷ a plain forward pass over the same prompts, for `paper` and `harness` scoring, with the LM head
 * on every position (the graph as exported) and on the scored positions only (onnx/head-gather.ts).
 *
 * The model is the scale bench's random-weight XGLM-564M (24 × 1024, vocabulary 256008, fp32; built
 * once into bench/out/scale, 2.1 GB). `--small`: its 2-layer variant (same widths and vocabulary;
 * the head is then ~90 % of a pass instead of ~46 %, so the gain is larger than on the real shape).
 * `--rows N` XNLI-shaped rows (default 8, 3 choices each), `--reps N` interleaved repetitions
 * (default 2): each repetition runs forward, then every scoring path, and gives one ratio per path;
 * the median and range are printed, by wall time and by this process's CPU time (onnxruntime's
 * threads included; steadier on a shared machine), with the load average, and how many positions
 * each path sends through the head (deterministic).
 *
 * Plain forward: the prompts' distinct sequences in batches under the same token budget, logits
 * only (no log-softmax). Tokens: every prompt's tokens, as a one-sequence-per-pass evaluation feeds.
 */
import os from 'node:os';
import { planBatches } from '@polyprune/gpu-runner/evaluate/batch-plan';
import { batchTokens } from '@polyprune/gpu-runner/evaluate/batching';
import { forward } from '@polyprune/gpu-runner/evaluate/forward';
import { openEvalModel, type EvalModel } from '@polyprune/gpu-runner/evaluate/model';
import { evaluateMultipleChoice } from '@polyprune/gpu-runner/evaluate/multipleChoice';
import { encodeChoices } from '@polyprune/gpu-runner/evaluate/scoring';
import { renderExample } from '@polyprune/gpu-runner/evaluate/templates';
import { SCALE_MODELS } from './scale/decoder.js';
import { ensureModel, xnliRows } from './scale/index.js';

const flag = (name: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
};

function ratio(xs: number[]): string {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
  return `${mid.toFixed(2)} [${s[0]!.toFixed(2)}–${s[s.length - 1]!.toFixed(2)}]`;
}

const load = () => os.loadavg()[0]!.toFixed(1);

/** Wall seconds, and CPU seconds of this process (onnxruntime's threads included): steadier than wall time when neighbours load the machine. */
async function timed(fn: () => Promise<unknown>): Promise<{ wall: number; cpu: number }> {
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  await fn();
  const c = process.cpuUsage(c0);
  return { wall: (performance.now() - t0) / 1000, cpu: (c.user + c.system) / 1e6 };
}

/** Counts the logits rows (positions sent through the head) of the model's session runs. */
function countHeadRows(model: EvalModel): { rows: number } {
  const counter = { rows: 0 };
  const run = model.session.run.bind(model.session);
  model.session.run = (async (...args: Parameters<typeof run>) => {
    const out = await run(...args);
    const l = model.io.logits ? out[model.io.logits] : undefined;
    if (l) counter.rows += l.data.length / l.dims[l.dims.length - 1]!;
    return out;
  }) as typeof run;
  return counter;
}

/** The prompts' distinct sequences through plain batched forward passes (all logits). */
async function plainForward(model: EvalModel, seqs: Int32Array[]): Promise<void> {
  for (const b of planBatches(
    seqs.map((s) => s.length),
    batchTokens(model),
    64,
  ))
    await forward(
      model,
      b.map((k) => seqs[k]!),
    );
}

export async function run(): Promise<void> {
  const small = process.argv.includes('--small');
  const reps = Number(flag('reps') ?? 2);
  const nRows = Number(flag('rows') ?? 8);
  const base = SCALE_MODELS.find((s) => s.name === 'xglm-564M')!;
  const spec = small ? { ...base, name: `${base.name}-small`, layers: 2 } : base;
  const { dir } = await ensureModel(spec);
  const rows = xnliRows(nRows)
    .split('\n')
    .map((l) => JSON.parse(l) as unknown);
  const session = { device: 'cpu' as const };
  // The cache probe is the same for both graphs (the head does not touch the cache).
  const full = await openEvalModel(dir, { ...session, gatherHead: false });
  const gathered = await openEvalModel(dir, { ...session, cache: full.cache });
  try {
    if (!gathered.io.logitRows) throw new Error('the head of the bench model was not recognised: nothing to compare');
    const encodeOpts = { emptyContextId: full.tokenizer.eosId, contextLength: full.contextLength };
    const seqs = new Map<string, Int32Array>();
    let tokens = 0;
    for (const r of rows) {
      for (const c of encodeChoices(full.tokenizer, renderExample('xnli', r)!, encodeOpts)) {
        tokens += c.tokens.length;
        seqs.set(c.tokens.join(','), c.tokens);
      }
    }
    console.log(
      `${spec.name} (${spec.layers} × ${spec.hidden}, vocab ${spec.vocab}); ${nRows} XNLI-shaped rows, ${tokens} prompt tokens; ` +
        `${reps} interleaved repetitions; onnxruntime default threads on ${os.cpus().length} cores`,
    );
    const paths = [
      ['paper, full head', 'paper', full],
      ['paper, scored positions', 'paper', gathered],
      ['harness, full head', 'harness', full],
      ['harness, scored positions', 'harness', gathered],
    ] as const;
    const ratios = new Map<string, { wall: number[]; cpu: number[]; headRows: number }>(paths.map(([name]) => [name, { wall: [], cpu: [], headRows: 0 }]));
    const headRows = new Map([full, gathered].map((m) => [m, countHeadRows(m)]));
    const loads: string[] = [];
    let forwardRows = 0;
    for (let r = 0; r < reps; r++) {
      headRows.get(full)!.rows = 0;
      const f = await timed(() => plainForward(full, [...seqs.values()]));
      forwardRows = headRows.get(full)!.rows;
      loads.push(load());
      let line = `rep ${r + 1}: forward ${f.wall.toFixed(1)} s wall, ${f.cpu.toFixed(1)} s CPU (load ${load()})`;
      for (const [name, scoring, model] of paths) {
        headRows.get(model)!.rows = 0;
        const t = await timed(() => evaluateMultipleChoice(model, rows, 'xnli', { scoring }));
        // tokens/s ÷ forward tokens/s = forward seconds ÷ scoring seconds
        const entry = ratios.get(name)!;
        entry.wall.push(f.wall / t.wall);
        entry.cpu.push(f.cpu / t.cpu);
        entry.headRows = headRows.get(model)!.rows;
        line += `; ${name} ${t.wall.toFixed(1)} s / ${t.cpu.toFixed(1)} s`;
      }
      loads.push(load());
      console.log(line);
    }
    console.log(`\n| path | tokens/s ÷ plain forward, wall time | same, CPU time | positions through the head (forward: ${forwardRows}) |`);
    console.log('| --- | --- | --- | --- |');
    for (const [name] of paths) {
      const e = ratios.get(name)!;
      console.log(`| ${name} | ${ratio(e.wall)} | ${ratio(e.cpu)} | ${e.headRows} |`);
    }
    console.log(`load average (1 min) during the runs: ${loads.join(', ')}`);
  } finally {
    await full.session.release();
    await gathered.session.release();
  }
}
