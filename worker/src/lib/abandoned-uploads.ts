import { inArray, lt } from 'drizzle-orm';
import { limits } from '@polyprune/shared/api/limits';
import { artifactUploads, uploadParts, uploads } from '../db/schema';
import type { Db } from './db';

/** A multipart upload not completed within this time is aborted by the cron, its R2 parts freed. */
export const UPLOAD_TTL_HOURS = limits.uploadTtlHours;

/** Aborts model and artifact multipart uploads older than UPLOAD_TTL_HOURS; returns how many. */
export async function abortAbandonedUploads(db: Db, bucket: R2Bucket, nowMs = Date.now()): Promise<number> {
  const before = new Date(nowMs - UPLOAD_TTL_HOURS * 3600_000).toISOString();
  const [models, artifacts] = await Promise.all([
    db.select().from(uploads).where(lt(uploads.createdAt, before)).limit(100),
    db.select().from(artifactUploads).where(lt(artifactUploads.createdAt, before)).limit(100),
  ]);
  const all = [...models, ...artifacts];
  if (!all.length) return 0;
  // An upload R2 already forgot (aborted or expired there) is just dropped from our tables.
  await Promise.all(
    all.map((u) =>
      bucket
        .resumeMultipartUpload(u.r2Key, u.r2UploadId)
        .abort()
        .catch(() => undefined),
    ),
  );
  const ids = all.map((u) => u.id);
  await db.batch([
    db.delete(uploadParts).where(inArray(uploadParts.uploadId, ids)),
    db.delete(uploads).where(inArray(uploads.id, ids)),
    db.delete(artifactUploads).where(inArray(artifactUploads.id, ids)),
  ]);
  return all.length;
}
