/**
 * An analyze job: the masks of two or more finished prune runs (role "masks", one per run, in the
 * order the API lists them) and their LMF reports (role "lmf", where a run has one) → analysis.json
 * and the summary in the run record. No model, no forward pass: masks are read a layer at a time.
 */
import { readFile } from 'node:fs/promises';
import { type MaskAnalysis, maskAnalysis, summarize } from '@polyprune/shared/api/analysis';
import type { AnalyzeJobSpec } from '@polyprune/shared/api/jobs';
import type { LmfReport } from '../analyze/lmf';
import { type AnalysisRunInput, analyzeMasks } from '../analyze/mask-analysis';
import { type MaskFileReader, openMaskFile } from '../prune/mask-file-reader';
import type { RunResult } from './protocol';
import type { JobContext } from './lease-loop';

/** An LMF report good enough to compare; anything else is left out with a log line, not a failure. */
function asLmfReport(value: unknown): LmfReport | null {
  const r = value as Partial<LmfReport> | null;
  const ok =
    r?.version === 1 &&
    Number.isInteger(r.k) &&
    Number.isInteger(r.blocks) &&
    Number.isInteger(r.dim) &&
    Array.isArray(r.pairs) &&
    r.pairs.every(
      (p) =>
        typeof p.pair === 'string' && Array.isArray(p.translation) && p.translation.length === r.blocks && p.translation.every((b) => Array.isArray(b.top)),
    );
  return ok ? (r as LmfReport) : null;
}

export async function runAnalyzeJob(ctx: JobContext, spec: AnalyzeJobSpec): Promise<RunResult> {
  const timings: Record<string, number> = {};
  const maskInputs = ctx.inputs.filter((i) => i.role === 'masks');
  if (maskInputs.length < 2) {
    throw new Error(
      `an analysis compares at least two runs' masks; the lease lists ${maskInputs.length} (${maskInputs.map((i) => i.meta.runId).join(', ') || 'none'})`,
    );
  }
  const t0 = performance.now();
  const files = await ctx.step('download', async () => {
    const out = new Map<string, string>();
    for (const i of ctx.inputs.filter((x) => x.role === 'masks' || x.role === 'lmf')) out.set(i.name, await ctx.input(i.name));
    return out;
  });
  timings.download = Math.round((performance.now() - t0) / 10) / 100;

  const readers: MaskFileReader[] = [];
  try {
    const runs: AnalysisRunInput[] = [];
    for (const m of maskInputs) {
      const runId = String(m.meta.runId);
      const reader = await openMaskFile(files.get(m.name)!).catch((err: Error) => {
        throw new Error(`run ${runId}: ${err.message}`);
      });
      readers.push(reader);
      const lmfInput = ctx.inputs.find((i) => i.role === 'lmf' && i.meta.runId === m.meta.runId);
      let lmf: LmfReport | null = null;
      if (lmfInput) {
        try {
          lmf = asLmfReport(JSON.parse(await readFile(files.get(lmfInput.name)!, 'utf8')));
        } catch {
          lmf = null;
        }
        if (!lmf) ctx.log(`run ${runId}: its lmf.json is not an LMF report of version 1; left out of the LMF comparison`);
      }
      runs.push({
        runId,
        label: typeof m.meta.label === 'string' ? m.meta.label : runId,
        variant: typeof m.meta.variant === 'string' ? m.meta.variant : runId,
        modelSha256: typeof m.meta.modelSha256 === 'string' ? m.meta.modelSha256 : null,
        masks: reader,
        lmf,
      });
    }
    const t1 = performance.now();
    const analysis: MaskAnalysis = await ctx.step('compare', () =>
      analyzeMasks(runs, { lmfTopK: spec.lmfTopK, onProgress: (done, total) => ctx.progress('compare', done, total) }),
    );
    timings.compare = Math.round((performance.now() - t1) / 10) / 100;
    // The artifact is checked against the contract before it leaves: a page must never get half of one.
    const checked = maskAnalysis.parse(analysis);
    ctx.log(`compared ${runs.length} runs over ${checked.layers.length} layers${checked.lmfNote ? `; ${checked.lmfNote}` : ''}`);
    await ctx.step('upload', () => ctx.upload('analysis.json', new TextEncoder().encode(JSON.stringify(checked))));
    return {
      overallSparsity: null,
      layers: [],
      scores: [],
      artifacts: ['analysis.json'],
      device: 'cpu',
      timings,
      extra: { analysis: summarize(checked) },
    };
  } finally {
    for (const r of readers) await r.close();
  }
}
