/**
 * What the OpenAPI document says about dataset bodies: every accepted body type of a corpus or
 * suite upload with an example, and the stored row schema of every suite format with an example row.
 */
import type { z } from 'zod';
import { type SuiteFormat, suiteRowSchemas } from '../suites';
import { limits } from './limits';

/** The bounds of every dataset upload, as the document states them. */
export const datasetLimits = `≤ ${limits.datasetBytes / 1048576} MiB, ≤ ${limits.datasetLines} lines of ≤ ${limits.lineBytes / 1024} KiB; a rejected upload lists its first ${limits.problemsListed} bad lines and stops there, onError=skip stops past ${limits.badLinesSkipped} bad lines`;

export interface BodyDoc {
  description: string;
  /** a zod schema of one row (JSONL) or of the multipart form; else the body is text */
  schema?: z.ZodType;
  examples: Record<string, { summary: string; value: string }>;
}

const tab = (...cells: string[]) => cells.join('\t');

export const corpusBodies: Record<string, BodyDoc> = {
  'text/tab-separated-values': {
    description: 'one pair per line: source<TAB>target',
    examples: { tsv: { summary: 'TSV', value: `${tab('Le chat dort.', 'The cat sleeps.')}\n${tab('Merci.', 'Thank you.')}\n` } },
  },
  'application/x-ndjson': {
    description: 'one JSON object per line: {"src", "tgt"}, or the hub\'s {"translation": {<src>: …, <tgt>: …}} (keys in any accepted code spelling)',
    examples: {
      jsonl: { summary: 'polyprune JSONL', value: '{"src":"Le chat dort.","tgt":"The cat sleeps."}\n' },
      hub: { summary: 'hub translation rows', value: '{"translation":{"fr":"Le chat dort.","en":"The cat sleeps."}}\n' },
    },
  },
  'multipart/form-data': {
    description: `two line-aligned files (FLORES-200 style) as parts "src" and "tgt"; line i of one translates line i of the other, and the line counts must agree (else 422 line_count_mismatch); the whole form ≤ ${limits.twoFileFormBytes / 1048576} MiB`,
    examples: {
      flores: {
        summary: 'curl -F src=@fra_Latn.devtest -F tgt=@eng_Latn.devtest ".../v1/corpora?src=fra_Latn&tgt=eng_Latn"',
        value:
          '--b\r\nContent-Disposition: form-data; name="src"; filename="fra_Latn.devtest"\r\n\r\nLe chat dort.\n\r\n--b\r\nContent-Disposition: form-data; name="tgt"; filename="eng_Latn.devtest"\r\n\r\nThe cat sleeps.\n\r\n--b--\r\n',
      },
    },
  },
};

/** Per format: the published shapes an upload accepts, one example each. */
const published: Record<SuiteFormat, Array<[string, string, string]>> = {
  xnli: [
    [
      'xnli-tsv',
      'XTREME XNLI TSV: premise, hypothesis, entailment|neutral|contradiction (an XNLI 1.0 header with sentence1/sentence2/gold_label is read too)',
      `${tab('Il pleut.', 'Le sol est mouillé.', 'entailment')}\n`,
    ],
    [
      'xnli-jsonl',
      'hub JSONL, integer (0 entailment, 1 neutral, 2 contradiction) or string labels',
      '{"premise":"Il pleut.","hypothesis":"Le sol est mouillé.","label":0}\n',
    ],
  ],
  marc: [['marc-jsonl', "JSONL with text (or the hub's review_body) and stars 1–5", '{"review_body":"Très bon produit.","stars":5}\n']],
  pawsx: [
    [
      'pawsx-tsv',
      'PAWS-X TSV as published (header id, sentence1, sentence2, label); rows with an "NS" sentence are dropped and counted',
      `${tab('id', 'sentence1', 'sentence2', 'label')}\n${tab('1', 'Der Hund jagt die Katze.', 'Die Katze wird vom Hund gejagt.', '1')}\n`,
    ],
    ['pawsx-jsonl', 'hub JSONL', '{"id":1,"sentence1":"Der Hund jagt die Katze.","sentence2":"Die Katze wird vom Hund gejagt.","label":1}\n'],
  ],
  xcopa: [
    [
      'xcopa-jsonl',
      'XCOPA JSONL as published (idx and changed are ignored)',
      '{"premise":"Ho acceso la luce.","choice1":"La stanza si è illuminata.","choice2":"La stanza si è raffreddata.","question":"effect","label":0,"idx":1}\n',
    ],
  ],
  xstorycloze: [
    [
      'xstorycloze-csv',
      'XStoryCloze CSV or TSV with the published header; AnswerRightEnding is 1 or 2',
      'InputStoryid,InputSentence1,InputSentence2,InputSentence3,InputSentence4,RandomFifthSentenceQuiz1,RandomFifthSentenceQuiz2,AnswerRightEnding\ns1,Ana went out.,"She wanted apples, pears.",The stall was closed.,She went home.,She bought nothing.,She bought a car.,1\n',
    ],
    [
      'xstorycloze-jsonl',
      'hub JSONL (input_sentence_1..4, sentence_quiz1/2, answer_right_ending)',
      '{"story_id":"s1","input_sentence_1":"a.","input_sentence_2":"b.","input_sentence_3":"c.","input_sentence_4":"d.","sentence_quiz1":"e.","sentence_quiz2":"f.","answer_right_ending":1}\n',
    ],
  ],
  mc: [['mc-jsonl', 'JSONL: context, choices, 0-based label', '{"context":"The sky is","choices":["blue","loud"],"label":0}\n']],
  ppl: [['ppl-text', 'plain text, one passage per line (or JSONL {"text"})', 'Une phrase.\nUne autre phrase.\n']],
  mt: [['mt-tsv', 'source<TAB>target, JSONL {"src","tgt"} or hub {"translation": {…}}', `${tab('Bonjour.', 'Hello.')}\n`]],
};

/** One stored row per format, as GET /v1/suites/{id}/data returns it. */
export const suiteRowExamples: Record<SuiteFormat, unknown> = {
  xnli: { premise: 'Il pleut.', hypothesis: 'Le sol est mouillé.', label: 0 },
  marc: { text: 'Très bon produit.', stars: 5 },
  pawsx: { sentence1: 'Der Hund jagt die Katze.', sentence2: 'Die Katze wird vom Hund gejagt.', label: 1 },
  xcopa: { premise: 'Ho acceso la luce.', choice1: 'La stanza si è illuminata.', choice2: 'La stanza si è raffreddata.', question: 'effect', label: 0 },
  xstorycloze: {
    sentences: ['Ana went out.', 'She wanted apples, pears.', 'The stall was closed.', 'She went home.'],
    endings: ['She bought nothing.', 'She bought a car.'],
    label: 0,
  },
  mc: { context: 'The sky is', choices: ['blue', 'loud'], label: 0 },
  ppl: { text: 'Une phrase.' },
  mt: { src: 'Bonjour.', tgt: 'Hello.' },
};

const examplesOf = (kinds: (name: string) => boolean) =>
  Object.fromEntries(
    Object.values(published)
      .flat()
      .filter(([name]) => kinds(name))
      .map(([name, summary, value]) => [name, { summary, value }]),
  );

export const suiteBodies: Record<string, BodyDoc> = {
  'application/x-ndjson': {
    description: 'one JSON object per line; the stored row schema of each format is in components.schemas (SuiteRow…)',
    examples: examplesOf((n) => n.endsWith('-jsonl')),
  },
  'text/tab-separated-values': { description: 'TSV with or without the published header', examples: examplesOf((n) => n.endsWith('-tsv')) },
  'text/csv': { description: 'CSV (XStoryCloze)', examples: examplesOf((n) => n.endsWith('-csv')) },
  'text/plain': { description: 'plain text lines (ppl)', examples: examplesOf((n) => n.endsWith('-text')) },
};

export const suiteRowDocs = Object.entries(suiteRowSchemas).map(([format, schema]) => ({
  name: `SuiteRow${format[0]!.toUpperCase()}${format.slice(1)}`,
  schema: schema as z.ZodType,
  example: suiteRowExamples[format as SuiteFormat],
}));
