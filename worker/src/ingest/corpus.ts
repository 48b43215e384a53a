import type { LineProblem } from '../../../shared/src/api/corpora';
import { checkField, type Line, parseJsonLine, type Problems } from './lines';

export interface Pair {
  src: string;
  tgt: string;
}

export interface ParsedCorpus {
  pairs: Pair[];
  problems: Problems;
  duplicates: number;
  lines: number;
  format: 'tsv' | 'jsonl';
  /** the line validation stopped at, when the upload was hopeless before its end */
  stoppedAt: number | null;
}

function parseTsvLine(line: Line): Pair | LineProblem {
  const cols = line.text.split('\t');
  if (cols.length < 2) return { line: line.number, reason: 'missing_tab', message: 'expected "source<TAB>target"' };
  if (cols.length > 2) return { line: line.number, reason: 'extra_columns', message: `expected 2 tab-separated columns, found ${cols.length}` };
  return pairFrom({ src: cols[0], tgt: cols[1] }, line.number);
}

function pairFrom(obj: Record<string, unknown>, line: number): Pair | LineProblem {
  if (!('src' in obj) || !('tgt' in obj)) return { line, reason: 'missing_field', message: 'expected an object with "src" and "tgt"' };
  const src = checkField(obj.src, 'src', line);
  if ('problem' in src) return src.problem;
  const tgt = checkField(obj.tgt, 'tgt', line);
  if ('problem' in tgt) return tgt.problem;
  return { src: src.value, tgt: tgt.value };
}

/**
 * Validates a TSV or JSONL corpus as it streams in; exact duplicate pairs (after NFC + trim) are
 * dropped and counted. Stops reading once the upload is hopeless (see Problems).
 */
export async function parseCorpus(lines: AsyncIterable<Line | LineProblem>, format: 'tsv' | 'jsonl' | undefined, problems: Problems): Promise<ParsedCorpus> {
  let fmt = format;
  const seen = new Set<string>();
  const pairs: Pair[] = [];
  let duplicates = 0;
  let last = 0;
  for await (const line of lines) {
    let r: Pair | LineProblem;
    if ('reason' in line) {
      last = line.line;
      r = line;
    } else {
      last = line.number;
      fmt ??= line.text.trimStart().startsWith('{') ? 'jsonl' : 'tsv';
      if (fmt === 'tsv') r = parseTsvLine(line);
      else {
        const j = parseJsonLine(line);
        r = 'problem' in j ? j.problem : pairFrom(j.value as Record<string, unknown>, line.number);
      }
    }
    if ('reason' in r) problems.add(r);
    else {
      const key = `${r.src}\u0000${r.tgt}`;
      if (seen.has(key)) duplicates++;
      else {
        seen.add(key);
        pairs.push(r);
      }
    }
    if (problems.hopeless) return { pairs, problems, duplicates, lines: last, format: fmt ?? 'tsv', stoppedAt: last };
  }
  return { pairs, problems, duplicates, lines: last, format: fmt ?? 'tsv', stoppedAt: null };
}

export function corpusStats(p: ParsedCorpus) {
  const n = p.pairs.length;
  let s = 0;
  let t = 0;
  for (const pair of p.pairs) {
    s += pair.src.length;
    t += pair.tgt.length;
  }
  return {
    lines: p.lines,
    pairsKept: n,
    duplicates: p.duplicates,
    skipped: p.problems.byReason,
    meanCharsSrc: n ? s / n : 0,
    meanCharsTgt: n ? t / n : 0,
  };
}

export function toJsonl(rows: unknown[]): Uint8Array {
  return new TextEncoder().encode(rows.map((r) => JSON.stringify(r)).join('\n') + (rows.length ? '\n' : ''));
}
