import type { LineProblem } from '../../../shared/src/api/corpora';

export const MAX_PROBLEMS_LISTED = 100;
export const MAX_SIDE_CHARS = 4096;
/** How many stripped control characters are listed (all are counted). */
export const MAX_CONTROL_LISTED = 10;

export interface Line {
  /** 1-based */
  number: number;
  text: string;
}

/**
 * Splits raw bytes into lines, decoding each one strictly so that a line that is not UTF-8 is
 * reported with its own number instead of poisoning the whole upload. Blank lines are skipped unless
 * `keepBlank` (line-aligned files, where a blank line still holds its place).
 */
export function splitLines(bytes: Uint8Array, keepBlank = false): { lines: Line[]; problems: LineProblem[]; total: number } {
  const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false });
  const lines: Line[] = [];
  const problems: LineProblem[] = [];
  let start = 0;
  let number = 0;
  // A UTF-8 BOM on the first line is tolerated.
  if (bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) start = 3;
  while (start < bytes.length) {
    let end = bytes.indexOf(0x0a, start);
    if (end === -1) end = bytes.length;
    number++;
    let stop = end;
    if (stop > start && bytes[stop - 1] === 0x0d) stop--;
    try {
      const text = decoder.decode(bytes.subarray(start, stop));
      if (keepBlank || text.trim() !== '') lines.push({ number, text });
    } catch {
      problems.push({ line: number, reason: 'invalid_utf8', message: 'line is not valid UTF-8' });
    }
    start = end + 1;
  }
  return { lines, problems, total: number };
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

  /** Cleans every string inside a parsed JSON value (nested arrays and objects too). */
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

export function countByReason(problems: LineProblem[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const p of problems) out[p.reason] = (out[p.reason] ?? 0) + 1;
  return out;
}
