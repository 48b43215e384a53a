/**
 * `npm run runner`: one runner process, one job at a time (start one per GPU). Configuration comes
 * from the environment (env.ts). SIGTERM/SIGINT: finish the current step, hand the job back as a
 * retryable failure, exit 0; a second signal interrupts the step as well.
 */
import { configureSessions } from '../ort';
import { RunnerClient } from './client';
import { memoryReleaseWarnings } from './memory-release';
import { EnvError, readRunnerEnv } from './env';
import { runPipeline } from './pipeline';
import { Runner } from './lease-loop';

async function main(): Promise<number> {
  let env: ReturnType<typeof readRunnerEnv>;
  try {
    env = readRunnerEnv();
  } catch (err) {
    if (err instanceof EnvError) {
      console.error(`polyprune runner: ${err.message}`);
      return 2;
    }
    throw err;
  }
  configureSessions({ prepack: env.prepack });
  const log = (m: string) => console.error(`[runner ${env.runnerId} ${new Date().toISOString()}] ${m}`);
  for (const w of memoryReleaseWarnings()) log(`memory: ${w} (higher peak memory; see gpu-runner/src/service/memory-release.ts)`);
  const client = new RunnerClient({
    baseUrl: env.api,
    token: env.token,
    // Patient enough (~45 s) to ride out a restart of the API without failing the job.
    retry: { retries: 8 },
    onRetry: ({ attempt, delayMs, reason }) => log(`retry ${attempt} in ${delayMs} ms: ${reason}`),
  });
  const runner = new Runner({
    client,
    handler: runPipeline,
    workdir: env.workdir,
    runnerId: env.runnerId,
    device: env.device,
    pollMs: env.pollSeconds * 1000,
    maxJobs: env.maxJobs,
    cacheMaxBytes: env.cacheMaxBytes,
    stepDelayMs: env.stepDelayMs,
    memoryLimit: env.memoryLimit,
    log,
  });
  // A terminal's Ctrl-C or a group kill delivers the signal to npm, tsx and this process, and the
  // wrappers relay it once more: repeats within a few seconds count as one request.
  let firstSignalAt = 0;
  for (const sig of ['SIGTERM', 'SIGINT'] as const) {
    process.on(sig, () => {
      const now = Date.now();
      if (firstSignalAt && now - firstSignalAt < 3000) return;
      log(`${sig}: ${runner.isStopping ? 'interrupting the current step' : 'finishing the current step, then leaving'}`);
      firstSignalAt ||= now;
      runner.requestStop();
    });
  }
  log(`polling ${env.api} (node ${process.version}, device ${env.device}, workdir ${env.workdir})`);
  await runner.run();
  return 0;
}

main().then(
  (code) => process.exit(code),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
