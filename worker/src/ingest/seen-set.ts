/**
 * Which texts an upload has already seen (duplicate rows), in bounded memory: a Set of a million
 * pair strings would hold the whole corpus again, so only a 64-bit hash of each key is kept, in an
 * open-addressed table of two Uint32 halves (8 bytes a slot; at most 3/4 full, so 1,000,000 lines
 * take 16 MiB at most, and a small upload a few KiB).
 *
 * Collision rule: two different keys with the same 64-bit hash count as duplicates, so the second
 * one is dropped (corpus) or counted as a duplicate (suite). Among the 10^6 keys the line limit
 * allows, the chance of any such collision is about n^2 / 2^65 ≈ 3 × 10^-8: negligible.
 */

/**
 * Two independent 32-bit lanes over the UTF-16 code units (cyrb53's mixing, kept to 64 bits); a
 * second text is hashed as if it followed the first after a U+0000 (no joined copy is made).
 */
export function hash64(text: string, then?: string): [number, number] {
  let h1 = 0xdeadbeef;
  let h2 = 0x41c6ce57;
  for (let i = 0; i < text.length; i++) {
    const ch = text.charCodeAt(i);
    h1 = Math.imul(h1 ^ ch, 2654435761);
    h2 = Math.imul(h2 ^ ch, 1597334677);
  }
  if (then !== undefined) {
    h1 = Math.imul(h1, 2654435761);
    h2 = Math.imul(h2, 1597334677);
    for (let i = 0; i < then.length; i++) {
      const ch = then.charCodeAt(i);
      h1 = Math.imul(h1 ^ ch, 2654435761);
      h2 = Math.imul(h2 ^ ch, 1597334677);
    }
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507);
  h1 ^= Math.imul(h2 ^ (h2 >>> 13), 3266489909);
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507);
  h2 ^= Math.imul(h1 ^ (h1 >>> 13), 3266489909);
  return [h1 >>> 0, h2 >>> 0];
}

export class SeenSet {
  private slots: Uint32Array;
  private mask: number;
  size = 0;

  constructor(capacity = 1024) {
    this.slots = new Uint32Array(capacity * 2);
    this.mask = capacity - 1;
  }

  /** Adds the key (`then` appended to it as a second field); false when it, or a key of the same 64-bit hash, was there already. */
  add(key: string, then?: string): boolean {
    let [a, b] = hash64(key, then);
    // (0, 0) marks an empty slot
    if (a === 0 && b === 0) b = 1;
    if (!this.insert(a, b)) return false;
    this.size++;
    if (this.size * 4 > (this.mask + 1) * 3) this.grow();
    return true;
  }

  private insert(a: number, b: number): boolean {
    const s = this.slots;
    for (let i = (a ^ Math.imul(b, 0x9e3779b1)) & this.mask; ; i = (i + 1) & this.mask) {
      const x = s[2 * i]!;
      const y = s[2 * i + 1]!;
      if (x === 0 && y === 0) {
        s[2 * i] = a;
        s[2 * i + 1] = b;
        return true;
      }
      if (x === a && y === b) return false;
    }
  }

  private grow() {
    const old = this.slots;
    this.slots = new Uint32Array(old.length * 2);
    this.mask = old.length - 1;
    for (let i = 0; i < old.length; i += 2) if (old[i] !== 0 || old[i + 1] !== 0) this.insert(old[i]!, old[i + 1]!);
  }
}
