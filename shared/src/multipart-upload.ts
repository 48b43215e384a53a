/**
 * The one client-side upload of a blob to the API, used by the CLI (model files) and the runner
 * (artifacts). Small blobs go up in one PUT; larger ones through R2 multipart under `<path>/uploads`,
 * read in order (hashed on the way) into a few part buffers that are sent in parallel: one HTTP
 * stream runs at a third of what loopback carries, and the file is never held whole (at most
 * `parallel` parts are in memory). Both route families
 * take the hash in the same place: the X-Content-SHA256 header of the PUT or of `complete`.
 * Node-only (files, node:crypto): the worker never imports it (shared/tsconfig.node.json).
 */
import { createHash } from 'node:crypto';
import { open, stat, type FileHandle } from 'node:fs/promises';
import { limits } from './api/limits';

/** What the upload needs of an HTTP client: the runner's Http fits (it retries network errors and 5xx per request). */
export interface UploadHttp {
  send(path: string, o: { method?: string; headers?: Record<string, string>; body?: unknown; signal?: AbortSignal; accept?: number[] }): Promise<Response>;
}

/** Bytes of a file from `offset` on. */
export interface FileRange {
  path: string;
  offset: number;
  length: number;
}

/**
 * Bytes in memory, a file read part by part, or a file that exists only as ranges of others, read
 * in order (a pruned model kept locally as its source's data file plus the changed tensors goes up
 * as the one data file a download gives, without that file ever being written).
 */
export type UploadSource = Uint8Array | { path: string } | { ranges: FileRange[] };

export interface UploadOptions {
  /** Path of the single PUT; the multipart routes hang off `${path}/uploads`. */
  path: string;
  /** Sent with every request (e.g. the runner's X-Lease-Token). */
  headers?: Record<string, string>;
  /** Above this many bytes the upload goes in parts (one Workers request body is capped at 100 MB). */
  singleLimit?: number;
  /** Size of every part but the last (R2: equal-sized parts, each ≥ 5 MiB but the last). */
  partSize?: number;
  /** After the single PUT and after each part. */
  onBytes?: (done: number, total: number) => void;
  signal?: AbortSignal;
  /** Parts in flight at once (each one buffer of `partSize` bytes). */
  parallel?: number;
  /** The route family has `DELETE <path>/uploads/{id}`: abort the upload when a part fails (else the cron aborts it). */
  abortable?: boolean;
}

export const DEFAULT_PART_SIZE = 32 * 1024 * 1024;
/** Four 32 MiB parts in flight: 128 MiB of buffers, and about three times one stream's rate on loopback. */
export const DEFAULT_PARALLEL_PARTS = 4;

const octets = { 'content-type': 'application/octet-stream' };

/** Uploads `source` to `o.path` and answers the API's JSON (name, size, sha256, …). */
export async function uploadBlob<T>(http: UploadHttp, source: UploadSource, o: UploadOptions): Promise<T> {
  const reader = await openSource(source);
  try {
    if (reader.size <= (o.singleLimit ?? limits.singlePutBytes)) {
      const bytes = await reader.readAll();
      const sha = createHash('sha256').update(bytes).digest('hex');
      const res = await http.send(o.path, { method: 'PUT', body: bytes, headers: { ...o.headers, ...octets, 'x-content-sha256': sha }, signal: o.signal });
      o.onBytes?.(reader.size, reader.size);
      return (await res.json()) as T;
    }
    return await uploadInParts<T>(http, reader, o);
  } finally {
    await reader.close();
  }
}

async function uploadInParts<T>(http: UploadHttp, reader: SourceReader, o: UploadOptions): Promise<T> {
  const partSize = o.partSize ?? DEFAULT_PART_SIZE;
  if (partSize > limits.partBytes) throw new RangeError(`part size ${partSize} B is over the API's ${limits.partBytes} B`);
  const base = `${o.path}/uploads`;
  const started = await http.send(base, { method: 'POST', headers: o.headers, signal: o.signal });
  const { uploadId } = (await started.json()) as { uploadId: string };
  const at = `${base}/${encodeURIComponent(uploadId)}`;
  const hash = createHash('sha256');
  const parallel = Math.max(1, o.parallel ?? DEFAULT_PARALLEL_PARTS);
  // One failed part stops the others (their requests are aborted) before the upload is aborted.
  const stop = new AbortController();
  const signal = o.signal ? AbortSignal.any([o.signal, stop.signal]) : stop.signal;
  const inFlight = new Set<Promise<void>>();
  const free: Uint8Array[] = [];
  let sent = 0;
  try {
    for (let n = 1, read = 0; read < reader.size; n++) {
      const buf = free.pop() ?? new Uint8Array(Math.min(partSize, reader.size));
      const len = await reader.read(buf, Math.min(partSize, reader.size - read));
      read += len;
      // A view, not a copy: the part is sent (and retried) before its buffer is read into again.
      const part = buf.subarray(0, len);
      // Read in order, so the whole file's hash is taken as the parts go; each part also carries its own.
      hash.update(part);
      const headers = { ...o.headers, ...octets, 'x-content-sha256': createHash('sha256').update(part).digest('hex') };
      // A part is idempotent by number, so the client's retry of one after a dropped connection is safe.
      const sending: Promise<void> = http.send(`${at}/parts/${n}`, { method: 'PUT', body: part, headers, signal }).then(async (res) => {
        await res.body?.cancel().catch(() => undefined);
        inFlight.delete(sending);
        free.push(buf);
        sent += len;
        o.onBytes?.(sent, reader.size);
      });
      // Handled where it is awaited (race or all); marked here so a failure between the two is not reported as unhandled.
      sending.catch(() => undefined);
      inFlight.add(sending);
      if (inFlight.size >= parallel) await Promise.race(inFlight);
    }
    await Promise.all(inFlight);
  } catch (err) {
    stop.abort();
    await Promise.allSettled(inFlight);
    if (o.abortable) await http.send(at, { method: 'DELETE', headers: o.headers, accept: [404] }).catch(() => undefined);
    throw err;
  }
  const res = await http.send(`${at}/complete`, { method: 'POST', headers: { ...o.headers, 'x-content-sha256': hash.digest('hex') }, signal: o.signal });
  return (await res.json()) as T;
}

interface SourceReader {
  size: number;
  /** Reads the next `len` bytes into the start of `buf`; answers how many were read. */
  read(buf: Uint8Array, len: number): Promise<number>;
  readAll(): Promise<Uint8Array>;
  close(): Promise<void>;
}

async function openSource(source: UploadSource): Promise<SourceReader> {
  if (source instanceof Uint8Array) {
    let at = 0;
    return {
      size: source.byteLength,
      read: async (buf, len) => {
        buf.set(source.subarray(at, at + len));
        at += len;
        return len;
      },
      readAll: async () => source,
      close: async () => {},
    };
  }
  if ('ranges' in source) return rangesReader(source.ranges);
  // A whole file is the one range from its start to its size when the upload starts.
  return rangesReader([{ path: source.path, offset: 0, length: (await stat(source.path)).size }]);
}

async function rangesReader(ranges: FileRange[]): Promise<SourceReader> {
  const handles = new Map<string, FileHandle>();
  try {
    for (const r of ranges) if (!handles.has(r.path)) handles.set(r.path, await open(r.path, 'r'));
  } catch (err) {
    for (const fh of handles.values()) await fh.close();
    throw err;
  }
  const size = ranges.reduce((n, r) => n + r.length, 0);
  let k = 0;
  let within = 0;
  const fill = async (buf: Uint8Array, len: number) => {
    let got = 0;
    while (got < len) {
      const r = ranges[k];
      if (!r) throw new Error(`asked for ${len - got} bytes past the end of the ranges`);
      if (within === r.length) {
        k++;
        within = 0;
        continue;
      }
      const { bytesRead } = await handles.get(r.path)!.read(buf, got, Math.min(len - got, r.length - within), r.offset + within);
      if (bytesRead === 0) throw new Error(`${r.path} ends before byte ${r.offset + r.length}: it changed while it was uploaded`);
      got += bytesRead;
      within += bytesRead;
    }
    return got;
  };
  return {
    size,
    read: fill,
    readAll: async () => {
      const bytes = new Uint8Array(size);
      await fill(bytes, size);
      return bytes;
    },
    close: async () => {
      for (const fh of handles.values()) await fh.close();
    },
  };
}
