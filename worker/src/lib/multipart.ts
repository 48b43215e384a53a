import { asc, eq } from 'drizzle-orm';
import { limits } from '../../../shared/src/api/limits';
import { uploadParts } from '../db/schema';
import { assertSha, blobKey, readBody } from './blobs';
import { sha256OfStream } from './crypto';
import type { Db } from './db';
import { ApiError } from './errors';

/** One request body on Workers is capped at 100 MB, so no single part may be larger. */
export const MAX_PART = limits.partBytes;

export interface OpenUpload {
  /** our id (upload_parts.upload_id) */
  id: string;
  r2Key: string;
  r2UploadId: string;
}

/** Stores part n (1-based); R2 wants every part but the last to be ≥ 5 MiB. */
export async function storePart(bucket: R2Bucket, db: Db, u: OpenUpload, n: number, req: Request) {
  const bytes = await readBody(req, MAX_PART);
  if (bytes.byteLength === 0) throw new ApiError(400, 'empty_body', 'part is empty');
  const part = await bucket.resumeMultipartUpload(u.r2Key, u.r2UploadId).uploadPart(n, bytes);
  await db
    .insert(uploadParts)
    .values({ uploadId: u.id, partNumber: n, etag: part.etag, size: bytes.byteLength })
    .onConflictDoUpdate({ target: [uploadParts.uploadId, uploadParts.partNumber], set: { etag: part.etag, size: bytes.byteLength } });
  return { partNumber: n, size: bytes.byteLength };
}

/**
 * Assembles the parts in order, hashes the result server-side (streaming) and checks it against
 * `expected`; on a mismatch the object is deleted (nothing kept). Identical content already stored
 * under its content address is kept once. `forget` removes the caller's upload rows.
 */
export async function assemble(bucket: R2Bucket, db: Db, u: OpenUpload, expected: string | undefined, forget: () => Promise<unknown>) {
  const parts = await db.select().from(uploadParts).where(eq(uploadParts.uploadId, u.id)).orderBy(asc(uploadParts.partNumber));
  if (parts.length === 0) throw new ApiError(409, 'no_parts', 'upload has no parts yet');
  parts.forEach((p, i) => {
    if (p.partNumber !== i + 1) throw new ApiError(409, 'missing_part', `part ${i + 1} is missing`);
  });
  try {
    await bucket.resumeMultipartUpload(u.r2Key, u.r2UploadId).complete(parts.map((p) => ({ partNumber: p.partNumber, etag: p.etag })));
  } catch (err) {
    throw new ApiError(409, 'upload_incomplete', `R2 refused to assemble the parts: ${(err as Error).message}`);
  }
  const obj = await bucket.get(u.r2Key);
  if (!obj) throw new ApiError(409, 'upload_incomplete', 'assembled object not found');
  const sha = await sha256OfStream(obj.body);
  const cleanup = async () => {
    await db.delete(uploadParts).where(eq(uploadParts.uploadId, u.id));
    await forget();
  };
  if (expected !== undefined && expected !== sha) {
    await bucket.delete(u.r2Key);
    await cleanup();
    assertSha(expected, sha);
  }
  let key = u.r2Key;
  if (await bucket.head(blobKey(sha))) {
    key = blobKey(sha);
    await bucket.delete(u.r2Key);
  }
  return { sha256: sha, size: obj.size, key, cleanup };
}
