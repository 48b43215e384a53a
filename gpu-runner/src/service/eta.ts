/**
 * Time left in a stage, from its rate so far: the stage's first report is the origin, so time spent
 * before the first unit finished (opening a session, a cold cache) does not skew the rate, and the
 * estimate appears from the second report on.
 */
export interface StageOrigin {
  stage: string;
  /** ms timestamp of the stage's first report */
  at: number;
  done: number;
}

export function etaSeconds(origin: StageOrigin, now: number, done: number, total: number): number | undefined {
  const units = done - origin.done;
  const ms = now - origin.at;
  if (units <= 0 || ms <= 0 || total <= done) return done >= total && units > 0 ? 0 : undefined;
  return Math.round(((total - done) * ms) / units / 1000);
}
