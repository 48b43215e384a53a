import { type DrizzleD1Database, drizzle } from 'drizzle-orm/d1';
import * as schema from '../db/schema';

export type Db = DrizzleD1Database<typeof schema> & { $client: D1Database };

/**
 * Building a handle works through the whole schema (every table's relations), a fixed cost the
 * requests of an isolate need not each pay: one handle per D1 binding, kept while the binding lives.
 * A handle holds the binding and the schema, nothing of a request, and a binding serves every
 * request of its isolate.
 */
const handles = new WeakMap<D1Database, Db>();

export function createDb(d1: D1Database): Db {
  let db = handles.get(d1);
  if (!db) {
    db = drizzle(d1, { schema });
    handles.set(d1, db);
  }
  return db;
}

export const nowIso = () => new Date().toISOString();
