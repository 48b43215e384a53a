import type { Context } from 'hono';
import type { z } from 'zod';
import { ApiError } from './errors';

function problems(error: z.ZodError) {
  return error.issues.map((i) => ({ path: i.path.join('.'), message: i.message }));
}

function describe(where: string, error: z.ZodError): string {
  const first = error.issues[0];
  const path = first?.path.length ? first.path.join('.') : where;
  return `invalid ${where}: ${path}: ${first?.message ?? 'invalid'}`;
}

export function parseWith<S extends z.ZodType>(schema: S, value: unknown, where: string): z.output<S> {
  const r = schema.safeParse(value);
  if (!r.success) throw new ApiError(400, 'invalid_request', describe(where, r.error), problems(r.error));
  return r.data;
}

export function parseQuery<S extends z.ZodType>(c: Context, schema: S): z.output<S> {
  return parseWith(schema, c.req.query(), 'query');
}

export function parseParams<S extends z.ZodType>(c: Context, schema: S): z.output<S> {
  return parseWith(schema, c.req.param(), 'path');
}

/** JSON bodies: a body that isn't JSON is a 400 naming the problem, not an exception. */
export async function parseJson<S extends z.ZodType>(c: Context, schema: S): Promise<z.output<S>> {
  const text = await c.req.text();
  let value: unknown;
  if (text.trim() === '') value = undefined;
  else {
    try {
      value = JSON.parse(text);
    } catch (err) {
      throw new ApiError(400, 'invalid_json', `request body is not valid JSON: ${(err as Error).message}`);
    }
  }
  return parseWith(schema, value, 'body');
}
