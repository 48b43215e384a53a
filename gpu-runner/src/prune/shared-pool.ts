/**
 * SharedArrayBuffers reused across layers by threaded mask selection (mask-threads.ts). A dropped
 * SharedArrayBuffer is freed only once every thread that saw it has collected its garbage, which
 * with the workers' small heaps comes late: one new buffer per layer left 100–230 MB more resident
 * than one thread did over 48 layers of XGLM-564M's widths (measured), and it grows with the layers.
 * Reused, they cost about the largest layer in flight; after a second without use they are dropped.
 */
export class SharedPool {
  private free: SharedArrayBuffer[] = [];
  private timer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    private readonly maxFree = 4,
    private readonly idleMs = 1000,
  ) {}

  /** A buffer of at least `bytes` bytes (the smallest free one that is large enough, else a new one). */
  take(bytes: number): SharedArrayBuffer {
    let best = -1;
    for (let i = 0; i < this.free.length; i++) {
      const size = this.free[i]!.byteLength;
      if (size >= bytes && (best < 0 || size < this.free[best]!.byteLength)) best = i;
    }
    return best >= 0 ? this.free.splice(best, 1)[0]! : new SharedArrayBuffer(bytes);
  }

  /** Back for reuse: the caller and every thread it lent the buffer to are done with it. */
  give(buf: SharedArrayBuffer): void {
    this.free.push(buf);
    if (this.free.length > this.maxFree) {
      this.free.sort((a, b) => b.byteLength - a.byteLength);
      this.free.length = this.maxFree;
    }
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.free = [];
    }, this.idleMs);
    this.timer.unref();
  }

  /** Drops every free buffer now. */
  clear(): void {
    clearTimeout(this.timer);
    this.free = [];
  }

  /** Bytes held for reuse now. */
  get freeBytes(): number {
    return this.free.reduce((s, b) => s + b.byteLength, 0);
  }
}
