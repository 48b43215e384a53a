/**
 * One shared WebAssembly memory holding what mask selection reads and writes: a block's weights
 * (calibrate/feed-weights.ts), scores, masks, and each mask thread's scratch. The selection kernel
 * (mask-tile.ts) imports it, so every thread works on the weights in place: copying a tile in and
 * its mask out cost more than selecting it (~5 of ~8.5 ns a weight, measured).
 *
 * Space is taken by bumping a pointer and handed out again through a free list (`take`/`give`):
 * the same few shapes recur layer after layer, and a WebAssembly memory cannot shrink anyway. The
 * whole heap goes at once (dropHeap, when a job's masks are chosen); arrays still in use keep their
 * memory alive until they are collected. Past wasm32's 4 GiB nothing more is taken from it:
 * held weights then stay plain SharedArrayBuffers (sharedArray, which leaves a reserve free for
 * selection), and selection copies such a layer in a slab of neurons at a time (mask-threads.ts).
 */
const PAGE = 65536;
/** wasm32's whole address space; only what is touched becomes resident. */
export const HEAP_MAX_BYTES = 65536 * PAGE;
/** What sharedArray leaves free for selection's copies, masks and scratch (an eighth of a smaller heap). */
const RESERVE_BYTES = 512 << 20;
/** The kernel module's own (it declares no data or stack; kept free all the same). */
const RESERVED = PAGE;

let heaps = 0;

export class WasmHeap {
  readonly memory: WebAssembly.Memory;
  /** Tells the threads' kernels which memory they hold. */
  readonly id = ++heaps;
  private top = RESERVED;
  /** Every buffer object of this memory views were made on (a new one after each growth). */
  private readonly buffers = new WeakSet<ArrayBufferLike>();
  /** Capacity of every region handed out by `take`, by offset; those free for reuse. */
  private readonly capacity = new Map<number, number>();
  private free: number[] = [];

  /** `maxBytes`: the most it may grow to (tests give a small one). */
  constructor(readonly maxBytes = HEAP_MAX_BYTES) {
    this.memory = new WebAssembly.Memory({ initial: 2, maximum: Math.ceil(maxBytes / PAGE), shared: true });
  }

  /**
   * A fresh 64-byte-aligned region of `bytes` bytes, followed by 64 bytes of slack (a kernel reads
   * a row's last 16-lane group whole), or undefined when the heap cannot hold it with `keepFree`
   * bytes to spare.
   */
  alloc(bytes: number, keepFree = 0): number | undefined {
    const at = this.top;
    const end = at + Math.ceil(bytes / 64) * 64 + 64;
    if (end + keepFree > this.maxBytes) return undefined;
    const size = this.memory.buffer.byteLength;
    if (end > size) {
      try {
        this.memory.grow(Math.ceil((end - size) / PAGE));
      } catch {
        return undefined; // the machine would not reserve more
      }
    }
    this.top = end;
    return at;
  }

  /** The memory's buffer now, remembered as this heap's. */
  buffer(): SharedArrayBuffer {
    const b = this.memory.buffer as SharedArrayBuffer;
    this.buffers.add(b);
    return b;
  }

  /** Byte offset of `a` in this heap, or undefined when it lies elsewhere. */
  offsetOf(a: ArrayBufferView): number | undefined {
    return this.buffers.has(a.buffer) ? a.byteOffset : undefined;
  }

  /**
   * `bytes` bytes in a free region large enough (the smallest), else in a new one; undefined when
   * the heap is full. Contents undefined.
   */
  take(bytes: number, keepFree = 0): Uint8Array | undefined {
    let best = -1;
    for (let i = 0; i < this.free.length; i++) {
      const size = this.capacity.get(this.free[i]!)!;
      if (size >= bytes && (best < 0 || size < this.capacity.get(this.free[best]!)!)) best = i;
    }
    let at: number | undefined;
    if (best >= 0) at = this.free.splice(best, 1)[0]!;
    else {
      at = this.alloc(bytes, keepFree);
      if (at === undefined) return undefined;
      this.capacity.set(at, bytes);
    }
    return new Uint8Array(this.buffer(), at, bytes);
  }

  /** `take` as a typed array of `length` elements (undefined when the heap cannot hold it); `give` takes it back. */
  array<T>(kind: ArrayKind<T>, length: number, keepFree = 0): T | undefined {
    const region = this.take(length * kind.BYTES_PER_ELEMENT, keepFree);
    return region && new kind(region.buffer as SharedArrayBuffer, region.byteOffset, length);
  }

  /** What `take` handed out (or an array made on it) back for reuse: the caller and every thread it lent it to are done with it. */
  give(region: ArrayBufferView): void {
    const at = this.offsetOf(region);
    if (at !== undefined && this.capacity.has(at) && !this.free.includes(at)) this.free.push(at);
  }

  /** Bytes free for reuse now. */
  get freeBytes(): number {
    return this.free.reduce((s, at) => s + this.capacity.get(at)!, 0);
  }
}

let current: WasmHeap | undefined;
let limit = HEAP_MAX_BYTES;

/** The heap of this job's selections (a new one after dropHeap). */
export function theHeap(): WasmHeap {
  current ??= new WasmHeap(limit);
  return current;
}

/** Lets the heap go: the next selection starts a new one. */
export function dropHeap(): void {
  current = undefined;
}

/** The size later heaps may grow to (drops the current one): tests run the full-heap paths on a small one. */
export function setHeapLimit(bytes = HEAP_MAX_BYTES): void {
  limit = bytes;
  dropHeap();
}

type ArrayKind<T> = { new (buffer: SharedArrayBuffer, byteOffset: number, length: number): T; BYTES_PER_ELEMENT: number };

/**
 * A typed array in the heap where it has room beside a reserve for selection, else in a
 * SharedArrayBuffer of its own (shared either way).
 */
export function sharedArray<T>(kind: ArrayKind<T>, length: number): T {
  const heap = theHeap();
  return heap.array(kind, length, Math.min(RESERVE_BYTES, heap.maxBytes / 8)) ?? new kind(new SharedArrayBuffer(length * kind.BYTES_PER_ELEMENT), 0, length);
}
