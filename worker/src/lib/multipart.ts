import { asc, eq } from 'drizzle-orm';
import { limits } from '@polyprune/shared/api/limits';
import { uploadParts } from '../db/schema';
import { blobKey, expectedSha } from './blobs';
import { sha256OfStream } from './crypto';
import type { Db } from './db';
import { ApiError } from './errors';
import { bodyLength, hashMismatch, meter, settle } from './streamed-body';

/** One request body on Workers is capped at 100 MB, so no single part may be larger. */
export const MAX_PART = limits.partBytes;

export interface OpenUpload {
  /** our id (upload_parts.upload_id) */
  id: string;
  r2Key: string;
  r2UploadId: string;
}

/**
 * Stores part n (1-based); R2 wants every part but the last to be ≥ 5 MiB. The part streams to R2
 * as it arrives (hashed on the way: a part's X-Content-SHA256, when sent, is checked and the part
 * not recorded on a mismatch), so a 100 MB part never sits in the isolate's 128 MB.
 */
export async function storePart(bucket: R2Bucket, db: Db, u: OpenUpload, n: number, req: Request) {
  const length = bodyLength(req, MAX_PART);
  if (length === null) throw new ApiError(411, 'length_required', 'a part needs a Content-Length: R2 stores parts of known length');
  if (length === 0 || !req.body) throw new ApiError(400, 'empty_body', 'part is empty');
  const expected = expectedSha(req.headers.get('x-content-sha256') ?? undefined);
  const m = meter(req.body, length, MAX_PART);
  const [part, got] = await settle(bucket.resumeMultipartUpload(u.r2Key, u.r2UploadId).uploadPart(n, m.stream), m);
  if (expected !== undefined && got.sha256 !== expected) throw hashMismatch(expected, got.sha256);
  await db
    .insert(uploadParts)
    .values({ uploadId: u.id, partNumber: n, etag: part.etag, size: got.size })
    .onConflictDoUpdate({ target: [uploadParts.uploadId, uploadParts.partNumber], set: { etag: part.etag, size: got.size } });
  return { partNumber: n, size: got.size, sha256: got.sha256 };
}

/**
 * Assembles the parts in order. With a declared sha256 (the uploader hashed the file as it read it)
 * that hash is recorded without reading the object again — re-reading 2 GB to hash it costs a
 * minute and more CPU than a Worker has — and the runner checks it where it reads the bytes anyway,
 * on download (a mismatch fails the job as corrupt_input). Such an object stays under its own key,
 * never the content address: an unverified hash must not stand for, or be deduplicated onto,
 * another upload's bytes. Without a declared hash the object is hashed here (streaming) and
 * identical content already stored is kept once. `forget` removes the caller's upload rows.
 */
export async function assemble(bucket: R2Bucket, db: Db, u: OpenUpload, expected: string | undefined, forget: () => Promise<unknown>) {
  const parts = await db.select().from(uploadParts).where(eq(uploadParts.uploadId, u.id)).orderBy(asc(uploadParts.partNumber));
  if (parts.length === 0) throw new ApiError(409, 'no_parts', 'upload has no parts yet');
  parts.forEach((p, i) => {
    if (p.partNumber !== i + 1) throw new ApiError(409, 'missing_part', `part ${i + 1} is missing`);
  });
  let done: R2Object;
  try {
    done = await bucket.resumeMultipartUpload(u.r2Key, u.r2UploadId).complete(parts.map((p) => ({ partNumber: p.partNumber, etag: p.etag })));
  } catch (err) {
    throw new ApiError(409, 'upload_incomplete', `R2 refused to assemble the parts: ${(err as Error).message}`);
  }
  const cleanup = async () => {
    await db.delete(uploadParts).where(eq(uploadParts.uploadId, u.id));
    await forget();
  };
  if (expected !== undefined) return { sha256: expected, size: done.size, key: u.r2Key, cleanup };
  const obj = await bucket.get(u.r2Key);
  if (!obj) throw new ApiError(409, 'upload_incomplete', 'assembled object not found');
  const sha = await sha256OfStream(obj.body);
  let key = u.r2Key;
  if (await bucket.head(blobKey(sha))) {
    key = blobKey(sha);
    await bucket.delete(u.r2Key);
  }
  return { sha256: sha, size: obj.size, key, cleanup };
}
