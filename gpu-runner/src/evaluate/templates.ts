/**
 * Prompt templates per suite format. Each example becomes a context shared by its choices and one
 * continuation per choice; the full prompt is context + continuation. The split only matters for
 * `harness` scoring (which scores the continuation given the context); `paper` scores the whole prompt.
 * XNLI and MARC follow the reference paper's templates; PAWS-X, XCOPA and XStoryCloze follow their
 * lm-evaluation-harness tasks. Template language defaults to English, as in the reference; the
 * localised words are in shared/src/template-words.ts.
 */
import { templateWords } from '@polyprune/shared/template-words';
import type { McRow, MarcRow, PawsxRow, SuiteFormat, XcopaRow, XnliRow, XstoryclozeRow } from '@polyprune/shared/suites';

export type McFormat = Exclude<SuiteFormat, 'ppl' | 'mt'>;

export interface RenderedExample {
  context: string;
  continuations: string[];
  label: number;
}

const words = templateWords;

/** MARC keeps the first 128 whitespace-separated words of a review (the reference truncation). */
export function firstWords(text: string, n = 128): string {
  return text.trim().split(/\s+/).slice(0, n).join(' ');
}

function stripFinalPunct(s: string): string {
  // the harness drops the premise's last character (its full stop) before the connector
  const t = s.trim();
  return /[.!?。]$/.test(t) ? t.slice(0, -1) : t;
}

function lowerFirst(s: string): string {
  return s.length ? s[0]!.toLowerCase() + s.slice(1) : s;
}

/**
 * Renders one row; null when the format drops it (MARC 3-star reviews).
 * `templateLang` picks the template words (default English).
 */
export function renderExample(format: McFormat, row: unknown, templateLang = 'en'): RenderedExample | null {
  switch (format) {
    case 'xnli': {
      const r = row as XnliRow;
      const w = words(templateLang, 'xnli');
      return {
        context: `${r.premise} , ${w.right}`,
        continuations: [w.yes, w.also, w.no].map((a) => ` ${a} , ${r.hypothesis}`),
        label: r.label,
      };
    }
    case 'marc': {
      const r = row as MarcRow;
      if (r.stars === 3) return null;
      const w = words(templateLang, 'marc');
      return {
        context: `${firstWords(r.text)} ${w.itIs}`,
        continuations: [` ${w.negative}`, ` ${w.positive}`],
        label: r.stars <= 2 ? 0 : 1,
      };
    }
    case 'pawsx': {
      // harness: empty context, each choice is the whole "s1, right? No|Yes, s2"; label 1 = paraphrase = Yes
      const r = row as PawsxRow;
      const w = words(templateLang, 'pawsx');
      return {
        context: '',
        continuations: [w.no, w.yes].map((a) => `${r.sentence1}, ${w.right} ${a}, ${r.sentence2}`),
        label: r.label,
      };
    }
    case 'xcopa': {
      const r = row as XcopaRow;
      const w = words(templateLang, 'xcopa');
      return {
        context: `${stripFinalPunct(r.premise)} ${r.question === 'cause' ? w.because : w.therefore}`,
        continuations: [r.choice1, r.choice2].map((c) => ` ${lowerFirst(c)}`),
        label: r.label,
      };
    }
    case 'xstorycloze': {
      const r = row as XstoryclozeRow;
      return { context: r.sentences.join(' '), continuations: r.endings.map((e) => ` ${e}`), label: r.label };
    }
    case 'mc': {
      const r = row as McRow;
      return { context: r.context, continuations: r.choices.map((c) => ` ${c}`), label: r.label };
    }
  }
}

/** Number of classes of a format (macro-F1 averages over them); generic mc uses the widest row. */
export function classCount(format: McFormat, examples: RenderedExample[]): number {
  if (format === 'xnli') return 3;
  if (format === 'mc') return Math.max(0, ...examples.map((e) => e.continuations.length));
  return 2;
}
