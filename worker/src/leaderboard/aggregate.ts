import {
  chanceLevel,
  type Leaderboard,
  type LeaderboardCell,
  type LeaderboardColumn,
  type LeaderboardRow,
  lowerIsBetter,
} from '@polyprune/shared/api/leaderboards';
import { columnKey, identityText, nNote } from '@polyprune/shared/cell-identity';
import { wilson } from '@polyprune/shared/stats';

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
  /** what the cell was computed on: the suite's upload subset and seed, the job's row limit and its seed, the template language */
  subset?: number | null;
  seed?: number | null;
  limit?: number | null;
  limitSeed?: number | null;
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

/** Appends to the list under `key` in place: a board groups up to 100,000 records, and copying a list per record is quadratic. */
export function pushTo<K, V>(m: Map<K, V[]>, key: K, value: V) {
  const list = m.get(key);
  if (list) list.push(value);
  else m.set(key, [value]);
}

const mean = (xs: number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : null);
export const isEnglish = (lang: string) => lang === 'en' || lang.startsWith('en-');
const newer = (a: ScoreRecord, b: ScoreRecord) => a.createdAt > b.createdAt || (a.createdAt === b.createdAt && a.runId > b.runId);
const SEP = '\u0000';

/** The record's column: its suite, the rows evaluated and the template language (`columnKey`, the one rule). */
export const columnOf = (r: ScoreRecord) =>
  columnKey({ suiteId: r.suiteId, limit: r.limit ?? null, limitSeed: r.limitSeed ?? null, templateLang: r.templateLang ?? null });
const cellKey = (r: ScoreRecord) => [r.modelId, r.variant, r.scoring, columnOf(r)].join(SEP);
const denseKey = (r: ScoreRecord) => [r.modelId, r.scoring, columnOf(r)].join(SEP);

/**
 * The newest value per cell — (model, variant, scoring, column) for one metric — and the dense cell
 * of the same model and column it is compared with. Dense on another column (another split, other
 * rows of the suite, other template words) is never a reference: its rows are not the rows the pruned
 * model was scored on, and a newer result on other rows never replaces an older one.
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
  for (const c of cells.values()) if (c.variant === 'dense') dense.set(denseKey(c), c);
  const denseOf = (c: ScoreRecord) => (c.variant === 'dense' ? undefined : dense.get(denseKey(c)));
  return { cells: [...cells.values()], denseOf };
}

/** A column's description from one of its records (n and its note are filled from all its cells). */
export function columnFrom(c: ScoreRecord, metric: string): LeaderboardColumn {
  return {
    key: columnOf(c),
    suiteId: c.suiteId,
    suite: c.suiteName,
    format: c.format,
    lang: c.lang,
    chance: chanceLevel(c.format, metric),
    limit: c.limit ?? null,
    limitSeed: c.limit == null ? null : (c.limitSeed ?? 0),
    templateLang: c.templateLang ?? null,
    subset: c.subset ?? null,
    seed: c.seed ?? null,
    n: null,
    nNote: nNote(c.format),
  };
}

/** Columns in reading order: language, suite, then every row before a limit, smaller limits first, then template language. */
export function sortColumns(cols: Iterable<LeaderboardColumn>): LeaderboardColumn[] {
  return [...cols].sort(
    (a, b) =>
      a.lang.localeCompare(b.lang) ||
      a.suite.localeCompare(b.suite) ||
      a.suiteId.localeCompare(b.suiteId) ||
      (a.limit ?? -1) - (b.limit ?? -1) ||
      (a.limitSeed ?? -1) - (b.limitSeed ?? -1) ||
      (a.templateLang ?? '').localeCompare(b.templateLang ?? ''),
  );
}

/** The rows scored in a column when all its cells agree (they do for one identity), else null. */
export function columnN(ns: number[]): number | null {
  return ns.length && ns.every((n) => n === ns[0]) ? ns[0]! : null;
}

/** "fr xnli-fr-test (24 rows (seed 0), template fr)": a column as notes name it. */
export const columnLabel = (c: LeaderboardColumn) => `${c.lang} ${c.suite} (${identityText(c)})`;

export function buildLeaderboard(records: ScoreRecord[], o: BoardOptions): Leaderboard {
  // A run scores each suite on one set of rows with one template: its companions belong to that
  // cell. Grouped per cell, so that a cell's six look-ups cost one key, not six (100,000 records).
  const companions = new Map<string, Map<string, number>>();
  const runCell = (r: ScoreRecord) => r.runId + SEP + r.suiteId + SEP + r.scoring;
  for (const r of records) {
    if (r.metric === o.metric) continue;
    const k = runCell(r);
    const m = companions.get(k);
    if (m) m.set(r.metric, r.value);
    else companions.set(k, new Map([[r.metric, r.value]]));
  }

  let { cells, denseOf } = newestCells(records, o.metric);
  if (o.lang) cells = cells.filter((c) => o.lang!.includes(c.lang));

  const byRow = new Map<string, ScoreRecord[]>();
  for (const c of cells) {
    const k = c.modelId + SEP + c.variant;
    pushTo(byRow, k, c);
  }
  const boundedAcc = o.metric === 'acc' || o.metric === 'acc_norm' || o.metric === 'f1' || o.metric === 'f1_norm';
  let grouped = [...byRow.values()].map((rc) => {
    const head = rc.reduce((a, b) => (newer(b, a) ? b : a));
    const out: Record<string, LeaderboardCell> = {};
    for (const c of rc) {
      const d = denseOf(c);
      // Dense in this column, else the runner's own paired comparison on the rows it scored (the same
      // rows: one run, one column); never dense in another column.
      const mine = companions.get(runCell(c));
      const companion = (m: string) => mine?.get(m) ?? null;
      const delta = d ? c.value - d.value : companion(`${o.metric}_delta`);
      const [wLo, wHi] = boundedAcc && c.n > 0 ? wilson(c.value, c.n) : [null, null];
      out[columnOf(c)] = {
        value: c.value,
        n: c.n,
        lo: companion(`${o.metric}_lo`) ?? wLo,
        hi: companion(`${o.metric}_hi`) ?? wHi,
        delta,
        deltaLo: companion(`${o.metric}_delta_lo`),
        deltaHi: companion(`${o.metric}_delta_hi`),
        p: companion(`${o.metric}_delta_p`),
        denseRunId: d?.runId ?? null,
        runId: c.runId,
        subset: c.subset ?? null,
        seed: c.seed ?? null,
        limit: c.limit ?? null,
        limitSeed: c.limit == null ? null : (c.limitSeed ?? 0),
        templateLang: c.templateLang ?? null,
      };
    }
    return { head, records: rc, cells: out };
  });
  const keep = (h: ScoreRecord) =>
    h.variant === 'dense' ||
    ((!o.method || h.method === o.method || h.method.startsWith(`${o.method}+`)) &&
      (!o.pair || h.calibration === null || h.calibration.endsWith(`:${o.pair}`)) &&
      (o.sparsity === undefined || (h.sparsity !== null && Math.abs(h.sparsity - o.sparsity) < 1e-9)));
  grouped = grouped.filter((g) => keep(g.head));

  // Columns of the rows shown; a column's n from all its cells.
  const columnsByKey = new Map<string, LeaderboardColumn>();
  const ns = new Map<string, number[]>();
  for (const g of grouped) {
    for (const c of g.records) {
      const k = columnOf(c);
      if (!columnsByKey.has(k)) columnsByKey.set(k, columnFrom(c, o.metric));
      pushTo(ns, k, c.n);
    }
  }
  for (const [k, col] of columnsByKey) col.n = columnN(ns.get(k)!);
  const columns = sortColumns(columnsByKey.values());
  const formats = new Set(columns.map((c) => c.format));
  const mixed = formats.size > 1;
  // A mean ranks rows against each other: it covers only the columns every row has.
  const meanColumns = mixed ? [] : columns.filter((col) => grouped.every((g) => g.cells[col.key])).map((c) => c.key);
  const nonEnglish = meanColumns.filter((k) => !isEnglish(columnsByKey.get(k)!.lang));

  let rows: LeaderboardRow[] = grouped.map(({ head, cells: out }) => {
    const isDense = head.variant === 'dense';
    // Δ compares the row with dense: it covers the columns both have (or the runner compared on).
    const deltaCovers = isDense || mixed ? [] : columns.filter((col) => out[col.key]?.delta != null).map((c) => c.key);
    const covers = meanColumns;
    const sameColumns = deltaCovers.length === covers.length && deltaCovers.every((k) => covers.includes(k));
    const have = Object.keys(out).length;
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
      mean: mean(covers.map((k) => out[k]!.value)),
      meanNonEnglish: mean(nonEnglish.map((k) => out[k]!.value)),
      covers,
      deltaVsDense: mean(deltaCovers.map((k) => out[k]!.delta!)),
      deltaCovers,
      note:
        isDense || mixed
          ? null
          : deltaCovers.length === 0
            ? 'no dense result on the same rows (suite, row limit, template language): nothing to compare with'
            : !sameColumns
              ? `Δ over the ${deltaCovers.length} of ${have} columns with a dense result on the same rows: ${deltaCovers.map((k) => columnLabel(columnsByKey.get(k)!)).join('; ')}`
              : null,
    };
  });

  const firstOf = (pick: (c: LeaderboardColumn) => boolean) => columns.find(pick)?.key;
  const sortColumn = columnsByKey.has(o.sort) ? o.sort : (firstOf((c) => c.suiteId === o.sort) ?? firstOf((c) => c.lang === o.sort));
  const key = (r: LeaderboardRow): number | null => {
    if (o.sort === 'mean') return r.mean;
    if (o.sort === 'meanNonEnglish') return r.meanNonEnglish;
    if (o.sort === 'delta') return r.deltaVsDense;
    if (o.sort === 'sparsity') return r.sparsity;
    return sortColumn ? (r.cells[sortColumn]?.value ?? null) : null;
  };
  const dir = o.order === 'asc' ? 1 : -1;
  const label = (r: LeaderboardRow) => `${r.modelName}${SEP}${r.variant}`;
  // Dense rows are pinned on top: every other row is read against them.
  rows = rows.sort((a, b) => {
    if (a.dense !== b.dense) return a.dense ? -1 : 1;
    const ka = key(a);
    const kb = key(b);
    if (ka === null && kb === null) return label(a).localeCompare(label(b));
    if (ka === null) return 1; // missing values sink regardless of direction
    if (kb === null) return -1;
    return ka === kb ? label(a).localeCompare(label(b)) : (ka - kb) * dir;
  });
  const notes = [
    mixed ? `columns span formats ${[...formats].sort().join(', ')}: no means across formats; pick one with format=` : null,
    !mixed && columns.length && meanColumns.length === 0
      ? 'no column is common to every row: no means; narrow the board (suite=, lang=, method=, sparsity=) to rows evaluated on the same rows'
      : null,
    !mixed && meanColumns.length && meanColumns.length < columns.length
      ? `means cover the ${meanColumns.length} of ${columns.length} columns every row has: ${meanColumns.map((k) => columnLabel(columnsByKey.get(k)!)).join('; ')}`
      : null,
  ].filter((x) => x !== null);
  return {
    model: o.model,
    format: o.format,
    scoring: o.scoring,
    metric: o.metric,
    lowerIsBetter: lowerIsBetter(o.metric),
    columns,
    meanColumns,
    languages: [...new Set(columns.map((c) => c.lang))].sort(),
    rows,
    note: notes.length ? notes.join('. ') : null,
  };
}
