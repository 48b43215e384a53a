import type { Context } from 'hono';
import type { z } from 'zod';
import { MAX_JSON_DEPTH, nestsDeeperThan } from '@polyprune/shared/json-depth';
import { limits } from '@polyprune/shared/api/limits';
import { readBody } from './blobs';
import { ApiError } from './errors';

function problems(error: z.ZodError) {
  return error.issues.map((i) => ({ path: i.path.join('.'), message: i.message }));
}

function describe(where: string, error: z.ZodError): string {
  const first = error.issues[0];
  const path = first?.path.length ? first.path.join('.') : where;
  return `invalid ${where}: ${path}: ${first?.message ?? 'invalid'}`;
}

/** The 400 of a value that failed its schema; `where` is path, query or body. */
export const invalidInput = (where: string, error: z.ZodError) => new ApiError(400, 'invalid_request', describe(where, error), problems(error));

export function parseWith<S extends z.ZodType>(schema: S, value: unknown, where: string): z.output<S> {
  const r = schema.safeParse(value);
  if (!r.success) throw invalidInput(where, r.error);
  return r.data;
}

/** JSON request bodies are small (a job spec, a runner's result); anything larger is refused unread. */
export const MAX_JSON_BYTES = limits.jsonBodyBytes;

/**
 * Reads a JSON body under the size cap: a body that isn't JSON is a 400 naming the problem, one
 * nested deeper than MAX_JSON_DEPTH a 400 before anything walks it, an empty body `undefined`.
 */
export async function readJson(c: Context): Promise<unknown> {
  const text = new TextDecoder().decode(await readBody(c.req.raw, MAX_JSON_BYTES));
  if (text.trim() === '') return undefined;
  if (nestsDeeperThan(text)) throw new ApiError(400, 'invalid_json', `request body nests deeper than ${MAX_JSON_DEPTH} levels`);
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new ApiError(400, 'invalid_json', `request body is not valid JSON: ${(err as Error).message}`);
  }
}

export async function parseJson<S extends z.ZodType>(c: Context, schema: S): Promise<z.output<S>> {
  return parseWith(schema, await readJson(c), 'body');
}
