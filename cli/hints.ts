/** What the command line says when a flag is plausible but wrong: the fix, not only the refusal. */
import { existsSync } from 'node:fs';
import { InvalidArgumentError } from 'commander';
import { ApiRequestError } from '@polyprune/shared/http';

/** --sparsity is a fraction; "50" is someone thinking in percent. */
export const sparsityArg = (name: string) => (v: string) => {
  const n = Number(v);
  if (!Number.isFinite(n)) throw new InvalidArgumentError(`${name} must be a number, got "${v}"`);
  if (n >= 1 && n <= 100) throw new InvalidArgumentError(`${name} is the fraction of weights to drop: did you mean ${n / 100}?`);
  if (n <= 0 || n > 100) throw new InvalidArgumentError(`${name} must be between 0 and 1 (a fraction), got ${v}`);
  return n;
};

/** Flags that only mean something when pruning; `evaluate` names them instead of dropping them. */
export const PRUNE_ONLY = ['samples', 'shots', 'maxLength', 'maskPadding', 'direction', 'mode', 'pattern'] as const;

const flag = (k: string) => `--${k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;

/** The prune-only flags given on an evaluate command line, as typed ("--max-length"). */
export function pruneOnlyFlags(given: (key: string) => boolean): string[] {
  return PRUNE_ONLY.filter(given).map(flag);
}

/**
 * unknown_corpus for something that is a file (or reads like a path): the job wants a corpus id,
 * and the file has to be uploaded first.
 */
export function corpusHint(err: unknown, corpora: string[]): unknown {
  if (!(err instanceof ApiRequestError) || err.code !== 'unknown_corpus') return err;
  const path = corpora.find((c) => existsSync(c) || /[/\\]|\.(tsv|jsonl|txt|json)$/i.test(c));
  if (!path) return err;
  return new ApiRequestError(
    err.status,
    err.code,
    `${err.message.slice(`${err.status} ${err.code}: `.length)}: "${path}" is a file, not a corpus id: upload it first: polyprune corpora upload ${path} --src <lang> --tgt en, then pass the id it prints (polyprune corpora list shows them)`,
    err.details,
  );
}
