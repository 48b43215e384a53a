/**
 * Three ways to take a request body, for bench/workerd-growth.ts: read and drop it (no R2), hand it
 * to R2 untouched (no JavaScript sees a chunk), or pass it through a SHA-256 tap to R2 as the API's
 * uploads do (worker/src/lib/streamed-body.ts).
 */
interface Env {
  B: R2Bucket;
}

async function toR2(env: Env, body: ReadableStream<Uint8Array>): Promise<void> {
  const mpu = await env.B.createMultipartUpload(`b-${crypto.randomUUID()}`);
  const part = await mpu.uploadPart(1, body);
  await mpu.complete([part]);
}

export default {
  async fetch(req: Request, env: Env): Promise<Response> {
    const path = new URL(req.url).pathname;
    if (path === '/v1/health') return new Response('ok');
    if (!req.body) return new Response('no body', { status: 400 });
    if (path === '/drain') {
      let n = 0;
      const reader = req.body.getReader();
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        n += value.byteLength;
      }
      return Response.json({ bytes: n });
    }
    if (path === '/r2') {
      await toR2(env, req.body);
      return Response.json({ ok: true });
    }
    if (path === '/r2-tap') {
      const digest = new crypto.DigestStream('SHA-256');
      const hashing = digest.getWriter();
      const tap = new TransformStream<Uint8Array, Uint8Array>({
        async transform(chunk, ctl) {
          await hashing.write(chunk);
          ctl.enqueue(chunk);
        },
        flush: () => hashing.close(),
      });
      const fixed = new FixedLengthStream(Number(req.headers.get('content-length')));
      const piped = req.body.pipeThrough(tap).pipeTo(fixed.writable);
      await toR2(env, fixed.readable);
      await piped;
      return Response.json({ sha256: [...new Uint8Array(await digest.digest)].map((b) => b.toString(16).padStart(2, '0')).join('') });
    }
    return new Response('not found', { status: 404 });
  },
};
