import { eq } from 'drizzle-orm';
import type { Context } from 'hono';
import { jobs } from '../db/schema';
import type { AppEnv } from '../env';
import { requireScope } from '../lib/auth';
import type { Db } from '../lib/db';
import { ApiError, notFound } from '../lib/errors';
import type { JobRow } from './store';

export const staleLease = (id: string) =>
  new ApiError(409, 'lease_lost', `the lease on job ${id} is no longer yours (expired and re-leased, canceled, or finished)`);

/** A lease token is good only with the runner token that took it (rows leased before that rule: any). */
export const holds = (job: JobRow, leaseToken: string, holder: string) =>
  job.leaseToken === leaseToken && (job.leaseHolder === null || job.leaseHolder === holder);

/** The runner token's id, to which its leases are bound. */
export const holderOf = (c: Context<AppEnv>) => requireScope(c.get('principal'), 'runner').tokenId;

/**
 * The job `holder` holds the lease `token` of, in whatever status it is now (a retried report
 * of a finished job is answered from it): 404 for an unknown job, 409 lease_lost unless it is theirs.
 */
export async function heldJob(db: Db, id: string, token: string, holder: string): Promise<JobRow> {
  const job = await db.query.jobs.findFirst({ where: eq(jobs.id, id) });
  if (!job) throw notFound('job');
  if (!holds(job, token, holder)) throw staleLease(id);
  return job;
}

/** As heldJob, and still running: what every call but a report needs. */
export async function leasedJob(db: Db, id: string, token: string, holder: string): Promise<JobRow> {
  const job = await heldJob(db, id, token, holder);
  if (job.status !== 'running') throw staleLease(id);
  return job;
}

/**
 * The job of a runner call that carries its lease in X-Lease-Token (downloads and uploads): 400
 * without the header, 404 for an unknown job, 409 lease_lost unless the lease is the caller's.
 */
export async function leaseOf(c: Context<AppEnv>, jobId: string): Promise<{ job: JobRow; token: string }> {
  const token = c.req.header('x-lease-token');
  if (!token) throw new ApiError(400, 'invalid_request', 'X-Lease-Token header is required');
  const job = await leasedJob(c.var.db, jobId, token, holderOf(c));
  return { job, token };
}
