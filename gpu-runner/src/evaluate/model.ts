/**
 * What the evaluation engine needs to know about a decoder-LM graph, read from the session's own
 * input/output names and shapes (and config.json where a shape is symbolic), never assumed by family.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { createSession, type Session, type SessionOptions } from '../ort.js';
import { loadTokenizer, type LoadedTokenizer } from '../tokenize/index.js';

/** One layer's past/present key-value pair names. */
export interface KvPair {
  pastKey: string;
  pastValue: string;
  presentKey: string;
  presentValue: string;
}

export interface PastLayout {
  layers: KvPair[];
  /** shape of a past input with the batch dim as -1 and the past-length dim as -2 */
  shape: number[];
  /** rows per sequence along dim 0 (1 normally; num_heads for BLOOM-style [batch*heads, …] caches) */
  rowsPerSequence: number;
  elementType: 'float32' | 'float16';
}

export interface GraphIO {
  logits: string;
  hasPositionIds: boolean;
  /** present when the graph takes past_key_values and returns present key/values */
  past?: PastLayout;
  /** optimum "merged" decoders select their cached branch with this boolean input */
  useCacheBranch?: string;
}

export interface EvalModel {
  session: Session;
  tokenizer: LoadedTokenizer;
  io: GraphIO;
  /** maximum sequence length the model was trained for (positions); long inputs are windowed */
  contextLength: number;
}

type Config = Record<string, unknown>;

const num = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);

/** Context length from config.json; BLOOM (ALiBi) declares none, hence the fallback. */
export function contextLengthOf(config: Config, fallback = 2048): number {
  return num(config.max_position_embeddings) ?? num(config.n_positions) ?? num(config.n_ctx) ?? num(config.seq_length) ?? fallback;
}

function configHeads(config: Config): number | undefined {
  return num(config.num_key_value_heads) ?? num(config.num_attention_heads) ?? num(config.n_head) ?? num(config.attention_heads);
}

const PAST_RE = /^past_key_values[._](\d+)[._](key|value)$/;

/** Reads the graph's I/O contract; throws with what was expected when the graph is no decoder LM. */
export function describeGraph(session: Session, config: Config = {}): GraphIO {
  const inputs = new Set(session.inputNames);
  for (const required of ['input_ids', 'attention_mask']) {
    if (!inputs.has(required)) {
      throw new Error(`model graph has no "${required}" input (inputs: ${session.inputNames.join(', ')})`);
    }
  }
  const logits = session.outputNames.includes('logits') ? 'logits' : session.outputNames[0];
  if (!logits) throw new Error('model graph has no outputs');
  const io: GraphIO = { logits, hasPositionIds: inputs.has('position_ids') };
  if (inputs.has('use_cache_branch')) io.useCacheBranch = 'use_cache_branch';

  const pastNames = session.inputNames.filter((n) => PAST_RE.test(n));
  if (pastNames.length === 0) return io;
  const byLayer = new Map<number, Partial<KvPair>>();
  for (const name of pastNames) {
    const [, layer, kind] = PAST_RE.exec(name)!;
    const entry = byLayer.get(Number(layer)) ?? {};
    const presentCandidates = [`present.${layer}.${kind}`, `present_key_values.${layer}.${kind}`, `present_${layer}_${kind}`];
    const present = presentCandidates.find((p) => session.outputNames.includes(p));
    if (!present) throw new Error(`graph has input ${name} but no matching present output (tried ${presentCandidates.join(', ')})`);
    if (kind === 'key') Object.assign(entry, { pastKey: name, presentKey: present });
    else Object.assign(entry, { pastValue: name, presentValue: present });
    byLayer.set(Number(layer), entry);
  }
  const layers = [...byLayer.keys()]
    .sort((a, b) => a - b)
    .map((l) => {
      const e = byLayer.get(l)!;
      if (!e.pastKey || !e.pastValue) throw new Error(`layer ${l} has only one of past key/value`);
      return e as KvPair;
    });

  const meta = session.inputMetadata.find((m) => m.name === layers[0]!.pastKey);
  if (!meta || !meta.isTensor) throw new Error(`no tensor metadata for ${layers[0]!.pastKey}`);
  if (meta.type !== 'float32' && meta.type !== 'float16') throw new Error(`past key/value type ${meta.type} is not supported (expected float32 or float16)`);
  let rowsPerSequence = 1;
  const shape = meta.shape.map((dim, i) => {
    if (typeof dim === 'number') return dim;
    if (i === 0) {
      // "batch_size*num_heads" style first dims (older BLOOM exports) carry heads in the batch dim
      if (/\*|head/i.test(dim)) {
        const heads = configHeads(config);
        if (!heads) throw new Error(`past dim "${dim}" needs num_attention_heads from config.json`);
        rowsPerSequence = heads;
      }
      return -1;
    }
    if (/past|seq|len|total/i.test(dim)) return -2;
    const heads = configHeads(config);
    if (/head/i.test(dim) && heads) return heads;
    throw new Error(`cannot resolve symbolic dim "${dim}" of ${meta.name} (shape ${JSON.stringify(meta.shape)})`);
  });
  if (!shape.includes(-2)) throw new Error(`no past-length dim found in ${meta.name} shape ${JSON.stringify(meta.shape)}`);
  io.past = { layers, shape, rowsPerSequence, elementType: meta.type };
  return io;
}

export interface OpenOptions extends SessionOptions {
  /** context length to use when config.json names none */
  defaultContextLength?: number;
}

/** Opens model.onnx, tokenizer.json and config.json from a model directory. */
export async function openEvalModel(modelDir: string, opts: OpenOptions = {}): Promise<EvalModel> {
  let config: Config = {};
  try {
    config = JSON.parse(await readFile(path.join(modelDir, 'config.json'), 'utf8')) as Config;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  const tokenizer = await loadTokenizer(modelDir);
  const { session } = await createSession(path.join(modelDir, 'model.onnx'), opts);
  return { session, tokenizer, io: describeGraph(session, config), contextLength: contextLengthOf(config, opts.defaultContextLength) };
}
