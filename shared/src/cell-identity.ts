/**
 * What a leaderboard cell is: the one rule every view (JSON, CSV, LaTeX, pages, CLI) keys by.
 *
 * A cell is (model, variant, scoring, metric) on a column, and a column is (suite, rows evaluated,
 * template language): the rows are every row of the suite or the seeded subset a job's `limit` and
 * `limitSeed` kept, and the template language is the one whose words the prompts used. Two results
 * share a cell only when all of these agree; a result on other rows is another column, never a newer
 * value of the same cell, and Δ vs dense compares with dense in the same column only.
 */

export interface CellIdentity {
  suiteId: string;
  /** the job's row limit; null: every row of the suite */
  limit: number | null;
  /** the seed of the limit's subset (ignored without a limit) */
  limitSeed: number | null;
  /** multiple choice: the language of the template words; null where a format has none (ppl, mt) */
  templateLang: string | null;
}

/**
 * The column's key, e.g. `sui_1:all:en`, `sui_1:24@0:fr`, `sui_2:all:-`. A limit is not "all" even
 * when it is at least the suite's size: its rows come in the subset's order, and for translation the
 * first rows are the prompt's demonstrations, so the scored rows can differ.
 */
export function columnKey(c: CellIdentity): string {
  return `${c.suiteId}:${rowsKey(c.limit, c.limitSeed)}:${c.templateLang ?? '-'}`;
}

/**
 * The rows a job evaluates of a suite: `all`, or `24@0` for the seeded subset of a row limit (the
 * seed defaults to 0 and means nothing without a limit). Two results are on the same rows exactly
 * when their keys are equal: cells, and dense rows a paired bootstrap may reuse, follow it.
 */
export function rowsKey(limit: number | null | undefined, limitSeed: number | null | undefined): string {
  return limit == null ? 'all' : `${limit}@${limitSeed ?? 0}`;
}

/** "all rows", "24 rows (seed 0)"; with ", template fr" where the prompts used template words. */
export function identityText(c: Omit<CellIdentity, 'suiteId'>): string {
  const rows = c.limit === null ? 'all rows' : `${c.limit} rows (seed ${c.limitSeed ?? 0})`;
  return c.templateLang === null ? rows : `${rows}, template ${c.templateLang}`;
}

/**
 * What `n` counts where it is not simply the rows evaluated: translation takes its few-shot
 * demonstrations from the first rows it is given (at most 4, leaving at least one) and scores the rest.
 */
export function nNote(format: string): string | null {
  return format === 'mt' ? 'n counts the rows translated: the first rows evaluated (up to 4) are the prompt’s demonstrations and are not scored' : null;
}

/**
 * The part of a column's identity a header shows next to its suite: the row limit whenever there is
 * one, and template words other than English (the reference's); JSON carries every part.
 */
export function columnTag(c: Omit<CellIdentity, 'suiteId'>): string | null {
  const parts = [
    c.limit === null ? null : `${c.limit} rows seed ${c.limitSeed ?? 0}`,
    c.templateLang && c.templateLang !== 'en' ? `template ${c.templateLang}` : null,
  ];
  const shown = parts.filter((p) => p !== null);
  return shown.length ? shown.join(', ') : null;
}
