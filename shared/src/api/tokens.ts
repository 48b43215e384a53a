import { z } from 'zod';
import { isoDate, scope } from './common';

export const createTokenBody = z.strictObject({
  owner: z
    .string()
    .trim()
    .min(1)
    .max(64)
    .regex(/^[A-Za-z0-9_.@-]+$/, 'letters, digits, _ . @ - only'),
  name: z.string().trim().min(1).max(100).optional(),
  scopes: z.array(scope).min(1).max(4),
  /** Overrides the deployment's default requests-per-minute for this token. */
  rateLimitPerMinute: z.number().int().min(1).max(100_000).optional(),
});

export const tokenInfo = z
  .object({
    id: z.string(),
    owner: z.string(),
    name: z.string().nullable(),
    scopes: z.array(scope),
    rateLimitPerMinute: z.number().nullable(),
    createdAt: isoDate,
    lastUsedAt: isoDate.nullable(),
    revokedAt: isoDate.nullable(),
  })
  .meta({ id: 'Token' });

export const createdToken = tokenInfo.extend({ secret: z.string() }).meta({ id: 'CreatedToken' });
export type TokenInfo = z.infer<typeof tokenInfo>;
