/**
 * A small upload read whole before it is parsed. Its sha256 is then known before any line is, so a
 * file the isolate accepted before needs no parse (accepted-uploads.ts), and a new one is parsed
 * from the buffer and stored from it, hashed once. Bodies that are larger, or that do not say their
 * length, stream as before: holding them could hold the whole dataset limit.
 */

/** About a calibration corpus of a few thousand pairs; the streamed path buffers up to one 5 MiB R2 part anyway. */
export const HELD_BODY_BYTES = 1024 * 1024;

export type HeldBody = { bytes: Uint8Array } | { stream: ReadableStream<Uint8Array> | null };

/**
 * The body whole when its Content-Length is at most `max` bytes; otherwise the body to stream. A body
 * that turns out longer than it said is handed back as a stream that replays what was read first.
 */
export async function holdBody(req: Request, max = HELD_BODY_BYTES): Promise<HeldBody> {
  const len = req.headers.get('content-length');
  const n = len === null ? Number.NaN : Number(len);
  if (!(Number.isSafeInteger(n) && n >= 0 && n <= max) || !req.body) return { stream: req.body };
  let byob: ReadableStreamBYOBReader | undefined;
  try {
    byob = req.body.getReader({ mode: 'byob' });
  } catch {
    // not a byte stream
  }
  if (!byob) return chunked(req.body.getReader(), n);
  // One read for the whole body (a default reader gets it in 4 KiB chunks): asked for one byte more
  // than declared, it answers short only where the body ended.
  const { value } = await byob.readAtLeast(n + 1, new Uint8Array(n + 1));
  const bytes = value ?? new Uint8Array(0);
  if (bytes.byteLength <= n) return { bytes };
  return { stream: replaying([bytes], () => byob.read(new Uint8Array(64 * 1024)), byob) };
}

/** A body that is not a byte stream, read as its chunks come; past the `declared` length it streams. */
async function chunked(reader: ReadableStreamDefaultReader<Uint8Array>, declared: number): Promise<HeldBody> {
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    total += value.byteLength;
    if (total > declared) return { stream: replaying(chunks, () => reader.read(), reader) };
  }
  if (chunks.length === 1) return { bytes: chunks[0]! };
  const bytes = new Uint8Array(total);
  let at = 0;
  for (const c of chunks) {
    bytes.set(c, at);
    at += c.byteLength;
  }
  return { bytes };
}

function replaying(
  read: Uint8Array[],
  next: () => Promise<ReadableStreamReadResult<Uint8Array>>,
  reader: { cancel(reason?: unknown): Promise<void> },
): ReadableStream<Uint8Array> {
  return new ReadableStream<Uint8Array>({
    async pull(ctl) {
      const first = read.shift();
      if (first) return ctl.enqueue(first);
      const { done, value } = await next();
      if (done) ctl.close();
      else if (value) ctl.enqueue(value);
    },
    cancel: (reason) => reader.cancel(reason),
  });
}

/** Bytes already held, as the one-chunk stream the line reader takes. */
export const streamOf = (bytes: Uint8Array): ReadableStream<Uint8Array> =>
  new ReadableStream<Uint8Array>({
    start(ctl) {
      ctl.enqueue(bytes);
      ctl.close();
    },
  });
