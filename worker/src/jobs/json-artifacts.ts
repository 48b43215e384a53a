import type { z } from 'zod';
import { lmfStatus, maskAnalysis } from '@polyprune/shared/api/analysis';
import { limits } from '@polyprune/shared/api/limits';
import { lmfReport } from '@polyprune/shared/api/lmf';
import { nestsDeeperThan } from '@polyprune/shared/json-depth';
import { ApiError } from '../lib/errors';

/** The JSON artifacts a runner writes, each with the shared schema that pages and later jobs read it by. */
export const jsonArtifactSchemas: Readonly<Record<string, z.ZodType>> = {
  'lmf.json': lmfReport,
  'analysis.json': maskAnalysis,
};

/** How a runner keeps each JSON artifact under the limit. */
const shrink: Readonly<Record<string, string>> = {
  'lmf.json': 'leave out the per-dimension magnitudes (includeMagnitudes) or lower k',
  'analysis.json': 'compare fewer runs in one analyze job (the file grows with the square of their number)',
};

const invalid = (name: string, message: string, details: Record<string, unknown> = {}) =>
  new ApiError(422, 'invalid_artifact', `${name}: ${message}`, { artifact: name, ...details });

/**
 * Refuses a completion whose JSON artifacts do not have their schema's shape, naming the artifact
 * and the first offending path: a run record must never point at a file its page cannot read.
 */
export async function checkJsonArtifacts(bucket: R2Bucket, artifacts: readonly { name: string; size: number; r2Key: string }[]): Promise<void> {
  for (const a of artifacts) {
    const schema = jsonArtifactSchemas[a.name];
    if (!schema) continue;
    if (a.size > limits.jsonArtifactBytes) {
      throw invalid(
        a.name,
        `${a.size} bytes, over the ${limits.jsonArtifactBytes} a JSON artifact may have (it is checked whole in the Worker's memory); ${shrink[a.name] ?? 'write a smaller one'}`,
        {
          size: a.size,
          limit: limits.jsonArtifactBytes,
        },
      );
    }
    const obj = await bucket.get(a.r2Key);
    if (!obj) throw invalid(a.name, 'not stored');
    let text: string | undefined = await obj.text();
    if (nestsDeeperThan(text)) throw invalid(a.name, 'nested deeper than any JSON artifact is');
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (err) {
      throw invalid(a.name, `not JSON (${(err as Error).message})`);
    }
    // The text (as large as the file) is not needed beside the parsed value and the schema's copy of it.
    text = undefined;
    const parsed = schema.safeParse(value);
    if (!parsed.success) {
      const issues = parsed.error.issues.slice(0, 10).map((i) => ({ path: i.path.join('.') || '(root)', message: i.message }));
      throw invalid(a.name, `${issues[0]!.path}: ${issues[0]!.message}`, { issues });
    }
  }
}

/** Fields of a result's `extra` that pages read, with their shapes (`extra.analysis` is checked with the analysis). */
const extraSchemas: Readonly<Record<string, z.ZodType>> = { lmf: lmfStatus };

export function checkRunExtra(extra: Record<string, unknown>): void {
  for (const [key, schema] of Object.entries(extraSchemas)) {
    if (extra[key] === undefined) continue;
    const parsed = schema.safeParse(extra[key]);
    if (!parsed.success) {
      const first = parsed.error.issues[0]!;
      const path = ['extra', key, ...first.path].join('.');
      throw new ApiError(422, 'invalid_request', `result.${path}: ${first.message}`, { path: `result.${path}` });
    }
  }
}
