import {
  chanceLevel,
  type Leaderboard,
  type LeaderboardCell,
  type LeaderboardColumn,
  type LeaderboardRow,
  lowerIsBetter,
} from '../../../shared/src/api/leaderboards';
import { wilson } from '../../../shared/src/stats';

/** One stored score with what the board needs of its run. */
export interface ScoreRecord {
  runId: string;
  modelId: string;
  modelName: string;
  variant: string;
  method: string;
  sparsity: number | null;
  pattern: string | null;
  calibration: string | null;
  suiteId: string;
  suiteName: string;
  format: string;
  lang: string;
  scoring: string;
  metric: string;
  value: number;
  n: number;
  /** what the cell was computed on: the suite's upload subset and seed, the job's row limit, the template language */
  subset?: number | null;
  seed?: number | null;
  limit?: number | null;
  templateLang?: string | null;
  /** ISO time of the run; the newest run of a cell wins (a rerun after a fix replaces, it does not average). */
  createdAt: string;
}

export interface BoardOptions {
  model: string | null;
  format: string | null;
  scoring: string;
  metric: string;
  sort: string;
  order: 'asc' | 'desc';
  lang?: string[];
  sparsity?: number;
  method?: string;
  pair?: string;
}

/** Metrics the runner reports next to `metric` for the same suite rows (paired bootstrap vs dense, interval). */
export const companionMetrics = (metric: string) => [
  `${metric}_delta`,
  `${metric}_delta_lo`,
  `${metric}_delta_hi`,
  `${metric}_delta_p`,
  `${metric}_lo`,
  `${metric}_hi`,
];

const mean = (xs: number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : null);
export const isEnglish = (lang: string) => lang === 'en' || lang.startsWith('en-');
const newer = (a: ScoreRecord, b: ScoreRecord) => a.createdAt > b.createdAt || (a.createdAt === b.createdAt && a.runId > b.runId);
const SEP = '\u0000';
const cellKey = (r: { modelId: string; variant: string; suiteId: string; scoring: string }) => [r.modelId, r.variant, r.suiteId, r.scoring].join(SEP);

/**
 * The newest value per cell — (model, variant, suite, scoring) for one metric — and, per model and
 * suite, the dense cell it is compared with. Dense on another suite (another split, a subset) is never
 * a reference: its rows are not the rows the pruned model was scored on.
 */
export function newestCells(records: ScoreRecord[], metric: string) {
  const cells = new Map<string, ScoreRecord>();
  for (const r of records) {
    if (r.metric !== metric) continue;
    const k = cellKey(r);
    const prev = cells.get(k);
    if (!prev || newer(r, prev)) cells.set(k, r);
  }
  const dense = new Map<string, ScoreRecord>();
  for (const c of cells.values()) if (c.variant === 'dense') dense.set([c.modelId, c.suiteId, c.scoring].join(SEP), c);
  const denseOf = (c: ScoreRecord) => (c.variant === 'dense' ? undefined : dense.get([c.modelId, c.suiteId, c.scoring].join(SEP)));
  return { cells: [...cells.values()], denseOf };
}

export function buildLeaderboard(records: ScoreRecord[], o: BoardOptions): Leaderboard {
  const companions = new Map<string, number>();
  for (const r of records) if (r.metric !== o.metric) companions.set([r.runId, r.suiteId, r.scoring, r.metric].join(SEP), r.value);
  const companion = (c: ScoreRecord, m: string) => companions.get([c.runId, c.suiteId, c.scoring, m].join(SEP)) ?? null;

  let { cells, denseOf } = newestCells(records, o.metric);
  if (o.lang) cells = cells.filter((c) => o.lang!.includes(c.lang));
  const columnsById = new Map<string, LeaderboardColumn>();
  for (const c of cells)
    columnsById.set(c.suiteId, { suiteId: c.suiteId, suite: c.suiteName, format: c.format, lang: c.lang, chance: chanceLevel(c.format, o.metric) });
  const columns = [...columnsById.values()].sort(
    (a, b) => a.lang.localeCompare(b.lang) || a.suite.localeCompare(b.suite) || a.suiteId.localeCompare(b.suiteId),
  );
  const formats = new Set(columns.map((c) => c.format));
  const mixed = formats.size > 1;

  const byRow = new Map<string, ScoreRecord[]>();
  for (const c of cells) {
    const k = c.modelId + SEP + c.variant;
    byRow.set(k, [...(byRow.get(k) ?? []), c]);
  }
  const boundedAcc = o.metric === 'acc' || o.metric === 'acc_norm' || o.metric === 'f1' || o.metric === 'f1_norm';
  let rows: LeaderboardRow[] = [...byRow.values()].map((rc) => {
    const head = rc.reduce((a, b) => (newer(b, a) ? b : a));
    const out: Record<string, LeaderboardCell> = {};
    const deltas: number[] = [];
    for (const c of rc) {
      const d = denseOf(c);
      // Dense on this suite's rows, else the runner's own paired comparison on the same rows; never dense on other rows.
      const delta = d ? c.value - d.value : companion(c, `${o.metric}_delta`);
      if (delta !== null) deltas.push(delta);
      const [wLo, wHi] = boundedAcc && c.n > 0 ? wilson(c.value, c.n) : [null, null];
      out[c.suiteId] = {
        value: c.value,
        n: c.n,
        lo: companion(c, `${o.metric}_lo`) ?? wLo,
        hi: companion(c, `${o.metric}_hi`) ?? wHi,
        delta,
        // The runner's paired bootstrap ran against the dense model on exactly this suite's rows.
        deltaLo: companion(c, `${o.metric}_delta_lo`),
        deltaHi: companion(c, `${o.metric}_delta_hi`),
        p: companion(c, `${o.metric}_delta_p`),
        denseRunId: d?.runId ?? null,
        runId: c.runId,
        subset: c.subset ?? null,
        seed: c.seed ?? null,
        limit: c.limit ?? null,
        templateLang: c.templateLang ?? null,
      };
    }
    const isDense = head.variant === 'dense';
    const noDense = !isDense && deltas.length === 0;
    return {
      model: head.modelId,
      modelName: head.modelName,
      variant: head.variant,
      runId: head.runId,
      method: head.method,
      sparsity: head.sparsity,
      pattern: head.pattern,
      calibration: head.calibration,
      dense: isDense,
      cells: out,
      mean: mixed ? null : mean(rc.map((c) => c.value)),
      meanNonEnglish: mixed ? null : mean(rc.filter((c) => !isEnglish(c.lang)).map((c) => c.value)),
      deltaVsDense: isDense ? null : mixed ? null : mean(deltas),
      note: noDense
        ? 'no dense result on these suites: nothing to compare with'
        : !isDense && deltas.length < rc.length
          ? `Δ over the ${deltas.length} of ${rc.length} suites with a dense result`
          : null,
    };
  });
  if (o.method) rows = rows.filter((r) => r.dense || r.method === o.method || r.method.startsWith(`${o.method}+`));
  if (o.pair) rows = rows.filter((r) => r.calibration === null || r.calibration.endsWith(`:${o.pair}`));
  if (o.sparsity !== undefined) rows = rows.filter((r) => r.dense || (r.sparsity !== null && Math.abs(r.sparsity - o.sparsity!) < 1e-9));

  const firstOfLang = (lang: string) => columns.find((c) => c.lang === lang)?.suiteId;
  const key = (r: LeaderboardRow): number | null => {
    if (o.sort === 'mean') return r.mean;
    if (o.sort === 'meanNonEnglish') return r.meanNonEnglish;
    if (o.sort === 'delta') return r.deltaVsDense;
    if (o.sort === 'sparsity') return r.sparsity;
    const col = columnsById.has(o.sort) ? o.sort : firstOfLang(o.sort);
    return col ? (r.cells[col]?.value ?? null) : null;
  };
  const dir = o.order === 'asc' ? 1 : -1;
  const label = (r: LeaderboardRow) => `${r.modelName}${SEP}${r.variant}`;
  // Dense rows are pinned on top: every other row is read against them.
  rows.sort((a, b) => {
    if (a.dense !== b.dense) return a.dense ? -1 : 1;
    const ka = key(a);
    const kb = key(b);
    if (ka === null && kb === null) return label(a).localeCompare(label(b));
    if (ka === null) return 1; // missing values sink regardless of direction
    if (kb === null) return -1;
    return ka === kb ? label(a).localeCompare(label(b)) : (ka - kb) * dir;
  });
  return {
    model: o.model,
    format: o.format,
    scoring: o.scoring,
    metric: o.metric,
    lowerIsBetter: lowerIsBetter(o.metric),
    columns,
    languages: [...new Set(columns.map((c) => c.lang))].sort(),
    rows,
    note: mixed ? `columns span formats ${[...formats].sort().join(', ')}: no means across formats; pick one with format=` : null,
  };
}
