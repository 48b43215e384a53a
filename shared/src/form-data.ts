/**
 * A multipart/form-data body built as bytes, so a client can send it like any other body (and
 * retry it) without a FormData implementation: the CLI's two-file corpus upload uses it.
 */
export interface FormPart {
  name: string;
  filename: string;
  bytes: Uint8Array;
}

export function formDataBody(parts: FormPart[], boundary = `polyprune-${crypto.randomUUID()}`): { body: Uint8Array; contentType: string } {
  const enc = new TextEncoder();
  const chunks: Uint8Array[] = [];
  // Quotes and line breaks would end the header value early; file names here are plain.
  const safe = (s: string) => s.replace(/["\r\n]/g, '_');
  for (const p of parts) {
    chunks.push(
      enc.encode(
        `--${boundary}\r\nContent-Disposition: form-data; name="${safe(p.name)}"; filename="${safe(p.filename)}"\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n`,
      ),
      p.bytes,
      enc.encode('\r\n'),
    );
  }
  chunks.push(enc.encode(`--${boundary}--\r\n`));
  const body = new Uint8Array(chunks.reduce((n, c) => n + c.byteLength, 0));
  let at = 0;
  for (const c of chunks) {
    body.set(c, at);
    at += c.byteLength;
  }
  return { body, contentType: `multipart/form-data; boundary=${boundary}` };
}
