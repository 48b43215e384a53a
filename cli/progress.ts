/** Progress bars on stderr (stdout stays clean for --json and pipes). */
import cliProgress from 'cli-progress';

export function bar(label: string) {
  const b = new cliProgress.SingleBar(
    { format: `${label.padEnd(24).slice(0, 24)} [{bar}] {percentage}% {value}/{total}`, stream: process.stderr, hideCursor: true, clearOnComplete: false },
    cliProgress.Presets.shades_classic,
  );
  let started = false;
  return {
    update(done: number, total: number) {
      if (!started) {
        b.start(Math.max(total, 1), done);
        started = true;
      }
      b.setTotal(Math.max(total, 1));
      b.update(done);
    },
    stop() {
      if (started) b.stop();
    },
  };
}

export function multiBar() {
  return new cliProgress.MultiBar(
    {
      format: '{job} {status} [{bar}] {stage} {value}/{total}',
      barsize: 20,
      stream: process.stderr,
      hideCursor: true,
      clearOnComplete: false,
      forceRedraw: true,
    },
    cliProgress.Presets.shades_classic,
  );
}
