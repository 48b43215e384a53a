import type { PruneJobSpec } from '@polyprune/shared/api/jobs';
import { ApiError } from '../lib/errors';

/**
 * Combinations of prune-job fields the schema alone cannot refuse, each named by its field. The
 * answer has the shape of a schema failure (400 invalid_request, details [{path, message}]): these
 * are malformed requests, found before anything is looked up.
 */
export function pruneSpecProblems(spec: PruneJobSpec): { path: string; message: string }[] {
  const out: { path: string; message: string }[] = [];
  const cal = spec.calibration;
  if (cal) {
    if ((cal.corpusId === undefined) === (cal.corpora === undefined)) {
      out.push({ path: 'calibration.corpusId', message: 'give exactly one of calibration.corpusId (one corpus) and calibration.corpora (a mix)' });
    }
    if (cal.corpora) {
      const ids = cal.corpora.map((c) => c.corpusId);
      const twice = ids.filter((id, i) => ids.indexOf(id) !== i);
      if (twice.length) out.push({ path: 'calibration.corpora', message: `lists ${[...new Set(twice)].join(', ')} more than once` });
      if (cal.dataType === 'mt-contrast') {
        out.push({
          path: 'calibration.corpora',
          message: 'a mix of corpora calibrates dataType "mt" or "mono"; "mt-contrast" takes one corpusId and its contrastCorpusId',
        });
      }
      if (cal.pair) out.push({ path: 'calibration.pair', message: 'pair guards a single corpus; a mix holds several pairs' });
    }
  }
  const ls = spec.layerSparsity;
  if (ls?.kind === 'owl') {
    if (spec.method === 'random')
      out.push({ path: 'layerSparsity', message: 'layerSparsity "owl" weighs blocks by their Wanda-score outliers; method "random" has no scores to weigh' });
    if (spec.pattern !== 'unstructured') {
      out.push({ path: 'layerSparsity', message: `layerSparsity gives each block its own sparsity; pattern ${spec.pattern} fixes it at ${spec.sparsity}` });
    }
    if (ls.lambda >= spec.sparsity) {
      out.push({
        path: 'layerSparsity.lambda',
        message: `lambda ${ls.lambda} must be below sparsity ${spec.sparsity} (blocks would be pruned at sparsity ≤ 0)`,
      });
    }
    if (spec.sparsity + ls.lambda >= 1) {
      out.push({ path: 'layerSparsity.lambda', message: `sparsity + lambda = ${spec.sparsity + ls.lambda} must be below 1 (blocks would be pruned entirely)` });
    }
  }
  return out;
}

export function assertPruneSpec(spec: PruneJobSpec): void {
  const problems = pruneSpecProblems(spec);
  if (!problems.length) return;
  const first = problems[0]!;
  throw new ApiError(400, 'invalid_request', `invalid body: ${first.path}: ${first.message}`, problems);
}
