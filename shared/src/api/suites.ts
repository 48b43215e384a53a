import { z } from 'zod';
import { suiteFormats } from '../suites';
import { isoDate, sha256Hex, visibility } from './common';
import { bcp47Tag, lineProblem, uploadQuery } from './corpora';

export const suiteFormat = z.enum(suiteFormats as [string, ...string[]]);

export const suiteUploadQuery = uploadQuery.extend({ format: suiteFormat, lang: bcp47Tag });

export const suiteStats = z.object({ lines: z.number(), rowsKept: z.number(), duplicates: z.number(), skipped: z.record(z.string(), z.number()) });

export const suiteInfo = z
  .object({
    id: z.string(),
    owner: z.string(),
    name: z.string(),
    format: suiteFormat,
    lang: z.string(),
    visibility,
    sha256: sha256Hex,
    size: z.number(),
    stats: suiteStats,
    skippedLines: z.array(lineProblem).optional(),
    createdAt: isoDate,
  })
  .meta({ id: 'Suite' });
export type SuiteInfo = z.infer<typeof suiteInfo>;
