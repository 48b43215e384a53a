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
import type { ModelConfig } from '../onnx/graph-io.js';
import { feedable, resolveDevice, sessionDefaults, type Tensor } from '../ort.js';
import { feedFp32 } from '../onnx/cpu-fp16.js';
import { DataType, type ModelProto } from '../onnx/proto.js';
import { BlocksNotSeparable, type BlockOutput } from '../onnx/structure.js';
import { extractSubgraph, onlyOutputs } from '../onnx/subgraph.js';
import { exposeTensors, weightsToInputs } from '../onnx/surgery.js';
import { openSession, type OpenSession } from '../onnx/session.js';
import type { OnnxModel } from '../onnx/read.js';
import type { SessionOptions } from '../ort.js';
import type { ActivationStats, LayerMask, PrunableLinear, ProgressFn } from '../types.js';
import type { ModelBatch } from './batches.js';
import { tokenFeeds } from './feeds.js';
import { applyBlockMasks, FeedBuffers, feedsOf, loadFeedWeights, type FeedWeight } from './feed-weights.js';
import { accumulatorsFor, addBatch, finalize } from './layer-accumulators.js';

/**
 * Block b's masks from the statistics so far. `stored`: the block's weights as held for feeding
 * (stored layout and type, or fp16 widened to fp32 on CPU; still dense), by initializer name, so
 * that masks need not read them again.
 */
export type MaskBlockFn = (
  block: number,
  stats: ActivationStats,
  stored: ReadonlyMap<string, Float32Array | Uint16Array>,
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
}

/** Where a sequential calibration's time went: seconds per stage over all blocks, and per block. */
export interface SequentialProfile {
  stages: Record<string, number>;
  blocks: number[];
}

export interface SequentialOutput {
  stats: ActivationStats;
  masks: LayerMask[];
  runs: number;
  device: string;
  profile?: SequentialProfile;
}

/** A stopwatch charging elapsed time to named stages. */
function stopwatch(profile: SequentialProfile) {
  let t = performance.now();
  return (stage: string) => {
    const now = performance.now();
    profile.stages[stage] = (profile.stages[stage] ?? 0) + (now - t) / 1000;
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

export async function sequentialBlockwise(x: SequentialInput, outputs: BlockOutput[]): Promise<SequentialOutput> {
  const blocks = blocksOf(x.linears);
  const stats: ActivationStats = new Map();
  const masks: LayerMask[] = [];
  const profile: SequentialProfile = { stages: {}, blocks: [] };
  const lap = stopwatch(profile);
  // Validate every cut before any forward pass, so a fallback costs nothing.
  const protos = Array.from({ length: blocks }, (_, b) => blockSubgraph(x, outputs, b));
  lap('cut graphs');
  let stream: Tensor[] = [];
  let runs = 0;
  let device = 'cpu';
  // Blocks have the same shapes: each block's weights are read into the arrays of the one before.
  const buffers = new FeedBuffers();
  for (let b = 0; b < blocks; b++) {
    const blockStart = performance.now();
    const own = x.linears.filter((l) => l.block === b);
    const { proto, widened } = await forDevice(x, protos[b]!, own);
    const weights = await loadFeedWeights(x.model, own, widened, buffers);
    lap('read weights');
    const skip = new Set([...weights.keys(), ...(b > 0 ? [outputs[b - 1]!.name] : [])]);
    // Each pass runs on the block cut down to what it fetches: onnxruntime runs every node of a
    // graph whatever a run fetches, so one session for both passes made the statistics pass also
    // compute the block's last linear (its down projection) and output, a quarter of its work.
    const runPass = async (fetch: string[], stage: string, each: (k: number, out: Record<string, Tensor>) => void) => {
      let open: OpenSession | undefined = await openSession(onlyOutputs(proto, fetch), x.model.dir, x.session);
      lap('open sessions');
      device = open.device;
      try {
        const declared = new Set(open.session.inputNames);
        for (let k = 0; k < x.batches.length; k++) {
          const feeds = {
            ...tokenFeeds(open.session, x.batches[k]!, skip, { maskPadding: x.maskPadding, config: x.config }),
            ...feedsOf(weights, declared),
            ...(b > 0 ? { [outputs[b - 1]!.name]: stream[k]! } : {}),
          };
          const out = await open.session.run(feeds, fetch);
          lap(stage);
          each(k, out);
          runs++;
        }
      } finally {
        await open.release();
        open = undefined;
        lap('release sessions');
      }
    };
    const acc = accumulatorsFor(own);
    await runPass([...acc.keys()], 'statistics pass', (k, out) => {
      addBatch(acc, out, x.batches[k]!, x.maskPadding);
      lap('accumulate');
    });
    finalize(own, acc, x.samples, stats);
    const chosen = await x.maskBlock(b, stats, storedOf(weights, own));
    lap('select masks');
    masks.push(...applyBlockMasks(weights, own, b, chosen));
    lap('apply masks');
    if (b + 1 < blocks) {
      const next: Tensor[] = [];
      const name = outputs[b]!.name;
      // The block output is fed to the next block: fp16 outputs must be re-wrapped (see feedable).
      await runPass([name], 'pruned-output pass', (_, out) => next.push(feedable(out[name]!)));
      stream = next;
    }
    buffers.giveBack(weights);
    x.progress('calibrate', b + 1, blocks);
    profile.blocks.push((performance.now() - blockStart) / 1000);
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
      masks.push(...applyBlockMasks(weights, own, b, await x.maskBlock(b, stats, storedOf(weights, own))));
      x.progress('calibrate', b + 1, blocks);
    }
  } finally {
    await open.release();
  }
  return { stats, masks, runs, device: open.device };
}
