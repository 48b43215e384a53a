import { z } from 'zod';
import { scoringName } from './common';

/** The metric a format is judged by when the caller names none (tabs, links, CLI). */
export function defaultMetric(format: string | null | undefined): string {
  return format === 'ppl' ? 'ppl' : format === 'mt' ? 'chrf' : 'acc';
}
/** Metrics stored on a 0–100 scale (chrF, BLEU: sacreBLEU's), printed as they are; accuracies are 0–1. */
export const pointsScale = (metric: string) => metric === 'chrf' || metric === 'bleu';
/** Perplexity (and bits per byte) are better when lower; every other metric when higher. */
export const lowerIsBetter = (metric: string) => metric === 'ppl' || metric === 'bpb';

/** Accuracy of guessing: the formats with a fixed number of choices. */
const chanceByFormat: Record<string, number> = { xnli: 1 / 3, pawsx: 0.5, xcopa: 0.5, xstorycloze: 0.5, marc: 0.5 };
export const chanceLevel = (format: string, metric: string): number | null =>
  metric === 'acc' || metric === 'acc_norm' ? (chanceByFormat[format] ?? null) : null;

const langList = z
  .string()
  .max(200)
  .regex(/^[A-Za-z0-9-]+(,[A-Za-z0-9-]+)*$/, 'comma-separated language codes')
  .transform((s) => s.split(','));

export const leaderboardQuery = z.object({
  /** Without a model: every visible (model, variant) ranked together (the across-models view). */
  model: z.string().min(1).max(64).optional(),
  format: z.string().max(32).optional(),
  suite: z.string().max(64).optional(),
  /** one language or several, comma-separated */
  lang: langList.optional(),
  scoring: scoringName.default('paper'),
  /**
   * default: the format's own (acc, chrf for mt, ppl for ppl); mt also has bleu; rankc (rankc_asc: the authors' code's
   * order) for the cross-lingual consistency of a language-X multiple-choice suite with its parallel English suite
   */
  metric: z.string().max(32).optional(),
  /** pruned rows of this sparsity only (dense rows stay) */
  sparsity: z.coerce.number().gt(0).lt(1).optional(),
  sort: z.string().max(64).default('mean'),
  order: z.enum(['asc', 'desc']).optional(),
  method: z.string().max(32).optional(),
  pair: z.string().max(40).optional(),
  /** json (default), csv or latex; `Accept: text/csv` also selects csv */
  as: z.enum(['json', 'csv', 'latex']).optional(),
});
export type LeaderboardQuery = z.infer<typeof leaderboardQuery>;

export const leaderboardCell = z.object({
  value: z.number(),
  /** rows the value rests on: the rows scored (for mt, the rows translated after the demonstrations) */
  n: z.number(),
  /** 95% interval of the value (Wilson for accuracies; null where the runner reported none) */
  lo: z.number().nullable(),
  hi: z.number().nullable(),
  /** value − dense in the same column (same suite, rows and template language); else the runner's own paired Δ on the rows it scored; null without either */
  delta: z.number().nullable(),
  /** the runner's paired bootstrap against dense on the rows it scored, which are this column's rows */
  deltaLo: z.number().nullable(),
  deltaHi: z.number().nullable(),
  p: z.number().nullable(),
  /** the dense run of the same column that `delta` was taken against; null where it came from the runner's own comparison or is absent */
  denseRunId: z.string().nullable(),
  runId: z.string(),
  /** what the value was computed on: the suite's upload subset and its seed, the job's row limit and its seed, the template language used */
  subset: z.number().nullable(),
  seed: z.number().nullable(),
  limit: z.number().nullable(),
  limitSeed: z.number().nullable(),
  templateLang: z.string().nullable(),
});
/** A column is one identity: a suite, the rows evaluated (all, or `limit` rows of seed `limitSeed`) and the template language. */
export const leaderboardColumn = z.object({
  /** the column's identity (`columnKey`): rows' `cells` are keyed by it */
  key: z.string(),
  suiteId: z.string(),
  /** the suite's name (split, subset), as uploaded */
  suite: z.string(),
  format: z.string(),
  lang: z.string(),
  chance: z.number().nullable(),
  /** the job's row limit and its seed; null: every row */
  limit: z.number().nullable(),
  limitSeed: z.number().nullable(),
  /** the template words' language; null for formats without template words */
  templateLang: z.string().nullable(),
  /** the suite's upload subset (rows, seed); null: the whole published file */
  subset: z.number().nullable(),
  seed: z.number().nullable(),
  /** rows scored in this column's cells; null if its cells differ (each cell has its own n) */
  n: z.number().nullable(),
  /** what n counts where it is not every row evaluated (mt: the demonstrations are not scored) */
  nNote: z.string().nullable(),
});
export const leaderboardRow = z.object({
  model: z.string(),
  modelName: z.string(),
  variant: z.string(),
  /** newest run among the row's cells */
  runId: z.string(),
  method: z.string(),
  sparsity: z.number().nullable(),
  pattern: z.string().nullable(),
  calibration: z.string().nullable(),
  dense: z.boolean(),
  /** per column (its `key`) */
  cells: z.record(z.string(), leaderboardCell),
  /** mean over `covers`: the columns every row of the board has; null when none, or when they span formats */
  mean: z.number().nullable(),
  meanNonEnglish: z.number().nullable(),
  /** column keys the means cover (the board's `meanColumns`) */
  covers: z.array(z.string()),
  /** mean of the cells' Δ over `deltaCovers`: the columns this row shares with dense (same identity) */
  deltaVsDense: z.number().nullable(),
  deltaCovers: z.array(z.string()),
  note: z.string().nullable(),
});
export const leaderboard = z
  .object({
    model: z.string().nullable(),
    format: z.string().nullable(),
    scoring: z.string(),
    metric: z.string(),
    lowerIsBetter: z.boolean(),
    columns: z.array(leaderboardColumn),
    /** keys of the columns every row has: what each row's mean covers */
    meanColumns: z.array(z.string()),
    languages: z.array(z.string()),
    rows: z.array(leaderboardRow),
    note: z.string().nullable(),
  })
  .meta({ id: 'Leaderboard' });
export type Leaderboard = z.infer<typeof leaderboard>;
export type LeaderboardRow = z.infer<typeof leaderboardRow>;
export type LeaderboardCell = z.infer<typeof leaderboardCell>;
export type LeaderboardColumn = z.infer<typeof leaderboardColumn>;

export const methodsQuery = leaderboardQuery.omit({ as: true, sort: true, order: true });

export const sparsityQuery = leaderboardQuery
  .omit({ model: true, sparsity: true, sort: true, order: true, as: true })
  .extend({ model: z.string().min(1).max(64) });
export const sparsityPoint = z.object({
  sparsity: z.number(),
  value: z.number(),
  n: z.number(),
  delta: z.number().nullable(),
  p: z.number().nullable(),
  runId: z.string(),
});
export const sparsitySeries = z.object({
  /** method (and calibration data: "wanda mt:fr-en") without the sparsity */
  key: z.string(),
  method: z.string(),
  calibration: z.string().nullable(),
  pattern: z.string().nullable(),
  /** the column (`columnKey`: suite, rows, template language) the points are on */
  column: z.string(),
  suiteId: z.string(),
  lang: z.string(),
  points: z.array(sparsityPoint),
});
export const sparsityView = z
  .object({
    model: z.string(),
    format: z.string().nullable(),
    scoring: z.string(),
    metric: z.string(),
    columns: z.array(leaderboardColumn),
    /** per column (its key): the dense value (sparsity 0) on the same rows */
    dense: z.record(z.string(), z.object({ value: z.number(), n: z.number(), runId: z.string() })),
    series: z.array(sparsitySeries),
  })
  .meta({ id: 'SparsityView' });
export type SparsityView = z.infer<typeof sparsityView>;

/** Mean of per-cell differences: Student t interval (null for one cell), sign-flip permutation p-value. */
export const interval = z.object({ mean: z.number(), lo: z.number().nullable(), hi: z.number().nullable(), p: z.number(), n: z.number() });
export const methodSummary = z
  .object({
    model: z.string().nullable(),
    format: z.string().nullable(),
    scoring: z.string(),
    metric: z.string(),
    sparsity: z.number().nullable(),
    /** per method ("wanda mt", "magnitude"): Δ vs dense over every (pair, language) cell, and split by own pair vs others */
    methods: z.array(z.object({ method: z.string(), all: interval.nullable(), ownPair: interval.nullable(), otherLanguages: interval.nullable() })),
    /** a − b over cells matched on pair, sparsity, pattern and suite */
    contrasts: z.array(z.object({ a: z.string(), b: z.string(), delta: interval })),
  })
  .meta({ id: 'MethodSummary' });
export type MethodSummary = z.infer<typeof methodSummary>;
