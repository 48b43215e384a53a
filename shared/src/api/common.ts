import { z } from 'zod';
import { errorCode } from './errors';

export const scopes = ['read', 'write', 'admin', 'runner'] as const;
export const scope = z.enum(scopes);
export type Scope = z.infer<typeof scope>;

export const visibilities = ['private', 'public'] as const;
export const visibility = z.enum(visibilities);
export type Visibility = z.infer<typeof visibility>;

export const errorBody = z
  .object({
    error: z.object({
      code: errorCode,
      message: z.string(),
      details: z.unknown().optional(),
    }),
  })
  .meta({ id: 'Error' });

export const sha256Hex = z.string().regex(/^[0-9a-f]{64}$/, 'expected 64 lowercase hex characters');

export const paginationQuery = z.object({
  limit: z.coerce.number().int().min(1).max(200).default(50),
  cursor: z.string().max(200).optional(),
});

export function page<T extends z.ZodTypeAny>(item: T) {
  return z.object({ items: z.array(item), nextCursor: z.string().nullable() });
}

export const idParam = z.object({ id: z.string().min(1).max(64) });
export const isoDate = z.string();

/** Query-string booleans: only "true" and "false" are accepted. */
export const boolQuery = z
  .enum(['true', 'false'])
  .optional()
  .transform((v) => v === 'true');

/** How multiple-choice suites are scored: the paper's or lm-evaluation-harness's way. */
export const scoringName = z.enum(['paper', 'harness']);
