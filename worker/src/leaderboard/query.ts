import { and, eq, inArray, type SQL } from 'drizzle-orm';
import type { Leaderboard } from '@polyprune/shared/api/leaderboards';
import { models, runs, scores, suites } from '../db/schema';
import { type Principal, visibleTo } from '../lib/auth';
import type { Db } from '../lib/db';
import { type BoardOptions, buildLeaderboard, companionMetrics, type ScoreRecord } from './aggregate';

export interface ScoreFilter {
  model: string | null;
  format: string | null;
  suite?: string;
  scoring: string;
  metrics: string[];
}

/**
 * Scores visible to the caller, on visible models, with their run's time and the suite's name (the
 * suite id where the caller may not see the suite). One query; the board is built in memory.
 */
export async function loadScores(db: Db, p: Principal | null, f: ScoreFilter): Promise<ScoreRecord[]> {
  const where: (SQL | undefined)[] = [
    f.model ? eq(scores.modelId, f.model) : undefined,
    eq(scores.scoring, f.scoring),
    inArray(scores.metric, f.metrics),
    f.format ? eq(scores.format, f.format) : undefined,
    f.suite ? eq(scores.suiteId, f.suite) : undefined,
    visibleTo(p, scores),
    visibleTo(p, models),
  ];
  const rows = await db
    .select({
      runId: scores.runId,
      modelId: scores.modelId,
      modelName: models.name,
      variant: scores.variant,
      method: scores.method,
      sparsity: scores.sparsity,
      pattern: scores.pattern,
      calibration: scores.calibration,
      suiteId: scores.suiteId,
      suiteName: suites.name,
      suiteVisibility: suites.visibility,
      suiteOwner: suites.owner,
      format: scores.format,
      lang: scores.lang,
      scoring: scores.scoring,
      metric: scores.metric,
      value: scores.value,
      n: scores.n,
      subset: scores.subset,
      seed: scores.seed,
      limit: scores.rowLimit,
      limitSeed: scores.limitSeed,
      templateLang: scores.templateLang,
      createdAt: runs.createdAt,
    })
    .from(scores)
    .innerJoin(runs, eq(runs.id, scores.runId))
    .innerJoin(models, eq(models.id, scores.modelId))
    .leftJoin(suites, eq(suites.id, scores.suiteId))
    .where(and(...where));
  return rows.map(({ suiteVisibility, suiteOwner, suiteName, ...r }) => {
    const named = suiteName !== null && (p?.scopes.has('admin') || suiteVisibility === 'public' || (p !== null && suiteOwner === p.owner));
    return { ...r, suiteName: named ? suiteName : r.suiteId };
  });
}

export async function loadLeaderboard(db: Db, p: Principal | null, o: BoardOptions & { suite?: string }): Promise<Leaderboard> {
  const records = await loadScores(db, p, { ...o, metrics: [o.metric, ...companionMetrics(o.metric)] });
  return buildLeaderboard(records, o);
}
