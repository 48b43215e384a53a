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
      format: '{job} {status} [{bar}] {stage} {value}/{total} {eta}',
      barsize: 20,
      stream: process.stderr,
      hideCursor: true,
      clearOnComplete: false,
      forceRedraw: true,
    },
    cliProgress.Presets.shades_classic,
  );
}

/** "1h02m", "4m05s", "12s". */
export function duration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s >= 3600) return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
  if (s >= 60) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${s}s`;
}

type Progress = { stage: string; done: number; total: number; etaSeconds?: number } | null;

/** The time left in the stage, once the runner can tell ("" before and after). */
export function etaText(p: Progress): string {
  return p?.etaSeconds !== undefined && p.done < p.total ? `~${duration(p.etaSeconds)} left` : '';
}

/** A job's progress in one line: stage, count and the time left. */
export function progressText(p: Progress): string {
  if (!p) return '';
  const eta = etaText(p);
  return `${p.stage} ${p.done}/${p.total}${eta ? `, ${eta}` : ''}`;
}
