/**
 * Request bodies that go to R2 are streamed there while they are hashed and counted, never held
 * whole: a Workers isolate has 128 MB, and a model file of 95 MB read into memory (plus the copy a
 * contiguous buffer needs) would not fit beside anything else. About two 1 MiB chunks of the body
 * are in memory at a time; an over-limit body is refused by its Content-Length before a byte is read, or
 * at the first byte past the limit.
 */
import { blobKey } from './blobs';
import { hex, newId, sha256Hex } from './crypto';
import { ApiError } from './errors';
import { OriginalWriter } from './originals';

const tooLarge = (maxBytes: number, declared?: string) =>
  new ApiError(
    413,
    'payload_too_large',
    declared ? `body of ${declared} bytes exceeds the limit of ${maxBytes}` : `body exceeds the limit of ${maxBytes} bytes`,
  );

/** The declared length of a body, refusing one over `maxBytes` before reading it; null when chunked. */
export function bodyLength(req: Request, maxBytes: number): number | null {
  const len = req.headers.get('content-length');
  if (len === null) return null;
  const n = Number(len);
  if (!Number.isSafeInteger(n) || n < 0) throw new ApiError(400, 'invalid_request', `Content-Length "${len}" is not a byte count`);
  if (n > maxBytes) throw tooLarge(maxBytes, len);
  return n;
}

export interface Metered {
  /** The body as it passes, with a known length where the request declared one (R2 needs it). */
  stream: ReadableStream<Uint8Array>;
  /** Resolves once the whole body has passed: its sha256 and size; rejects with the refusal (413) if there was one. */
  done: Promise<{ sha256: string; size: number }>;
}

/**
 * Bytes asked of a body at a time. A default reader gets workerd's 4 KiB chunks, and a JavaScript
 * step per chunk (hash, count, pass on) cost more CPU than the local R2 spends storing them (19 vs
 * 17 CPU seconds a GiB, bench/transfer.ts); read 1 MiB at a time that step is ~250 times rarer.
 */
export const BODY_READ_BYTES = 1024 * 1024;

/**
 * A body in chunks of BODY_READ_BYTES (the last one shorter); leaving the loop early cancels the
 * body. A request's body is a byte stream; any other stream is read as its chunks come.
 */
export async function* bodyChunks(body: ReadableStream<Uint8Array>): AsyncGenerator<Uint8Array> {
  let byob: ReadableStreamBYOBReader | undefined;
  try {
    byob = body.getReader({ mode: 'byob' });
  } catch {
    // not a byte stream
  }
  const reader = byob ?? body.getReader();
  const read = byob
    ? async () => (await byob.readAtLeast(BODY_READ_BYTES, new Uint8Array(BODY_READ_BYTES))) as ReadableStreamReadResult<Uint8Array>
    : () => (reader as ReadableStreamDefaultReader<Uint8Array>).read();
  let finished = false;
  try {
    for (;;) {
      const { done, value } = await read();
      if (value && value.byteLength > 0) yield value;
      if (done) {
        finished = true;
        return;
      }
    }
  } finally {
    if (!finished) await reader.cancel().catch(() => undefined);
  }
}

/**
 * Passes a body through a SHA-256 digest and a byte cap. With a known length the output is a
 * FixedLengthStream of that length, which R2 put and uploadPart accept as they accept the request
 * body itself. Two chunks are in memory: one being read while the one before is hashed and passed on.
 */
export function meter(body: ReadableStream<Uint8Array>, length: number | null, maxBytes: number): Metered {
  const digest = new crypto.DigestStream('SHA-256');
  const hashing = digest.getWriter();
  const out = length !== null ? new FixedLengthStream(length) : new IdentityTransformStream();
  const passing = out.writable.getWriter();
  let size = 0;
  const pump = async () => {
    let handed: Promise<unknown> = Promise.resolve();
    try {
      for await (const chunk of bodyChunks(body)) {
        // The hash sees the chunks in order: the one before is through before this one goes.
        await handed;
        size += chunk.byteLength;
        if (size > maxBytes) throw tooLarge(maxBytes);
        handed = Promise.all([hashing.write(chunk), passing.write(chunk)]);
        // Awaited at the next chunk or below; a failure meanwhile (R2 gave up) is not unhandled.
        handed.catch(() => undefined);
      }
      await handed;
      await hashing.close();
      await passing.close();
    } catch (err) {
      await handed.catch(() => undefined);
      // The digest and the writers' `closed` reject with the abort: the refusal is reported through `done`.
      for (const p of [digest.digest, passing.closed, hashing.closed]) p.catch(() => undefined);
      await Promise.allSettled([passing.abort(err), hashing.abort(err)]);
      throw err;
    }
  };
  const done = (async () => {
    await pump();
    return { sha256: hex(await digest.digest), size };
  })();
  // A refusal is read from `done` by the caller; the copy of the rejection the consumer sees must not go unhandled.
  done.catch(() => undefined);
  return { stream: out.readable, done };
}

/** The refusal the meter saw, in preference to the consumer's own error about the cut-off stream. */
export async function settle<T>(work: Promise<T>, m: Metered): Promise<[T, { sha256: string; size: number }]> {
  try {
    const out = await work;
    return [out, await m.done];
  } catch (err) {
    const seen = await m.done.then(
      () => null,
      (e: unknown) => e,
    );
    throw seen instanceof ApiError ? seen : err;
  }
}

export interface StoredBody {
  sha256: string;
  size: number;
  key: string;
  /** the object was written by this request (so a later refusal may delete it) */
  created: boolean;
}

export const hashMismatch = (expected: string, actual: string) =>
  new ApiError(422, 'hash_mismatch', `content sha256 is ${actual}, X-Content-SHA256 said ${expected}; nothing was stored`, { expected, actual });

/**
 * Streams a request body of at most `maxBytes` to R2, hashing it on the way; a body that does not
 * match its X-Content-SHA256 is dropped. Identical content already stored under its content address
 * is kept once. A chunked body (no Content-Length) is sent in 5 MiB multipart parts instead.
 */
export async function storeStreamed(
  bucket: R2Bucket,
  req: Request,
  maxBytes: number,
  expected: string | undefined,
  emptyMessage?: string,
): Promise<StoredBody> {
  const length = bodyLength(req, maxBytes);
  if (length === 0 || !req.body) {
    // An empty file is refused where it cannot be meant (a model file), stored where it can (an artifact).
    if (emptyMessage !== undefined) throw new ApiError(400, 'empty_body', emptyMessage);
    await req.body?.cancel();
    const sha256 = await sha256Hex(new Uint8Array(0));
    if (expected !== undefined && expected !== sha256) throw hashMismatch(expected, sha256);
    const key = blobKey(sha256);
    const created = !(await bucket.head(key));
    if (created) await bucket.put(key, new Uint8Array(0), { sha256 });
    return { sha256, size: 0, key, created };
  }
  if (length === null) return storeChunked(bucket, req.body, maxBytes, expected, emptyMessage);
  const m = meter(req.body, length, maxBytes);
  // One multipart part, as model parts are: R2 takes a part of up to 100 MB as a stream.
  const temp = `uploads/put-${newId('put')}`;
  const mpu = await bucket.createMultipartUpload(temp, { httpMetadata: { contentType: 'application/octet-stream' } });
  let got: { sha256: string; size: number };
  try {
    const [part, seen] = await settle(mpu.uploadPart(1, m.stream), m);
    got = seen;
    if (expected !== undefined && got.sha256 !== expected) throw hashMismatch(expected, got.sha256);
    await mpu.complete([part]);
  } catch (err) {
    await mpu.abort().catch(() => undefined);
    throw err;
  }
  // Hashed here, so the content address is trustworthy: identical content already stored is kept once.
  // New content stays under its upload key (copying it to the address would read it all again).
  const key = blobKey(got.sha256);
  if (await bucket.head(key)) {
    await bucket.delete(temp);
    return { ...got, key, created: false };
  }
  return { ...got, key: temp, created: true };
}

async function storeChunked(
  bucket: R2Bucket,
  body: ReadableStream<Uint8Array>,
  maxBytes: number,
  expected: string | undefined,
  emptyMessage: string | undefined,
): Promise<StoredBody> {
  const writer = new OriginalWriter(bucket);
  const existed = async (sha: string) => !!(await bucket.head(blobKey(sha)));
  try {
    let size = 0;
    for await (const chunk of bodyChunks(body)) {
      size += chunk.byteLength;
      if (size > maxBytes) throw tooLarge(maxBytes);
      await writer.write(chunk);
    }
    writer.end();
    if (size === 0 && emptyMessage !== undefined) throw new ApiError(400, 'empty_body', emptyMessage);
    if (expected !== undefined && (await writer.hash()) !== expected) throw hashMismatch(expected, await writer.hash());
    const before = await existed(await writer.hash());
    const kept = await writer.finish();
    return { ...kept, created: !before };
  } catch (err) {
    await writer.abort();
    throw err;
  }
}
