/**
 * Versions of what the cached answers read (`data_versions`, bumped by triggers in the same
 * transaction as each change) and which keys each cached GET route depends on, so that the caller's
 * token and those versions come back in one D1 round trip (lib/auth.ts) instead of two.
 */
import { inArray } from 'drizzle-orm';
import { dataVersions } from '../db/schema';
import type { Db } from './db';

/** A board reads scores, runs and models (one model's, or every one's) and suite names. */
export const boardVersionKeys = (model: string | null) => [model ? `model:${model}` : 'boards', 'suites'];

/** The keys a cached GET route will ask for, from its path and query; null for every other request. */
export function versionKeysOfRequest(method: string, url: string): string[] | null {
  if (method !== 'GET') return null;
  const u = new URL(url);
  switch (u.pathname) {
    case '/v1/leaderboards':
    case '/v1/leaderboards/sparsity':
    case '/v1/leaderboards/methods':
      return boardVersionKeys(u.searchParams.get('model') || null);
    case '/v1/models':
      return ['models'];
    case '/v1/runs':
      return ['runs'];
    default:
      return null;
  }
}

export const versionsQuery = (db: Db, keys: string[]) => db.select().from(dataVersions).where(inArray(dataVersions.key, keys));

/** "boards=3f…,suites=0": a key never bumped reads as "0" (nothing it covers has changed). */
export function formatVersions(keys: string[], rows: { key: string; version: string }[]): string {
  const got = new Map(rows.map((r) => [r.key, r.version]));
  return keys.map((k) => `${k}=${got.get(k) ?? '0'}`).join(',');
}

/** Versions read together with the caller's token, for the route to use instead of reading them again. */
export interface PrefetchedVersions {
  keys: string;
  versions: string;
}

export async function readVersions(db: Db, keys: string[], prefetched?: PrefetchedVersions): Promise<string> {
  if (prefetched && prefetched.keys === keys.join(',')) return prefetched.versions;
  return formatVersions(keys, await versionsQuery(db, keys));
}
