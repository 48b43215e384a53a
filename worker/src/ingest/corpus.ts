import type { LineProblem } from '../../../shared/src/api/corpora';
import { normaliseLanguage, primaryLanguage } from '../../../shared/src/languages';
import { ApiError } from '../lib/errors';
import { checkField, ControlChars, type ControlReport, countByReason, type Line, matchKey, parseJsonLine, splitLines } from './lines';
import { scriptWarning, type ScriptWarning } from './script-check';

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
  pairs: Pair[];
  problems: LineProblem[];
  duplicates: number;
  /** pairs whose two sides are the same text */
  identical: number;
  lines: number;
  shape: CorpusShape;
  control: ControlReport;
}

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

/** Exact duplicate pairs (compared after NFC + trim) are dropped and counted; kept text is as uploaded. */
function collect(candidates: Array<Pair | LineProblem>, problems: LineProblem[]) {
  const seen = new Set<string>();
  const pairs: Pair[] = [];
  let duplicates = 0;
  let identical = 0;
  for (const r of candidates) {
    if ('reason' in r) {
      problems.push(r);
      continue;
    }
    const s = matchKey(r.src);
    const t = matchKey(r.tgt);
    const key = `${s}\u0000${t}`;
    if (seen.has(key)) {
      duplicates++;
      continue;
    }
    seen.add(key);
    if (s === t) identical++;
    pairs.push(r);
  }
  problems.sort((a, b) => a.line - b.line);
  return { pairs, duplicates, identical };
}

/** Validates a TSV or JSONL corpus (one body). */
export function parseCorpus(bytes: Uint8Array, o: CorpusOptions): ParsedCorpus {
  const { lines, problems, total } = splitLines(bytes);
  const fmt = o.format ?? (lines[0]?.text.trimStart().startsWith('{') ? 'jsonl' : 'tsv');
  const control = new ControlChars(o.strict);
  let hub = false;
  const candidates = lines.map((line): Pair | LineProblem => {
    const c = control.clean(line.text, 'line', line.number);
    if ('problem' in c) return c.problem;
    const clean = { number: line.number, text: c.value };
    if (fmt === 'tsv') return parseTsvLine(clean);
    const j = parseJsonLine(clean);
    if ('problem' in j) return j.problem;
    const deep = control.cleanDeep(j.value, '', line.number);
    if ('problem' in deep) return deep.problem;
    const r = jsonPair(deep.value as Record<string, unknown>, line.number, o);
    hub ||= r.hub;
    return r.pair;
  });
  const kept = collect(candidates, problems);
  return { ...kept, problems, lines: total, shape: fmt === 'tsv' ? 'tsv' : hub ? 'hub-jsonl' : 'jsonl', control: control.report };
}

/**
 * Two line-aligned files (FLORES `fra_Latn.devtest` + `eng_Latn.devtest`): line i of one is the
 * translation of line i of the other, so their line counts must agree.
 */
export function parseParallel(srcBytes: Uint8Array, tgtBytes: Uint8Array, o: CorpusOptions): ParsedCorpus {
  const s = splitLines(srcBytes, true);
  const t = splitLines(tgtBytes, true);
  if (s.total !== t.total) {
    throw new ApiError(422, 'line_count_mismatch', `src has ${s.total} lines, tgt has ${t.total}; the two files must be line-aligned`, {
      srcLines: s.total,
      tgtLines: t.total,
    });
  }
  const control = new ControlChars(o.strict);
  const problems = [...s.problems, ...t.problems];
  const bad = new Set(problems.map((p) => p.line));
  const tgtByLine = new Map(t.lines.map((l) => [l.number, l.text]));
  const candidates: Array<Pair | LineProblem> = [];
  for (const line of s.lines) {
    if (bad.has(line.number)) continue;
    const a = control.clean(line.text, 'src', line.number);
    if ('problem' in a) {
      candidates.push(a.problem);
      continue;
    }
    const b = control.clean(tgtByLine.get(line.number)!, 'tgt', line.number);
    candidates.push('problem' in b ? b.problem : pairFrom(a.value, b.value, line.number));
  }
  const kept = collect(candidates, problems);
  return { ...kept, problems, lines: s.total, shape: 'two-files', control: control.report };
}

export interface LanguageSide {
  given: string;
  canonical: string;
  script: string;
}

export function corpusStats(p: ParsedCorpus, src: LanguageSide, tgt: LanguageSide) {
  const n = p.pairs.length;
  let s = 0;
  let t = 0;
  for (const pair of p.pairs) {
    s += pair.src.length;
    t += pair.tgt.length;
  }
  const warnings: ScriptWarning[] = [];
  const w1 = scriptWarning(
    p.pairs.map((x) => x.src),
    'src',
    src.canonical,
    src.script,
  );
  const w2 = scriptWarning(
    p.pairs.map((x) => x.tgt),
    'tgt',
    tgt.canonical,
    tgt.script,
  );
  if (w1) warnings.push(w1);
  if (w2) warnings.push(w2);
  return {
    format: p.shape,
    lines: p.lines,
    pairsKept: n,
    duplicates: p.duplicates,
    identicalPairs: p.identical,
    skipped: countByReason(p.problems),
    controlChars: p.control,
    languages: { src: src.given, tgt: tgt.given },
    warnings,
    meanCharsSrc: n ? s / n : 0,
    meanCharsTgt: n ? t / n : 0,
  };
}

export function toJsonl(rows: unknown[]): Uint8Array {
  return new TextEncoder().encode(rows.map((r) => JSON.stringify(r)).join('\n') + (rows.length ? '\n' : ''));
}
