/**
 * Sequential (Wanda-exact) statistics: block b is calibrated on what blocks < b compute after they
 * were pruned.
 *
 * blockwise (default): as the reference implementation does, the residual stream entering block b
 * is kept per batch; block b alone (cut out of the graph, its weights as inputs) is run once with
 * dense weights to collect its statistics and, after `maskBlock`, once more with the masked weights
 * to produce the stream for block b+1. About two forward passes in all.
 *
 * whole-graph (fallback, for graphs whose blocks cannot be cut apart): one session with every
 * prunable weight as an input; block b's run feeds the masked weights of blocks < b and fetches
 * only block b's inputs. Up to one forward pass per block.
 */
import os from 'node:os';
import type { ModelConfig } from '../onnx/graph-io.js';
import { feedable, resolveDevice, sessionDefaults, type Tensor } from '../ort.js';
import { feedFp32 } from '../onnx/cpu-fp16.js';
import { DataType, type ModelProto } from '../onnx/proto.js';
import { BlocksNotSeparable, type BlockOutput } from '../onnx/structure.js';
import { extractSubgraph, onlyOutputs } from '../onnx/subgraph.js';
import { exposeTensors, weightsToInputs } from '../onnx/surgery.js';
import { openSession, type OpenSession } from '../onnx/session.js';
import { isExternal, type OnnxModel } from '../onnx/read.js';
import { inlineSmallExternal } from '../onnx/inline-external.js';
import type { SessionOptions } from '../ort.js';
import type { ActivationStats, LayerMask, PrunableLinear, ProgressFn } from '../types.js';
import type { ModelBatch } from './batches.js';
import { tokenFeeds } from './feeds.js';
import { applyBlockMasks, FeedBuffers, feedsOf, loadFeedWeights, type FeedWeight } from './feed-weights.js';
import { accumulatorsFor, addBatch, finalize } from './layer-accumulators.js';
import { defaultMaskThreads, offloadWhile, startMaskThreads } from '../prune/mask-threads.js';

/**
 * Block b's masks from the statistics so far. `stored`: the block's weights as held for feeding
 * (stored layout and type, or fp16 widened to fp32 on CPU; dense), by initializer name, so that
 * masks need not read them again. The caller zeroes the masked entries of `stored` afterwards,
 * except for the weights whose names maskBlock adds to `applied`: it zeroed those itself.
 */
export type MaskBlockFn = (
  block: number,
  stats: ActivationStats,
  stored: ReadonlyMap<string, Float32Array | Uint16Array>,
  applied: Set<string>,
) => LayerMask[] | Promise<LayerMask[]>;

const storedOf = (weights: Map<string, FeedWeight>, linears: PrunableLinear[]) => new Map(linears.map((l) => [l.weightName, weights.get(l.weightName)!.data]));

export interface SequentialInput {
  model: OnnxModel;
  linears: PrunableLinear[];
  batches: ModelBatch[];
  samples: number;
  maskPadding: boolean;
  elemType: number;
  maskBlock: MaskBlockFn;
  progress: ProgressFn;
  session?: SessionOptions;
  config: ModelConfig;
  /**
   * blockwise: set the next block up while this one's masks are selected; false: strictly one step
   * after another. Default: only where cores are left beside the mask threads (overlapDefault).
   */
  overlap?: boolean;
  /** blockwise: external tensors up to this many bytes are copied into each block's graph (default INLINE_MAX_BYTES) */
  inlineMaxBytes?: number;
}

/**
 * Whether the next block is set up while masks are selected, by default: only when some cores are
 * not mask threads. With every core selecting, the setup (reading weights, opening sessions) only
 * takes time from the selection: XGLM-564M on 2 cores, sequential 1.38× a forward pass overlapped
 * and 1.28× one step after another (bench/scale, 2 repetitions each, same hour).
 */
export function overlapDefault(): boolean {
  return os.availableParallelism() > defaultMaskThreads();
}

/** Where a sequential calibration's time went: seconds per stage over all blocks, and per block. */
export interface SequentialProfile {
  stages: Record<string, number>;
  blocks: number[];
  /** seconds of work done beside the stages (setting up the next block while masks are selected), not part of their sum */
  hidden?: Record<string, number>;
}

export interface SequentialOutput {
  stats: ActivationStats;
  masks: LayerMask[];
  runs: number;
  device: string;
  profile?: SequentialProfile;
}

/** A stopwatch charging elapsed time to named stages. */
function stopwatch(stages: Record<string, number>) {
  let t = performance.now();
  return (stage: string) => {
    const now = performance.now();
    stages[stage] = (stages[stage] ?? 0) + (now - t) / 1000;
    t = now;
  };
}

function blocksOf(linears: PrunableLinear[]): number {
  return Math.max(...linears.map((l) => l.block)) + 1;
}

/**
 * The subgraph for block b: its linear inputs and output from the previous block's output (or the
 * token inputs for b = 0). Fails when the cut still reaches another block's linears, i.e. the
 * blocks are not separable at the residual stream.
 */
export function blockSubgraph(x: SequentialInput, outputs: BlockOutput[], b: number) {
  const own = x.linears.filter((l) => l.block === b);
  const withInputs = weightsToInputs(x.model.proto, [...new Set(own.map((l) => l.weightName))]);
  const cut = b > 0 ? [{ name: outputs[b - 1]!.name, elemType: x.elemType }] : [];
  const fetch = [...new Set([...own.map((l) => l.inputName), outputs[b]!.name])].map((name) => ({ name, elemType: x.elemType }));
  const sub = extractSubgraph(withInputs, cut, fetch);
  const others = new Set(x.linears.filter((l) => l.block !== b).map((l) => l.nodeName));
  const leak = sub.nodes.find((n) => others.has(n.name ?? ''));
  if (leak) throw new BlocksNotSeparable(`block ${b} is not separable at ${cut[0]?.name ?? 'the token inputs'}: it still needs ${leak.name}`);
  return sub.proto;
}

/**
 * On CPU, a block's fp16 weights are fed widened to fp32 (once per block) to a graph whose
 * MatMul/Gemm nodes take them so (onnx/cpu-fp16.ts), instead of onnxruntime casting them on every
 * batch; elsewhere (fp16 kernels on CUDA and WebGPU) the block runs as stored.
 */
export async function forDevice(
  x: Pick<SequentialInput, 'elemType' | 'session'>,
  proto: ModelProto,
  own: PrunableLinear[],
): Promise<{ proto: ModelProto; widened: Set<string> }> {
  if (x.elemType !== DataType.FLOAT16 || !sessionDefaults().cpuFp16 || (await resolveDevice(x.session?.device)).device !== 'cpu') {
    return { proto, widened: new Set() };
  }
  return feedFp32(
    proto,
    own.map((l) => l.weightName),
  );
}

/** Block b ready for its statistics pass: its graph for this device, its weights read, that pass's session open. */
interface BlockSetup {
  own: PrunableLinear[];
  proto: ModelProto;
  weights: Map<string, FeedWeight>;
  acc: ReturnType<typeof accumulatorsFor>;
  statistics: OpenSession;
  /** the statistics session also fetches the block's output and serves its pruned-output pass */
  both: boolean;
}

/** A promise awaited later: its rejection is not "unhandled" while other work runs first. */
function ahead<T>(p: Promise<T>): Promise<T> {
  p.catch(() => {});
  return p;
}

/** The session of a set-up step that was not used (an earlier step failed), once it has settled. */
async function releaseLate(p: Promise<OpenSession | BlockSetup> | undefined): Promise<void> {
  const r = await p?.catch(() => undefined);
  if (r) await ('statistics' in r ? r.statistics : r).release();
}

export async function sequentialBlockwise(x: SequentialInput, outputs: BlockOutput[]): Promise<SequentialOutput> {
  const blocks = blocksOf(x.linears);
  const stats: ActivationStats = new Map();
  const masks: LayerMask[] = [];
  const hidden: Record<string, number> = {};
  const profile: SequentialProfile = { stages: {}, blocks: [], hidden };
  const lap = stopwatch(profile.stages);
  const overlap = x.overlap ?? overlapDefault();
  // Validate every cut before any forward pass, so a fallback costs nothing.
  const protos = Array.from({ length: blocks }, (_, b) => blockSubgraph(x, outputs, b));
  lap('cut graphs');
  let stream: Tensor[] = [];
  let runs = 0;
  let device = 'cpu';
  // Blocks have the same shapes: each block's weights are read into the arrays of the one before
  // last (the one before is still fed and masked while the next is read, when they overlap).
  const buffers = new FeedBuffers(true);
  // The mask threads load while block 0 is calibrated, not when its masks are due.
  startMaskThreads();
  // Each pass runs on the block cut down to what it fetches: onnxruntime runs every node of a
  // graph whatever a run fetches, so one session for both passes made the statistics pass also
  // compute the block's last linear (its down projection) and output, a quarter of its work.
  const open = (proto: ModelProto, fetch: string[]) => openSession(onlyOutputs(proto, fetch), x.model.dir, x.session);
  // `mark`: the stopwatch the steps are charged to (a stopwatch of `hidden` when they run beside other work).
  const setUp = async (b: number, mark: (stage: string) => void): Promise<BlockSetup> => {
    const own = x.linears.filter((l) => l.block === b);
    const device = await forDevice(x, protos[b]!, own);
    const proto = await inlineSmallExternal(x.model, device.proto, x.inlineMaxBytes);
    const weights = await loadFeedWeights(x.model, own, device.widened, buffers);
    mark('read weights');
    const acc = accumulatorsFor(own);
    // A tensor still external after inlining is a large one, block 0's embedding table: loading it
    // once for both passes costs less than the statistics pass computing the rest of the block
    // (XGLM-564M: 250 ms a session, against about 30 ms of block).
    const both = b + 1 < blocks && (proto.graph!.initializer ?? []).some(isExternal);
    try {
      const statistics = await open(proto, [...acc.keys(), ...(both ? [outputs[b]!.name] : [])]);
      mark('open sessions');
      return { own, proto, weights, acc, statistics, both };
    } catch (err) {
      buffers.giveBack(weights);
      throw err;
    }
  };
  const runPass = async (
    b: number,
    session: OpenSession,
    weights: Map<string, FeedWeight>,
    fetch: string[],
    stage: string,
    each: (k: number, out: Record<string, Tensor>) => void,
    release = true,
  ) => {
    const skip = new Set([...weights.keys(), ...(b > 0 ? [outputs[b - 1]!.name] : [])]);
    device = session.device;
    try {
      const declared = new Set(session.session.inputNames);
      for (let k = 0; k < x.batches.length; k++) {
        const feeds = {
          ...tokenFeeds(session.session, x.batches[k]!, skip, { maskPadding: x.maskPadding, config: x.config }),
          ...feedsOf(weights, declared),
          ...(b > 0 ? { [outputs[b - 1]!.name]: stream[k]! } : {}),
        };
        const out = await session.session.run(feeds, fetch);
        lap(stage);
        each(k, out);
        runs++;
      }
    } finally {
      if (release) {
        await session.release();
        lap('release sessions');
      }
    }
  };

  // Block b+1's setup and block b's pruned-output session need graphs and stored weights only, not
  // block b's masks: with `overlap` they are made while those masks are selected (on the mask
  // threads, the main thread mostly waiting), and what is left of them while the pruned-output pass runs.
  let next: Promise<BlockSetup> | undefined;
  let pruned: Promise<OpenSession> | undefined;
  try {
    for (let b = 0; b < blocks; b++) {
      const blockStart = performance.now();
      let setup: BlockSetup;
      if (next) {
        setup = await next;
        next = undefined;
        lap('wait for the next block');
      } else setup = await setUp(b, lap);
      const { own, proto, weights, acc, both } = setup;
      try {
        await runPass(
          b,
          setup.statistics,
          weights,
          [...acc.keys()],
          'statistics pass',
          (k, out) => {
            addBatch(acc, out, x.batches[k]!, x.maskPadding);
            lap('accumulate');
          },
          !both,
        );
      } catch (err) {
        if (both) await setup.statistics.release();
        throw err;
      }
      if (both) pruned = Promise.resolve(setup.statistics);
      finalize(own, acc, x.samples, stats);
      const last = b + 1 === blocks;
      const name = outputs[b]!.name;
      if (overlap && !last) {
        pruned ??= ahead(
          (async () => {
            const mark = stopwatch(hidden);
            const session = await open(proto, [name]);
            mark('open sessions');
            return session;
          })(),
        );
        // The main thread takes no share of the selection meanwhile: the setup's steps need it.
        next = ahead(offloadWhile(pruned.then(() => setUp(b + 1, stopwatch(hidden)))));
      }
      const applied = new Set<string>();
      const chosen = await x.maskBlock(b, stats, storedOf(weights, own), applied);
      lap('select masks');
      masks.push(...applyBlockMasks(weights, own, b, chosen, applied));
      lap('apply masks');
      if (!last) {
        const session = await (pruned ?? open(proto, [name]));
        pruned = undefined;
        lap(overlap ? 'wait for the next block' : 'open sessions');
        const out: Tensor[] = [];
        // The block output is fed to the next block: fp16 outputs must be re-wrapped (see feedable).
        await runPass(b, session, weights, [name], 'pruned-output pass', (_, o) => out.push(feedable(o[name]!)));
        stream = out;
      }
      // Nothing reads block b's weights any more: its sessions are released, its masks chosen.
      buffers.giveBack(weights);
      x.progress('calibrate', b + 1, blocks);
      profile.blocks.push((performance.now() - blockStart) / 1000);
    }
  } finally {
    await releaseLate(pruned);
    await releaseLate(next);
  }
  return { stats, masks, runs, device, profile };
}

export async function sequentialWholeGraph(x: SequentialInput): Promise<SequentialOutput> {
  const weights = await loadFeedWeights(x.model, x.linears);
  const fetch = [...new Set(x.linears.map((l) => l.inputName))];
  const proto = onlyOutputs(exposeTensors(weightsToInputs(x.model.proto, [...weights.keys()]), fetch, x.elemType), fetch);
  const open = await openSession(proto, x.model.dir, x.session);
  // The last linears' weights feed nothing the fetches need, so the cut graph has no input for them.
  const declared = new Set(open.session.inputNames);
  const blocks = blocksOf(x.linears);
  const stats: ActivationStats = new Map();
  const masks: LayerMask[] = [];
  let runs = 0;
  try {
    for (let b = 0; b < blocks; b++) {
      const own = x.linears.filter((l) => l.block === b);
      const acc = accumulatorsFor(own);
      for (const batch of x.batches) {
        const feeds = {
          ...tokenFeeds(open.session, batch, new Set(weights.keys()), { maskPadding: x.maskPadding, config: x.config }),
          ...feedsOf(weights, declared),
        };
        addBatch(acc, await open.session.run(feeds, [...acc.keys()]), batch, x.maskPadding);
        runs++;
      }
      finalize(own, acc, x.samples, stats);
      const applied = new Set<string>();
      masks.push(...applyBlockMasks(weights, own, b, await x.maskBlock(b, stats, storedOf(weights, own), applied), applied));
      x.progress('calibrate', b + 1, blocks);
    }
  } finally {
    await open.release();
  }
  return { stats, masks, runs, device: open.device };
}
