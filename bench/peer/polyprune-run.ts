/**
 * The polyprune side of `npm run bench -- peer`, in its own process so that its peak RSS is its own:
 * what a prune job does with the same inputs as the torch reference (bench/peer/wanda_reference.py):
 * sequential Wanda at the given sparsity (blockwise statistics, masks per block), the pruned model
 * written, opened for evaluation and every prompt scored (`paper`: mean token log-prob).
 *
 *   node --import tsx bench/peer/polyprune-run.ts MODEL_DIR INPUTS.json OUT.json THREADS
 *
 * Writes OUT.json (seconds per stage, peak RSS, scores) and OUT.json.masks: uint8 masks, 1 = kept,
 * in the reference's order (block, then q, k, v, out, fc1, fc2) and layout ([out, in]).
 */
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { collectStats } from '@polyprune/gpu-runner/calibrate/stats';
import { scoreRequests } from '@polyprune/gpu-runner/evaluate/batching';
import { openEvalModel } from '@polyprune/gpu-runner/evaluate/model';
import { discoverStructure, preflight } from '@polyprune/gpu-runner/model/preflight';
import { writePrunedModel } from '@polyprune/gpu-runner/onnx/apply-mask';
import { releaseMaskThreads, scoreBuffer, selectMaskThreaded } from '@polyprune/gpu-runner/prune/mask-threads';
import { canonicalWeight, type StoredWeights } from '@polyprune/gpu-runner/prune/policy';
import { computeScores } from '@polyprune/gpu-runner/prune/scores';
import type { LayerMask, PrunableLinear } from '@polyprune/gpu-runner/types';

const ORDER = ['q_proj', 'k_proj', 'v_proj', 'out_proj', 'fc1', 'fc2'];

/** Position of a linear in the reference's order, from its torch module path in the node name. */
function referenceIndex(l: PrunableLinear): number {
  const role = ORDER.findIndex((r) => new RegExp(`[/.]${r}[/.]`).test(`${l.nodeName}/`));
  if (role < 0) throw new Error(`cannot tell which linear ${l.nodeName} is`);
  return l.block * ORDER.length + role;
}

const [dir, inputsFile, outFile, threads] = process.argv.slice(2) as [string, string, string, string];
const inputs = JSON.parse(await readFile(inputsFile, 'utf8')) as { calibration: number[][]; sparsity: number; prompts: number[][] };
const session = { device: 'cpu' as const, intraOpThreads: Number(threads) };
const seconds: Record<string, number> = {};
let t = performance.now();
const lap = (stage: string) => {
  const now = performance.now();
  seconds[stage] = (now - t) / 1000;
  t = now;
};
const t0 = t;

const checked = await preflight({ dir, graphFile: 'model.onnx', scoring: true });
const { working, structure } = discoverStructure(checked.model, 'model.onnx');
const model = working.model;
lap('load');
const samples = inputs.calibration.map((ids) => ({
  inputIds: BigInt64Array.from(ids, (v) => BigInt(v)),
  attentionMask: new BigInt64Array(ids.length).fill(1n),
}));
const spec = { pattern: { kind: 'unstructured' as const, sparsity: inputs.sparsity } };
// As a prune job's policy does (prune/policy.ts): one layer at a time, its selection on every core.
const maskOf = async (l: PrunableLinear, sqNorm: Float64Array, stored: StoredWeights): Promise<LayerMask> => {
  const shape = { dIn: l.dIn, dOut: l.dOut };
  const scores = computeScores(await canonicalWeight(model, l, stored), { method: 'wanda', sqNorm }, scoreBuffer(shape, spec));
  return selectMaskThreaded(l.id, scores, shape, spec);
};
const res = await collectStats(model, structure.linears, samples, {
  mode: 'sequential',
  session,
  config: checked.side.config,
  maskBlock: async (b, stats, stored) => {
    const out: LayerMask[] = [];
    for (const l of structure.linears) if (l.block === b) out.push(await maskOf(l, stats.get(l.id)!.sqNorm, stored));
    return out;
  },
});
await releaseMaskThreads();
lap('calibrate+prune');
const prunedDir = path.join(path.dirname(outFile), 'pruned');
await rm(prunedDir, { recursive: true, force: true });
await mkdir(prunedDir, { recursive: true });
// As a prune job writes it: the copy it evaluates reads the source's data file (linkSource).
await writePrunedModel(model, structure.linears, res.masks, path.join(prunedDir, 'model.onnx'), { linkSource: true });
for (const f of ['config.json', 'tokenizer.json']) await writeFile(path.join(prunedDir, f), await readFile(path.join(dir, f)));
lap('write pruned model');
const evalModel = await openEvalModel(prunedDir, session);
lap('open for scoring');
const requests = inputs.prompts.map((p) => ({ tokens: Int32Array.from(p), scoreFrom: 1 }));
const { logprobs } = await scoreRequests(evalModel, requests);
const scores = logprobs.map((lp) => lp.reduce((a, b) => a + b, 0) / Math.max(1, lp.length));
await evalModel.session.release();
lap('score');
const total = (performance.now() - t0) / 1000;

// Masks in the reference's order and [out, in] layout.
const byIndex = new Map(structure.linears.map((l) => [referenceIndex(l), l]));
const maskById = new Map(res.masks.map((m) => [m.id, m]));
const parts: Uint8Array[] = [];
for (let k = 0; k < byIndex.size; k++) {
  const l = byIndex.get(k);
  if (!l) throw new Error(`no linear at reference position ${k}`);
  const keep = maskById.get(l.id)!.keep;
  const out = new Uint8Array(l.dIn * l.dOut);
  for (let i = 0; i < l.dIn; i++) for (let o = 0; o < l.dOut; o++) out[o * l.dIn + i] = keep[i * l.dOut + o]!;
  parts.push(out);
}
await writeFile(`${outFile}.masks`, Buffer.concat(parts));
await writeFile(
  outFile,
  JSON.stringify({
    seconds: { ...seconds, total },
    maxRssBytes: process.resourceUsage().maxRSS * 1024,
    cpuSeconds: (process.resourceUsage().userCPUTime + process.resourceUsage().systemCPUTime) / 1e6,
    scores,
    profile: res.profile,
  }),
);
