import type { LineProblem } from '@polyprune/shared/api/corpora';
import { normaliseLanguage, primaryLanguage } from '@polyprune/shared/languages';
import { ApiError } from '../lib/errors';
import { checkField, ControlChars, type ControlReport, type Line, matchKey, parseJsonLine, type Problems } from './lines';
import type { JsonlOut } from './jsonl-out';
import { ScriptSample, type ScriptWarning } from './script-check';
import { SeenSet } from './seen-set';

export interface Pair {
  src: string;
  tgt: string;
}

/** How the body was read: TSV, JSONL {src, tgt}, the hub's JSONL {translation: {fr, en}}, or two line-aligned files. */
export type CorpusShape = 'tsv' | 'jsonl' | 'hub-jsonl' | 'two-files';

export interface CorpusOptions {
  /** from ?format=; sniffed from the first line when absent */
  format?: 'tsv' | 'jsonl';
  /** onError=reject: control characters are errors instead of being stripped */
  strict: boolean;
  /** canonical codes, to pick the sides of a hub translation object */
  src: string;
  tgt: string;
}

export interface ParsedCorpus {
  /** the kept pairs, already written out as they were read; counts and samples of them */
  kept: PairCollector;
  problems: Problems;
  lines: number;
  shape: CorpusShape;
  control: ControlReport;
  /** the line validation stopped at, when the upload was hopeless before its end */
  stoppedAt: number | null;
  /** every line read lacked a tab and had runs of spaces: an editor turned the tabs into spaces */
  spacesNotTabs: boolean;
}

/** Two or more spaces (or a no-break space) where a TSV line has its tab. */
const spaceRun = / {2,}|\u00a0/;

function parseTsvLine(line: Line): Pair | LineProblem {
  const cols = line.text.split('\t');
  if (cols.length < 2) return { line: line.number, reason: 'missing_tab', message: 'expected "source<TAB>target"' };
  if (cols.length > 2) return { line: line.number, reason: 'extra_columns', message: `expected 2 tab-separated columns, found ${cols.length}` };
  return pairFrom(cols[0], cols[1], line.number);
}

function pairFrom(src: unknown, tgt: unknown, line: number): Pair | LineProblem {
  const s = checkField(src, 'src', line);
  if ('problem' in s) return s.problem;
  const t = checkField(tgt, 'tgt', line);
  if ('problem' in t) return t.problem;
  return { src: s.value, tgt: t.value };
}

/** The key of a hub translation object naming `lang` in any accepted spelling (fr, fra, fra_Latn). */
function sideKey(obj: Record<string, unknown>, lang: string): string | undefined {
  const keys = Object.keys(obj);
  const canon = (k: string) => {
    const n = normaliseLanguage(k);
    return 'error' in n ? k : n.canonical;
  };
  return keys.find((k) => canon(k) === lang) ?? keys.find((k) => primaryLanguage(canon(k)) === primaryLanguage(lang));
}

function jsonPair(obj: Record<string, unknown>, line: number, o: CorpusOptions): { pair: Pair | LineProblem; hub: boolean } {
  const tr = obj.translation;
  if (tr && typeof tr === 'object' && !Array.isArray(tr)) {
    const t = tr as Record<string, unknown>;
    const s = sideKey(t, o.src);
    const g = sideKey(t, o.tgt);
    if (!s || !g || s === g) {
      const msg = `"translation" has keys ${Object.keys(t)
        .map((k) => `"${k}"`)
        .join(', ')}; expected "${o.src}" and "${o.tgt}"`;
      return { pair: { line, reason: 'missing_field', message: msg }, hub: true };
    }
    return { pair: pairFrom(t[s], t[g], line), hub: true };
  }
  if (!('src' in obj) || !('tgt' in obj)) {
    return { pair: { line, reason: 'missing_field', message: 'expected {"src", "tgt"} or {"translation": {…}}' }, hub: false };
  }
  return { pair: pairFrom(obj.src, obj.tgt, line), hub: false };
}

/**
 * Kept pairs, exact duplicates (compared after NFC + trim) dropped and counted; kept text is as
 * uploaded and goes straight to `out`. Only counts, a hash per pair and a script sample stay.
 */
export class PairCollector {
  private readonly seen = new SeenSet();
  count = 0;
  duplicates = 0;
  /** pairs whose two sides are the same text */
  identical = 0;
  srcChars = 0;
  tgtChars = 0;
  readonly srcScript = new ScriptSample();
  readonly tgtScript = new ScriptSample();
  constructor(private readonly out: JsonlOut) {}
  /** A promise only when rows go out to R2 (JsonlOut.add). */
  add(r: Pair): Promise<void> | undefined {
    const s = matchKey(r.src);
    const t = matchKey(r.tgt);
    if (!this.seen.add(s, t)) {
      this.duplicates++;
      return undefined;
    }
    if (s === t) this.identical++;
    this.count++;
    this.srcChars += r.src.length;
    this.tgtChars += r.tgt.length;
    this.srcScript.add(r.src);
    this.tgtScript.add(r.tgt);
    return this.out.add({ src: r.src, tgt: r.tgt });
  }
}

/**
 * Validates a TSV or JSONL corpus (one body) as it streams in, the lines of each chunk read at a
 * time (streamLineBatches). Stops reading once the upload is hopeless (see Problems).
 */
export async function parseCorpus(
  lines: AsyncIterable<ReadonlyArray<Line | LineProblem>>,
  o: CorpusOptions,
  problems: Problems,
  out: JsonlOut,
): Promise<ParsedCorpus> {
  let fmt = o.format;
  const control = new ControlChars(o.strict);
  const kept = new PairCollector(out);
  let hub = false;
  let last = 0;
  let spaced = 0;
  const done = (stoppedAt: number | null): ParsedCorpus => ({
    spacesNotTabs: kept.count === 0 && problems.total > 0 && spaced === problems.total,
    kept,
    problems,
    lines: last,
    shape: (fmt ?? 'tsv') === 'tsv' ? 'tsv' : hub ? 'hub-jsonl' : 'jsonl',
    control: control.report,
    stoppedAt,
  });
  for await (const batch of lines)
    for (const line of batch) {
      let r: Pair | LineProblem;
      if ('reason' in line) {
        last = line.line;
        r = line;
      } else {
        last = line.number;
        fmt ??= line.text.trimStart().startsWith('{') ? 'jsonl' : 'tsv';
        const c = control.clean(line.text, 'line', line.number);
        if ('problem' in c) r = c.problem;
        else if (fmt === 'tsv') {
          r = parseTsvLine({ number: line.number, text: c.value });
          if ('reason' in r && r.reason === 'missing_tab' && spaceRun.test(c.value)) spaced++;
        } else {
          const j = parseJsonLine({ number: line.number, text: c.value });
          const deep = 'problem' in j ? j : control.cleanDeep(j.value, '', line.number);
          if ('problem' in deep) r = deep.problem;
          else {
            const p = jsonPair(deep.value as Record<string, unknown>, line.number, o);
            hub ||= p.hub;
            r = p.pair;
          }
        }
      }
      if ('reason' in r) problems.add(r);
      else {
        // a promise only when a batch of rows goes out: no await per pair
        const sending = kept.add(r);
        if (sending) await sending;
      }
      if (problems.hopeless) return done(last);
    }
  return done(null);
}

function parallelPair(control: ControlChars, src: string, tgt: string, line: number): Pair | LineProblem {
  const s = control.clean(src, 'src', line);
  if ('problem' in s) return s.problem;
  const t = control.clean(tgt, 'tgt', line);
  if ('problem' in t) return t.problem;
  return pairFrom(s.value, t.value, line);
}

/**
 * Two line-aligned files (FLORES `fra_Latn.devtest` + `eng_Latn.devtest`), read in lockstep: line i
 * of one is the translation of line i of the other, so their line counts must agree.
 */
export async function parseParallel(
  srcLines: AsyncIterable<Line | LineProblem>,
  tgtLines: AsyncIterable<Line | LineProblem>,
  o: CorpusOptions,
  problems: Problems,
  out: JsonlOut,
): Promise<ParsedCorpus> {
  const a = srcLines[Symbol.asyncIterator]();
  const b = tgtLines[Symbol.asyncIterator]();
  const control = new ControlChars(o.strict);
  const kept = new PairCollector(out);
  let n = 0;
  const done = (stoppedAt: number | null): ParsedCorpus => ({
    spacesNotTabs: false,
    kept,
    problems,
    lines: n,
    shape: 'two-files',
    control: control.report,
    stoppedAt,
  });
  try {
    for (;;) {
      const [x, y] = await Promise.all([a.next(), b.next()]);
      if (x.done || y.done) {
        if (x.done && y.done) return done(null);
        // Count what is left of the longer file (bounded by the line and byte caps) to name both counts.
        let rest = 1;
        const longer = x.done ? b : a;
        while (!(await longer.next()).done) rest++;
        const [srcLines, tgtLines] = x.done ? [n, n + rest] : [n + rest, n];
        throw new ApiError(422, 'line_count_mismatch', `src has ${srcLines} lines, tgt has ${tgtLines}; the two files must be line-aligned`, {
          srcLines,
          tgtLines,
        });
      }
      n++;
      const s = x.value;
      const t = y.value;
      if ('reason' in s || 'reason' in t) {
        if ('reason' in s) problems.add(s);
        if ('reason' in t) problems.add(t);
      } else {
        const r = parallelPair(control, s.text, t.text, n);
        if ('reason' in r) problems.add(r);
        else await kept.add(r);
      }
      if (problems.hopeless) return done(n);
    }
  } finally {
    await Promise.all([a.return?.(undefined), b.return?.(undefined)]);
  }
}

export interface LanguageSide {
  given: string;
  canonical: string;
  script: string;
}

export function corpusStats(p: ParsedCorpus, src: LanguageSide, tgt: LanguageSide) {
  const k = p.kept;
  const n = k.count;
  const warnings: ScriptWarning[] = [];
  const w1 = k.srcScript.warning('src', src.canonical, src.script);
  const w2 = k.tgtScript.warning('tgt', tgt.canonical, tgt.script);
  if (w1) warnings.push(w1);
  if (w2) warnings.push(w2);
  return {
    format: p.shape,
    lines: p.lines,
    pairsKept: n,
    duplicates: k.duplicates,
    identicalPairs: k.identical,
    skipped: p.problems.byReason,
    controlChars: p.control,
    languages: { src: src.given, tgt: tgt.given },
    warnings,
    meanCharsSrc: n ? k.srcChars / n : 0,
    meanCharsTgt: n ? k.tgtChars / n : 0,
  };
}
