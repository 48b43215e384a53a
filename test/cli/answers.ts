/**
 * The API's answers as a loopback server in the CLI tests gives them: whole objects of the shared
 * response schemas, since the client parses every answer with them.
 */
import type { JobInfo } from '@polyprune/shared/api/jobs';
import { jobInfo } from '../helpers/jobs';

/** A job just queued with `spec` (what the CLI posted, echoed as the API stores it). */
export function queuedJob(spec: { kind: JobInfo['kind']; modelId: string }, id = 'job_1'): JobInfo {
  const now = '2026-01-01T00:00:00.000Z';
  return jobInfo(spec, { id, createdAt: now, updatedAt: now });
}
