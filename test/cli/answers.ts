/**
 * The API's answers as a loopback server in the CLI tests gives them: whole objects of the shared
 * response schemas, since the client parses every answer with them.
 */
import type { JobInfo } from '@polyprune/shared/api/jobs';

/** A job just queued with `spec` (what the CLI posted, echoed as the API stores it). */
export function queuedJob(spec: { kind: JobInfo['kind']; modelId: string }, id = 'job_1'): JobInfo {
  const now = '2026-01-01T00:00:00.000Z';
  return {
    id,
    owner: 'tester',
    kind: spec.kind,
    status: 'queued',
    spec: spec as JobInfo['spec'],
    modelId: spec.modelId,
    pair: null,
    sweepId: null,
    attempts: 0,
    maxAttempts: 3,
    progress: null,
    error: null,
    errorCode: null,
    runId: null,
    createdAt: now,
    startedAt: null,
    finishedAt: null,
    updatedAt: now,
  };
}
