import { getTableColumns } from 'drizzle-orm';
import { corpora } from '../db/schema';
import type { Db } from './db';

type Row = typeof corpora.$inferSelect;

const columns = Object.entries(getTableColumns(corpora));
/** Written once per isolate rather than built by the query builder on every upload. */
const statement = `insert into corpora (${columns.map(([, c]) => `"${c.name}"`).join(', ')}) select ${columns.map(() => '?').join(', ')} where exists (select 1 from corpora where "${corpora.r2Key.name}" = ? and "${corpora.originalR2Key.name}" = ?)`;

/**
 * Inserts the row only where an earlier corpus already references both of its R2 objects at the same
 * keys (the same rows and the same uploaded file, at their content addresses): those were stored
 * before that row was written, and an object a row references is not deleted, so the upload needs
 * no R2 call. One D1 statement; true when the row was inserted. Values are encoded by their columns,
 * as drizzle's insert does (JSON columns as JSON text).
 */
export async function insertIfStored(db: Db, row: Row): Promise<boolean> {
  const values = columns.map(([name, col]) => {
    const v = row[name as keyof Row];
    return v === null ? null : col.mapToDriverValue(v);
  });
  const res = await db.$client
    .prepare(statement)
    .bind(...values, row.r2Key, row.originalR2Key)
    .run();
  return res.meta.changes === 1;
}
