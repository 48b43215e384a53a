import type { LineProblem } from '../../../shared/src/api/corpora';
import { type SuiteFormat, suiteRowSchemas } from '../../../shared/src/suites';
import { checkField, type Line, MAX_SIDE_CHARS, parseJsonLine, splitLines } from './lines';

export interface ParsedSuite {
  rows: unknown[];
  problems: LineProblem[];
  duplicates: number;
  lines: number;
}

// Control characters are rejected in every text field, whatever the format.
const controlChars = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/;

function textProblem(value: unknown, path: string, line: number): LineProblem | undefined {
  if (typeof value === 'string') {
    if (controlChars.test(value)) return { line, reason: 'control_chars', message: `"${path}" contains control characters` };
  } else if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const p = textProblem(value[i], `${path}[${i}]`, line);
      if (p) return p;
    }
  } else if (value && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) {
      const p = textProblem(v, path ? `${path}.${k}` : k, line);
      if (p) return p;
    }
  }
  return undefined;
}

function plainRow(format: SuiteFormat, line: Line): Record<string, unknown> | LineProblem {
  if (format === 'ppl') {
    const f = checkField(line.text, 'text', line.number);
    return 'problem' in f ? f.problem : { text: f.value };
  }
  // mt: src<TAB>tgt
  const cols = line.text.split('\t');
  if (cols.length !== 2) return { line: line.number, reason: 'missing_tab', message: 'expected a JSON object or "source<TAB>target"' };
  for (const [i, name] of [
    [0, 'src'],
    [1, 'tgt'],
  ] as const) {
    const f = checkField(cols[i], name, line.number);
    if ('problem' in f) return f.problem;
  }
  return { src: cols[0]!.normalize('NFC').trim(), tgt: cols[1]!.normalize('NFC').trim() };
}

/** Validates suite rows for one format, one problem per bad line with its number. */
export function parseSuite(bytes: Uint8Array, format: SuiteFormat): ParsedSuite {
  const { lines, problems, total } = splitLines(bytes);
  const schema = suiteRowSchemas[format];
  const rows: unknown[] = [];
  const seen = new Set<string>();
  let duplicates = 0;
  for (const line of lines) {
    let candidate: unknown;
    const isJson = line.text.trimStart().startsWith('{');
    if (!isJson && (format === 'ppl' || format === 'mt')) {
      const r = plainRow(format, line);
      if ('reason' in r) {
        problems.push(r as LineProblem);
        continue;
      }
      candidate = r;
    } else {
      const j = parseJsonLine(line);
      if ('problem' in j) {
        problems.push(j.problem);
        continue;
      }
      candidate = j.value;
    }
    const ctl = textProblem(candidate, '', line.number);
    if (ctl) {
      problems.push(ctl);
      continue;
    }
    const parsed = schema.safeParse(candidate);
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      const field = issue.path.join('.') || 'row';
      const tooLong = issue.code === 'too_big' && issue.origin === 'string';
      problems.push({
        line: line.number,
        reason: tooLong ? 'too_long' : issue.code === 'too_small' && issue.origin === 'string' ? 'empty_field' : 'invalid_row',
        message: `${format} row: "${field}": ${issue.message}`,
      });
      continue;
    }
    const key = JSON.stringify(parsed.data);
    if (seen.has(key)) {
      duplicates++;
      continue;
    }
    seen.add(key);
    rows.push(parsed.data);
  }
  problems.sort((a, b) => a.line - b.line);
  return { rows, problems, duplicates, lines: total };
}

export { MAX_SIDE_CHARS };
