import { and, eq } from 'drizzle-orm';
import { jobArtifacts, type runs } from '../db/schema';
import type { Db } from '../lib/db';

type RunRow = typeof runs.$inferSelect;

/** Where a run's artifact lies in R2, when the run lists it. */
export async function runArtifactRow(db: Db, run: RunRow, name: string) {
  if (!(run.artifacts as { name: string }[]).some((a) => a.name === name)) return undefined;
  return db.query.jobArtifacts.findFirst({ where: and(eq(jobArtifacts.jobId, run.jobId), eq(jobArtifacts.name, name)) });
}

/** A JSON artifact of a run (lmf.json, analysis.json) parsed, or null when the run has none or it is not JSON. */
export async function runArtifactJson(db: Db, bucket: R2Bucket, run: RunRow, name: string): Promise<unknown> {
  const row = await runArtifactRow(db, run, name);
  const obj = row ? await bucket.get(row.r2Key) : null;
  if (!obj) return null;
  try {
    return JSON.parse(await obj.text());
  } catch {
    return null;
  }
}
