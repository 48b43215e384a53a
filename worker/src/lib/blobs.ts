import { ApiError } from './errors';

/** Content address of a blob in R2. */
export const blobKey = (sha256: string) => `sha256/${sha256}`;

export function expectedSha(header: string | undefined): string | undefined {
  if (header === undefined) return undefined;
  const v = header.trim().toLowerCase();
  if (!/^[0-9a-f]{64}$/.test(v)) throw new ApiError(400, 'invalid_request', 'X-Content-SHA256 must be 64 hex characters');
  return v;
}

/** Stores bytes under their content address; identical content is stored once. */
export async function putBlob(bucket: R2Bucket, sha256: string, bytes: Uint8Array, contentType: string): Promise<string> {
  const key = blobKey(sha256);
  if (!(await bucket.head(key))) {
    await bucket.put(key, bytes, { httpMetadata: { contentType }, sha256 });
  }
  return key;
}

/** Serves an R2 object with Range support (runners resume large downloads). */
export async function serveBlob(
  bucket: R2Bucket,
  key: string,
  rangeHeader: string | undefined,
  filename: string,
  sha256: string,
  contentType = 'application/octet-stream',
): Promise<Response> {
  const headers = new Headers({ 'Content-Type': contentType, 'Accept-Ranges': 'bytes', ETag: `"${sha256}"`, 'X-Content-SHA256': sha256 });
  headers.set('Content-Disposition', `attachment; filename="${filename.replace(/"/g, '')}"`);
  if (rangeHeader) {
    const m = /^bytes=(\d*)-(\d*)$/.exec(rangeHeader.trim());
    const head = await bucket.head(key);
    if (!head) throw new ApiError(404, 'not_found', 'blob not found');
    const size = head.size;
    let start: number;
    let end: number;
    if (!m || (m[1] === '' && m[2] === '')) throw new ApiError(400, 'invalid_range', 'Range must be "bytes=start-end"');
    if (m[1] === '') {
      start = Math.max(0, size - Number(m[2]));
      end = size - 1;
    } else {
      start = Number(m[1]);
      end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
    }
    if (start > end || start >= size) {
      return new Response(JSON.stringify({ error: { code: 'range_not_satisfiable', message: `range outside 0-${size - 1}` } }), {
        status: 416,
        headers: { 'Content-Range': `bytes */${size}`, 'Content-Type': 'application/json' },
      });
    }
    const obj = await bucket.get(key, { range: { offset: start, length: end - start + 1 } });
    if (!obj) throw new ApiError(404, 'not_found', 'blob not found');
    headers.set('Content-Range', `bytes ${start}-${end}/${size}`);
    headers.set('Content-Length', String(end - start + 1));
    return new Response(obj.body, { status: 206, headers });
  }
  const obj = await bucket.get(key);
  if (!obj) throw new ApiError(404, 'not_found', 'blob not found');
  headers.set('Content-Length', String(obj.size));
  return new Response(obj.body, { status: 200, headers });
}

/** Reads a request body with a byte cap, answering 413 rather than buffering an unbounded stream. */
export async function readBody(req: Request, maxBytes: number): Promise<Uint8Array> {
  const len = req.headers.get('content-length');
  if (len !== null && Number(len) > maxBytes) {
    throw new ApiError(413, 'payload_too_large', `body of ${len} bytes exceeds the limit of ${maxBytes}`);
  }
  if (!req.body) return new Uint8Array(0);
  const reader = req.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > maxBytes) {
      await reader.cancel();
      throw new ApiError(413, 'payload_too_large', `body exceeds the limit of ${maxBytes} bytes`);
    }
    chunks.push(value);
  }
  const out = new Uint8Array(total);
  let off = 0;
  for (const ch of chunks) {
    out.set(ch, off);
    off += ch.byteLength;
  }
  return out;
}
