import { and, desc, lt, type SQL } from 'drizzle-orm';
import type { SQLiteColumn, SQLiteTable } from 'drizzle-orm/sqlite-core';
import { type Principal, visibleTo } from './auth';
import type { Db } from './db';

export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

/** Ids are time-sortable, so a cursor is simply the last id of the previous page. */
export function nextCursor<T extends { id: string }>(rows: T[], limit: number): Page<T> {
  const items = rows.slice(0, limit);
  return { items, nextCursor: rows.length > limit ? items[items.length - 1]!.id : null };
}

type Listed = SQLiteTable & { id: SQLiteColumn };
type Owned = Listed & { visibility: SQLiteColumn; owner: SQLiteColumn };
type PageQuery = { limit: number; cursor?: string | undefined };

/**
 * One page of a list route: newest first, after the cursor, under the filters (undefined ones are
 * left out) and, given a viewer, only the rows that caller may read (`visibleTo`).
 */
export function listPage<T extends Owned>(
  db: Db,
  table: T,
  q: PageQuery,
  where: (SQL | undefined)[],
  viewer: Principal | null,
): Promise<Page<T['$inferSelect']>>;
/** Tables without owner and visibility (tokens, admin only). */
export function listPage<T extends Listed>(db: Db, table: T, q: PageQuery, where: (SQL | undefined)[]): Promise<Page<T['$inferSelect']>>;
export async function listPage(db: Db, table: Listed | Owned, q: PageQuery, where: (SQL | undefined)[], viewer?: Principal | null) {
  const rows = await pageQueries(db, table, q, where, viewer).rows;
  // drizzle types a select from a table parameter loosely; every listed table has a text id.
  return nextCursor(rows as { id: string }[], q.limit);
}

/**
 * The queries of one page, not yet run: its rows, and its ids as a subquery, so that a route can
 * fetch the page and rows that hang off it in one D1 batch (one round trip).
 */
export function pageQueries(db: Db, table: Listed | Owned, q: PageQuery, where: (SQL | undefined)[], viewer?: Principal | null) {
  const visible = viewer !== undefined && 'visibility' in table ? visibleTo(viewer, table) : undefined;
  const cond = and(visible, ...where, q.cursor ? lt(table.id, q.cursor) : undefined);
  return {
    rows: db
      .select()
      .from(table)
      .where(cond)
      .orderBy(desc(table.id))
      .limit(q.limit + 1),
    ids: db
      .select({ id: table.id })
      .from(table)
      .where(cond)
      .orderBy(desc(table.id))
      .limit(q.limit + 1),
  };
}
