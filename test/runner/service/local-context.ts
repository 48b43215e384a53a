/**
 * A JobContext over local files: what the lease loop hands a job handler, with inputs read from disk
 * instead of downloaded and uploads kept in memory. The handler and the engine under it are the
 * real ones.
 */
import { copyFile, mkdir, open, readFile } from 'node:fs/promises';
import path from 'node:path';
import type { JobInputT } from '@polyprune/gpu-runner/service/protocol';
import { createJobBody } from '@polyprune/shared/api/jobs';
import type { UploadSource } from '@polyprune/shared/multipart-upload';
import type { JobContext } from '@polyprune/gpu-runner/service/lease-loop';

export interface LocalInput extends Omit<JobInputT, 'sha256' | 'size'> {
  file: string;
}

export interface LocalJob {
  ctx: JobContext;
  uploads: Map<string, Uint8Array>;
  logs: string[];
}

export function localContext(spec: Record<string, unknown>, inputs: LocalInput[], dir: string): LocalJob {
  const uploads = new Map<string, Uint8Array>();
  const logs: string[] = [];
  const byName = new Map(inputs.map((i) => [i.name, i]));
  const listed: JobInputT[] = inputs.map((i) => ({ name: i.name, role: i.role, meta: i.meta, sha256: '0'.repeat(64), size: 0 }));
  const input = async (name: string) => {
    const i = byName.get(name);
    if (!i) throw new Error(`no input ${name}`);
    return i.file;
  };
  const place = async (name: string, dest: string) => {
    await mkdir(path.dirname(dest), { recursive: true });
    await copyFile(await input(name), dest);
  };
  const ctx: JobContext = {
    job: { id: 'job_local', kind: String(spec.kind) } as JobContext['job'],
    // Parsed like a lease's spec: the defaults a stored spec carries are filled in.
    spec: createJobBody.parse(spec),
    leaseToken: 'local',
    inputs: listed,
    dir,
    signal: new AbortController().signal,
    device: 'cpu',
    log: (m) => logs.push(m),
    progress: () => undefined,
    step: async (_name, fn) => fn(),
    input,
    place,
    inputsOfRole: async (role, target, rename = (n) => n) => {
      const list = listed.filter((i) => i.role === role);
      for (const i of list) await place(i.name, path.join(target, rename(i.name)));
      return list;
    },
    upload: async (name, data) => {
      const bytes = await bytesOf(data);
      uploads.set(name, bytes);
      return { name, sha256: '0'.repeat(64), size: bytes.length };
    },
  };
  return { ctx, uploads, logs };
}

/** What an upload of `data` sends, read here independently of the upload's own reader. */
export async function bytesOf(data: UploadSource): Promise<Uint8Array> {
  if (data instanceof Uint8Array) return data;
  if ('path' in data) return new Uint8Array(await readFile(data.path));
  const out = new Uint8Array(data.ranges.reduce((n, r) => n + r.length, 0));
  let at = 0;
  for (const r of data.ranges) {
    const fh = await open(r.path, 'r');
    try {
      const { bytesRead } = await fh.read(out, at, r.length, r.offset);
      if (bytesRead !== r.length) throw new Error(`${r.path}: ${bytesRead} of ${r.length} bytes at ${r.offset}`);
    } finally {
      await fh.close();
    }
    at += r.length;
  }
  return out;
}
