/**
 * The line reader hands over a chunk's lines at a time (bodyLineBatches) or one by one
 * (streamBodyLines); either way the lines must be those of a straightforward split of the whole
 * body, written out here, wherever the chunks happen to end.
 */
import { describe, expect, it } from 'vitest';
import { ApiError } from '@polyprune/worker/lib/errors';
import { bodyLineBatches, MAX_LINES, streamBodyLines } from '@polyprune/worker/ingest/lines';

const enc = new TextEncoder();
const streamOf = (chunks: Uint8Array[]) =>
  new ReadableStream<Uint8Array>({
    start(c) {
      for (const ch of chunks) c.enqueue(ch);
      c.close();
    },
  });
const cut = (bytes: Uint8Array, sizes: number[]) => {
  const out: Uint8Array[] = [];
  for (let at = 0, i = 0; at < bytes.byteLength; i++) {
    const n = sizes[i % sizes.length]!;
    out.push(bytes.slice(at, at + n));
    at += n;
  }
  return out;
};

/** The whole body split on LF; each line judged alone. */
function reference(bytes: Uint8Array, keepBlank: boolean, lineBytes: number) {
  const lines: Uint8Array[] = [];
  let from = 0;
  for (let i = 0; i < bytes.byteLength; i++)
    if (bytes[i] === 0x0a) {
      lines.push(bytes.subarray(from, i));
      from = i + 1;
    }
  if (from < bytes.byteLength) lines.push(bytes.subarray(from));
  const out: unknown[] = [];
  lines.forEach((line, i) => {
    const number = i + 1;
    if (line.byteLength > lineBytes) return out.push({ line: number, reason: 'too_long', message: `line is longer than ${lineBytes} bytes` });
    let b = line.at(-1) === 0x0d ? line.subarray(0, -1) : line;
    if (number === 1 && b[0] === 0xef && b[1] === 0xbb && b[2] === 0xbf) b = b.subarray(3);
    if (b.byteLength === 0) return keepBlank ? out.push({ number, text: '' }) : undefined;
    let text: string;
    try {
      text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false }).decode(b);
    } catch {
      return out.push({ line: number, reason: 'invalid_utf8', message: 'line is not valid UTF-8' });
    }
    if (keepBlank || text.trim() !== '') out.push({ number, text });
  });
  return out;
}

describe('line reader', () => {
  // BOM, CRLF, blank and space-only lines, a line that is not UTF-8, lines over the cap (16 bytes
  // here), a multi-byte character split across chunks, no final line end
  const body = new Uint8Array([
    ...enc.encode('\uFEFFfirst\tline\r\n\n   \nnuméro\tdeux\r\n'),
    0xc3,
    0x28,
    0x0a,
    ...enc.encode('a line well over sixteen bytes\n\r\nok\n\uFEFFbom again\nlast 日本語'),
  ]);

  it('gives the lines of a straightforward split, in batches or one by one, wherever the chunks end', async () => {
    for (const keepBlank of [false, true]) {
      const want = reference(body, keepBlank, 16);
      expect(want.length).toBeGreaterThan(6);
      for (const sizes of [[body.byteLength], [1], [2, 3], [5], [7, 1, 13], [16], [17]]) {
        const batches: unknown[][] = [];
        for await (const b of bodyLineBatches(streamOf(cut(body, sizes)), 1e6, keepBlank, undefined, 16)) batches.push(b);
        expect(batches.flat(), `chunks ${sizes} keepBlank ${keepBlank}`).toEqual(want);
        expect(batches.every((b) => b.length > 0)).toBe(true);
        const single: unknown[] = [];
        for await (const l of streamBodyLines(streamOf(cut(body, sizes)), 1e6, keepBlank, undefined, 16)) single.push(l);
        expect(single).toEqual(want);
      }
    }
  });

  it('a line past the line cap is refused after the lines before it were handed over', async () => {
    // line 1, then blank lines (counted, not handed over) to one past the cap, all in one chunk
    const bytes = enc.encode(`x\ty\n${'\n'.repeat(MAX_LINES)}`);
    const it = bodyLineBatches(streamOf([bytes]), 1e9);
    expect((await it.next()).value).toEqual([{ number: 1, text: 'x\ty' }]);
    const refused = await it.next().catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(ApiError);
    expect((refused as ApiError).code).toBe('too_many_lines');
    // a reader that stops before the refused line never meets it
    for await (const l of streamBodyLines(streamOf([bytes]), 1e9)) {
      expect(l).toEqual({ number: 1, text: 'x\ty' });
      break;
    }
  });
});
