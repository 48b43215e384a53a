/**
 * One drizzle handle per D1 binding: the same binding gets the same handle, and a handle only ever
 * queries the binding it was made for.
 */
import { env } from 'cloudflare:workers';
import { eq } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { tokens } from '@polyprune/worker/db/schema';
import { createDb } from '@polyprune/worker/lib/db';

/** A stand-in D1 binding that answers every query with no rows and records its SQL. */
function recordingD1() {
  const sql: string[] = [];
  const statement = (text: string) => {
    const s = {
      bind: () => s,
      raw: async () => [],
      all: async () => ({ results: [], success: true, meta: {} }),
      run: async () => ({ results: [], success: true, meta: {} }),
      first: async () => null,
    };
    sql.push(text);
    return s;
  };
  return { sql, d1: { prepare: statement } as unknown as D1Database };
}

describe('createDb', () => {
  it('hands each binding its own handle, the same one every time', async () => {
    const a = recordingD1();
    const b = recordingD1();
    expect(createDb(a.d1)).toBe(createDb(a.d1));
    expect(createDb(env.DB)).toBe(createDb(env.DB));
    expect(createDb(a.d1)).not.toBe(createDb(b.d1));
    expect(createDb(a.d1)).not.toBe(createDb(env.DB));

    await createDb(a.d1).select().from(tokens).where(eq(tokens.owner, 'a'));
    await createDb(b.d1).query.tokens.findFirst({ where: eq(tokens.owner, 'b') });
    expect(a.sql).toHaveLength(1);
    expect(b.sql).toHaveLength(1);
    expect(a.sql[0]).toMatch(/from "tokens"/);
    // the real binding still answers from the real database, untouched by the stand-ins
    const [row] = await createDb(env.DB).$client.prepare('select 1 as one').raw();
    expect(row).toEqual([1]);
    expect(a.sql).toHaveLength(1);
  });
});
