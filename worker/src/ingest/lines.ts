import type { LineProblem } from '@polyprune/shared/api/corpora';
import { limits } from '@polyprune/shared/api/limits';
import { ApiError } from '../lib/errors';
import type { ByteTap } from '../lib/originals';
import { MAX_JSON_DEPTH, nestsDeeperThan } from '@polyprune/shared/json-depth';

export const MAX_PROBLEMS_LISTED = limits.problemsListed;
export const MAX_SIDE_CHARS = 4096;
/** How many stripped control characters are listed (all are counted). */
export const MAX_CONTROL_LISTED = 10;

export interface Line {
  /** 1-based */
  number: number;
  text: string;
}

/** Bytes of one line; a longer line is reported without being decoded or parsed. */
export const MAX_LINE_BYTES = limits.lineBytes;
/** Lines of one upload (blank ones included); past it the upload is refused. */
export const MAX_LINES = limits.datasetLines;
/** With onError=skip, an upload with more bad lines than this is hopeless: validation stops there. */
export const MAX_BAD_LINES = limits.badLinesSkipped;

/**
 * Problems of one upload, counted as they come; only the first MAX_PROBLEMS_LISTED are kept.
 * `hopeless` says when reading on cannot change the answer: the first 100 problems of a rejected
 * upload are all it reports, and a skipped upload past MAX_BAD_LINES is refused anyway.
 */
export class Problems {
  readonly listed: LineProblem[] = [];
  readonly byReason: Record<string, number> = {};
  total = 0;
  constructor(readonly onError: 'reject' | 'skip') {}
  add(p: LineProblem) {
    this.total++;
    this.byReason[p.reason] = (this.byReason[p.reason] ?? 0) + 1;
    if (this.listed.length < MAX_PROBLEMS_LISTED) this.listed.push(p);
  }
  get hopeless(): boolean {
    return this.onError === 'reject' ? this.total >= MAX_PROBLEMS_LISTED : this.total > MAX_BAD_LINES;
  }
}

const tooLarge = (maxBytes: number) => new ApiError(413, 'payload_too_large', `body exceeds the limit of ${maxBytes} bytes`);

/** A body's Content-Length over the cap is refused before a byte is read. */
export function checkLength(req: Request, maxBytes: number) {
  const len = req.headers.get('content-length');
  if (len !== null && Number(len) > maxBytes) throw new ApiError(413, 'payload_too_large', `body of ${len} bytes exceeds the limit of ${maxBytes}`);
}

/**
 * Reads a request body as lines while it arrives, decoding each one strictly so that a line that
 * is not UTF-8 is reported with its own number. Blank lines are skipped; a line over MAX_LINE_BYTES
 * is a problem, never decoded. Work per request is bounded by the byte and line caps; the consumer
 * stops early (and the stream is canceled) by returning from its loop.
 */
export function streamLines(req: Request, maxBytes: number, keepBlank = false, tap?: ByteTap): AsyncGenerator<Line | LineProblem> {
  checkLength(req, maxBytes);
  return streamBodyLines(req.body, maxBytes, keepBlank, tap);
}

/** streamLines, the lines of each chunk read handed over together (one await per chunk, not per line). */
export function streamLineBatches(req: Request, maxBytes: number, keepBlank = false, tap?: ByteTap): AsyncGenerator<Array<Line | LineProblem>> {
  checkLength(req, maxBytes);
  return bodyLineBatches(req.body, maxBytes, keepBlank, tap);
}

/**
 * The lines of one body stream (a request, or one part of a multipart form). `keepBlank` keeps blank
 * lines: in line-aligned files a blank line still holds its place. `tap` gets every byte read, as
 * read, and the end of the body (the original file is kept without reading the body twice).
 */
export async function* streamBodyLines(
  body: ReadableStream<Uint8Array> | null,
  maxBytes: number,
  keepBlank = false,
  tap?: ByteTap,
  /** rows the worker wrote itself (a subset's scratch rows) may be longer than an uploaded line */
  lineBytes = MAX_LINE_BYTES,
): AsyncGenerator<Line | LineProblem> {
  for await (const batch of bodyLineBatches(body, maxBytes, keepBlank, tap, lineBytes)) yield* batch;
}

/**
 * streamBodyLines a chunk at a time: the lines each chunk read completes, in order. A body is read
 * no further ahead than line by line (the next chunk once the consumer asks past this one's lines),
 * and a line past MAX_LINES is refused only after the lines before it were handed over.
 */
export async function* bodyLineBatches(
  body: ReadableStream<Uint8Array> | null,
  maxBytes: number,
  keepBlank = false,
  tap?: ByteTap,
  lineBytes = MAX_LINE_BYTES,
): AsyncGenerator<Array<Line | LineProblem>> {
  if (!body) {
    tap?.end();
    return;
  }
  const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false });
  const reader = body.getReader();
  let carry: Uint8Array[] = [];
  let carried = 0;
  let overlong = false;
  let number = 0;
  let total = 0;
  let batch: Array<Line | LineProblem> = [];
  const finish = (bytes: Uint8Array): Line | LineProblem | null => {
    number++;
    if (number > MAX_LINES) throw new ApiError(413, 'too_many_lines', `more than ${MAX_LINES} lines; split the data into several uploads`);
    if (overlong || bytes.byteLength > lineBytes) return { line: number, reason: 'too_long', message: `line is longer than ${lineBytes} bytes` };
    let stop = bytes.length;
    if (stop > 0 && bytes[stop - 1] === 0x0d) stop--;
    // A UTF-8 BOM on the first line is tolerated.
    const start = number === 1 && bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf ? 3 : 0;
    if (stop <= start) return keepBlank ? { number, text: '' } : null;
    try {
      const text = decoder.decode(bytes.subarray(start, stop));
      return !keepBlank && text.trim() === '' ? null : { number, text };
    } catch {
      return { line: number, reason: 'invalid_utf8', message: 'line is not valid UTF-8' };
    }
  };
  const joined = (tail: Uint8Array): Uint8Array => {
    if (!carry.length) return tail;
    const out = new Uint8Array(carried + tail.byteLength);
    let off = 0;
    for (const c of [...carry, tail]) {
      out.set(c, off);
      off += c.byteLength;
    }
    return out;
  };
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) {
        tap?.end();
        break;
      }
      total += value.byteLength;
      if (total > maxBytes) throw tooLarge(maxBytes);
      await tap?.write(value);
      let from = 0;
      for (;;) {
        const nl = value.indexOf(0x0a, from);
        if (nl === -1) break;
        let r: Line | LineProblem | null;
        try {
          r = finish(overlong ? new Uint8Array(0) : joined(value.subarray(from, nl)));
        } catch (err) {
          // the lines before the refused one first: a consumer that stops among them never sees the refusal
          if (batch.length) yield batch;
          batch = [];
          throw err;
        }
        carry = [];
        carried = 0;
        overlong = false;
        from = nl + 1;
        if (r) batch.push(r);
      }
      if (from < value.byteLength && !overlong) {
        carried += value.byteLength - from;
        if (carried > lineBytes) {
          overlong = true;
          carry = [];
          carried = 0;
        } else carry.push(value.slice(from));
      }
      if (batch.length) {
        yield batch;
        batch = [];
      }
    }
    if (carried > 0 || overlong) {
      const r = finish(joined(new Uint8Array(0)));
      if (r) yield [r];
    }
  } finally {
    await reader.cancel().catch(() => undefined);
  }
}

// U+0000–U+001F except tab, and U+007F (DEL).
const controlChars = /[\u0000-\u0008\u000a-\u001f\u007f]/g;

export interface ControlReport {
  count: number;
  lines: number;
  first: Array<{ line: number; codePoint: string }>;
}

/**
 * Control characters in text fields: stripped and counted by default (one stray U+0008 must not
 * refuse a published file); `strict` (onError=reject) makes each an error of its line instead.
 */
export class ControlChars {
  readonly report: ControlReport = { count: 0, lines: 0, first: [] };
  private lastLine = 0;
  constructor(readonly strict: boolean) {}

  /** The text without control characters, or a problem when strict. */
  clean(text: string, field: string, line: number): { value: string } | { problem: LineProblem } {
    const found = text.match(controlChars);
    if (!found) return { value: text };
    if (this.strict) return { problem: { line, reason: 'control_chars', message: `"${field}" contains control characters` } };
    this.report.count += found.length;
    if (this.lastLine !== line) this.report.lines++;
    this.lastLine = line;
    for (const ch of found) {
      if (this.report.first.length >= MAX_CONTROL_LISTED) break;
      this.report.first.push({ line, codePoint: `U+${ch.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}` });
    }
    return { value: text.replace(controlChars, '') };
  }

  /** Cleans every string inside a parsed JSON value; values reaching here were depth-checked (parseJsonLine), so the recursion is bounded. */
  cleanDeep(value: unknown, path: string, line: number): { value: unknown } | { problem: LineProblem } {
    if (typeof value === 'string') return this.clean(value, path, line);
    if (Array.isArray(value)) {
      const out: unknown[] = [];
      for (let i = 0; i < value.length; i++) {
        const r = this.cleanDeep(value[i], `${path}[${i}]`, line);
        if ('problem' in r) return r;
        out.push(r.value);
      }
      return { value: out };
    }
    if (value && typeof value === 'object') {
      const out: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(value)) {
        const r = this.cleanDeep(v, path ? `${path}.${k}` : k, line);
        if ('problem' in r) return r;
        out[k] = r.value;
      }
      return { value: out };
    }
    return { value };
  }
}

/** What two texts are compared by (duplicates, src = tgt); never applied to the stored text. */
export function matchKey(text: string): string {
  return text.normalize('NFC').trim();
}

/** Checks one text field; the value is kept exactly as uploaded. */
export function checkField(value: unknown, field: string, line: number): { value: string } | { problem: LineProblem } {
  if (typeof value !== 'string') {
    return { problem: { line, reason: 'wrong_type', message: `"${field}" must be a string` } };
  }
  if (value.trim() === '') return { problem: { line, reason: 'empty_side', message: `"${field}" is empty` } };
  if (value.length > MAX_SIDE_CHARS) {
    return { problem: { line, reason: 'too_long', message: `"${field}" has ${value.length} characters, more than ${MAX_SIDE_CHARS}` } };
  }
  return { value };
}

export function parseJsonLine(line: Line): { value: Record<string, unknown> } | { problem: LineProblem } {
  if (nestsDeeperThan(line.text)) {
    return { problem: { line: line.number, reason: 'too_deep', message: `JSON nests deeper than ${MAX_JSON_DEPTH} levels` } };
  }
  try {
    const value: unknown = JSON.parse(line.text);
    if (value === null || typeof value !== 'object' || Array.isArray(value)) {
      return { problem: { line: line.number, reason: 'bad_json', message: 'line must be a JSON object' } };
    }
    return { value: value as Record<string, unknown> };
  } catch (err) {
    return { problem: { line: line.number, reason: 'bad_json', message: `invalid JSON: ${(err as Error).message}` } };
  }
}
