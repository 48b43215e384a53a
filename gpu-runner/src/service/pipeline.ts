/** The job handler the runner calls: dispatches on the job kind to the composed engine. */
import { deviceUse, resetDeviceUse } from '../ort';
import { runAnalyzeJob } from './analyze-job';
import { runEvaluateJob } from './evaluate-job';
import { runPruneJob } from './prune-job';
import type { RunResult } from './protocol';
import type { JobContext } from './lease-loop';

/** Runs the job; its run's `extra.device` says what the sessions ran on (ort.ts DeviceUse). */
export async function runPipeline(ctx: JobContext): Promise<RunResult> {
  resetDeviceUse();
  const result = await runJob(ctx);
  return { ...result, extra: { ...result.extra, device: await deviceUse() } };
}

function runJob(ctx: JobContext): Promise<RunResult> {
  switch (ctx.spec.kind) {
    case 'prune':
      return runPruneJob(ctx, ctx.spec);
    case 'evaluate':
      return runEvaluateJob(ctx, ctx.spec);
    case 'analyze':
      return runAnalyzeJob(ctx, ctx.spec);
    default: {
      // The lease response was parsed with the shared schema: no other kind gets here.
      const unknown: never = ctx.spec;
      throw new Error(`unknown job kind in ${JSON.stringify(unknown)}`);
    }
  }
}
