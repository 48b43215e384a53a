/**
 * The meter every uploaded body passes through on its way to R2: bytes read in 1 MiB chunks
 * whatever pieces they arrive in, hashed and passed on unchanged, a body over the cap refused.
 * Checked against the bytes themselves and their digest computed whole.
 */
import { describe, expect, it } from 'vitest';
import { ApiError } from '@polyprune/worker/lib/errors';
import { BODY_READ_BYTES, bodyChunks, meter } from '@polyprune/worker/lib/streamed-body';
import { sha256 } from '../helpers';

/** Deterministic bytes. */
function bytesOf(n: number, seed: number): Uint8Array {
  const out = new Uint8Array(n);
  let x = seed;
  for (let i = 0; i < n; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    out[i] = x >>> 24;
  }
  return out;
}

/** `bytes` delivered in pieces of the given sizes, cycling, as a byte stream (as a request body is) or a plain one. */
function piecewise(bytes: Uint8Array, sizes: number[], type?: 'bytes') {
  let at = 0;
  let k = 0;
  const seen = { canceled: false };
  const stream = new ReadableStream<Uint8Array>({
    type,
    pull(ctl) {
      if (at >= bytes.byteLength) return ctl.close();
      const n = Math.min(sizes[k++ % sizes.length]!, bytes.byteLength - at);
      // A copy: a byte stream may take over (transfer) what is enqueued.
      ctl.enqueue(bytes.slice(at, at + n));
      at += n;
    },
    cancel() {
      seen.canceled = true;
    },
  } as UnderlyingSource<Uint8Array>);
  return { stream, seen };
}

async function collect(chunks: AsyncIterable<Uint8Array>): Promise<{ bytes: Uint8Array; sizes: number[] }> {
  const parts: Uint8Array[] = [];
  for await (const c of chunks) parts.push(c.slice());
  const bytes = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
  let at = 0;
  for (const p of parts) {
    bytes.set(p, at);
    at += p.byteLength;
  }
  return { bytes, sizes: parts.map((p) => p.byteLength) };
}

async function readAll(stream: ReadableStream<Uint8Array>): Promise<Uint8Array> {
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

const uneven = [1, 4096, 700_000, 3, 65_536, 1_500_000, 17];

describe('bodyChunks', () => {
  it('gathers a byte stream that arrives in small pieces into 1 MiB chunks, bytes unchanged', async () => {
    const bytes = bytesOf(3 * BODY_READ_BYTES + 11, 1);
    const got = await collect(bodyChunks(piecewise(bytes, uneven, 'bytes').stream));
    expect(got.sizes).toEqual([BODY_READ_BYTES, BODY_READ_BYTES, BODY_READ_BYTES, 11]);
    expect(got.bytes).toEqual(bytes);
  });

  it('reads a stream that is not a byte stream as its chunks come', async () => {
    const bytes = bytesOf(100_000, 2);
    const got = await collect(bodyChunks(piecewise(bytes, [4096, 10]).stream));
    expect(got.sizes.slice(0, 3)).toEqual([4096, 10, 4096]);
    expect(got.bytes).toEqual(bytes);
  });

  it('cancels the body when the reader leaves early', async () => {
    const src = piecewise(bytesOf(3 * BODY_READ_BYTES, 3), [4096], 'bytes');
    for await (const _ of bodyChunks(src.stream)) break;
    expect(src.seen.canceled).toBe(true);
  });
});

describe('meter', () => {
  it('passes the body on unchanged, of its declared length, with the sha256 and size of the whole', async () => {
    const bytes = bytesOf(2 * BODY_READ_BYTES + 5_000_001, 4);
    const m = meter(piecewise(bytes, uneven, 'bytes').stream, bytes.byteLength, 10 * BODY_READ_BYTES);
    const out = await readAll(m.stream);
    expect(out).toEqual(bytes);
    expect(await m.done).toEqual({ sha256: await sha256(bytes), size: bytes.byteLength });
  });

  it('refuses a body of unknown length at the first chunk past the cap (413) and errors the stream', async () => {
    const bytes = bytesOf(3 * BODY_READ_BYTES, 5);
    const src = piecewise(bytes, [65_536], 'bytes');
    const m = meter(src.stream, null, 2 * BODY_READ_BYTES + 1);
    const reading = readAll(m.stream);
    const refusal = await m.done.then(
      () => null,
      (e: unknown) => e,
    );
    expect(refusal).toBeInstanceOf(ApiError);
    expect((refusal as ApiError).status).toBe(413);
    expect((refusal as ApiError).code).toBe('payload_too_large');
    await expect(reading).rejects.toBeDefined();
    expect(src.seen.canceled).toBe(true);
  });
});
