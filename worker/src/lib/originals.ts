/**
 * The file a researcher uploaded, kept as it arrived (BOM, CRLF, every column) next to the
 * normalised rows, content-addressed in R2, so that its sha256 can be checked against the published
 * file. A streamed body is written to R2 while it is parsed, never held whole: the chunks are hashed
 * as they pass and sent in R2 multipart parts, so about one part (5 MiB) is buffered. A body the route
 * already holds (a multipart form) is stored from that same buffer.
 */
import type { OriginalFile, OriginalPart } from '@polyprune/shared/api/corpora';
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

/**
 * Receives a body chunk by chunk. A body shorter than one part is put once under its content address;
 * a longer one goes to a temporary multipart object, which is then copied (R2 to R2, streamed) to its
 * content address unless that content is already there.
 */
export class OriginalWriter implements ByteTap {
  private readonly digest = new crypto.DigestStream('SHA-256');
  private readonly hashing = this.digest.getWriter();
  /** the part being filled: grows (doubling) up to one part, then is sent and filled again */
  private buf = new Uint8Array(64 * 1024);
  private fill = 0;
  private size = 0;
  private ended = false;
  private upload?: { key: string; mpu: R2MultipartUpload; parts: R2UploadedPart[] };

  constructor(
    private readonly bucket: R2Bucket,
    private readonly partBytes = ORIGINAL_PART_BYTES,
    private readonly contentType = 'application/octet-stream',
    /**
     * New content of more than one part stays at its upload key (`uploads/<prefix>-…`) instead of
     * being copied to its content address, which would read it all again; identical content already
     * at its address is kept once. The original file is copied: it is looked up by its address.
     */
    private readonly staysAtUploadKey = false,
    private readonly prefix = 'original',
  ) {}

  async write(chunk: Uint8Array): Promise<void> {
    await this.hashing.write(chunk);
    this.size += chunk.byteLength;
    let from = 0;
    while (from < chunk.byteLength) {
      if (this.fill === this.buf.byteLength) {
        const bigger = new Uint8Array(Math.min(this.partBytes, Math.max(2 * this.buf.byteLength, 1)));
        bigger.set(this.buf.subarray(0, this.fill));
        this.buf = bigger;
      }
      const n = Math.min(this.buf.byteLength - this.fill, chunk.byteLength - from);
      this.buf.set(chunk.subarray(from, from + n), this.fill);
      this.fill += n;
      from += n;
      if (this.fill === this.partBytes) await this.sendPart();
    }
  }

  end(): void {
    this.ended = true;
  }

  /** Sends what the part buffer holds; the one buffer is filled again (one part in memory, not a list and its copy). */
  private async sendPart() {
    if (!this.upload) {
      const key = `uploads/${this.prefix}-${newId('org')}`;
      const mpu = await this.bucket.createMultipartUpload(key, { httpMetadata: { contentType: this.contentType } });
      this.upload = { key, mpu, parts: [] };
    }
    this.upload.parts.push(await this.upload.mpu.uploadPart(this.upload.parts.length + 1, this.buf.subarray(0, this.fill)));
    this.fill = 0;
    // a runtime that took the buffer over (detached it) gets a fresh one
    if (this.buf.byteLength === 0) this.buf = new Uint8Array(this.partBytes);
  }

  private sha?: Promise<string>;

  /** The sha256 of what was written; the body must have been read to its end. */
  hash(): Promise<string> {
    // The parsers read every line of an upload they accept; an early stop is always a refusal.
    if (!this.ended) throw new Error('the original upload was not read to its end');
    this.sha ??= this.hashing.close().then(async () => hex(await this.digest.digest));
    return this.sha;
  }

  /**
   * Where what was written would be stored, without storing it: its content address while it is held
   * whole (under one part, nothing sent yet), else null. The body must have been read to its end.
   */
  async held(): Promise<KeptOriginal | null> {
    if (this.upload) return null;
    const sha256 = await this.hash();
    return { sha256, size: this.size, key: blobKey(sha256) };
  }

  /** Stores what was written; the body must have been read to its end. */
  async finish(): Promise<KeptOriginal> {
    const sha256 = await this.hash();
    if (!this.upload) {
      const key = await putBlob(this.bucket, sha256, this.buf.subarray(0, this.fill), this.contentType);
      this.buf = new Uint8Array(0);
      this.fill = 0;
      return { sha256, size: this.size, key };
    }
    if (this.fill) await this.sendPart();
    this.buf = new Uint8Array(0);
    const { key: temp, mpu, parts } = this.upload;
    await mpu.complete(parts);
    this.upload = undefined;
    const key = blobKey(sha256);
    if (this.staysAtUploadKey) {
      if (!(await this.bucket.head(key))) return { sha256, size: this.size, key: temp };
      await this.bucket.delete(temp);
      return { sha256, size: this.size, key };
    }
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

  /** Stores what was written at an upload key, not its content address: a scratch object the caller reads back and deletes. */
  async finishScratch(): Promise<string> {
    this.end();
    if (!this.upload) {
      const key = `uploads/${this.prefix}-${newId('org')}`;
      await this.bucket.put(key, this.buf.subarray(0, this.fill));
      this.buf = new Uint8Array(0);
      this.fill = 0;
      return key;
    }
    if (this.fill) await this.sendPart();
    this.buf = new Uint8Array(0);
    const { key, mpu, parts } = this.upload;
    await mpu.complete(parts);
    this.upload = undefined;
    return key;
  }

  /** Drops whatever was sent (the upload was refused). */
  async abort(): Promise<void> {
    // aborting the hash rejects its digest, which nobody will await now
    this.digest.digest.catch(() => undefined);
    await this.hashing.abort().catch(() => undefined);
    if (this.upload) await this.upload.mpu.abort().catch(() => undefined);
    this.upload = undefined;
    this.buf = new Uint8Array(0);
    this.fill = 0;
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

/** A body the route already holds whole (its sha256 if known): its content address (`held`, nothing stored) and storing it from that buffer, no copy. */
export function bufferedOriginal(bucket: R2Bucket, bytes: Uint8Array, sha256?: string) {
  let sha: Promise<string> | undefined = sha256 === undefined ? undefined : Promise.resolve(sha256);
  const held = async (): Promise<KeptOriginal> => {
    sha ??= sha256Hex(bytes);
    const sha256 = await sha;
    return { sha256, size: bytes.byteLength, key: blobKey(sha256) };
  };
  return {
    held,
    keep: async (): Promise<KeptOriginal> => {
      const h = await held();
      return { ...h, key: await putBlob(bucket, h.sha256, bytes, 'application/octet-stream') };
    },
  };
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
