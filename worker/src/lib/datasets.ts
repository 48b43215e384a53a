import { limits } from '@polyprune/shared/api/limits';
import { normaliseLanguage } from '@polyprune/shared/languages';
import { ApiError } from './errors';
import { MAX_BAD_LINES, type Problems } from '../ingest/lines';

/** Corpora and suites share one upload limit; larger data belongs in several uploads. */
export const MAX_DATASET_BYTES = limits.datasetBytes;

/**
 * Default policy rejects the whole upload when any line is bad (listing the first 100 problems;
 * validation stops at the 100th); `onError=skip` keeps the good lines, up to MAX_BAD_LINES bad
 * ones. Either way an upload with nothing usable is refused.
 */
export function enforceLinePolicy(problems: Problems, kept: number, stoppedAt: number | null, what: string) {
  const details = { problems: problems.listed, total: problems.total, ...(stoppedAt !== null ? { stoppedAtLine: stoppedAt } : {}) };
  const stopped = stoppedAt !== null ? ` (validation stopped at line ${stoppedAt})` : '';
  if (problems.total > 0 && problems.onError === 'reject') {
    const first = problems.listed[0]!;
    const count = stoppedAt !== null ? `at least ${problems.total}` : String(problems.total);
    // onError=reject is what refuses control characters; without it they are stripped, not skipped.
    if (problems.byReason.control_chars === problems.total) {
      throw new ApiError(
        422,
        'invalid_lines',
        `${count} line(s) with control characters; first at line ${first.line}: ${first.message}${stopped}. Fix them, or upload without onError=reject: control characters are then stripped and counted (stats.controlChars), and the lines kept`,
        details,
      );
    }
    throw new ApiError(
      422,
      'invalid_lines',
      `${count} invalid line(s); first at line ${first.line}: ${first.message}${stopped}. Fix them or pass ?onError=skip`,
      details,
    );
  }
  if (stoppedAt !== null) {
    throw new ApiError(422, 'too_many_invalid_lines', `more than ${MAX_BAD_LINES} invalid lines${stopped}; first at line ${problems.listed[0]!.line}`, details);
  }
  if (kept === 0) throw new ApiError(422, 'no_valid_lines', `the upload contains no valid ${what}`, details);
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

/**
 * A TSV file whose every line lacks its tab but has runs of spaces: one cause, so one problem with
 * the fix instead of a problem per line.
 */
export function spacesNotTabs(lines: number, stoppedAt: number | null): ApiError {
  const read = stoppedAt !== null ? `the first ${lines} lines` : `all ${lines} lines`;
  const message = `looks like spaces, not tabs: ${read} have runs of spaces and no tab between source and target (an editor may have replaced the tabs). Save the file with one tab per line, or upload JSONL {"src", "tgt"}`;
  return new ApiError(422, 'invalid_lines', message, { problems: [{ line: 1, reason: 'spaces_not_tabs', message }], total: 1 });
}
