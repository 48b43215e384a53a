import { getTableColumns, sql } from 'drizzle-orm';
import { corpora } from '../db/schema';
import type { Db } from './db';

type Row = typeof corpora.$inferSelect;

/**
 * Inserts the row only where an earlier corpus already references both of its R2 objects at the same
 * keys (the same rows and the same uploaded file, at their content addresses): those were stored
 * before that row was written and content-addressed objects are never deleted, so the upload needs
 * no R2 call. One D1 statement; true when the row was inserted.
 */
export async function insertIfStored(db: Db, row: Row): Promise<boolean> {
  const values = Object.entries(getTableColumns(corpora)).map(([name, col]) => sql.param(row[name as keyof Row], col));
  const res = await db
    .insert(corpora)
    .select(
      sql`select ${sql.join(values, sql`, `)} where exists (select 1 from ${corpora} where ${corpora.r2Key} = ${row.r2Key} and ${corpora.originalR2Key} = ${row.originalR2Key})`,
    );
  return res.meta.changes === 1;
}
