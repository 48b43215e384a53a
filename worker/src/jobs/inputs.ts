import { eq } from 'drizzle-orm';
import type { JobInput } from '@polyprune/shared/api/jobs';
import type { SuiteInfo } from '@polyprune/shared/api/suites';
import { corpora, jobArtifacts, models, runs, suites } from '../db/schema';
import { loadModelStatus } from '../ingest/model-status';
import type { Db } from '../lib/db';
import { analysisInputs } from './analysis-runs';
import { DENSE_SAMPLE_ARTIFACTS, findDenseSamples, wantsDenseSamples } from './dense-samples';
import { findReusableStats, STATS_ARTIFACTS, wantsStats } from './reuse-stats';
import { reusableArtifacts } from './reusable-runs';
import type { JobRow } from './store';

export interface Located {
  input: JobInput;
  r2Key: string;
}

/** Everything a runner may download for a job, by name. */
export async function jobInputs(db: Db, job: JobRow, only?: string): Promise<Located[]> {
  const spec = job.spec;
  // An analysis reads stored masks and LMF reports, never the model.
  if (spec.kind === 'analyze') return analysisInputs(db, spec);
  const out: Located[] = [];
  // Model files keep their uploaded names; the graph is marked, with the family as a structure hint.
  const model = await db.query.models.findFirst({ where: eq(models.id, job.modelId) });
  if (model) {
    const st = await loadModelStatus(db, model);
    for (const f of st.files) {
      const meta: Record<string, unknown> = f.name === st.graph ? { graph: true, family: model.family, externalData: f.graphInfo?.externalData ?? [] } : {};
      out.push({ input: { name: f.name, role: 'model', sha256: f.sha256, size: f.size, meta }, r2Key: f.r2Key });
    }
  }
  if (spec.kind === 'prune' && spec.calibration) {
    const add = async (id: string, role: 'corpus' | 'contrast', name: string, mix: Record<string, unknown> = {}) => {
      const c = await db.query.corpora.findFirst({ where: eq(corpora.id, id) });
      if (c) out.push({ input: { name, role, sha256: c.sha256, size: c.size, meta: { corpusId: c.id, src: c.src, tgt: c.tgt, ...mix } }, r2Key: c.r2Key });
    };
    const mix = spec.calibration.corpora;
    if (mix) {
      // Every corpus of a mix, in the spec's order (meta.index), with its weight.
      for (const [index, m] of mix.entries()) await add(m.corpusId, 'corpus', `corpus-${index}.jsonl`, { index, weight: m.weight });
    } else if (spec.calibration.corpusId) await add(spec.calibration.corpusId, 'corpus', 'corpus.jsonl');
    if (spec.calibration.contrastCorpusId) await add(spec.calibration.contrastCorpusId, 'contrast', 'contrast.jsonl');
  }
  for (const id of spec.suites) {
    const s = await db.query.suites.findFirst({ where: eq(suites.id, id) });
    if (s)
      out.push({
        input: {
          name: `suite-${s.id}.jsonl`,
          role: 'suite',
          sha256: s.sha256,
          size: s.size,
          // task and upload subset: what the runner's RankC needs to tell parallel suites
          meta: { suiteId: s.id, format: s.format, lang: s.lang, task: s.task ?? s.name, subset: (s.stats as SuiteInfo['stats']).subset ?? null },
        },
        r2Key: s.r2Key,
      });
  }
  // Searching earlier runs is the costly part (one query for both kinds of reuse); a download of another input skips it.
  const wantPrior = (only === undefined || only.startsWith('prior-')) && wantsStats(spec);
  const wantDense = (only === undefined || only.startsWith('dense-samples-')) && wantsDenseSamples(spec);
  const reusable =
    wantPrior || wantDense
      ? await reusableArtifacts(db, job, wantDense ? ['prune', 'evaluate'] : ['prune'], [
          ...(wantPrior ? STATS_ARTIFACTS : []),
          ...(wantDense ? DENSE_SAMPLE_ARTIFACTS : []),
        ])
      : [];
  const prior = wantPrior ? findReusableStats(spec, reusable) : null;
  for (const a of prior?.artifacts ?? []) {
    out.push({
      input: { name: `prior-${a.name}`, role: 'stats', sha256: a.sha256, size: a.size, meta: { runId: prior!.runId, artifact: a.name } },
      r2Key: a.r2Key,
    });
  }
  const dense = wantDense ? findDenseSamples(spec, reusable) : [];
  for (const d of dense) {
    out.push({
      input: { name: `dense-samples-${d.runId}.jsonl.gz`, role: 'dense-samples', sha256: d.sha256, size: d.size, meta: { runId: d.runId, artifact: d.name } },
      r2Key: d.r2Key,
    });
  }
  if (spec.kind === 'evaluate' && spec.runId) {
    const run = await db.query.runs.findFirst({ where: eq(runs.id, spec.runId) });
    const arts = await db
      .select()
      .from(jobArtifacts)
      .where(eq(jobArtifacts.jobId, run?.jobId ?? ''));
    for (const a of arts) {
      // A pruned model keeps the uploaded layout: foo.onnx with foo.onnx.data or foo.onnx_data.
      if (/\.onnx(\.data|_data)?$/.test(a.name) || a.name === 'masks.bin') {
        out.push({
          input: { name: `base-${a.name}`, role: 'base-run', sha256: a.sha256, size: a.size, meta: { runId: run!.id, artifact: a.name } },
          r2Key: a.r2Key,
        });
      }
    }
  }
  return out;
}
