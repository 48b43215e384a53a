/**
 * Opening an onnxruntime session on an in-memory (possibly modified) ModelProto. onnxruntime
 * resolves external data relative to the model file and refuses paths that leave its folder
 * (it checks resolved paths, so symlinks do not help). A graph whose weights are external is
 * therefore written to a temporary folder holding hard links to the data files; where hard links
 * are impossible (another filesystem) it is written, under a temporary name, beside the data files.
 * Either file is removed once the session has been created.
 */
import { link, mkdir, mkdtemp, rm, unlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { createSession, type Device, resolveDevice, sessionDefaults, type Session, type SessionOptions } from '../ort.js';
import { castWeightsPerRun } from './cpu-fp16.js';
import { divergentNodes, weightCut } from './device-cut.js';
import { onnx, type ModelProto } from './proto.js';
import { externalRef, isExternal } from './read.js';

export interface OpenSession {
  session: Session;
  device: Device;
  release(): Promise<void>;
}

/**
 * The options a session on `proto` opens with: on WebGPU, the nodes reading a weight larger than
 * the adapter's maxBufferSize, and those of operators whose WebGPU kernel diverges, stay on CPU
 * (onnx/device-cut.ts). Every session the runner opens on a graph it has read comes through here.
 */
export async function withDeviceCut(proto: ModelProto, opts: SessionOptions): Promise<SessionOptions> {
  if (opts.cpuNodes) return opts;
  const { device, webgpu } = await resolveDevice(opts.device);
  if (device !== 'webgpu' || !webgpu?.available) return opts;
  const cpuNodes = [...new Set([...weightCut(proto, webgpu.adapter.maxBufferSize).cpuNodes, ...divergentNodes(proto)])];
  return cpuNodes.length ? { ...opts, cpuNodes } : opts;
}

/**
 * With `fp16Weights: "per-run"` on CPU, the fp16 weights MatMul/Gemm read become overridable graph
 * inputs (onnx/cpu-fp16.ts), and onnxruntime's warning for each of those is silenced.
 */
async function forCpuFp16(proto: ModelProto, opts: SessionOptions): Promise<{ proto: ModelProto; opts: SessionOptions }> {
  if (opts.fp16Weights !== 'per-run' || !sessionDefaults().cpuFp16 || (await resolveDevice(opts.device)).device !== 'cpu') return { proto, opts };
  const r = castWeightsPerRun(proto);
  if (!r.weights.length) return { proto, opts };
  return { proto: r.proto, opts: { ...opts, logSeverityLevel: opts.logSeverityLevel ?? 3 } };
}

export async function openSession(graph: ModelProto, dir: string, options: SessionOptions = {}): Promise<OpenSession> {
  const { proto, opts: o } = await forCpuFp16(graph, options);
  const opts = await withDeviceCut(proto, o);
  const locations = new Set<string>();
  for (const t of proto.graph!.initializer ?? []) if (isExternal(t)) locations.add(externalRef(t).location);
  const bytes = onnx.ModelProto.encode(proto).finish();
  const open = async (file: string | Uint8Array): Promise<OpenSession> => {
    const { session, device } = await createSession(file, opts);
    return { session, device, release: () => session.release() };
  };
  if (locations.size === 0) return open(bytes);

  const tmp = await mkdtemp(path.join(os.tmpdir(), 'polyprune-graph-'));
  try {
    let linked = true;
    for (const loc of locations) {
      const target = path.join(tmp, loc);
      await mkdir(path.dirname(target), { recursive: true });
      try {
        await link(path.resolve(dir, loc), target);
      } catch {
        linked = false;
        break;
      }
    }
    if (linked) {
      const file = path.join(tmp, `model-${randomBytes(4).toString('hex')}.onnx`);
      await writeFile(file, bytes);
      return await open(file);
    }
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
  const beside = path.join(dir, `.polyprune-${process.pid}-${randomBytes(6).toString('hex')}.onnx`);
  try {
    await writeFile(beside, bytes, { flag: 'wx' });
  } catch (err) {
    throw new Error(
      `cannot open a modified graph of the model in ${dir}: its data files cannot be hard-linked and the folder is not writable (${(err as Error).message})`,
    );
  }
  try {
    return await open(beside);
  } finally {
    await unlink(beside).catch(() => {});
  }
}
