import type { LineProblem } from '../../../shared/src/api/corpora';
import { MAX_JSON_DEPTH, nestsDeeperThan } from '../../../shared/src/json-depth';

export const MAX_PROBLEMS_LISTED = 100;
export const MAX_SIDE_CHARS = 4096;

export interface Line {
  /** 1-based */
  number: number;
  text: string;
}

/**
 * Splits raw bytes into lines, decoding each one strictly so that a line that is not UTF-8 is
 * reported with its own number instead of poisoning the whole upload. Blank lines are skipped.
 */
export function splitLines(bytes: Uint8Array): { lines: Line[]; problems: LineProblem[]; total: number } {
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
    if (stop > start) {
      try {
        const text = decoder.decode(bytes.subarray(start, stop));
        if (text.trim() !== '') lines.push({ number, text });
      } catch {
        problems.push({ line: number, reason: 'invalid_utf8', message: 'line is not valid UTF-8' });
      }
    }
    start = end + 1;
  }
  return { lines, problems, total: number };
}

// C0/C1 control characters other than tab; DEL too.
const controlChars = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/;

/** Checks one text field; returns the normalised value or a problem. */
export function checkField(value: unknown, field: string, line: number): { value: string } | { problem: LineProblem } {
  if (typeof value !== 'string') {
    return { problem: { line, reason: 'wrong_type', message: `"${field}" must be a string` } };
  }
  const v = value.normalize('NFC').trim();
  if (v === '') return { problem: { line, reason: 'empty_side', message: `"${field}" is empty` } };
  if (controlChars.test(v)) return { problem: { line, reason: 'control_chars', message: `"${field}" contains control characters` } };
  if (v.length > MAX_SIDE_CHARS) {
    return { problem: { line, reason: 'too_long', message: `"${field}" has ${v.length} characters, more than ${MAX_SIDE_CHARS}` } };
  }
  return { value: v };
}

export function parseJsonLine(line: Line): { value: unknown } | { problem: LineProblem } {
  if (nestsDeeperThan(line.text)) {
    return { problem: { line: line.number, reason: 'too_deep', message: `JSON nests deeper than ${MAX_JSON_DEPTH} levels` } };
  }
  try {
    const value: unknown = JSON.parse(line.text);
    if (value === null || typeof value !== 'object' || Array.isArray(value)) {
      return { problem: { line: line.number, reason: 'bad_json', message: 'line must be a JSON object' } };
    }
    return { value };
  } catch (err) {
    return { problem: { line: line.number, reason: 'bad_json', message: `invalid JSON: ${(err as Error).message}` } };
  }
}

export function countByReason(problems: LineProblem[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const p of problems) out[p.reason] = (out[p.reason] ?? 0) + 1;
  return out;
}
