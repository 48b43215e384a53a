/**
 * Job inputs cached on disk by content (sha256), shared across jobs and across runners that share
 * a work directory. A file enters the cache only after its hash was verified, and only by an atomic
 * rename, so a file present under its hash is a verified copy; a crashed download leaves a temp file
 * that the next sweep removes.
 */
import { randomBytes } from 'node:crypto';
import { link, mkdir, readdir, rename, rm, stat, symlink, utimes } from 'node:fs/promises';
import path from 'node:path';

export interface CacheEntry {
  sha256: string;
  path: string;
  size: number;
  /** true when the file was already cached (no download happened) */
  hit: boolean;
}

/** Writes the content to `tmpPath` and returns its sha256 as computed while writing. */
export type Fetcher = (tmpPath: string) => Promise<{ sha256: string; size: number }>;

const HEX64 = /^[0-9a-f]{64}$/;

export class InputCache {
  readonly dir: string;
  private readonly inflight = new Map<string, Promise<CacheEntry>>();

  constructor(
    root: string,
    /** Least recently used entries are evicted past this many bytes (0: never). */
    private readonly maxBytes = 0,
  ) {
    this.dir = path.join(root, 'sha256');
  }

  pathOf(sha256: string): string {
    if (!HEX64.test(sha256)) throw new Error(`not a sha256: ${sha256}`);
    return path.join(this.dir, sha256);
  }

  async has(sha256: string, size?: number): Promise<boolean> {
    const st = await stat(this.pathOf(sha256)).catch(() => null);
    return !!st && (size === undefined || st.size === size);
  }

  /**
   * The cached file for `sha256`, fetching it when missing. The fetcher's hash is checked against
   * the expected one before the file is admitted; a mismatch throws and caches nothing.
   */
  async get(sha256: string, size: number | undefined, fetcher: Fetcher): Promise<CacheEntry> {
    const pending = this.inflight.get(sha256);
    if (pending) return pending;
    const p = this.load(sha256, size, fetcher).finally(() => this.inflight.delete(sha256));
    this.inflight.set(sha256, p);
    return p;
  }

  private async load(sha256: string, size: number | undefined, fetcher: Fetcher): Promise<CacheEntry> {
    const file = this.pathOf(sha256);
    const st = await stat(file).catch(() => null);
    if (st && (size === undefined || st.size === size)) {
      // mtime marks recent use for eviction
      const now = new Date();
      await utimes(file, now, now).catch(() => undefined);
      return { sha256, path: file, size: st.size, hit: true };
    }
    await mkdir(this.dir, { recursive: true });
    const tmp = path.join(this.dir, `.tmp-${sha256.slice(0, 16)}-${process.pid}-${randomBytes(4).toString('hex')}`);
    try {
      const got = await fetcher(tmp);
      if (got.sha256 !== sha256) throw new Error(`cache: content hashes to ${got.sha256}, expected ${sha256}`);
      const real = await stat(tmp);
      if (size !== undefined && real.size !== size) throw new Error(`cache: ${real.size} bytes, expected ${size}`);
      await rename(tmp, file);
      if (this.maxBytes > 0) await this.evict(sha256);
      return { sha256, path: file, size: real.size, hit: false };
    } catch (err) {
      await rm(tmp, { force: true });
      throw err;
    }
  }

  /**
   * Places a cached file at `dest` under the name a job expects (model.onnx next to its external
   * data file). A hard link costs nothing; a symlink is the fallback across file systems.
   */
  async materialize(sha256: string, dest: string): Promise<void> {
    await mkdir(path.dirname(dest), { recursive: true });
    await rm(dest, { force: true });
    try {
      await link(this.pathOf(sha256), dest);
    } catch {
      await symlink(this.pathOf(sha256), dest);
    }
  }

  /** Removes leftovers of interrupted downloads (older than `olderThanMs`). */
  async sweepTemp(olderThanMs = 60 * 60 * 1000): Promise<number> {
    const names = await readdir(this.dir).catch(() => [] as string[]);
    let removed = 0;
    for (const n of names) {
      if (!n.startsWith('.tmp-')) continue;
      const st = await stat(path.join(this.dir, n)).catch(() => null);
      if (st && Date.now() - st.mtimeMs > olderThanMs) {
        await rm(path.join(this.dir, n), { force: true });
        removed++;
      }
    }
    return removed;
  }

  /** Drops least recently used entries until the cache fits, never the one just added. */
  async evict(keep?: string): Promise<string[]> {
    const names = (await readdir(this.dir).catch(() => [] as string[])).filter((n) => HEX64.test(n));
    const entries = (
      await Promise.all(
        names.map(async (n) => {
          const st = await stat(path.join(this.dir, n)).catch(() => null);
          return st ? { n, size: st.size, used: st.mtimeMs } : null;
        }),
      )
    ).filter((e): e is { n: string; size: number; used: number } => e !== null);
    let total = entries.reduce((a, e) => a + e.size, 0);
    const removed: string[] = [];
    for (const e of entries.sort((a, b) => a.used - b.used)) {
      if (total <= this.maxBytes) break;
      if (e.n === keep) continue;
      // Hard links held by a running job keep their data alive; removing the name is safe.
      await rm(path.join(this.dir, e.n), { force: true });
      total -= e.size;
      removed.push(e.n);
    }
    return removed;
  }
}
