import { normaliseLanguage } from '../../../shared/src/languages';
import { ApiError } from './errors';
import type { LineProblem } from '../../../shared/src/api/corpora';
import { MAX_PROBLEMS_LISTED } from '../ingest/lines';

/** Corpora and suites share one upload limit; larger data belongs in several uploads. */
export const MAX_DATASET_BYTES = 50 * 1024 * 1024;

/**
 * Default policy rejects the whole upload when any line is bad (listing the first 100 problems);
 * `onError=skip` keeps the good lines. Either way an upload with nothing usable is refused.
 */
export function enforceLinePolicy(problems: LineProblem[], kept: number, onError: 'reject' | 'skip', what: string) {
  if (problems.length > 0 && onError === 'reject') {
    const first = problems[0]!;
    throw new ApiError(
      422,
      'invalid_lines',
      `${problems.length} invalid line(s); first at line ${first.line}: ${first.message}. Fix them or pass ?onError=skip`,
      {
        problems: problems.slice(0, MAX_PROBLEMS_LISTED),
        total: problems.length,
      },
    );
  }
  if (kept === 0) {
    throw new ApiError(422, 'no_valid_lines', `the upload contains no valid ${what}`, {
      problems: problems.slice(0, MAX_PROBLEMS_LISTED),
      total: problems.length,
    });
  }
}

/** Which lines policy an upload's onError asks for; unset keeps bad lines fatal but strips control characters. */
export function linePolicy(onError: 'reject' | 'skip' | undefined): { policy: 'reject' | 'skip'; strict: boolean } {
  return { policy: onError ?? 'reject', strict: onError === 'reject' };
}

/**
 * A language code as uploaded → its canonical code and usual script; a language the calibration
 * template cannot name is refused here rather than failing the job later.
 */
export function uploadLanguage(code: string, param: string): { given: string; canonical: string; script: string } {
  const n = normaliseLanguage(code);
  if ('error' in n) throw new ApiError(422, 'unknown_language', `${param}: ${n.error}`, { param, code });
  return { given: code, canonical: n.canonical, script: n.script };
}

/** List filters accept any spelling of a code and compare canonical codes. */
export function canonicalFilter(code: string | undefined): string | undefined {
  if (code === undefined) return undefined;
  const n = normaliseLanguage(code);
  return 'error' in n ? code : n.canonical;
}
