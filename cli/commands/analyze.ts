import type { Command } from 'commander';
import type { AnalysisSummary } from '@polyprune/shared/api/analysis';
import { apiFor, collect, emit, EXIT, globals, num, UsageError } from '../context';
import { renderAnalysis } from '../table';
import { failureLine, watchJobs } from './jobs';

export function registerAnalyze(program: Command) {
  program
    .command('analyze')
    .description('compare the masks of finished prune runs of one model: overlap matrix, chance, identical rows, LMF share')
    .option('--run <id>', 'a finished prune run (repeatable, at least two)', collect, [])
    .option('--job <id>', 'or: prune jobs whose runs to compare once they have all ended (repeatable)', collect, [])
    .option('--model <id>', 'the model (default: the first run’s)')
    .option('--lmf-top-k <k>', 'LMF channels: the first k of each report’s top list', num('--lmf-top-k'))
    .option('--public', 'the analysis is visible to everyone', false)
    .option('--watch', 'follow the job, then print the matrices')
    .action(async (o: { run: string[]; job: string[]; model?: string; lmfTopK?: number; public: boolean; watch?: boolean }, cmd: Command) => {
      if (o.run.length && o.job.length) throw new UsageError('give --run or --job, not both');
      const refs = o.run.length ? o.run : o.job;
      const [first, second] = refs;
      if (first === undefined || second === undefined) throw new UsageError('analyze compares at least two: --run <id> --run <id>');
      const api = await apiFor(cmd);
      const modelId = o.model ?? (o.run.length ? (await api.getRun(first)).modelId : (await api.getJob(first)).modelId);
      const job = await api.createJob({
        kind: 'analyze',
        modelId,
        ...(o.run.length ? { runs: o.run } : { jobs: o.job }),
        ...(o.lmfTopK !== undefined ? { lmfTopK: o.lmfTopK } : {}),
        visibility: o.public ? 'public' : 'private',
      });
      if (!o.watch) return emit(cmd, job, () => `job ${job.id} ${job.status}`);
      // The job table goes to stderr here: stdout carries the analysis.
      const code = await watchJobs(api, [job.id], cmd, 1000, { quiet: true });
      const done = await api.getJob(job.id);
      if (code !== EXIT.ok || !done.runId) {
        process.stderr.write(`job ${failureLine(done)}\n`);
        process.exitCode = EXIT.api;
        return;
      }
      const run = await api.getRun(done.runId);
      const summary = run.extra.analysis as AnalysisSummary;
      if (globals(cmd).json) return emit(cmd, await api.analysis(run.id));
      emit(cmd, summary, () => `${renderAnalysis(summary)}\n\n${api.pageUrl('runs', run.id)}`);
    });
}
