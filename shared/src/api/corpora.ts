import { z } from 'zod';
import { isLanguageCode } from '../languages';
import { boolQuery, isoDate, sha256Hex, visibility } from './common';

/** ISO 639-1, ISO 639-3 or FLORES-200; normalised to one canonical code at upload. */
export const languageCode = z
  .string()
  .max(35)
  .refine(isLanguageCode, { message: 'expected a language code such as "fr", "fra", "fra_Latn", "pt-BR" or "zh-Hant"' })
  .meta({ example: 'fra_Latn' });

export const uploadQuery = z.object({
  name: z.string().trim().min(1).max(200).optional(),
  visibility: visibility.default('private'),
  onError: z.enum(['reject', 'skip']).optional().meta({
    description:
      'unset: a bad line refuses the upload, control characters are stripped and counted; "reject": control characters refuse it too; "skip": bad lines are dropped and listed',
  }),
});

export const corpusUploadQuery = uploadQuery.extend({
  src: languageCode,
  tgt: languageCode,
  format: z
    .enum(['tsv', 'jsonl'])
    .optional()
    .meta({ description: 'sniffed from the first line when omitted; ignored for a multipart body (parts src and tgt)' }),
});

export const lineProblem = z.object({ line: z.number(), reason: z.string(), message: z.string() });
export type LineProblem = z.infer<typeof lineProblem>;

export const controlReport = z.object({
  /** control characters stripped */
  count: z.number(),
  lines: z.number(),
  first: z.array(z.object({ line: z.number(), codePoint: z.string().meta({ example: 'U+0008' }) })),
});

export const scriptWarning = z.object({
  field: z.string(),
  lang: z.string(),
  expected: z.string(),
  found: z.string(),
  share: z.number(),
  message: z.string(),
});

export const corpusStats = z.object({
  /** what the body was read as */
  format: z.enum(['tsv', 'jsonl', 'hub-jsonl', 'two-files']),
  lines: z.number(),
  pairsKept: z.number(),
  duplicates: z.number(),
  /** kept pairs whose two sides are the same text */
  identicalPairs: z.number(),
  skipped: z.record(z.string(), z.number()),
  controlChars: controlReport,
  /** the codes as uploaded (src and tgt hold the canonical ones) */
  languages: z.object({ src: z.string(), tgt: z.string() }),
  warnings: z.array(scriptWarning),
  meanCharsSrc: z.number(),
  meanCharsTgt: z.number(),
});

/** One file of a multipart upload, hashed as it was sent (compare it with the published file). */
export const originalPart = z.object({
  name: z.string().meta({ description: 'the form part: src or tgt' }),
  filename: z.string().nullable(),
  sha256: sha256Hex,
  size: z.number(),
});
export type OriginalPart = z.infer<typeof originalPart>;

export const originalFile = z
  .object({
    sha256: sha256Hex.meta({ description: 'of the bytes as uploaded; GET …/data?original=true serves them with this X-Content-SHA256' }),
    size: z.number(),
    parts: z.array(originalPart).optional().meta({ description: 'a multipart upload: the original is the form as sent; each file in it' }),
  })
  .meta({
    id: 'OriginalFile',
    description:
      'The upload as it arrived (BOM, line ends, every column), kept next to the normalised rows; absent on uploads stored before originals were kept',
  });
export type OriginalFile = z.infer<typeof originalFile>;

/** GET /v1/{corpora,suites}/{id}/data */
export const originalQuery = z.object({
  original: boolQuery.meta({ description: 'true: the file as uploaded instead of the normalised JSONL' }),
});

export const corpusInfo = z
  .object({
    id: z.string(),
    owner: z.string(),
    name: z.string(),
    src: z.string(),
    tgt: z.string(),
    visibility,
    sha256: sha256Hex,
    size: z.number(),
    stats: corpusStats,
    skippedLines: z.array(lineProblem).optional(),
    original: originalFile.optional(),
    createdAt: isoDate,
  })
  .meta({ id: 'Corpus' });
export type CorpusInfo = z.infer<typeof corpusInfo>;
