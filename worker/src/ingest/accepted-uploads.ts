/**
 * What the small uploads this isolate accepted parsed to, by the sha256 of their bytes and every
 * option that steers the parse. The parse is a function of those alone, so the same file sent again
 * (a retry, a script that uploads its corpus on every run) is not parsed again. Nothing here says
 * what is stored: the route inserts the row only where D1 shows both objects referenced already
 * (insertIfStored), and otherwise parses and stores the upload as a new one.
 */

/** Entries are a few KiB (stats, up to 100 listed problems); the latest ones are kept. */
export const MAX_ACCEPTED = 64;

export class AcceptedUploads<V> {
  private readonly entries = new Map<string, V>();
  constructor(private readonly max = MAX_ACCEPTED) {}

  get size(): number {
    return this.entries.size;
  }

  get(key: string): V | undefined {
    const v = this.entries.get(key);
    if (v !== undefined) {
      // most recently used last: the first key is the one to drop
      this.entries.delete(key);
      this.entries.set(key, v);
    }
    return v;
  }

  set(key: string, v: V): void {
    this.entries.delete(key);
    this.entries.set(key, v);
    if (this.entries.size > this.max) this.entries.delete(this.entries.keys().next().value!);
  }
}

/** The key of an upload: its bytes' hash and each option, joined unambiguously (JSON of the list). */
export const uploadKey = (sha256: string, options: ReadonlyArray<string | boolean | null | undefined>): string => JSON.stringify([sha256, ...options]);
