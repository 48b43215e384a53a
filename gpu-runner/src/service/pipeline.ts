/** The job handler the runner calls: dispatches on the job kind to the composed engine. */
import { runAnalyzeJob } from './analyze-job';
import { runEvaluateJob } from './evaluate-job';
import { runPruneJob } from './prune-job';
import type { RunResult } from './protocol';
import type { JobContext } from './worker-loop';

export async function runPipeline(ctx: JobContext): Promise<RunResult> {
  switch (ctx.spec.kind) {
    case 'prune':
      return runPruneJob(ctx);
    case 'evaluate':
      return runEvaluateJob(ctx);
    case 'analyze':
      return runAnalyzeJob(ctx);
    default:
      throw new Error(`unknown job kind "${(ctx.spec as { kind?: string }).kind}"`);
  }
}
