/**
 * A small upload is read whole before it is parsed; anything else streams, every byte of it, in
 * order: a body over the size, one without a length, and one longer than its Content-Length said.
 */
import { describe, expect, it } from 'vitest';
import { HELD_BODY_BYTES, holdBody } from '@polyprune/worker/lib/held-body';

const bytesOf = (n: number) => Uint8Array.from({ length: n }, (_, i) => (i * 7 + 3) & 0xff);
const post = (body: BodyInit, headers: Record<string, string> = {}) => new Request('http://polyprune.test/', { method: 'POST', body, headers });
const all = async (s: ReadableStream<Uint8Array> | null) => new Uint8Array(await new Response(s).arrayBuffer());

/** `bytes` as a stream of pieces of `size` bytes, as a client's chunked body arrives. */
function pieces(bytes: Uint8Array, size: number): ReadableStream<Uint8Array> {
  let at = 0;
  return new ReadableStream<Uint8Array>({
    pull(ctl) {
      if (at >= bytes.byteLength) return ctl.close();
      ctl.enqueue(bytes.slice(at, at + size));
      at += size;
    },
  });
}

describe('holdBody', () => {
  it('holds a body of up to HELD_BODY_BYTES that says its length, whatever pieces it comes in', async () => {
    for (const n of [0, 1, 11_000, HELD_BODY_BYTES]) {
      const body = bytesOf(n);
      expect(await holdBody(post(body, { 'content-length': String(n) }))).toEqual({ bytes: body });
    }
    const body = bytesOf(10_000);
    expect(await holdBody(post(pieces(body, 3000), { 'content-length': '10000' }))).toEqual({ bytes: body });
  });

  it('streams a body over the size or without a length, untouched', async () => {
    const big = bytesOf(HELD_BODY_BYTES + 1);
    const req = post(big, { 'content-length': String(big.byteLength) });
    const held = await holdBody(req);
    expect('stream' in held && held.stream).toBe(req.body);
    expect(await all((held as { stream: ReadableStream<Uint8Array> }).stream)).toEqual(big);
    const chunkedReq = post(pieces(bytesOf(5000), 1000));
    const chunked = await holdBody(chunkedReq);
    expect('stream' in chunked && chunked.stream).toBe(chunkedReq.body);
    for (const len of ['abc', '-1', '1.5']) expect('stream' in (await holdBody(post(bytesOf(10), { 'content-length': len })))).toBe(true);
  });

  it('a body longer than its Content-Length streams, what was read first replayed', async () => {
    const body = bytesOf(200_000);
    // a stand-in request: workerd holds a real one to its declared length
    for (const stream of [pieces(body, 4096), post(body).body!]) {
      const held = await holdBody({ headers: new Headers({ 'content-length': '10000' }), body: stream } as Request);
      expect('stream' in held).toBe(true);
      expect(await all((held as { stream: ReadableStream<Uint8Array> }).stream)).toEqual(body);
    }
  });

  it('a body shorter than its Content-Length is held as it is', async () => {
    const body = bytesOf(500);
    expect(await holdBody({ headers: new Headers({ 'content-length': '900' }), body: pieces(body, 128) } as Request)).toEqual({ bytes: body });
  });
});
