import type { Leaderboard, LeaderboardRow } from '../../../shared/src/api/jobs';

export interface ScoreRecord {
  runId: string;
  variant: string;
  method: string;
  sparsity: number | null;
  pattern: string | null;
  calibration: string | null;
  lang: string;
  value: number;
  /** what the cell was computed on (absent in records that do not carry it) */
  n?: number;
  subset?: number | null;
  seed?: number | null;
  limit?: number | null;
  templateLang?: string | null;
  /** ISO time of the run; the newest run of a variant wins. */
  createdAt: string;
}

export interface BoardOptions {
  model: string;
  format: string | null;
  scoring: string;
  metric: string;
  sort: string;
  order: 'asc' | 'desc';
  method?: string;
  pair?: string;
}

const mean = (xs: number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : null);
const isEnglish = (lang: string) => lang === 'en' || lang.startsWith('en-');

/**
 * One row per variant, one column per language. When a variant was run more than once the
 * newest run counts (a rerun after a fix replaces, it does not average).
 */
export function buildLeaderboard(records: ScoreRecord[], o: BoardOptions, pValues: { runId: string; lang: string; value: number }[] = []): Leaderboard {
  const newest = new Map<string, ScoreRecord>();
  const runOfVariant = new Map<string, ScoreRecord>();
  for (const r of records) {
    const prev = runOfVariant.get(r.variant);
    if (!prev || r.createdAt > prev.createdAt || (r.createdAt === prev.createdAt && r.runId > prev.runId)) runOfVariant.set(r.variant, r);
  }
  for (const r of records) {
    if (runOfVariant.get(r.variant)!.runId !== r.runId) continue;
    newest.set(`${r.variant}\u0000${r.lang}`, r);
  }
  const languages = [...new Set(records.map((r) => r.lang))].sort();
  let rows: LeaderboardRow[] = [...runOfVariant.values()].map((head) => {
    const scores: Record<string, number> = {};
    const cells: NonNullable<LeaderboardRow['cells']> = {};
    for (const lang of languages) {
      const s = newest.get(`${head.variant}\u0000${lang}`);
      if (!s) continue;
      scores[lang] = s.value;
      if (s.n !== undefined)
        cells[lang] = { n: s.n, subset: s.subset ?? null, seed: s.seed ?? null, limit: s.limit ?? null, templateLang: s.templateLang ?? null };
    }
    const vals = Object.values(scores);
    const nonEn = Object.entries(scores)
      .filter(([l]) => !isEnglish(l))
      .map(([, v]) => v);
    return {
      variant: head.variant,
      runId: head.runId,
      method: head.method,
      sparsity: head.sparsity,
      pattern: head.pattern,
      calibration: head.calibration,
      scores,
      cells,
      mean: mean(vals),
      meanNonEnglish: mean(nonEn),
      deltaVsDense: null,
      pValues: Object.fromEntries(pValues.filter((p) => p.runId === head.runId && p.lang in scores).map((p) => [p.lang, p.value])),
    };
  });
  const dense = rows.find((r) => r.variant === 'dense');
  if (dense?.mean != null) for (const r of rows) r.deltaVsDense = r.mean == null ? null : r.mean - dense.mean;
  if (o.method) rows = rows.filter((r) => r.method === o.method || r.method.startsWith(`${o.method}+`) || r.variant === 'dense');
  if (o.pair) rows = rows.filter((r) => r.calibration === null || r.calibration.endsWith(`:${o.pair}`));
  const key = (r: LeaderboardRow): number | null =>
    o.sort === 'mean'
      ? r.mean
      : o.sort === 'meanNonEnglish'
        ? r.meanNonEnglish
        : o.sort === 'delta'
          ? r.deltaVsDense
          : o.sort === 'sparsity'
            ? r.sparsity
            : (r.scores[o.sort] ?? null);
  const dir = o.order === 'asc' ? 1 : -1;
  rows.sort((a, b) => {
    const ka = key(a);
    const kb = key(b);
    if (ka === null && kb === null) return a.variant.localeCompare(b.variant);
    if (ka === null) return 1; // missing values sink regardless of direction
    if (kb === null) return -1;
    return ka === kb ? a.variant.localeCompare(b.variant) : (ka - kb) * dir;
  });
  return { model: o.model, format: o.format, scoring: o.scoring, metric: o.metric, languages, rows };
}
