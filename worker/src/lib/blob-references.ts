import { sql } from 'drizzle-orm';
import { corpora, jobArtifacts, modelFiles, suites } from '../db/schema';
import type { Db } from './db';

/**
 * Whether a D1 row names `key` as its R2 object. Every table is asked because content addresses
 * are one namespace (a model file, a corpus's original and an artifact of the same bytes share
 * one object), and a request that wrote an object at one may find, when it is refused, that
 * another upload of the same bytes recorded its row on that object meanwhile. One D1 query.
 */
export async function blobReferenced(db: Db, key: string): Promise<boolean> {
  const row = await db.get<{ referenced: number }>(sql`select (
    exists (select 1 from ${modelFiles} where ${modelFiles.r2Key} = ${key})
    or exists (select 1 from ${corpora} where ${corpora.r2Key} = ${key} or ${corpora.originalR2Key} = ${key})
    or exists (select 1 from ${suites} where ${suites.r2Key} = ${key} or ${suites.originalR2Key} = ${key})
    or exists (select 1 from ${jobArtifacts} where ${jobArtifacts.r2Key} = ${key})
  ) as referenced`);
  return row.referenced === 1;
}
