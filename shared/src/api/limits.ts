/**
 * Every size and count limit of the API in one place: the worker enforces these values and the
 * OpenAPI document states them (info["x-limits"] and the routes' descriptions).
 */
export const limits = {
  /** JSON request bodies (jobs, sweeps, tokens, runner reports) */
  jsonBodyBytes: 1024 * 1024,
  /** nesting of arrays/objects in a JSON body or a JSONL line */
  jsonDepth: 32,
  /** one corpus or suite upload */
  datasetBytes: 50 * 1024 * 1024,
  /**
   * a two-file corpus form (src and tgt parts together): read whole, since the tgt part arrives only
   * after all of src, and it must fit a Worker's memory with its parsed copy (FLORES devtest: ~0.3 MiB a file)
   */
  twoFileFormBytes: 16 * 1024 * 1024,
  /** one line of a corpus or suite */
  lineBytes: 256 * 1024,
  /** lines of one corpus or suite upload */
  datasetLines: 1_000_000,
  /** problems listed in an answer; a rejected upload stops validating at the last */
  problemsListed: 100,
  /** bad lines an onError=skip upload may have before validation stops */
  badLinesSkipped: 10_000,
  /** one model file or runner artifact in a single PUT; larger ones use multipart */
  singlePutBytes: 95 * 1024 * 1024,
  /**
   * a JSON artifact of a run (lmf.json, analysis.json): checked whole against its schema at
   * completion, where its text, the parsed value and the schema's copy of it are in memory together
   * for one synchronous stretch (~2.3× the file). Measured in workerd with the heap capped at idle +
   * 64 MiB: 21 MiB fits, 31 MiB does not (test/e2e/upload-memory.test.ts), hence 16 MiB, not 32.
   */
  jsonArtifactBytes: 16 * 1024 * 1024,
  /** one multipart part (R2 wants ≥ 5 MiB for all but the last) */
  partBytes: 100 * 1024 * 1024,
  /** a multipart upload not completed in this time is aborted by the cron */
  uploadTtlHours: 24,
} as const;
