/** The runner's view of the API contract: schemas and types from shared/, re-exported once. */
import type { z } from 'zod';
import { type artifactInfo, type jobInput, leaseResponse, type progress, runResult } from '@polyprune/shared/api/jobs';

export { leaseResponse, runResult };
export type { JobInfo, JobSpec, LeaseResponse, RunResult, ScoreRow } from '@polyprune/shared/api/jobs';
export type ArtifactInfoT = z.infer<typeof artifactInfo>;
export type ProgressT = z.infer<typeof progress>;
export type JobInputT = z.infer<typeof jobInput>;
