import { and, eq } from 'drizzle-orm';
import type { Leaderboard } from '../../../shared/src/api/jobs';
import { runs, scores } from '../db/schema';
import { type Principal, visibleTo } from '../lib/auth';
import type { Db } from '../lib/db';
import { type BoardOptions, buildLeaderboard } from './aggregate';

export async function loadLeaderboard(db: Db, p: Principal | null, o: BoardOptions & { suite?: string }): Promise<Leaderboard> {
  const scoresOf = (metric: string) =>
    and(
      eq(scores.modelId, o.model),
      eq(scores.scoring, o.scoring),
      eq(scores.metric, metric),
      o.format ? eq(scores.format, o.format) : undefined,
      o.suite ? eq(scores.suiteId, o.suite) : undefined,
      visibleTo(p, scores),
    );
  const rows = await db
    .select({
      runId: scores.runId,
      variant: scores.variant,
      method: scores.method,
      sparsity: scores.sparsity,
      pattern: scores.pattern,
      calibration: scores.calibration,
      lang: scores.lang,
      value: scores.value,
      n: scores.n,
      subset: scores.subset,
      seed: scores.seed,
      limit: scores.rowLimit,
      templateLang: scores.templateLang,
      createdAt: runs.createdAt,
    })
    .from(scores)
    .innerJoin(runs, eq(runs.id, scores.runId))
    .where(scoresOf(o.metric));
  // Accuracy rows come with the paired bootstrap against dense (metric acc_delta_p), when the runner computed it.
  const pValues =
    o.metric === 'acc' ? await db.select({ runId: scores.runId, lang: scores.lang, value: scores.value }).from(scores).where(scoresOf('acc_delta_p')) : [];
  return buildLeaderboard(rows, o, pValues);
}
