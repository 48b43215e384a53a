/**
 * The file a researcher uploaded, kept as it arrived (BOM, CRLF, every column) next to the
 * normalised rows, content-addressed in R2, so that its sha256 can be checked against the published
 * file. A streamed body is written to R2 while it is parsed, never held whole: the chunks are hashed
 * as they pass and sent in R2 multipart parts, so about one part (5 MiB) is buffered. A body the route
 * already holds (a multipart form) is stored from that same buffer.
 */
import type { OriginalFile, OriginalPart } from '../../../shared/src/api/corpora';
import { putBlob, blobKey, serveBlob } from './blobs';
import { hex, newId, sha256Hex, sha256OfStream } from './crypto';
import { ApiError } from './errors';

/** R2 wants every multipart part but the last at least 5 MiB and all of one size. */
export const ORIGINAL_PART_BYTES = 5 * 1024 * 1024;

export interface KeptOriginal {
  sha256: string;
  size: number;
  key: string;
}

/** What the line reader feeds: every chunk in order, then the end of the body. */
export interface ByteTap {
  write(chunk: Uint8Array): Promise<void>;
  end(): void;
}

function concat(chunks: Uint8Array[], total: number): Uint8Array {
  if (chunks.length === 1) return chunks[0]!;
  const out = new Uint8Array(total);
  let off = 0;
  for (const c of chunks) {
    out.set(c, off);
    off += c.byteLength;
  }
  return out;
}

/**
 * Receives a body chunk by chunk. A body shorter than one part is put once under its content address;
 * a longer one goes to a temporary multipart object, which is then copied (R2 to R2, streamed) to its
 * content address unless that content is already there.
 */
export class OriginalWriter implements ByteTap {
  private readonly digest = new crypto.DigestStream('SHA-256');
  private readonly hashing = this.digest.getWriter();
  private pending: Uint8Array[] = [];
  private pendingBytes = 0;
  private size = 0;
  private ended = false;
  private upload?: { key: string; mpu: R2MultipartUpload; parts: R2UploadedPart[] };

  constructor(
    private readonly bucket: R2Bucket,
    private readonly partBytes = ORIGINAL_PART_BYTES,
    private readonly contentType = 'application/octet-stream',
  ) {}

  async write(chunk: Uint8Array): Promise<void> {
    await this.hashing.write(chunk);
    this.size += chunk.byteLength;
    this.pending.push(chunk);
    this.pendingBytes += chunk.byteLength;
    while (this.pendingBytes >= this.partBytes) await this.sendPart(this.partBytes);
  }

  end(): void {
    this.ended = true;
  }

  private async sendPart(n: number) {
    const all = concat(this.pending, this.pendingBytes);
    const part = all.subarray(0, n);
    const rest = all.subarray(n);
    // a copy of the tail (under one chunk), so the concatenated part can be freed once sent
    this.pending = rest.byteLength ? [rest.slice()] : [];
    this.pendingBytes = rest.byteLength;
    if (!this.upload) {
      const key = `uploads/original-${newId('org')}`;
      this.upload = { key, mpu: await this.bucket.createMultipartUpload(key), parts: [] };
    }
    this.upload.parts.push(await this.upload.mpu.uploadPart(this.upload.parts.length + 1, part));
  }

  private sha?: Promise<string>;

  /** The sha256 of what was written; the body must have been read to its end. */
  hash(): Promise<string> {
    // The parsers read every line of an upload they accept; an early stop is always a refusal.
    if (!this.ended) throw new Error('the original upload was not read to its end');
    this.sha ??= this.hashing.close().then(async () => hex(await this.digest.digest));
    return this.sha;
  }

  /** Stores what was written; the body must have been read to its end. */
  async finish(): Promise<KeptOriginal> {
    const sha256 = await this.hash();
    if (!this.upload) {
      const key = await putBlob(this.bucket, sha256, concat(this.pending, this.pendingBytes), this.contentType);
      this.pending = [];
      return { sha256, size: this.size, key };
    }
    if (this.pendingBytes) await this.sendPart(this.pendingBytes);
    const { key: temp, mpu, parts } = this.upload;
    await mpu.complete(parts);
    this.upload = undefined;
    const key = blobKey(sha256);
    try {
      if (!(await this.bucket.head(key))) {
        const obj = await this.bucket.get(temp);
        if (!obj) throw new Error(`the assembled original ${temp} vanished`);
        await this.bucket.put(key, obj.body, { httpMetadata: { contentType: this.contentType }, sha256 });
      }
    } finally {
      await this.bucket.delete(temp);
    }
    return { sha256, size: this.size, key };
  }

  /** Drops whatever was sent (the upload was refused). */
  async abort(): Promise<void> {
    // aborting the hash rejects its digest, which nobody will await now
    this.digest.digest.catch(() => undefined);
    await this.hashing.abort().catch(() => undefined);
    if (this.upload) await this.upload.mpu.abort().catch(() => undefined);
    this.upload = undefined;
    this.pending = [];
  }
}

/** Runs an upload that feeds `writers`; on any refusal or failure, what was sent to R2 for them is dropped. */
export async function droppingOnFailure<T>(writers: OriginalWriter | OriginalWriter[], run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (err) {
    await Promise.all((Array.isArray(writers) ? writers : [writers]).map((w) => w.abort()));
    throw err;
  }
}

/** A body the route already holds whole: stored from that buffer, no copy. */
export async function keepBuffered(bucket: R2Bucket, bytes: Uint8Array): Promise<KeptOriginal> {
  const sha256 = await sha256Hex(bytes);
  return { sha256, size: bytes.byteLength, key: await putBlob(bucket, sha256, bytes, 'application/octet-stream') };
}

/** Each file of a parsed multipart form, hashed by streaming it (the form already holds them). */
export async function formParts(form: FormData, names: string[]): Promise<OriginalPart[]> {
  const out: OriginalPart[] = [];
  for (const name of names) {
    const v = form.get(name) as unknown;
    if (v === null) continue;
    const blob = typeof v === 'string' ? new Blob([v]) : (v as Blob);
    const filename = typeof v === 'string' ? null : (v as File).name || null;
    out.push({ name, filename, sha256: await sha256OfStream(blob.stream()), size: blob.size });
  }
  return out;
}

/** The data route's description in the OpenAPI document. */
export const originalDataDoc = (what: 'corpus' | 'suite') =>
  `By default the normalised rows the runner reads (one JSON object per line), X-Content-SHA256 = the ${what}'s sha256. With ?original=true the bytes as uploaded (BOM, line ends, every column), X-Content-SHA256 = original.sha256, to compare with the published file. Range works on both; same visibility as the ${what}. A ${what} stored before uploaded files were kept answers 404 no_original.`;

interface OriginalRow {
  id: string;
  originalSha256: string | null;
  originalSize: number | null;
  originalR2Key: string | null;
  originalParts?: OriginalPart[] | null;
  originalContentType?: string | null;
}

/** The info JSON's `original`, or nothing for rows stored before originals were kept. */
export function originalView(r: OriginalRow): { original?: OriginalFile } {
  if (r.originalSha256 === null || r.originalSize === null) return {};
  return { original: { sha256: r.originalSha256, size: r.originalSize, ...(r.originalParts ? { parts: r.originalParts } : {}) } };
}

/** GET …/data?original=true: the bytes as uploaded, with their sha256; 404 no_original for old rows. */
export function serveOriginal(bucket: R2Bucket, r: OriginalRow, what: 'corpus' | 'suite', range: string | undefined, ext: string): Promise<Response> {
  if (!r.originalSha256 || !r.originalR2Key) {
    const kind = what === 'corpus' ? 'corpora' : 'suites';
    throw new ApiError(
      404,
      'no_original',
      `${what} ${r.id} was stored before polyprune kept uploaded files: only its normalised rows exist (GET /v1/${kind}/${r.id}/data)`,
    );
  }
  return serveBlob(bucket, r.originalR2Key, range, `${r.id}.original.${ext}`, r.originalSha256, r.originalContentType ?? undefined);
}
