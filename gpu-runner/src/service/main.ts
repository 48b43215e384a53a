/**
 * `npm run runner`: one runner process, one job at a time (start one per GPU). Configuration comes
 * from the environment (env.ts). SIGTERM/SIGINT: finish the current step, hand the job back as a
 * retryable failure, exit 0; a second signal interrupts the step as well.
 * `npm run runner -- --probe`: print the device and run a one-layer check (probe.ts), then exit.
 */
import { configureSessions, resolveDevice } from '../ort';
import { describeAdapter } from '../webgpu-adapter';
import { runProbe } from './probe';
import { RunnerClient } from './client';
import { memoryReleaseWarnings } from './memory-release';
import { EnvError, readDevice, readRunnerEnv } from './env';
import { runPipeline } from './pipeline';
import { Runner } from './lease-loop';

async function main(): Promise<number> {
  let env: ReturnType<typeof readRunnerEnv>;
  try {
    if (process.argv.includes('--probe')) {
      const device = readDevice();
      configureSessions({ device });
      return await runProbe(device, (l) => console.log(l));
    }
    env = readRunnerEnv();
  } catch (err) {
    if (err instanceof EnvError) {
      console.error(`polyprune runner: ${err.message}`);
      return 2;
    }
    throw err;
  }
  configureSessions({ prepack: env.prepack, device: env.device, cpuFp16: env.cpuFp16 });
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
  log(`polling ${env.api} (node ${process.version}, device ${env.device}: ${await deviceLine(env.device)}, workdir ${env.workdir})`);
  await runner.run();
  return 0;
}

/** What the sessions will open on, said before any job: provider, and the adapter's figures for WebGPU. */
async function deviceLine(device: ReturnType<typeof readDevice>): Promise<string> {
  const r = await resolveDevice(device);
  if (r.device === 'webgpu' && r.webgpu)
    return r.webgpu.available ? `webgpu on ${describeAdapter(r.webgpu.adapter)}` : `webgpu unavailable: ${r.webgpu.reason}`;
  return r.reason ? `${r.device} (${r.reason})` : r.device;
}

main().then(
  (code) => process.exit(code),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
