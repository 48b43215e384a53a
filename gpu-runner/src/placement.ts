/**
 * Which execution provider ran each node of a graph, read from onnxruntime's profile of one run
 * (its per-node "kernel_time" events carry the provider). onnxruntime prints placements only in
 * verbose logs on the native stderr, which JavaScript cannot read; the profile is the one place
 * it tells them to the program.
 */
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export interface Placement {
  /** distinct nodes that ran, by provider ("webgpu", "cpu", …), copies between them left out */
  nodes: Record<string, number>;
  total: number;
  /** MemcpyFromHost/MemcpyToHost nodes onnxruntime inserted between providers */
  copies: number;
  /** nodes the device cut asked to keep on CPU (too-large weights, divergent kernels) */
  forcedCpu?: number;
}

interface ProfileEvent {
  cat?: string;
  name?: string;
  args?: { provider?: string; op_name?: string };
}

const PROVIDERS: Record<string, string> = {
  WebGpuExecutionProvider: 'webgpu',
  CPUExecutionProvider: 'cpu',
  CUDAExecutionProvider: 'cuda',
};

/** Counts distinct nodes per provider in a profile (a node inside a loop or run twice counts once). */
export function countPlacement(events: readonly ProfileEvent[]): Placement {
  const seen = new Map<string, string>();
  let copies = 0;
  const copyNames = new Set<string>();
  for (const e of events) {
    if (e.cat !== 'Node' || !e.name?.endsWith('_kernel_time') || !e.args?.provider) continue;
    const node = e.name.slice(0, -'_kernel_time'.length);
    if (e.args.op_name?.startsWith('Memcpy')) {
      if (!copyNames.has(node)) copies++;
      copyNames.add(node);
      continue;
    }
    seen.set(node, PROVIDERS[e.args.provider] ?? e.args.provider);
  }
  const nodes: Record<string, number> = {};
  for (const p of seen.values()) nodes[p] = (nodes[p] ?? 0) + 1;
  return { nodes, total: seen.size, copies };
}

/** A unique profile-file prefix in the temporary folder, and a reader that counts and deletes the file. */
export function placementProfile(): { prefix: string; read(): Placement | undefined } {
  const base = `polyprune-placement-${process.pid}-${randomBytes(4).toString('hex')}`;
  const dir = os.tmpdir();
  return {
    prefix: path.join(dir, base),
    read() {
      const files = readdirSync(dir).filter((f) => f.startsWith(base) && f.endsWith('.json'));
      let out: Placement | undefined;
      for (const f of files) {
        const file = path.join(dir, f);
        try {
          out = countPlacement(JSON.parse(readFileSync(file, 'utf8')) as ProfileEvent[]);
        } catch {
          // a profile cut short (process killed mid-write) tells nothing
        } finally {
          rmSync(file, { force: true });
        }
      }
      return out;
    },
  };
}
