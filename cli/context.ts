/** What every command needs: the API client, output mode, and the exit-code conventions. */
import { type Command, InvalidArgumentError } from 'commander';
import { PolypruneApi } from './api';
import { resolveConfig } from './config';

/** Exit codes: 0 ok, 1 the API said no (or could not be reached, or a job failed), 2 usage. */
export const EXIT = { ok: 0, api: 1, usage: 2 } as const;

/** Wrong or missing arguments that commander cannot see (e.g. a file that does not exist). */
export class UsageError extends Error {
  override name = 'UsageError';
}

export interface GlobalOptions {
  url?: string;
  token?: string;
  json?: boolean;
}

export function globals(cmd: Command): GlobalOptions {
  return cmd.optsWithGlobals() as GlobalOptions;
}

export async function apiFor(cmd: Command): Promise<PolypruneApi> {
  const g = globals(cmd);
  const { url, token } = await resolveConfig(g);
  if (!token) throw new UsageError('no token: run `polyprune login --url URL --token TOKEN` or set POLYPRUNE_TOKEN');
  return new PolypruneApi({ baseUrl: url, token, retry: { retries: 3 } });
}

/** Prints `data` as JSON with --json, else the human text (when given) or JSON. */
export function emit(cmd: Command, data: unknown, text?: () => string): void {
  if (globals(cmd).json || !text) process.stdout.write(`${JSON.stringify(data, null, 2)}\n`);
  else process.stdout.write(`${text()}\n`);
}

/** Number parsing for commander options, with a usage error that names the option. */
export const num = (name: string) => (v: string) => {
  const n = Number(v);
  if (!Number.isFinite(n)) throw new InvalidArgumentError(`${name} must be a number, got "${v}"`);
  return n;
};

export const collect = (v: string, prev: string[] = []) => [...prev, v];
