import type { LineProblem } from '../../../shared/src/api/corpora';
import { type SuiteFormat, suiteRowSchemas } from '../../../shared/src/suites';
import { type Line, parseJsonLine, type Problems } from './lines';

export interface ParsedSuite {
  rows: unknown[];
  duplicates: number;
  lines: number;
  /** the line validation stopped at, when the upload was hopeless before its end */
  stoppedAt: number | null;
}

// Control characters are rejected in every text field, whatever the format.
const controlChars = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/;

/** Values reaching here were depth-checked (parseJsonLine), so the recursion is bounded. */
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

/**
 * Plain-text rows become the same objects as their JSON form and go through the same schema, so
 * both spellings of a row share one set of limits.
 */
function plainRow(format: 'ppl' | 'mt', line: Line): Record<string, unknown> | LineProblem {
  if (format === 'ppl') return { text: line.text.normalize('NFC') };
  const cols = line.text.split('\t');
  if (cols.length !== 2) return { line: line.number, reason: 'missing_tab', message: 'expected a JSON object or "source<TAB>target"' };
  return { src: cols[0]!.normalize('NFC'), tgt: cols[1]!.normalize('NFC') };
}

/**
 * Validates suite rows for one format as they stream in, one problem per bad line with its number;
 * stops reading once the upload is hopeless (see Problems).
 */
export async function parseSuite(lines: AsyncIterable<Line | LineProblem>, format: SuiteFormat, problems: Problems): Promise<ParsedSuite> {
  const schema = suiteRowSchemas[format];
  const rows: unknown[] = [];
  const seen = new Set<string>();
  let duplicates = 0;
  let last = 0;
  const bad = (p: LineProblem) => problems.add(p);
  for await (const line of lines) {
    if ('reason' in line) {
      last = line.line;
      bad(line);
    } else {
      last = line.number;
      const row = checkRow(format, schema, line);
      if ('reason' in row) bad(row as LineProblem);
      else {
        const key = JSON.stringify(row.data);
        if (seen.has(key)) duplicates++;
        else {
          seen.add(key);
          rows.push(row.data);
        }
      }
    }
    if (problems.hopeless) return { rows, duplicates, lines: last, stoppedAt: last };
  }
  return { rows, duplicates, lines: last, stoppedAt: null };
}

function checkRow(format: SuiteFormat, schema: (typeof suiteRowSchemas)[SuiteFormat], line: Line): { data: unknown } | LineProblem {
  let candidate: unknown;
  const isJson = line.text.trimStart().startsWith('{');
  if (!isJson && (format === 'ppl' || format === 'mt')) {
    const r = plainRow(format, line);
    if ('reason' in r) return r as LineProblem;
    candidate = r;
  } else {
    const j = parseJsonLine(line);
    if ('problem' in j) return j.problem;
    candidate = j.value;
  }
  const ctl = textProblem(candidate, '', line.number);
  if (ctl) return ctl;
  const parsed = schema.safeParse(candidate);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const field = issue.path.join('.') || 'row';
    const tooLong = issue.code === 'too_big' && issue.origin === 'string';
    return {
      line: line.number,
      reason: tooLong ? 'too_long' : issue.code === 'too_small' && issue.origin === 'string' ? 'empty_field' : 'invalid_row',
      message: `${format} row: "${field}": ${issue.message}`,
    };
  }
  return { data: parsed.data };
}
