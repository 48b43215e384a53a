import type { LineProblem } from '../../../shared/src/api/corpora';
import { rowLabel, stratifiedSubset } from '../../../shared/src/subset';
import { type SuiteFormat, suiteRowSchemas } from '../../../shared/src/suites';
import { ControlChars, type ControlReport, type Line, matchKey, parseJsonLine, splitLines } from './lines';
import { canonicalRow, formatHasColumns, headerFields, isPlaceholder, layoutFor, splitCsv } from './suite-shapes';

export type SuiteInput = 'jsonl' | 'tsv' | 'csv' | 'text';

export interface SuiteOptions {
  /** canonical language code of the suite */
  lang: string;
  /** onError=reject: control characters are errors instead of being stripped */
  strict: boolean;
  /** drop exact duplicate rows (kept by default: published counts stay comparable) */
  dedupe: boolean;
  subset?: { n: number; seed: number };
}

export interface ParsedSuite {
  rows: Record<string, unknown>[];
  problems: LineProblem[];
  /** exact duplicate rows found (dropped only with dedupe) */
  duplicates: number;
  /** PAWS-X "NS" rows, dropped */
  placeholders: number;
  lines: number;
  recognised: { input: SuiteInput; header: boolean; columns: string[] | null };
  control: ControlReport;
  subset?: { n: number; seed: number; of: number };
}

/** TSV vs JSONL vs CSV from the first line; plain text only where the format is one text field. */
function sniff(format: SuiteFormat, first: string | undefined): SuiteInput {
  const t = first?.trimStart() ?? '';
  if (t.startsWith('{')) return 'jsonl';
  // a passage may hold tabs and commas: ppl lines are text whatever they contain
  if (format === 'ppl') return 'text';
  if (t.includes('\t') || !formatHasColumns(format)) return 'tsv';
  return t.includes(',') ? 'csv' : 'tsv';
}

/** Validates suite rows of one format, one problem per bad line with its number. */
export function parseSuite(bytes: Uint8Array, format: SuiteFormat, o: SuiteOptions): ParsedSuite {
  const { lines, problems, total } = splitLines(bytes);
  const schema = suiteRowSchemas[format];
  const control = new ControlChars(o.strict);
  const input = sniff(format, lines[0]?.text);
  let columns: string[] | null = null;
  let header = false;
  const candidates: Array<{ line: number; rec: Record<string, unknown> }> = [];

  const cells = (line: Line): string[] | null => (input === 'csv' ? splitCsv(line.text) : input === 'text' ? [line.text] : line.text.split('\t'));
  for (const [i, line] of lines.entries()) {
    const c = control.clean(line.text, 'line', line.number);
    if ('problem' in c) {
      problems.push(c.problem);
      continue;
    }
    const clean = { number: line.number, text: c.value };
    if (clean.text.trimStart().startsWith('{')) {
      const j = parseJsonLine(clean);
      if ('problem' in j) {
        problems.push(j.problem);
        continue;
      }
      const deep = control.cleanDeep(j.value, '', line.number);
      if ('problem' in deep) problems.push(deep.problem);
      else candidates.push({ line: line.number, rec: deep.value as Record<string, unknown> });
      continue;
    }
    const row = cells(clean);
    if (!row) {
      problems.push({ line: line.number, reason: 'bad_csv', message: 'unbalanced quotes' });
      continue;
    }
    if (i === 0 && input !== 'text') {
      const h = headerFields(format, row);
      if (h) {
        columns = h;
        header = true;
        continue;
      }
    }
    const layout = columns ?? layoutFor(format, row.length);
    if (!layout || layout.length !== row.length) {
      const want = columns ? `${columns.length} columns as the header` : `a JSON object or one of the published ${format} column layouts`;
      problems.push({ line: line.number, reason: 'missing_tab', message: `found ${row.length} column(s); expected ${want}` });
      continue;
    }
    candidates.push({ line: line.number, rec: Object.fromEntries(layout.map((f, k) => [f, row[k]])) });
  }

  const rows: Record<string, unknown>[] = [];
  const seen = new Set<string>();
  let duplicates = 0;
  let placeholders = 0;
  for (const { line, rec } of candidates) {
    const candidate = canonicalRow(format, rec, o.lang);
    if (isPlaceholder(format, candidate)) {
      placeholders++;
      continue;
    }
    const parsed = schema.safeParse(candidate);
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      const field = issue.path.join('.') || 'row';
      const tooLong = issue.code === 'too_big' && issue.origin === 'string';
      const empty = (issue.code === 'too_small' && issue.origin === 'string') || (issue.code === 'custom' && issue.message.includes('blank'));
      problems.push({
        line,
        reason: tooLong ? 'too_long' : empty ? 'empty_field' : 'invalid_row',
        message: `${format} row: "${field}": ${issue.message}`,
      });
      continue;
    }
    const key = JSON.stringify(parsed.data, (_k, v) => (typeof v === 'string' ? matchKey(v) : v));
    if (seen.has(key)) {
      duplicates++;
      if (o.dedupe) continue;
    }
    seen.add(key);
    rows.push(parsed.data as Record<string, unknown>);
  }
  problems.sort((a, b) => a.line - b.line);
  const out: ParsedSuite = {
    rows,
    problems,
    duplicates,
    placeholders,
    lines: total,
    recognised: { input, header, columns: header ? columns : null },
    control: control.report,
  };
  if (o.subset) {
    const of = rows.length;
    out.rows = stratifiedSubset(rows, o.subset.n, o.subset.seed, rowLabel).map((i) => rows[i]!);
    out.subset = { n: out.rows.length, seed: o.subset.seed, of };
  }
  return out;
}
