import { z } from 'zod';

/**
 * Row formats of evaluation suites as stored (one JSON object per line). Uploads also accept the
 * published shapes (worker/src/ingest/suite-shapes.ts). Labels are 0-based indices into the format's choices.
 */
// Text is kept exactly as uploaded (no trimming): a blank field is refused, surrounding spaces stay.
const text = z
  .string()
  .min(1)
  .max(20_000)
  .refine((s) => s.trim() !== '', 'must not be blank');

export const xnliRow = z.object({
  premise: text,
  hypothesis: text,
  /** 0 entailment, 1 neutral, 2 contradiction (as XNLI) */
  label: z.number().int().min(0).max(2),
});
export const marcRow = z.object({
  text,
  /** 1..5; 3-star reviews are dropped at evaluation time, 1-2 negative, 4-5 positive */
  stars: z.number().int().min(1).max(5),
});
export const pawsxRow = z.object({ sentence1: text, sentence2: text, label: z.number().int().min(0).max(1) });
export const xcopaRow = z.object({
  premise: text,
  choice1: text,
  choice2: text,
  question: z.enum(['cause', 'effect']),
  label: z.number().int().min(0).max(1),
});
export const xstoryclozeRow = z.object({
  sentences: z.array(text).length(4),
  endings: z.array(text).length(2),
  label: z.number().int().min(0).max(1),
});
export const mcRow = z
  .object({ context: text, choices: z.array(text).min(2).max(16), label: z.number().int().min(0) })
  .refine((r) => r.label < r.choices.length, { message: 'label must index into choices', path: ['label'] });
export const pplRow = z.object({ text });
export const mtRow = z.object({ src: text, tgt: text });

export const suiteRowSchemas = {
  xnli: xnliRow,
  marc: marcRow,
  pawsx: pawsxRow,
  xcopa: xcopaRow,
  xstorycloze: xstoryclozeRow,
  mc: mcRow,
  ppl: pplRow,
  mt: mtRow,
} as const;

export type SuiteFormat = keyof typeof suiteRowSchemas;
export const suiteFormats = Object.keys(suiteRowSchemas) as SuiteFormat[];
export const multipleChoiceFormats: SuiteFormat[] = ['xnli', 'marc', 'pawsx', 'xcopa', 'xstorycloze', 'mc'];

export type XnliRow = z.infer<typeof xnliRow>;
export type MarcRow = z.infer<typeof marcRow>;
export type PawsxRow = z.infer<typeof pawsxRow>;
export type XcopaRow = z.infer<typeof xcopaRow>;
export type XstoryclozeRow = z.infer<typeof xstoryclozeRow>;
export type McRow = z.infer<typeof mcRow>;
export type PplRow = z.infer<typeof pplRow>;
export type MtRow = z.infer<typeof mtRow>;
export type SuiteRow = XnliRow | MarcRow | PawsxRow | XcopaRow | XstoryclozeRow | McRow | PplRow | MtRow;
