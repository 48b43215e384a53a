/**
 * Answers of the list routes and boards, built once per change of what they read and kept in the
 * isolate's memory. Each answer names the `data_versions` keys it depends on (schema.ts; bumped by
 * triggers in the same transaction as the change), so a request costs one read of those few rows by
 * primary key — in the same D1 batch as the caller's token where there is one (lib/auth.ts) — and the
 * body is rebuilt only when one of them moved. The key also holds the caller's
 * visibility class (what `visibleTo` lets it read): an answer built for one class is never handed
 * to another. The ETag hashes the same key, so a client that sends it back gets a 304 with no body.
 */
import type { Context } from 'hono';
import type { AppEnv } from '../env';
import { canonicalJson } from './canonical-json';
import { sha256Hex } from './crypto';
import type { Db } from './db';
import { hasScope, type Principal } from './auth';
import { readVersions } from './data-versions';

export { boardVersionKeys } from './data-versions';

/**
 * Whose rows an answer may hold: everything (admin), or what one owner's caller sees (its own rows
 * with read scope; its own suites' names in any case), or public rows only (anonymous). Every input
 * of `visibleTo` and of the suite naming is in the class, so callers of one class read alike.
 */
export function visibilityClass(p: Principal | null): string {
  if (!p) return 'public';
  if (p.scopes.has('admin')) return 'admin';
  return `${hasScope(p, 'read') ? 'read' : 'noread'}:${p.owner}`;
}

interface Entry {
  body: string;
  /** the body gzipped once, for large answers (a board across models is megabytes of JSON) */
  gzip: Uint8Array | null;
  contentType: string;
  etag: string;
}

/** Bodies from this size on are kept gzipped too: compressed once per version, not per request. */
export const GZIP_FROM_CHARS = 8 * 1024;

async function gzipped(body: string): Promise<Uint8Array> {
  const stream = new Blob([body]).stream().pipeThrough(new CompressionStream('gzip'));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

const size = (e: Entry) => e.body.length + (e.gzip?.byteLength ?? 0);

/** A bound on the isolate's memory (128 MB in all): entries go least recently used first. */
export const MAX_CACHED_CHARS = 32 * 1024 * 1024;
const MAX_ENTRY_CHARS = MAX_CACHED_CHARS / 2;

const entries = new Map<string, Entry>();
let cachedChars = 0;
/** Requests that miss together build once: the first starts the build, the others await it. */
const building = new Map<string, Promise<Entry>>();

function remember(key: string, e: Entry) {
  if (size(e) > MAX_ENTRY_CHARS) return;
  const old = entries.get(key);
  if (old) cachedChars -= size(old);
  entries.delete(key);
  entries.set(key, e);
  cachedChars += size(e);
  for (const [k, v] of entries) {
    if (cachedChars <= MAX_CACHED_CHARS) break;
    entries.delete(k);
    cachedChars -= size(v);
  }
}

function recall(key: string): Entry | undefined {
  const e = entries.get(key);
  if (e) {
    // most recently used last: eviction walks from the front
    entries.delete(key);
    entries.set(key, e);
  }
  return e;
}

/** `If-None-Match: "a", W/"b"` (or `*`) against our strong tag; weak comparison, as RFC 9110 asks for GETs. */
export function matchesEtag(header: string | undefined, etag: string): boolean {
  if (!header) return false;
  if (header.trim() === '*') return true;
  const bare = (t: string) => t.trim().replace(/^W\//, '');
  return header.split(',').some((t) => bare(t) === bare(etag));
}

/** `Accept-Encoding: gzip, br;q=0.5`: gzip unless absent or given q=0. */
export function acceptsGzip(header: string | undefined): boolean {
  if (!header) return false;
  return header.split(',').some((part) => {
    const [coding, ...params] = part.trim().split(';');
    if (coding?.trim().toLowerCase() !== 'gzip' && coding?.trim() !== '*') return false;
    const qv = params.map((x) => /^\s*q=([0-9.]+)\s*$/i.exec(x)?.[1]).find((x) => x !== undefined);
    return qv === undefined || Number(qv) > 0;
  });
}

export interface Versioned {
  /** the route, so that two routes with the same query never share an entry */
  route: string;
  /** data_versions keys the answer reads */
  keys: string[];
  /** everything else the answer depends on (validated query, chosen export format) */
  query: unknown;
  /** the body and its type, built from D1 on a miss */
  build: () => Promise<{ body: string; contentType: string }>;
}

/**
 * The answer for `v`, from memory when its versions still hold, else built (and remembered). A
 * build that throws (404, 400) is not remembered: the next request tries again.
 */
export async function versionedAnswer(c: Context<AppEnv>, db: Db, v: Versioned): Promise<Response> {
  const versions = await readVersions(db, v.keys, c.get('versions'));
  const key = `${v.route}\u0000${visibilityClass(c.get('principal'))}\u0000${canonicalJson(v.query)}\u0000${versions}`;
  const headers = { 'Cache-Control': 'no-cache' };
  let e = recall(key);
  if (!e) {
    const etag = `"${(await sha256Hex(key)).slice(0, 32)}"`;
    // A matching tag needs no body: it was computed from the same versions and query for this class.
    if (matchesEtag(c.req.header('if-none-match'), etag)) return c.body(null, 304, { ...headers, ETag: etag });
    let pending = building.get(key);
    if (!pending) {
      pending = v
        .build()
        .then(async (b) => {
          const made = { ...b, gzip: b.body.length >= GZIP_FROM_CHARS ? await gzipped(b.body) : null, etag };
          remember(key, made);
          return made;
        })
        .finally(() => building.delete(key));
      building.set(key, pending);
    }
    e = await pending;
  }
  if (matchesEtag(c.req.header('if-none-match'), e.etag)) return c.body(null, 304, { ...headers, ETag: e.etag });
  const vary: Record<string, string> = e.gzip ? { Vary: 'Accept-Encoding' } : {};
  if (e.gzip && acceptsGzip(c.req.header('accept-encoding'))) {
    // Sent as stored: 'manual' keeps the runtime from compressing the bytes a second time.
    return new Response(e.gzip, {
      status: 200,
      headers: { ...headers, ...vary, 'Content-Type': e.contentType, 'Content-Encoding': 'gzip', ETag: e.etag },
      encodeBody: 'manual',
    });
  }
  return c.body(e.body, 200, { ...headers, ...vary, 'Content-Type': e.contentType, ETag: e.etag });
}
