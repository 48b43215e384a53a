import { z } from 'zod';
import { suiteFormats } from '../suites';
import { boolQuery, isoDate, sha256Hex, visibility } from './common';
import { controlReport, languageCode, lineProblem, originalFile, scriptWarning, uploadQuery } from './corpora';

export const suiteFormat = z.enum(suiteFormats as [string, ...string[]]);

export const suiteUploadQuery = uploadQuery.extend({
  format: suiteFormat,
  lang: languageCode,
  task: z.string().trim().min(1).max(200).optional().meta({
    description:
      'the task the suite is one language of (default: the suite name); suites of one task with the same rows are parallel, and a job scoring an English one gives the others RankC',
  }),
  /** keep one of each exact duplicate row; by default duplicates are kept so published n stays comparable */
  dedupe: boolQuery,
  subset: z.coerce.number().int().min(1).max(1_000_000).optional().meta({ description: 'keep a seeded subset of this many rows, stratified by label' }),
  seed: z.coerce
    .number()
    .int()
    .min(0)
    .max(2 ** 31 - 1)
    .default(0),
});

export const suiteStats = z.object({
  lines: z.number(),
  rowsKept: z.number(),
  /** exact duplicate rows found; dropped only with dedupe=true */
  duplicates: z.number(),
  deduped: z.boolean(),
  /** PAWS-X "NS" rows (untranslated placeholders), dropped */
  placeholders: z.number(),
  skipped: z.record(z.string(), z.number()),
  controlChars: controlReport,
  /** what the body was read as: JSONL, TSV or CSV, with or without a header */
  recognised: z.object({ input: z.enum(['jsonl', 'tsv', 'csv', 'text']), header: z.boolean(), columns: z.array(z.string()).nullable() }),
  /** the code as uploaded (lang holds the canonical one) */
  langGiven: z.string(),
  subset: z.object({ n: z.number(), seed: z.number(), of: z.number() }).optional(),
  warnings: z.array(scriptWarning),
});

export const suiteInfo = z
  .object({
    id: z.string(),
    owner: z.string(),
    name: z.string(),
    format: suiteFormat,
    lang: z.string(),
    /** parallel suites share it (RankC) */
    task: z.string(),
    visibility,
    sha256: sha256Hex,
    size: z.number(),
    stats: suiteStats,
    skippedLines: z.array(lineProblem).optional(),
    original: originalFile.optional(),
    createdAt: isoDate,
  })
  .meta({ id: 'Suite' });
export type SuiteInfo = z.infer<typeof suiteInfo>;
