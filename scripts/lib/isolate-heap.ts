/**
 * The Worker isolate's own memory under a `wrangler dev`, read through wrangler's devtools
 * (inspector) port with `Runtime.getHeapUsage`. A Workers isolate's 128 MB limit is on this: the
 * V8 heap and the ArrayBuffer backing stores the isolate allocated. The workerd process's RSS
 * (workerd-memory.ts) holds much more: the local R2 and D1 simulators, wrangler's proxy, socket
 * buffers and whatever the allocator keeps after a peak.
 */

export interface HeapUsage {
  /** V8 heap in use (live and not yet collected objects) */
  used: number;
  /** V8 heap committed (what the isolate holds from the process for its heap) */
  total: number;
  /** C++ objects the runtime keeps on the isolate's behalf (streams, requests) */
  embedder: number;
  /** ArrayBuffer backing stores (request chunks, buffers) */
  backing: number;
}

/** The isolate's footprint: its committed heap, the embedder's objects and its buffers (garbage not yet collected included). */
export const isolateBytes = (u: HeapUsage): number => u.total + u.embedder + u.backing;
/** What the isolate holds in use: right after a collection (IsolateHeap.collect), its live memory. */
export const usedBytes = (u: HeapUsage): number => u.used + u.embedder + u.backing;

interface DevtoolsTarget {
  webSocketDebuggerUrl: string;
}

export class IsolateHeap {
  private nextId = 0;
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  /** the Worker's JS context (wrangler replays its creation to each devtools client) */
  private context: string | undefined;

  private constructor(private readonly ws: WebSocket) {
    ws.addEventListener('message', (e) => {
      const m = JSON.parse(String(e.data)) as {
        id?: number;
        method?: string;
        params?: { context?: { uniqueId: string } };
        result?: unknown;
        error?: { message: string };
      };
      if (m.method === 'Runtime.executionContextCreated' && m.params?.context) this.context = m.params.context.uniqueId;
      const p = m.id === undefined ? undefined : this.pending.get(m.id);
      if (!p) return;
      this.pending.delete(m.id!);
      if (m.error) p.reject(new Error(`devtools: ${m.error.message}`));
      else p.resolve(m.result);
    });
    ws.addEventListener('close', () => {
      for (const p of this.pending.values()) p.reject(new Error('devtools connection closed'));
      this.pending.clear();
    });
  }

  /** Connects to wrangler's inspector port (only one devtools client at a time is allowed there). */
  static async connect(inspectorPort: number, timeoutMs = 30_000): Promise<IsolateHeap> {
    const deadline = Date.now() + timeoutMs;
    let targets: DevtoolsTarget[] = [];
    // wrangler lists the Worker once its proxy has reached workerd's inspector
    while (targets.length === 0) {
      try {
        targets = (await (await fetch(`http://127.0.0.1:${inspectorPort}/json/list`)).json()) as DevtoolsTarget[];
      } catch {
        // not listening yet
      }
      if (targets.length > 0) break;
      if (Date.now() > deadline) throw new Error(`no Worker listed on the inspector port ${inspectorPort} within ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 200));
    }
    // wrangler refuses a devtools socket without an Origin it knows; Node's WebSocket sends none by itself
    const Ws = WebSocket as unknown as new (url: string, init: { headers: Record<string, string> }) => WebSocket;
    const ws = new Ws(targets[0]!.webSocketDebuggerUrl, { headers: { origin: 'http://127.0.0.1' } });
    await new Promise<void>((resolve, reject) => {
      ws.addEventListener('open', () => resolve(), { once: true });
      ws.addEventListener('error', () => reject(new Error(`devtools socket ${targets[0]!.webSocketDebuggerUrl} failed to open`)), { once: true });
    });
    return new IsolateHeap(ws);
  }

  private call<T>(method: string, params: object = {}, timeoutMs = 10_000): Promise<T> {
    const id = ++this.nextId;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`devtools ${method} did not answer within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(id, {
        resolve: (v) => {
          clearTimeout(timer);
          resolve(v as T);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
      this.ws.send(JSON.stringify({ id, method, params }));
    });
  }

  async usage(): Promise<HeapUsage> {
    const r = await this.call<{ usedSize: number; totalSize: number; embedderHeapUsedSize?: number; backingStorageSize?: number }>('Runtime.getHeapUsage');
    return { used: r.usedSize, total: r.totalSize, embedder: r.embedderHeapUsedSize ?? 0, backing: r.backingStorageSize ?? 0 };
  }

  /**
   * A full collection in the isolate: needs workerd started with the V8 flag --expose-gc
   * (MINIFLARE_WORKERD_V8_FLAGS). What is left after it is what the isolate holds live. V8's
   * "last resort" collection, synchronous: a plain gc() leaves its sweep running, and the dead
   * objects on pages not yet swept still count as used (a 50 MiB suite upload sampled +20 to +70 MiB
   * with gc(), +22 to +26 with this).
   */
  async collect(): Promise<void> {
    const deadline = Date.now() + 10_000;
    while (this.context === undefined) {
      if (Date.now() > deadline) throw new Error('devtools never announced the Worker context');
      await new Promise((r) => setTimeout(r, 50));
    }
    const r = await this.call<{ result: { type: string }; exceptionDetails?: { text: string } }>('Runtime.evaluate', {
      expression: "gc({ type: 'major', execution: 'sync', flavor: 'last-resort' })",
      uniqueContextId: this.context,
    });
    if (r.exceptionDetails) throw new Error(`gc() failed in the isolate (is workerd running with --expose-gc?): ${r.exceptionDetails.text}`);
  }

  close(): void {
    this.ws.close();
  }
}
