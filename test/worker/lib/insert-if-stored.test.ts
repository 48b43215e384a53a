/**
 * A re-upload's row goes in with one D1 statement only where an earlier corpus references both of
 * its R2 objects at the same keys; what it stores reads back exactly like drizzle's plain insert.
 */
import { env } from 'cloudflare:workers';
import { eq } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { corpora } from '@polyprune/worker/db/schema';
import { createDb } from '@polyprune/worker/lib/db';
import { insertIfStored } from '@polyprune/worker/lib/insert-if-stored';

type Row = typeof corpora.$inferSelect;
const db = createDb(env.DB);
const row = (id: string, r2Key: string, originalR2Key: string, extra: Partial<Row> = {}): Row => ({
  id,
  owner: 'stored-owner',
  name: `fr-en ${id}`,
  src: 'fr',
  tgt: 'en',
  visibility: 'private',
  sha256: r2Key.slice(7),
  size: 10,
  r2Key,
  stats: { format: 'tsv', lines: 2, pairsKept: 2, skipped: { missing_tab: 1 }, warnings: [] },
  skippedLines: null,
  originalSha256: originalR2Key.slice(7),
  originalSize: 12,
  originalR2Key,
  originalContentType: null,
  originalParts: null,
  createdAt: '2026-12-07T00:00:00.000Z',
  ...extra,
});
const read = async (id: string) => (await db.select().from(corpora).where(eq(corpora.id, id)))[0];

describe('insertIfStored', () => {
  it('inserts where an earlier row has both keys, and the row reads back as a plain insert of it would', async () => {
    await db.insert(corpora).values(row('cor_first', 'sha256/aaa', 'sha256/bbb'));
    const again = row('cor_again', 'sha256/aaa', 'sha256/bbb', {
      owner: 'someone-else',
      visibility: 'public',
      stats: { format: 'two-files', nested: { a: [1, 2.5, null, 'é'] } },
      skippedLines: [{ line: 3, reason: 'missing_tab', message: 'expected "source<TAB>target"' }],
      originalContentType: 'multipart/form-data; boundary=x',
      originalParts: [{ name: 'src', filename: null, sha256: 'c'.repeat(64), size: 4 }],
    });
    expect(await insertIfStored(db, again)).toBe(true);
    expect(await read('cor_again')).toEqual(again);
    // the same row through drizzle's own insert, for the encoding of every column
    await db.insert(corpora).values({ ...again, id: 'cor_plain' });
    expect(await read('cor_plain')).toEqual({ ...again, id: 'cor_plain' });
    const raw = await env.DB.prepare('SELECT * FROM corpora WHERE id IN (?, ?) ORDER BY id').bind('cor_again', 'cor_plain').all();
    expect({ ...raw.results[0], id: 'x' }).toEqual({ ...raw.results[1], id: 'x' });
  });

  it('inserts nothing where no row has both keys (one of them is not enough)', async () => {
    await db.insert(corpora).values(row('cor_base', 'sha256/ccc', 'sha256/ddd'));
    for (const [id, r2, orig] of [
      ['cor_other_original', 'sha256/ccc', 'sha256/eee'],
      ['cor_other_rows', 'sha256/fff', 'sha256/ddd'],
      ['cor_swapped', 'sha256/ddd', 'sha256/ccc'],
      ['cor_new', 'sha256/ggg', 'sha256/hhh'],
    ] as const) {
      expect(await insertIfStored(db, row(id, r2, orig))).toBe(false);
      expect(await read(id)).toBeUndefined();
    }
    // the row it stands on is untouched
    expect(await read('cor_base')).toEqual(row('cor_base', 'sha256/ccc', 'sha256/ddd'));
  });

  it('uses the index (no scan of corpora)', async () => {
    const plan = await env.DB.prepare('EXPLAIN QUERY PLAN SELECT 1 FROM corpora WHERE r2_key = ? AND original_r2_key = ?')
      .bind('sha256/aaa', 'sha256/bbb')
      .all<{ detail: string }>();
    expect(plan.results.map((r) => r.detail).join('\n')).toMatch(/USING (COVERING )?INDEX corpora_stored/);
  });
});
