/**
 * Every `error.code` the API answers, one closed set: the worker cannot throw a code outside it (a
 * type error), and the runner and CLI compare against the same names. New codes are added here.
 */
import { z } from 'zod';

export const errorCodes = [
  // requests
  'invalid_request',
  'invalid_json',
  'empty_body',
  'invalid_range',
  'range_not_satisfiable',
  'payload_too_large',
  'length_required',
  'unauthorized',
  'forbidden',
  'not_found',
  'conflict',
  'rate_limited',
  'http_error',
  'internal',
  // datasets
  'invalid_lines',
  'too_many_invalid_lines',
  'no_valid_lines',
  'too_many_lines',
  'unknown_language',
  'invalid_multipart',
  'unknown_part',
  'missing_part',
  'line_count_mismatch',
  'src_equals_tgt',
  'no_original',
  // models and uploads
  'hash_mismatch',
  'invalid_onnx',
  'unusable_graph',
  'unknown_file',
  'no_parts',
  'upload_incomplete',
  // jobs
  'idempotency_key_reused',
  'not_cancelable',
  'sweep_too_large',
  'nothing_to_analyze',
  'analysis_too_large',
  'unknown_model',
  'incomplete_model',
  'unsupported_model',
  'unknown_corpus',
  'unknown_suite',
  'unknown_run',
  'unknown_job',
  'calibration_required',
  'pattern_sparsity_mismatch',
  'option_not_applicable',
  'contrast_required',
  'unexpected_contrast',
  'corpus_pair_mismatch',
  'duplicate_reference',
  'job_model_mismatch',
  'not_a_prune_job',
  'not_a_prune_run',
  'run_model_mismatch',
  'different_model_bytes',
  'different_layers',
  'no_masks',
  'nothing_to_compare',
  // runner protocol
  'lease_lost',
  'missing_artifact',
  'unknown_artifact',
  'invalid_artifact',
  'unexpected_scores',
  'duplicate_score',
  'invalid_analysis',
  'analysis_runs_mismatch',
] as const;
export const errorCode = z.enum(errorCodes);
export type ErrorCode = z.infer<typeof errorCode>;

/** Why a runner gave a job up, sent with POST /v1/runner/jobs/{id}/fail and shown on the job. */
export const runnerFailureCodes = ['unsupported_model', 'out_of_memory', 'shutting_down', 'input_mismatch', 'corrupt_input', 'internal'] as const;
export const runnerFailureCode = z.enum(runnerFailureCodes);
export type RunnerFailureCode = z.infer<typeof runnerFailureCode>;
