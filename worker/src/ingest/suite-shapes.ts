/**
 * The published shapes of each suite format, mapped onto polyprune's row schemas
 * (shared/src/suites.ts): XTREME/XNLI TSV with string labels, PAWS-X TSV (with its id column),
 * XCOPA JSONL, XStoryCloze CSV/TSV (1-based right ending), the hub's JSONL field names, and
 * polyprune's own JSONL rows.
 */
import { normaliseLanguage, primaryLanguage } from '@polyprune/shared/languages';
import type { SuiteFormat } from '@polyprune/shared/suites';

/** Header cells (lower-cased, spaces and dashes dropped) → intermediate field names. */
const aliases: Partial<Record<SuiteFormat, Record<string, string>>> = {
  xnli: { premise: 'premise', sentence1: 'premise', hypothesis: 'hypothesis', sentence2: 'hypothesis', label: 'label', gold_label: 'label' },
  pawsx: { id: 'id', sentence1: 'sentence1', sentence2: 'sentence2', label: 'label' },
  xcopa: { premise: 'premise', choice1: 'choice1', choice2: 'choice2', question: 'question', label: 'label', idx: 'idx' },
  marc: { text: 'text', review_body: 'text', stars: 'stars' },
  xstorycloze: {
    inputstoryid: 'id',
    story_id: 'id',
    inputsentence1: 's1',
    inputsentence2: 's2',
    inputsentence3: 's3',
    inputsentence4: 's4',
    input_sentence_1: 's1',
    input_sentence_2: 's2',
    input_sentence_3: 's3',
    input_sentence_4: 's4',
    randomfifthsentencequiz1: 'e1',
    randomfifthsentencequiz2: 'e2',
    sentence_quiz1: 'e1',
    sentence_quiz2: 'e2',
    answerrightending: 'answer',
    answer_right_ending: 'answer',
  },
  mt: { src: 'src', tgt: 'tgt' },
  ppl: { text: 'text' },
};

/** Fields a header must name for the format (after aliasing). */
const required: Partial<Record<SuiteFormat, string[]>> = {
  xnli: ['premise', 'hypothesis', 'label'],
  pawsx: ['sentence1', 'sentence2', 'label'],
  xcopa: ['premise', 'choice1', 'choice2', 'question', 'label'],
  marc: ['text', 'stars'],
  xstorycloze: ['s1', 's2', 's3', 's4', 'e1', 'e2', 'answer'],
  mt: ['src', 'tgt'],
  ppl: ['text'],
};

/** Column layouts of headerless files, by column count. */
const positional: Partial<Record<SuiteFormat, Record<number, string[]>>> = {
  xnli: { 3: ['premise', 'hypothesis', 'label'] },
  pawsx: { 3: ['sentence1', 'sentence2', 'label'], 4: ['id', 'sentence1', 'sentence2', 'label'] },
  xcopa: { 5: ['premise', 'choice1', 'choice2', 'question', 'label'] },
  marc: { 2: ['text', 'stars'] },
  xstorycloze: { 7: ['s1', 's2', 's3', 's4', 'e1', 'e2', 'answer'], 8: ['id', 's1', 's2', 's3', 's4', 'e1', 'e2', 'answer'] },
  mt: { 2: ['src', 'tgt'] },
  ppl: { 1: ['text'] },
};

const headerKey = (cell: string) =>
  cell
    .trim()
    .toLowerCase()
    .replace(/[\s-]+/g, '');

/** The field names of a header row, or null when the row is data. */
export function headerFields(format: SuiteFormat, cells: string[]): string[] | null {
  const map = aliases[format];
  const need = required[format];
  if (!map || !need) return null;
  const fields = cells.map((c) => map[headerKey(c)] ?? `?${c}`);
  return need.every((f) => fields.includes(f)) ? fields : null;
}

export function layoutFor(format: SuiteFormat, columns: number): string[] | null {
  return positional[format]?.[columns] ?? null;
}

export function formatHasColumns(format: SuiteFormat): boolean {
  return format in positional;
}

const xnliLabels: Record<string, number> = { entailment: 0, neutral: 1, contradiction: 2 };

/** "1" → 1 (TSV cells are strings); anything else unchanged so the schema names the problem. */
function int(v: unknown): unknown {
  return typeof v === 'string' && /^\s*\d+\s*$/.test(v) ? Number(v) : v;
}

/** A record (JSON object or named cells) → candidate row of the format's schema. */
export function canonicalRow(format: SuiteFormat, rec: Record<string, unknown>, lang: string): Record<string, unknown> {
  switch (format) {
    case 'xnli': {
      const label = typeof rec.label === 'string' && rec.label.trim().toLowerCase() in xnliLabels ? xnliLabels[rec.label.trim().toLowerCase()] : int(rec.label);
      return { premise: rec.premise ?? rec.sentence1, hypothesis: rec.hypothesis ?? rec.sentence2, label };
    }
    case 'pawsx':
      return { sentence1: rec.sentence1, sentence2: rec.sentence2, label: int(rec.label) };
    case 'xcopa':
      return { premise: rec.premise, choice1: rec.choice1, choice2: rec.choice2, question: rec.question, label: int(rec.label) };
    case 'marc':
      return { text: rec.text ?? rec.review_body, stars: int(rec.stars) };
    case 'xstorycloze': {
      if ('sentences' in rec) return rec;
      const s = (k: string, alt: string) => rec[k] ?? rec[alt];
      const answer = int(s('answer', 'answer_right_ending'));
      return {
        sentences: [s('s1', 'input_sentence_1'), s('s2', 'input_sentence_2'), s('s3', 'input_sentence_3'), s('s4', 'input_sentence_4')],
        endings: [s('e1', 'sentence_quiz1'), s('e2', 'sentence_quiz2')],
        // published files number the right ending 1 or 2
        label: typeof answer === 'number' ? answer - 1 : answer,
      };
    }
    case 'mt': {
      const tr = rec.translation;
      if (tr && typeof tr === 'object' && !Array.isArray(tr)) {
        const t = tr as Record<string, unknown>;
        const keys = Object.keys(t);
        const primary = (k: string) => {
          const n = normaliseLanguage(k);
          return primaryLanguage('error' in n ? k : n.canonical);
        };
        const src = keys.find((k) => primary(k) === primaryLanguage(lang)) ?? keys[0];
        const tgt = keys.find((k) => k !== src);
        return { src: src === undefined ? undefined : t[src], tgt: tgt === undefined ? undefined : t[tgt] };
      }
      return rec;
    }
    default:
      return rec;
  }
}

/** PAWS-X marks sentences it could not translate with "NS"; such rows are placeholders, never scored. */
export function isPlaceholder(format: SuiteFormat, row: Record<string, unknown>): boolean {
  return format === 'pawsx' && (row.sentence1 === 'NS' || row.sentence2 === 'NS');
}

/** One CSV record on one line (RFC 4180 quoting; XStoryCloze's CSV has no line breaks in fields). */
export function splitCsv(line: string): string[] | null {
  const out: string[] = [];
  let i = 0;
  while (i <= line.length) {
    if (line[i] === '"') {
      let v = '';
      i++;
      for (;;) {
        if (i >= line.length) return null;
        if (line[i] === '"') {
          if (line[i + 1] === '"') {
            v += '"';
            i += 2;
            continue;
          }
          i++;
          break;
        }
        v += line[i++];
      }
      if (i < line.length && line[i] !== ',') return null;
      out.push(v);
      i++;
    } else {
      const end = line.indexOf(',', i);
      const stop = end === -1 ? line.length : end;
      out.push(line.slice(i, stop));
      i = stop + 1;
    }
  }
  return out;
}
