import { z } from 'zod';
import { isoDate, sha256Hex, visibility } from './common';

export const bcp47Tag = z.string().regex(/^[a-z]{2,3}(?:-[A-Z][a-z]{3})?(?:-(?:[A-Z]{2}|\d{3}))?(?:-(?:[a-zA-Z0-9]{5,8}|\d[a-zA-Z0-9]{3}))*$/, {
  message: 'expected a BCP-47 language tag such as "fr", "pt-BR" or "zh-Hant"',
});

export const uploadQuery = z.object({
  name: z.string().trim().min(1).max(200).optional(),
  visibility: visibility.default('private'),
  onError: z.enum(['reject', 'skip']).default('reject'),
});

export const corpusUploadQuery = uploadQuery.extend({
  src: bcp47Tag,
  tgt: bcp47Tag,
  format: z.enum(['tsv', 'jsonl']).optional().meta({ description: 'sniffed from the first line when omitted' }),
});

export const lineProblem = z.object({ line: z.number(), reason: z.string(), message: z.string() });
export type LineProblem = z.infer<typeof lineProblem>;

export const corpusStats = z.object({
  lines: z.number(),
  pairsKept: z.number(),
  duplicates: z.number(),
  skipped: z.record(z.string(), z.number()),
  meanCharsSrc: z.number(),
  meanCharsTgt: z.number(),
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
    createdAt: isoDate,
  })
  .meta({ id: 'Corpus' });
export type CorpusInfo = z.infer<typeof corpusInfo>;
