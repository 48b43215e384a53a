/**
 * Giving memory back between steps, so that a step's peak is what that step needs and not what
 * earlier steps left behind. Two kinds of leftovers, both measured by bench/scale:
 *
 * - Large typed arrays of a finished step (masks, logits, upload parts, statistics) live outside
 *   V8's heap and are freed only at V8's next full collection, which with a small heap comes late.
 *   The runner collects after every step (needs `node --expose-gc`).
 * - Memory onnxruntime frees when a session is released goes back to glibc, which keeps it when its
 *   dynamic mmap threshold has risen past the sizes of the weights (all of them, for an fp16 model
 *   whose fp32 copies are folded at load: 0.56–0.69 × the model stayed resident after the session
 *   was gone). A fixed MALLOC_MMAP_THRESHOLD_ (1 MiB) maps every large block on its own and unmaps
 *   it on free: 0.07 × after release, the calibration no slower (24.0 / 22.4 s vs 44.3 / 23.4 s).
 *
 * `npm run runner`, the image's entry point and the local stack set both.
 */
const gc = (globalThis as { gc?: () => void }).gc;

export const MALLOC_MMAP_THRESHOLD = String(1 << 20);

export function collectGarbage(): void {
  gc?.();
}

/** What is missing from the process's start for memory to be given back (empty when nothing). */
export function memoryReleaseWarnings(env: NodeJS.ProcessEnv = process.env, platform = process.platform): string[] {
  const out: string[] = [];
  if (!gc) out.push('started without node --expose-gc: buffers of finished steps are freed whenever V8 decides');
  if (platform === 'linux' && !env.MALLOC_MMAP_THRESHOLD_) {
    out.push(`MALLOC_MMAP_THRESHOLD_ is not set (use ${MALLOC_MMAP_THRESHOLD}): memory onnxruntime frees may stay with the process`);
  }
  return out;
}
