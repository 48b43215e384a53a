/**
 * End-to-end fixtures: a real stack (wrangler dev on a free loopback port, state in a temp dir, CPU
 * runners as separate processes) and the demo data uploaded through the HTTP API.
 */
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { PolypruneApi, type PruneJobBody } from '@polyprune/cli/api';
import type { ModelFamily } from '@polyprune/shared/api/models';
import { freePort, newAdminToken, repoRoot, startStack, type Stack, type StackOptions } from '../../scripts/lib/stack';

export interface TestStack {
  stack: Stack;
  api: PolypruneApi;
  tmp: string;
  close: () => Promise<void>;
}

export async function startTestStack(o: Partial<StackOptions> = {}): Promise<TestStack> {
  const tmp = await mkdtemp(path.join(os.tmpdir(), 'polyprune-e2e-'));
  const verbose = process.env.E2E_VERBOSE === '1';
  const stack = await startStack({
    port: await freePort(),
    persistTo: path.join(tmp, 'state'),
    adminToken: newAdminToken(),
    runners: 1,
    runnerWorkdir: path.join(tmp, 'runner'),
    log: verbose ? (l) => console.log(l) : undefined,
    runnerLog: verbose ? (l) => console.log(l) : undefined,
    ...o,
    vars: { RATE_LIMIT_PER_MINUTE: '100000', ...o.vars },
  });
  const api = new PolypruneApi({ baseUrl: stack.url, token: stack.adminToken, retry: { retries: 2 } });
  return {
    stack,
    api,
    tmp,
    close: async () => {
      await stack.stop();
      await rm(tmp, { recursive: true, force: true });
    },
  };
}

/** The trained demo model when it is there, else the tiny XGLM fixture (same code paths). */
export function modelDir(): { dir: string; family: ModelFamily } {
  const demo = path.join(repoRoot, 'demo/model');
  if (existsSync(path.join(demo, 'model.onnx'))) return { dir: demo, family: familyOf(demo) };
  return { dir: path.join(repoRoot, 'test/fixtures/models/xglm'), family: 'xglm' };
}

function familyOf(dir: string): ModelFamily {
  try {
    const cfg = JSON.parse(readFileSync(path.join(dir, 'config.json'), 'utf8')) as { model_type?: string };
    const t = cfg.model_type ?? 'other';
    return (['xglm', 'bloom', 'gpt2', 'llama'] as const).find((f) => f === t) ?? 'other';
  } catch {
    return 'other';
  }
}

const dataDir = path.join(repoRoot, 'demo/data');

/** First `n` lines of a demo data file (suites are cut short to keep the tests quick). */
export async function demoData(name: string, n = Infinity): Promise<Uint8Array> {
  const text = await readFile(path.join(dataDir, name), 'utf8');
  const lines = text.split('\n').filter((l) => l.trim());
  return new TextEncoder().encode(`${lines.slice(0, n).join('\n')}\n`);
}

export interface Seeded {
  modelId: string;
  corpusId: string;
  suites: { id: string; lang: string }[];
}

/** Uploads a model, the fr-en corpus and short multiple-choice suites for fr and en. */
export async function seed(api: PolypruneApi, suiteRows = 12): Promise<Seeded> {
  const m = modelDir();
  const model = await api.createModel({ name: `e2e ${path.basename(m.dir)}`, family: m.family });
  for (const f of ['model.onnx', 'model.onnx.data', 'tokenizer.json', 'config.json', 'tokenizer_config.json']) {
    if (existsSync(path.join(m.dir, f))) await api.uploadModelFile(model.id, path.join(m.dir, f));
  }
  const corpus = await api.uploadCorpus(await demoData('corpus.fr-en.tsv'), { src: 'fr', tgt: 'en', format: 'tsv' });
  const suites = [];
  for (const lang of ['fr', 'en']) {
    const s = await api.uploadSuite(await demoData(`suite.mc.${lang}.jsonl`, suiteRows), { format: 'mc', lang });
    suites.push({ id: s.id, lang });
  }
  return { modelId: model.id, corpusId: corpus.id, suites };
}

export function pruneSpec(s: Seeded, extra: Partial<PruneJobBody> = {}): PruneJobBody {
  return {
    kind: 'prune',
    modelId: s.modelId,
    method: 'wanda',
    sparsity: 0.5,
    calibration: { corpusId: s.corpusId, dataType: 'mt', shots: 2, samples: 8, maxLength: 64 },
    suites: s.suites.map((x) => x.id),
    ...extra,
  };
}

/** Polls until `pred` holds for the job, failing with its last state after `timeoutMs`. */
export async function waitJob(api: PolypruneApi, id: string, pred: (j: Awaited<ReturnType<PolypruneApi['getJob']>>) => boolean, timeoutMs = 240_000) {
  const deadline = Date.now() + timeoutMs;
  let last: Awaited<ReturnType<PolypruneApi['getJob']>> | undefined;
  while (Date.now() < deadline) {
    last = await api.getJob(id);
    if (pred(last)) return last;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`job ${id}: condition not met within ${timeoutMs} ms; last state ${JSON.stringify(last)}`);
}
