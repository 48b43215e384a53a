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
