/**
 * RankC cells exist only where the runner had a parallel English suite in the same job; the board's
 * note says, for the language-X multiple-choice cells that have an accuracy but no RankC, why: the
 * runner's reason recorded with the run (`extra.rankc.absent`), or that the run predates RankC.
 */
import { inArray, sql } from 'drizzle-orm';
import type { Leaderboard } from '@polyprune/shared/api/leaderboards';
import { runs } from '../db/schema';
import type { Principal } from '../lib/auth';
import type { Db } from '../lib/db';
import { type BoardOptions, buildLeaderboard, isEnglish } from './aggregate';
import { loadScores } from './query';

/** The metrics computed from a language-X suite and its parallel English suite. */
export const isRankcMetric = (metric: string) => metric === 'rankc' || metric === 'rankc_asc';

const RULE =
  'RankC compares each item’s ranking of its candidates with the ranking of the parallel English suite scored in the same job (same task, number of rows and upload subset; the same row limit)';
const LISTED = 8;
// D1 binds at most 100 parameters per statement.
const CHUNK = 90;

export interface AbsentCell {
  suite: string;
  lang: string;
  runId: string;
  suiteId: string;
}

/** Language-X cells the accuracy board has and the RankC board lacks (same filters, same rows). */
export function absentRankcCells(acc: Leaderboard, rankc: Leaderboard): AbsentCell[] {
  const have = new Set(rankc.rows.flatMap((r) => Object.keys(r.cells).map((s) => `${r.model}\u0000${r.variant}\u0000${s}`)));
  const out: AbsentCell[] = [];
  for (const r of acc.rows)
    for (const col of acc.columns) {
      const c = r.cells[col.key];
      if (!c || isEnglish(col.lang) || have.has(`${r.model}\u0000${r.variant}\u0000${col.key}`)) continue;
      out.push({ suite: col.suite, lang: col.lang, runId: c.runId, suiteId: col.suiteId });
    }
  return out;
}

/** "a (fr), b (de): reason; c (sw): other reason" — cells grouped by reason, each suite named once. */
export function describeAbsent(cells: AbsentCell[], reasonOf: (c: AbsentCell) => string): string | null {
  if (cells.length === 0) return null;
  const byReason = new Map<string, Set<string>>();
  for (const c of cells) {
    const reason = reasonOf(c);
    byReason.set(reason, (byReason.get(reason) ?? new Set()).add(`${c.suite} (${c.lang})`));
  }
  const groups = [...byReason.entries()].map(([reason, suites]) => `${[...suites].sort().join(', ')}: ${reason}`).sort();
  const shown = groups.slice(0, LISTED).join('; ');
  const more = groups.length > LISTED ? `; and ${groups.length - LISTED} more reasons` : '';
  return `${RULE}. No RankC for ${cells.length} cell${cells.length === 1 ? '' : 's'}: ${shown}${more}.`;
}

/** What each run recorded about RankC: null for runs from before RankC. */
async function runRankc(db: Db, ids: string[]): Promise<Map<string, { absent?: Array<{ suiteId: string; reason: string }> } | null>> {
  const out = new Map<string, { absent?: Array<{ suiteId: string; reason: string }> } | null>();
  for (let i = 0; i < ids.length; i += CHUNK) {
    const rows = await db
      .select({ id: runs.id, rankc: sql<string | null>`json_extract(${runs.extra}, '$.rankc')` })
      .from(runs)
      .where(inArray(runs.id, ids.slice(i, i + CHUNK)));
    for (const r of rows) out.set(r.id, r.rankc ? (JSON.parse(r.rankc) as { absent?: Array<{ suiteId: string; reason: string }> }) : null);
  }
  return out;
}

/** The board with its note extended by why RankC cells are absent, for a RankC metric; unchanged otherwise. */
export async function withRankcNote(db: Db, p: Principal | null, o: BoardOptions & { suite?: string }, board: Leaderboard): Promise<Leaderboard> {
  if (!isRankcMetric(o.metric)) return board;
  const records = await loadScores(db, p, { ...o, metrics: ['acc'] });
  const cells = absentRankcCells(buildLeaderboard(records, { ...o, metric: 'acc' }), board);
  if (cells.length === 0) return board;
  const recorded = await runRankc(db, [...new Set(cells.map((c) => c.runId))]);
  const note = describeAbsent(cells, (c) => {
    const r = recorded.get(c.runId);
    if (!r) return 'scored before RankC existed (run the job again)';
    return r.absent?.find((a) => a.suiteId === c.suiteId)?.reason ?? 'no RankC in its run';
  });
  return { ...board, note: [board.note, note].filter(Boolean).join(' ') };
}
