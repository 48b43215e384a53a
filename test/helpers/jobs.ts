/** Jobs as the API answers them (whole objects of the shared JobInfo schema), for the Node tests' loopback servers. */
import type { JobInfo } from '@polyprune/shared/api/jobs';

type Spec = { kind: JobInfo['kind']; modelId: string } & Record<string, unknown>;

/**
 * A job with `spec` echoed as the API stores it, not yet started, finished or run (no progress,
 * error or run id); `fields` set whatever else a test needs (id, owner, status, attempts, times).
 */
export function jobInfo(spec: Spec, fields: Partial<JobInfo> = {}): JobInfo {
  const at = '2026-01-01T00:00:00Z';
  return {
    id: 'job_1',
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
    createdAt: at,
    startedAt: null,
    finishedAt: null,
    updatedAt: at,
    ...fields,
  };
}

/** A job as a runner leases it: running its first attempt. */
export const leasedJob = (spec: Spec): JobInfo => jobInfo(spec, { owner: 'admin', status: 'running', attempts: 1 });
