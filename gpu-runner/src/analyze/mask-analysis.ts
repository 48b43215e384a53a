/**
 * The analysis of an `analyze` job (shared/src/api/analysis.ts): every pair of runs compared layer
 * by layer with overlap.ts, the N × N matrices, and the LMF reports of the runs compared across
 * their calibration pairs. Masks are read one layer at a time.
 *
 * Which input channels count as large-magnitude features for a layer: the layers that read the
 * (normalised) residual stream — q, k, v, qkv, fc1, gate, up — have one input channel per residual
 * dimension. Block b's layers are matched with the LMF set of the stream entering block b, i.e. the
 * output of block b−1 the report measures; block 0 with its own output, as the embeddings are not
 * tapped. The set is the union, over the distinct calibration pairs of the compared runs, of the
 * first k dimensions of each report's translation top list. o, fc2 and down read attention or MLP
 * features, not residual dimensions, and get no set.
 */
import type { AnalysisLayer, MaskAnalysis } from '@polyprune/shared/api/analysis';
import type { LmfReport } from './lmf.js';
import { jaccard } from './lmf.js';
import { channelSet, layerOverlap, lmfShares, type OverlapCounts, overlapFigures, prunedPerRow, sumOverlaps } from './overlap.js';
import type { MaskFileHeader, PackedMask } from '../prune/pack.js';

export interface AnalysisRunInput {
  runId: string;
  label: string;
  variant: string;
  /** sha256 of the graph the run pruned (the run record's modelSha256) */
  modelSha256: string | null;
  masks: { header: MaskFileHeader; layer(id: string): Promise<PackedMask> };
  lmf?: LmfReport | null;
}

export interface AnalysisOptions {
  /** LMF channels: the first k of each report's top list (default: the report's whole top-k) */
  lmfTopK?: number;
  onProgress?: (done: number, total: number) => void;
}

const RESIDUAL_READERS = new Set(['q', 'k', 'v', 'qkv', 'fc1', 'gate', 'up']);

function parseLayerId(id: string): { block: number | null; role: string | null } {
  const m = /^block(\d+)\.(\w+)$/.exec(id);
  return m ? { block: Number(m[1]), role: m[2]! } : { block: null, role: null };
}

/** The one model all runs pruned; throws naming two runs that disagree. */
function commonModel(runs: readonly AnalysisRunInput[]): string | null {
  let first: AnalysisRunInput | undefined;
  let sha: string | null = null;
  for (const r of runs) {
    const fromMasks = typeof r.masks.header.meta?.modelSha256 === 'string' ? (r.masks.header.meta.modelSha256 as string) : null;
    if (r.modelSha256 && fromMasks && r.modelSha256 !== fromMasks) {
      throw new Error(`run ${r.runId}: its record says model ${r.modelSha256.slice(0, 12)}…, its masks.bin says ${fromMasks.slice(0, 12)}…`);
    }
    const s = r.modelSha256 ?? fromMasks;
    if (!s) continue;
    if (sha && s !== sha) {
      throw new Error(
        `runs ${first!.runId} and ${r.runId} pruned different model bytes (graph sha256 ${sha.slice(0, 12)}… vs ${s.slice(0, 12)}…); masks compare only on the same model`,
      );
    }
    sha ??= s;
    first ??= r;
  }
  return sha;
}

/** The layers of the first run; every other run must have the same ids and shapes. */
function commonLayers(runs: readonly AnalysisRunInput[]) {
  const base = runs[0]!.masks.header.layers;
  for (const r of runs.slice(1)) {
    const theirs = new Map(r.masks.header.layers.map((l) => [l.id, l]));
    if (theirs.size !== base.length) {
      throw new Error(`runs ${runs[0]!.runId} and ${r.runId} have ${base.length} and ${theirs.size} masked layers; masks compare only layer for layer`);
    }
    for (const l of base) {
      const t = theirs.get(l.id);
      if (!t) throw new Error(`run ${r.runId} has no mask for layer ${l.id} (run ${runs[0]!.runId} has)`);
      if (t.dIn !== l.dIn || t.dOut !== l.dOut)
        throw new Error(`layer ${l.id} is [${l.dOut}×${l.dIn}] in run ${runs[0]!.runId} but [${t.dOut}×${t.dIn}] in run ${r.runId}`);
    }
  }
  return base;
}

interface LmfPlan {
  k: number;
  reports: { label: string; runId: string; report: LmfReport }[];
  blocks: number;
  dim: number;
}

function planLmf(runs: readonly AnalysisRunInput[], topK: number | undefined): { plan: LmfPlan | null; note: string | null } {
  const reports: LmfPlan['reports'] = [];
  for (const r of runs) {
    for (const p of r.lmf?.pairs ?? []) if (!reports.some((x) => x.label === p.pair)) reports.push({ label: p.pair, runId: r.runId, report: r.lmf! });
  }
  if (!reports.length) {
    return {
      plan: null,
      note: 'none of the compared runs has an LMF report (magnitude and random runs calibrate on no text; see each run’s extra.lmf for why)',
    };
  }
  const { blocks, dim } = reports[0]!.report;
  const odd = reports.find((x) => x.report.blocks !== blocks || x.report.dim !== dim);
  if (odd)
    return {
      plan: null,
      note: `LMF reports disagree in shape: ${reports[0]!.runId} has ${blocks}×${dim}, ${odd.runId} ${odd.report.blocks}×${odd.report.dim}`,
    };
  const k = Math.min(topK ?? Number.POSITIVE_INFINITY, ...reports.map((x) => x.report.k));
  return { plan: { k, reports, blocks, dim }, note: null };
}

const top = (x: LmfPlan['reports'][number], block: number, series: 'translation' | 'monolingual') => {
  const pair = x.report.pairs.find((p) => p.pair === x.label)!;
  return pair[series]?.[block]?.top;
};

function lmfComparison(plan: LmfPlan): NonNullable<MaskAnalysis['lmf']> {
  const { k, reports } = plan;
  const withMono = reports.every((x) => x.report.pairs.find((p) => p.pair === x.label)?.monolingual);
  const matrixOf = (block: number, series: 'translation' | 'monolingual') =>
    reports.map((x) => reports.map((y) => jaccard(top(x, block, series)!.slice(0, k), top(y, block, series)!.slice(0, k))));
  const blocks = Array.from({ length: plan.blocks }, (_, b) => ({
    block: b,
    translation: matrixOf(b, 'translation'),
    monolingual: withMono ? matrixOf(b, 'monolingual') : null,
  }));
  const mean = (pick: (x: (typeof blocks)[number]) => (number | null)[][] | null) =>
    reports.map((_, i) => reports.map((__, j) => blocks.reduce((s, b) => s + (pick(b)![i]![j] ?? 0), 0) / blocks.length));
  return {
    k,
    labels: reports.map((x) => x.label),
    runIds: reports.map((x) => x.runId),
    blocks,
    mean: { translation: mean((b) => b.translation), monolingual: withMono ? mean((b) => b.monolingual) : null },
  };
}

/** LMF input channels of block b: the union of every pair's first k translation dimensions. */
function lmfChannels(plan: LmfPlan, block: number): number[] {
  const set = new Set<number>();
  for (const x of plan.reports) for (const d of top(x, block, 'translation')!.slice(0, plan.k)) set.add(d);
  return [...set].sort((a, b) => a - b);
}

export async function analyzeMasks(runs: readonly AnalysisRunInput[], o: AnalysisOptions = {}): Promise<MaskAnalysis> {
  if (runs.length < 2) throw new Error(`an analysis compares at least two runs, got ${runs.length}`);
  if (new Set(runs.map((r) => r.runId)).size !== runs.length) throw new Error('a run is listed twice');
  const modelSha256 = commonModel(runs);
  const headerLayers = commonLayers(runs);
  const { plan, note } = planLmf(runs, o.lmfTopK);

  const layers: AnalysisLayer[] = headerLayers.map((l) => {
    const { block, role } = parseLayerId(l.id);
    const reads = plan && block !== null && role !== null && RESIDUAL_READERS.has(role) && l.dIn === plan.dim;
    const lmfBlock = reads ? Math.max(0, block - 1) : null;
    const usable = lmfBlock !== null && lmfBlock < plan!.blocks ? lmfBlock : null;
    return { id: l.id, block, role, dIn: l.dIn, dOut: l.dOut, lmfBlock: usable, lmfChannels: usable === null ? null : lmfChannels(plan!, usable).length };
  });
  let lmfNote = note;
  if (plan && !layers.some((l) => l.lmfBlock !== null)) {
    lmfNote = `no masked layer reads the ${plan.dim}-dimensional residual stream the LMF reports measure, so no LMF share`;
  }

  const n = runs.length;
  const pairs: { a: number; b: number; layers: OverlapCounts[] }[] = [];
  for (let a = 0; a < n; a++) for (let b = a + 1; b < n; b++) pairs.push({ a, b, layers: [] });
  for (const [li, l] of layers.entries()) {
    const masks: PackedMask[] = [];
    for (const r of runs) masks.push(await r.masks.layer(l.id));
    const rows = masks.map(prunedPerRow);
    const lmf = l.lmfBlock === null ? undefined : channelSet(l.dIn, lmfChannels(plan!, l.lmfBlock));
    for (const p of pairs) p.layers.push(layerOverlap(masks[p.a]!, masks[p.b]!, { rowsA: rows[p.a], rowsB: rows[p.b], lmf }));
    o.onProgress?.(li + 1, layers.length);
  }

  const square = (diag: number | null) => Array.from({ length: n }, (_, i) => Array.from({ length: n }, (__, j): number | null => (i === j ? diag : null)));
  const matrices = { jaccard: square(1), jaccardChance: square(null), rowsIdentical: square(1), lmfShare: square(null), lmfExpectedShare: square(null) };
  const out = pairs.map((p) => {
    const overall = overlapFigures(sumOverlaps(p.layers));
    const shares = lmfShares(p.layers);
    const set = (m: (number | null)[][], v: number | null) => {
      m[p.a]![p.b] = v;
      m[p.b]![p.a] = v;
    };
    set(matrices.jaccard, overall.jaccard);
    set(matrices.jaccardChance, overall.jaccardChance);
    set(matrices.rowsIdentical, overall.rows ? overall.rowsIdentical / overall.rows : 1);
    set(matrices.lmfShare, shares.share);
    set(matrices.lmfExpectedShare, shares.expected);
    return { a: p.a, b: p.b, overall, layers: p.layers.map(overlapFigures) };
  });

  return {
    version: 1,
    kind: 'mask-overlap',
    modelSha256,
    runs: runs.map((r) => ({ runId: r.runId, label: r.label, variant: r.variant, lmfPair: r.lmf?.pairs[0]?.pair ?? null })),
    layers,
    pairs: out,
    matrices,
    lmf: plan ? lmfComparison(plan) : null,
    lmfNote,
  };
}
