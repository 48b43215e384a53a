import type { Command } from 'commander';
import { type CalibrationBody, isFinal, type JobInfo, type PolypruneApi, type PruneJobBody } from '../api';
import { apiFor, collect, emit, EXIT, globals, num, UsageError } from '../context';
import { defaultMetric } from '@polyprune/shared/api/leaderboards';
import { columnTag } from '@polyprune/shared/cell-identity';
import { etaText, multiBar, progressText } from '../progress';
import { corpusHint, pruneOnlyFlags, sparsityArg } from '../hints';
import { renderResults, renderTable } from '../table';

// Flag values go to the API as typed (it validates them); their types are the fields they fill.
interface CalibrationFlags {
  corpus?: string;
  dataType: CalibrationBody['dataType'];
  contrast?: string;
  samples?: number;
  shots?: number;
  maxLength?: number;
  maskPadding?: boolean;
  direction?: CalibrationBody['direction'];
}

/** "cor_fr*2,cor_de": a calibration mix (weight after "*", 1 when left out); one id: that corpus. */
export function corpusSource(text: string): { corpusId: string } | { corpora: { corpusId: string; weight: number }[] } {
  if (!text.includes(',') && !text.includes('*')) return { corpusId: text };
  return {
    corpora: text.split(',').map((part) => {
      const [corpusId, w] = part.split('*');
      const weight = w === undefined ? 1 : Number(w);
      if (!corpusId || !(weight > 0)) throw new UsageError(`--corpus/--pair: "${part}" is not id or id*weight with weight > 0`);
      return { corpusId, weight };
    }),
  };
}

function layerSparsity(o: { owl?: boolean; owlM?: number; owlLambda?: number }): Pick<PruneJobBody, 'layerSparsity'> {
  if (!o.owl) return {};
  return { layerSparsity: { kind: 'owl', ...(o.owlM !== undefined ? { m: o.owlM } : {}), ...(o.owlLambda !== undefined ? { lambda: o.owlLambda } : {}) } };
}

function calibration(o: CalibrationFlags): CalibrationBody | undefined {
  if (!o.corpus) return undefined;
  return {
    ...corpusSource(o.corpus),
    dataType: o.dataType,
    ...(o.contrast ? { contrastCorpusId: o.contrast } : {}),
    ...calibrationSettings(o),
  };
}

/** What a sweep's base takes of the calibration: everything but the corpora and the data type (per pair and method). */
function calibrationSettings(o: CalibrationFlags) {
  return {
    ...(o.samples !== undefined ? { samples: o.samples } : {}),
    ...(o.shots !== undefined ? { shots: o.shots } : {}),
    ...(o.maxLength !== undefined ? { maxLength: o.maxLength } : {}),
    ...(o.maskPadding ? { maskPadding: true } : {}),
    ...(o.direction ? { direction: o.direction } : {}),
  };
}

const calibrationOptions = (c: Command) =>
  c
    .option('--samples <n>', 'calibration samples (reference 100)', num('--samples'))
    .option('--shots <n>', 'demonstrations per sample (reference 4)', num('--shots'))
    .option('--max-length <n>', 'tokens per sample (reference 512)', num('--max-length'))
    .option('--mask-padding', 'drop pad positions from the statistics')
    .option('--direction <dir>', 'x-en | en-x')
    .option('--mode <mode>', 'sequential (Wanda-exact) | oneshot')
    .option('--pattern <pattern>', 'unstructured | 2:4 | 4:8')
    .option('--suite <id>', 'suite to evaluate on (repeatable)', collect, [])
    .option('--scoring <name>', 'paper | harness (repeatable)', collect, [])
    .option('--template-lang <lang>', 'language of the prompt templates')
    .option('--limit <n>', 'evaluate a seeded subset of n rows per suite (stratified by label)', num('--limit'))
    .option('--limit-seed <s>', 'seed of the --limit subset (default 0)', num('--limit-seed'))
    .option('--public', 'runs and scores visible to everyone', false)
    .option('--owl', 'OWL layerwise sparsity: blocks with more Wanda-score outliers are pruned less')
    .option('--owl-m <M>', 'OWL outlier threshold, × the block mean score (reference 5)', num('--owl-m'))
    .option('--owl-lambda <λ>', 'OWL spread: block sparsities within 2λ (reference 0.08)', num('--owl-lambda'));

function common(o: {
  mode?: PruneJobBody['mode'];
  pattern?: PruneJobBody['pattern'];
  suite: string[];
  scoring: NonNullable<PruneJobBody['scoring']>;
  templateLang?: string;
  limit?: number;
  limitSeed?: number;
  public: boolean;
}) {
  if (o.limitSeed !== undefined && o.limit === undefined) throw new UsageError('--limit-seed needs --limit <n>');
  return {
    ...(o.limit !== undefined ? { limit: o.limit } : {}),
    ...(o.limitSeed !== undefined ? { limitSeed: o.limitSeed } : {}),
    ...(o.mode ? { mode: o.mode } : {}),
    ...(o.pattern ? { pattern: o.pattern } : {}),
    suites: o.suite,
    ...(o.scoring.length ? { scoring: o.scoring } : {}),
    ...(o.templateLang ? { templateLang: o.templateLang } : {}),
    visibility: o.public ? ('public' as const) : ('private' as const),
  };
}

export function registerJobs(program: Command) {
  calibrationOptions(
    program
      .command('prune')
      .description('queue a prune job (calibrate → score → mask → evaluate)')
      .requiredOption('--model <id>')
      .option('--method <method>', 'wanda | magnitude | random | sparsegpt', 'wanda')
      .option('--sparsity <p>', 'fraction of weights to drop', sparsityArg('--sparsity'), 0.5)
      .option('--corpus <id>', 'calibration corpus (wanda, sparsegpt, or any method with --owl); a mix: id*weight,id*weight')
      .option('--data-type <type>', 'mt | mono | mt-contrast', 'mt')
      .option('--contrast <id>', 'contrast corpus for mt-contrast')
      .option('--drop-top', 'ablation: drop the highest-scoring weights')
      .option('--percdamp <f>', 'sparsegpt: dampening, a fraction of mean(diag H) (reference 0.01)', num('--percdamp'))
      .option('--blocksize <n>', 'sparsegpt: columns per block of the OBS update (reference 128)', num('--blocksize'))
      .option('--seed <n>', 'random seed', num('--seed'))
      .option('--idempotency-key <key>', 'repeat-safe creation')
      .option('--watch', 'follow the job until it ends'),
  ).action(async (o, cmd: Command) => {
    // Methods that read activations, and any method with OWL (its ratios come from Wanda scores).
    const calibrated = o.method === 'wanda' || o.method === 'sparsegpt' || o.owl;
    if (calibrated && !o.corpus) throw new UsageError(`${o.owl ? '--owl' : o.method} needs --corpus <id>`);
    if ((o.percdamp !== undefined || o.blocksize !== undefined) && o.method !== 'sparsegpt')
      throw new UsageError('--percdamp and --blocksize are options of --method sparsegpt');
    const api = await apiFor(cmd);
    const spec: PruneJobBody = {
      kind: 'prune',
      modelId: o.model,
      method: o.method,
      sparsity: o.sparsity,
      ...(calibrated ? { calibration: calibration(o) } : {}),
      ...layerSparsity(o),
      ...(o.percdamp !== undefined ? { percdamp: o.percdamp } : {}),
      ...(o.blocksize !== undefined ? { blocksize: o.blocksize } : {}),
      ...(o.dropTop ? { dropTop: true } : {}),
      ...(o.seed !== undefined ? { seed: o.seed } : {}),
      ...common(o),
    };
    const job = await api.createJob(spec, o.idempotencyKey).catch((e) => {
      throw corpusHint(e, [o.corpus, o.contrast].filter(Boolean));
    });
    if (!o.watch) return emit(cmd, job, () => `job ${job.id} ${job.status}`);
    process.exitCode = await watchJobs(api, [job.id], cmd);
    const done = await api.getJob(job.id);
    if (done.runId && !globals(cmd).json) process.stdout.write(`\n${await runReport(api, done.runId)}\n`);
  });

  calibrationOptions(
    program
      .command('evaluate')
      .description('queue an evaluation of the dense model, or of a pruned run with --run')
      .requiredOption('--model <id>')
      .option('--run <id>', 'pruned run to evaluate')
      .option('--watch', 'follow the job until it ends'),
  ).action(async (o, cmd: Command) => {
    const refused = pruneOnlyFlags((k) => cmd.getOptionValueSource(k) === 'cli');
    if (refused.length)
      throw new UsageError(`evaluate does not prune: ${refused.join(', ')} ${refused.length > 1 ? 'apply' : 'applies'} to prune and sweep only`);
    if (!o.suite.length) throw new UsageError('evaluate needs at least one --suite <id>');
    const api = await apiFor(cmd);
    const { mode: _m, pattern: _p, ...rest } = common(o);
    if (o.owl) throw new UsageError('--owl prunes; evaluate takes no layerwise sparsity');
    const job = await api.createJob({ kind: 'evaluate', modelId: o.model, ...(o.run ? { runId: o.run } : {}), ...rest });
    if (!o.watch) return emit(cmd, job, () => `job ${job.id} ${job.status}`);
    process.exitCode = await watchJobs(api, [job.id], cmd);
  });

  calibrationOptions(
    program
      .command('sweep')
      .description('queue a grid: language pairs × sparsities × methods (+ the dense evaluation)')
      .requiredOption('--model <id>')
      .option('--pair <corpus[:contrast]>', 'calibration corpus of one language pair, or a mix id*weight,id*weight (repeatable)', collect, [])
      .option(
        '--sparsity <p>',
        'fraction of weights to drop (repeatable)',
        (v: string, prev: number[] = []) => [...prev, sparsityArg('--sparsity')(v)],
        [] as number[],
      )
      .option('--method <method[:dataType]>', 'e.g. wanda:mt, wanda:mono, sparsegpt:mt, magnitude, random (repeatable)', collect, [])
      .option('--no-dense', 'skip the dense evaluation')
      .option('--analyze', 'also compare the masks of each method and sparsity across pairs once the prune jobs end')
      .option('--watch', 'follow the jobs until they end'),
  ).action(async (o, cmd: Command) => {
    if (!o.pair.length) throw new UsageError('sweep needs at least one --pair <corpusId>');
    const methods = (o.method.length ? o.method : ['wanda:mt', 'wanda:mono', 'magnitude', 'random']).map((m: string) => {
      const [method, dataType] = m.split(':');
      return { method, ...(dataType ? { dataType } : {}) };
    });
    const api = await apiFor(cmd);
    const sweep = await api
      .createSweep({
        modelId: o.model,
        pairs: o.pair.map((p: string) => {
          const [corpus, contrastCorpusId] = p.split(':');
          return { ...corpusSource(corpus!), ...(contrastCorpusId ? { contrastCorpusId } : {}) };
        }),
        sparsities: o.sparsity.length ? o.sparsity : [0.5],
        methods,
        base: { ...common(o), ...layerSparsity(o), calibration: calibrationSettings(o) },
        includeDense: o.dense,
        ...(o.analyze ? { analyze: true } : {}),
      })
      .catch((e) => {
        throw corpusHint(
          e,
          o.pair.flatMap((p: string) => p.split(':')),
        );
      });
    if (!o.watch)
      return emit(cmd, sweep, () => `sweep ${sweep.sweepId}: ${sweep.jobs.length} jobs\n${jobTable(sweep.jobs)}\n${api.pageUrl('sweeps', sweep.sweepId)}`);
    process.exitCode = await watchJobs(
      api,
      sweep.jobs.map((j) => j.id),
      cmd,
      1000,
      { results: true },
    );
  });

  const jobs = program.command('jobs').description('queued, running and finished jobs');
  jobs
    .command('watch')
    .description('live progress of jobs until they end (exit 1 when one did not succeed)')
    .argument('<jobIds...>')
    .action(async (ids: string[], _o, cmd: Command) => {
      process.exitCode = await watchJobs(await apiFor(cmd), ids, cmd, 1000, { results: true });
    });
  jobs
    .command('list')
    .option('--status <status>')
    .option('--model <id>')
    .option('--sweep <id>')
    .option('--limit <n>', 'page size', num('--limit'))
    .action(async (o, cmd: Command) => {
      const api = await apiFor(cmd);
      const page = await api.listJobs(o);
      emit(cmd, page, () => jobTable(page.items));
    });
  jobs
    .command('get')
    .argument('<jobId>')
    .action(async (id: string, _o, cmd: Command) => emit(cmd, await (await apiFor(cmd)).getJob(id)));
  jobs
    .command('cancel')
    .argument('<jobId>')
    .action(async (id: string, _o, cmd: Command) => {
      const j = await (await apiFor(cmd)).cancelJob(id);
      emit(cmd, j, () => `job ${j.id} ${j.status}`);
    });
}

/** What a job does, with its calibration pair (resolved by the API when the job was created): "wanda 0.5 mt fr-en". */
export function label(j: JobInfo): string {
  const s = j.spec;
  if (s.kind === 'evaluate') return 'evaluate';
  if (s.kind === 'analyze') return `analyze ${(s.runs ?? s.jobs ?? []).length} ${s.runs ? 'runs' : 'jobs'}`;
  const pair = s.calibration ? (j.pair ?? s.calibration.corpusId ?? null) : null;
  return `${s.method}${s.layerSparsity ? `+${s.layerSparsity.kind}` : ''} ${s.sparsity}${s.calibration?.dataType ? ` ${s.calibration.dataType}` : ''}${pair ? ` ${pair}` : ''}`;
}

export function jobTable(items: JobInfo[]): string {
  return renderTable(
    ['id', 'what', 'status', 'progress', 'attempts', 'run'],
    items.map((j) => [j.id, label(j), j.status, progressText(j.progress), `${j.attempts}/${j.maxAttempts}`, j.runId ?? '']),
  );
}

/** A finished run's scores with Δ vs dense on the same suite rows, its interval and p-value, as the leaderboard has them. */
export async function runReport(api: PolypruneApi, runId: string): Promise<string> {
  const run = await api.getRun(runId);
  const rows: string[][] = [];
  const seen = new Set<string>();
  for (const sc of run.scores) {
    const metric = defaultMetric(sc.format);
    const key = `${sc.format}/${sc.scoring}`;
    if (sc.metric !== metric || seen.has(key)) continue;
    seen.add(key);
    const board = await api.leaderboard({ model: run.modelId, format: sc.format, scoring: sc.scoring, metric });
    const row = board.rows.find((r) => r.variant === run.variant);
    for (const col of board.columns) {
      const c = row?.cells[col.key];
      if (!c || c.runId !== run.id) continue;
      const f = (v: number | null) => (v === null ? '–' : v.toFixed(metric === 'acc' ? 4 : 2));
      const tag = columnTag(col);
      rows.push([
        `${col.lang} ${col.suite}${tag ? ` [${tag}]` : ''}`,
        `${metric} ${sc.scoring}`,
        f(c.value),
        String(c.n),
        c.delta === null ? 'no dense on these rows' : `${c.delta >= 0 ? '+' : ''}${f(c.delta)}`,
        c.deltaLo === null || c.deltaHi === null ? '' : `[${f(c.deltaLo)}, ${f(c.deltaHi)}]`,
        c.p === null ? '' : `${c.p.toFixed(3)}${c.p < 0.05 ? ' *' : ''}`,
      ]);
    }
  }
  return `run ${run.id} (${run.variant})\n${renderTable(['suite', 'metric', 'value', 'n', 'Δ vs dense', '95% interval', 'p'], rows, ['left', 'left', 'right', 'right', 'right', 'right', 'right'])}`;
}

/** "k/N jobs ended (s succeeded, f failed)": the sweep at a glance. */
export function overallLine(jobs: JobInfo[]): string {
  const ended = jobs.filter((j) => isFinal(j.status));
  const ok = ended.filter((j) => j.status === 'succeeded').length;
  const bad = ended.length - ok;
  return `${ended.length}/${jobs.length} jobs ended${ended.length ? ` (${ok} succeeded${bad ? `, ${bad} did not` : ''})` : ''}`;
}

/** The scores of the finished jobs and where to read them: the sweep's page, or each run's. */
export async function resultsReport(api: PolypruneApi, jobs: JobInfo[]): Promise<string> {
  const done = jobs.filter((j) => j.runId && j.kind !== 'analyze');
  const runs = await Promise.all(done.map((j) => api.getRun(j.runId!)));
  const table = renderResults(done.map((j, i) => ({ label: label(j), scores: runs[i]!.scores })));
  const sweeps = [...new Set(jobs.map((j) => j.sweepId))];
  const pages =
    sweeps.length === 1 && sweeps[0]
      ? [`sweep page: ${api.pageUrl('sweeps', sweeps[0])}`]
      : jobs.flatMap((j) => (j.runId ? [`run page: ${api.pageUrl('runs', j.runId)}`] : []));
  return [table, ...pages].join('\n');
}

/** Follows jobs to their end with one progress bar each (plain lines without a TTY or with --json). */
export async function watchJobs(
  api: PolypruneApi,
  ids: string[],
  cmd: Command,
  intervalMs = 1000,
  o: { quiet?: boolean; results?: boolean } = {},
): Promise<number> {
  const json = !!globals(cmd).json;
  const live = !json && process.stderr.isTTY;
  const bars = live ? multiBar() : null;
  const byId = new Map<string, ReturnType<NonNullable<typeof bars>['create']>>();
  const last = new Map<string, string>();
  let overall: ReturnType<NonNullable<typeof bars>['create']> | null = null;
  let lastOverall = '';
  let jobs: JobInfo[] = [];
  try {
    for (;;) {
      jobs = await Promise.all(ids.map((id) => api.getJob(id)));
      const ended = jobs.filter((j) => isFinal(j.status)).length;
      if (bars && ids.length > 1) {
        const payload = { job: 'all jobs'.padEnd(44), status: ''.padEnd(9), stage: 'ended', eta: '' };
        overall ??= bars.create(ids.length, ended, payload);
        overall.update(ended, payload);
      } else if (!json && ids.length > 1 && overallLine(jobs) !== lastOverall) {
        lastOverall = overallLine(jobs);
        process.stderr.write(`${lastOverall}\n`);
      }
      for (const j of jobs) {
        const payload = {
          job: `${j.id} ${label(j)}`.padEnd(44).slice(0, 44),
          status: j.status.padEnd(9),
          stage: j.progress?.stage ?? '',
          eta: etaText(j.progress),
        };
        const total = Math.max(1, j.progress?.total ?? 1);
        const done = isFinal(j.status) && j.status === 'succeeded' ? total : Math.min(total, j.progress?.done ?? 0);
        if (bars) {
          const b = byId.get(j.id) ?? bars.create(total, done, payload);
          byId.set(j.id, b);
          b.setTotal(total);
          b.update(done, payload);
        } else if (!json) {
          const line = `${j.id} ${label(j)} ${j.status} ${progressText(j.progress)}`.trim();
          if (last.get(j.id) !== line) process.stderr.write(`${line}\n`);
          last.set(j.id, line);
        }
      }
      if (jobs.every((j) => isFinal(j.status))) break;
      await new Promise((r) => setTimeout(r, intervalMs));
    }
  } finally {
    bars?.stop();
  }
  const failed = jobs.filter((j) => j.status !== 'succeeded');
  // quiet: the caller prints its own result on stdout.
  if (!o.quiet) {
    const results = o.results && !json ? `\n\n${await resultsReport(api, jobs)}` : '';
    emit(cmd, jobs, () => `${jobTable(jobs)}${failed.length ? `\n\n${failed.map(failureLine).join('\n')}` : ''}\n${overallLine(jobs)}${results}`);
  }
  return failed.length ? EXIT.api : EXIT.ok;
}

/** A finished job that did not succeed, with the runner's reason code when it gave one. */
export const failureLine = (j: JobInfo) => `${j.id} ${j.status}${j.errorCode ? ` (${j.errorCode})` : ''}: ${j.error ?? ''}`;
