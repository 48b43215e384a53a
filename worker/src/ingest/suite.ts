import type { LineProblem } from '@polyprune/shared/api/corpora';
import { LabelCodes, rowLabel, stratifiedSubsetOfCodes } from '@polyprune/shared/subset';
import { type SuiteFormat, suiteRowSchemas } from '@polyprune/shared/suites';
import { ControlChars, type ControlReport, type Line, matchKey, parseJsonLine, MAX_LINE_BYTES, type Problems, streamBodyLines } from './lines';
import type { JsonlOut } from './jsonl-out';
import { ScriptSample } from './script-check';
import { SeenSet } from './seen-set';
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
  /** rows kept (written out as they were read, or once the subset was drawn) */
  rowsKept: number;
  /** the text of the kept rows in the suite's language, sampled by script */
  script: ScriptSample;
  problems: Problems;
  /** exact duplicate rows found (dropped only with dedupe) */
  duplicates: number;
  /** PAWS-X "NS" rows, dropped */
  placeholders: number;
  lines: number;
  recognised: { input: SuiteInput; header: boolean; columns: string[] | null };
  control: ControlReport;
  subset?: { n: number; seed: number; of: number };
  /** the line validation stopped at, when the upload was hopeless before its end */
  stoppedAt: number | null;
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

/** Text in the suite's own language (an mt row's target side is another language). */
function* suiteTexts(format: SuiteFormat, r: Record<string, unknown>): Generator<string> {
  if (format === 'mt') yield String(r.src);
  else
    for (const v of Object.values(r))
      if (typeof v === 'string') yield v;
      else if (Array.isArray(v)) for (const x of v) if (typeof x === 'string') yield x;
}

/**
 * One suite's rows as they are read: header, column layout, placeholders, duplicates. Rows go to
 * `out` as they pass; with a subset, which needs every row's label before it can draw, they go to a
 * scratch object in R2 instead and only their labels stay (a 4-byte code a row).
 */
class SuiteReader {
  /** with a subset: each row's label, in order */
  readonly labels = new LabelCodes();
  /** dropped once the input is read: the subset's pass needs only the labels */
  private seen: SeenSet | null = new SeenSet();
  lines = 0;
  stoppedAt: number | null = null;
  readonly script = new ScriptSample();
  kept = 0;
  private readonly schema: (typeof suiteRowSchemas)[SuiteFormat];
  readonly control: ControlChars;
  input: SuiteInput | undefined;
  columns: string[] | null = null;
  header = false;
  duplicates = 0;
  placeholders = 0;
  private first = true;

  constructor(
    private readonly format: SuiteFormat,
    private readonly o: SuiteOptions,
    private readonly problems: Problems,
    private readonly out: JsonlOut,
    private readonly scratch: JsonlOut | null,
  ) {
    this.schema = suiteRowSchemas[format];
    this.control = new ControlChars(o.strict);
  }

  /** A problem of the line, or null when the line became a row, a header or a placeholder. */
  async read(line: Line): Promise<LineProblem | null> {
    const format = this.format;
    const first = this.first;
    this.first = false;
    this.input ??= sniff(format, line.text);
    const input = this.input;
    const c = this.control.clean(line.text, 'line', line.number);
    if ('problem' in c) return c.problem;
    const clean = { number: line.number, text: c.value };
    let rec: Record<string, unknown>;
    if (clean.text.trimStart().startsWith('{')) {
      const j = parseJsonLine(clean);
      if ('problem' in j) return j.problem;
      const deep = this.control.cleanDeep(j.value, '', line.number);
      if ('problem' in deep) return deep.problem;
      rec = deep.value as Record<string, unknown>;
    } else {
      const row = input === 'csv' ? splitCsv(clean.text) : input === 'text' ? [clean.text] : clean.text.split('\t');
      if (!row) return { line: line.number, reason: 'bad_csv', message: 'unbalanced quotes' };
      if (first && input !== 'text') {
        const h = headerFields(format, row);
        if (h) {
          this.columns = h;
          this.header = true;
          return null;
        }
      }
      const layout = this.columns ?? layoutFor(format, row.length);
      if (!layout || layout.length !== row.length) {
        const want = this.columns ? `${this.columns.length} columns as the header` : `a JSON object or one of the published ${format} column layouts`;
        return { line: line.number, reason: 'missing_tab', message: `found ${row.length} column(s); expected ${want}` };
      }
      rec = Object.fromEntries(layout.map((f, k) => [f, row[k]]));
    }
    return this.accept(line.number, rec);
  }

  private async accept(line: number, rec: Record<string, unknown>): Promise<LineProblem | null> {
    const candidate = canonicalRow(this.format, rec, this.o.lang);
    if (isPlaceholder(this.format, candidate)) {
      this.placeholders++;
      return null;
    }
    const parsed = this.schema.safeParse(candidate);
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      const field = issue.path.join('.') || 'row';
      const tooLong = issue.code === 'too_big' && issue.origin === 'string';
      const empty = (issue.code === 'too_small' && issue.origin === 'string') || (issue.code === 'custom' && issue.message.includes('blank'));
      return { line, reason: tooLong ? 'too_long' : empty ? 'empty_field' : 'invalid_row', message: `${this.format} row: "${field}": ${issue.message}` };
    }
    const key = JSON.stringify(parsed.data, (_k, v) => (typeof v === 'string' ? matchKey(v) : v));
    if (!this.seen?.add(key)) {
      this.duplicates++;
      if (this.o.dedupe) return null;
    }
    const row = parsed.data as Record<string, unknown>;
    if (this.scratch) {
      this.labels.add(rowLabel(row));
      await this.scratch.add(row);
    } else await this.keep(row);
    return null;
  }

  async keep(row: Record<string, unknown>) {
    this.kept++;
    for (const t of suiteTexts(this.format, row)) this.script.add(t);
    await this.out.add(row);
  }

  endOfInput() {
    this.seen = null;
  }

  /** rows that passed: kept, or with a subset waiting in the scratch object to be drawn from */
  get rowsRead(): number {
    return this.scratch ? this.labels.length : this.kept;
  }

  /**
   * Draws the subset from the scratch rows and writes the chosen ones, in file order, to `out`; the
   * scratch object is deleted whatever happens. Without a subset there is nothing to draw.
   */
  async drawSubset(bucket: R2Bucket): Promise<void> {
    const { scratch, o } = this;
    if (!scratch || !o.subset) return;
    // Ascending indices: one pass over the scratch rows keeps the chosen ones in file order.
    const chosen = stratifiedSubsetOfCodes(this.labels.view(), this.labels.labels, o.subset.n, o.subset.seed);
    const key = await scratch.finishScratch();
    try {
      const obj = await bucket.get(key);
      if (!obj) throw new Error(`the scratch rows ${key} vanished`);
      let at = 0;
      // Rows are JSON of checked fields, so none is near this bound; a row this reader would drop throws rather than shift the subset.
      for await (const line of streamBodyLines(obj.body, Number.MAX_SAFE_INTEGER, true, undefined, 64 * MAX_LINE_BYTES)) {
        if (at >= chosen.length) break;
        if ('reason' in line) throw new Error(`scratch row ${line.line} could not be read back: ${line.message}`);
        if (line.number - 1 !== chosen[at]) continue;
        at++;
        await this.keep(JSON.parse(line.text) as Record<string, unknown>);
      }
    } finally {
      await bucket.delete(key);
    }
  }

  /** The upload's figures; with a subset, once it is drawn. */
  result(): ParsedSuite {
    const parsed: ParsedSuite = {
      rowsKept: this.kept,
      script: this.script,
      problems: this.problems,
      duplicates: this.duplicates,
      placeholders: this.placeholders,
      lines: this.lines,
      recognised: { input: this.input ?? sniff(this.format, undefined), header: this.header, columns: this.header ? this.columns : null },
      control: this.control.report,
      stoppedAt: this.stoppedAt,
    };
    if (this.o.subset) parsed.subset = { n: this.kept, seed: this.o.subset.seed, of: this.labels.length };
    return parsed;
  }
}

/**
 * Validates suite rows of one format as they stream in, one problem per bad line with its number;
 * stops reading once the upload is hopeless (see Problems). Without a subset every row that passes
 * is in `out` when this returns; with one, they wait in `scratch` for `drawSubset`. The route checks
 * the reading (rowsRead, stoppedAt) before it keeps anything.
 */
export async function readSuite(
  lines: AsyncIterable<Line | LineProblem>,
  format: SuiteFormat,
  o: SuiteOptions,
  problems: Problems,
  out: JsonlOut,
  scratch: JsonlOut | null,
): Promise<SuiteReading> {
  const r = new SuiteReader(format, o, problems, out, o.subset ? scratch : null);
  for await (const line of lines) {
    r.lines = 'reason' in line ? line.line : line.number;
    const p = 'reason' in line ? line : await r.read(line);
    if (p) problems.add(p);
    if (problems.hopeless) {
      r.stoppedAt = r.lines;
      break;
    }
  }
  r.endOfInput();
  return r;
}

export type SuiteReading = Pick<SuiteReader, 'rowsRead' | 'stoppedAt' | 'drawSubset' | 'result'>;
