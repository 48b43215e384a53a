/**
 * Everything a job checks about an uploaded model before any compute, so that a model polyprune
 * cannot prune or score is refused with one line a user can act on (what is wrong, in which file or
 * op, what to upload instead) instead of a runtime error halfway through a job.
 */
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { QUANTIZED_OPS, SEARCH_WRAPPERS } from '@polyprune/shared/model-files';
import { TOKEN_INPUTS, parsePast } from '../onnx/graph-io.js';
import { workingGraph, type WorkingGraph } from '../onnx/normalize.js';
import { DataType, dimsOf, type GraphProto, type NodeProto } from '../onnx/proto.js';
import { externalRef, isExternal, loadModel, type OnnxModel } from '../onnx/read.js';
import { findPrunableLinears, type LinearStructure } from '../onnx/structure.js';
import { loadTokenizer, type LoadedTokenizer } from '../tokenize/index.js';
import { smallestEmbedding } from './embedding.js';
import { readSideFiles, type SideInfo } from './side-files.js';

/** A refusal: the job fails with this message and nothing is computed. */
export class UnsupportedModel extends Error {
  override name = 'unsupported model';
}

// The same op lists the API checks at upload (shared/src/model-files.ts).
const QUANTIZED = new Set<string>(QUANTIZED_OPS);
const WRAPPERS = new Set<string>(SEARCH_WRAPPERS);

function* allNodes(g: GraphProto): Generator<NodeProto> {
  for (const n of g.node ?? []) {
    yield n;
    for (const a of n.attribute ?? []) for (const sub of [a.g, ...(a.graphs ?? [])]) if (sub) yield* allNodes(sub);
  }
}

const uploadHint = (modelId: string | undefined, file: string) =>
  modelId ? `npx polyprune models upload ${modelId} ${file} (or PUT /v1/models/${modelId}/files/${file})` : `upload ${file} next to the graph`;

/** Refuses quantized graphs and search wrappers, naming the op and what to upload instead. */
export function checkOps(model: OnnxModel, graphFile: string): void {
  for (const n of allNodes(model.proto.graph!)) {
    const op = n.opType ?? '';
    if (QUANTIZED.has(op)) {
      throw new UnsupportedModel(
        `${graphFile} is quantized (${n.domain ? `${n.domain}.` : ''}${op} at node ${n.name || '(unnamed)'}): polyprune prunes fp32 or fp16 weights — upload the fp32 or fp16 export instead (optimum-cli export onnx without quantization, e.g. decoder_model_merged.onnx rather than *_quantized/*_q4/*_int8; or the model builder with -p fp32 or -p fp16)`,
      );
    }
    if (WRAPPERS.has(op)) {
      throw new UnsupportedModel(
        `${graphFile} wraps its decoder in ${n.domain ? `${n.domain}.` : ''}${op} (node ${n.name || '(unnamed)'}): the decoder's weights sit inside the search loop — upload the plain decoder export instead (optimum-cli export onnx --task text-generation-with-past, or the decoder graph before onnxruntime's convert_generation.py)`,
      );
    }
  }
}

/** bfloat16 has no typed array in onnxruntime-node: such weights or logits cannot be read or fed. */
export function checkDtypes(model: OnnxModel, graphFile: string): void {
  const bf16 = [...model.initializers.values()].find((t) => t.dataType === DataType.BFLOAT16 && dimsOf(t).length === 2);
  const logits = (model.proto.graph!.output ?? []).find((o) => o.type?.tensorType?.elemType === DataType.BFLOAT16);
  if (bf16 || logits) {
    throw new UnsupportedModel(
      `${graphFile} stores ${bf16 ? `weights (e.g. ${bf16.name})` : `its output ${logits!.name}`} as bfloat16, which onnxruntime-node cannot read: export it in fp16 or fp32 (optimum-cli --dtype fp16, or the model builder with -p fp16)`,
    );
  }
}

/** Every external-data file the graph names must be there and long enough. */
export async function checkExternalData(model: OnnxModel, graphFile: string, modelId?: string): Promise<void> {
  const need = new Map<string, number>();
  for (const t of model.initializers.values()) {
    if (!isExternal(t)) continue;
    const ref = externalRef(t);
    if (ref.location === model.selfFile) continue;
    if (path.isAbsolute(ref.location) || ref.location.split(/[\\/]/).includes('..')) {
      throw new UnsupportedModel(`${graphFile} names external data "${ref.location}" outside its folder: re-export with the data file next to the graph`);
    }
    const end = ref.offset + Math.max(ref.length, 0);
    need.set(ref.location, Math.max(need.get(ref.location) ?? 0, end));
  }
  for (const [file, end] of need) {
    let size: number;
    try {
      size = (await stat(path.join(model.dir, file))).size;
    } catch {
      throw new UnsupportedModel(`${graphFile} keeps its weights in ${file}, which was not uploaded: ${uploadHint(modelId, file)}`);
    }
    if (size < end)
      throw new UnsupportedModel(`${file} has ${size} bytes but ${graphFile} reads up to byte ${end}: the upload is truncated — upload ${file} again`);
  }
}

/** Every id the tokenizer can produce must index a row of every table the graph looks ids up in. */
export function checkVocabulary(model: OnnxModel, tokenizer: Pick<LoadedTokenizer, 'tokenCount'>): void {
  const table = smallestEmbedding(model);
  if (table && tokenizer.tokenCount > table.rows) {
    const rows = table.rows;
    throw new UnsupportedModel(
      `tokenizer.json has ${tokenizer.tokenCount} tokens but the model's embedding has ${rows} rows: ids ${rows}..${tokenizer.tokenCount - 1} would index past it — upload the tokenizer.json that came with this export`,
    );
  }
}

/** Why the graph cannot be scored, or undefined when it can (a logits output and inputs we can feed). */
export function whyNotScorable(model: OnnxModel): string | undefined {
  const g = model.proto.graph!;
  const inits = new Set(g.initializer?.map((t) => t.name));
  const outputs = (g.output ?? []).map((o) => o.name ?? '');
  if (!outputs.some((o) => o === 'logits' || /logits|scores/i.test(o))) {
    return `the graph ends at ${outputs.join(', ')}, not at logits (no LM head): it can be pruned but not scored — submit the job without suites, or export the model with its LM head (e.g. optimum-cli export onnx --task text-generation-with-past)`;
  }
  const inputs = (g.input ?? []).map((i) => i.name ?? '').filter((n) => !inits.has(n));
  if (!inputs.includes('input_ids')) return `the graph has no input_ids input (inputs: ${inputs.join(', ')}): only token-id decoder exports can be scored`;
  const odd = inputs.filter((n) => !TOKEN_INPUTS.has(n) && !parsePast(n));
  if (odd.length) {
    return `the graph takes input(s) ${odd.join(', ')} that polyprune cannot feed: expected input_ids, attention_mask, position_ids, token_type_ids, use_cache_branch and past key/value caches`;
  }
  return undefined;
}

export interface PreflightOptions {
  dir: string;
  graphFile: string;
  /** the job evaluates suites: the graph must also be scorable */
  scoring: boolean;
  modelId?: string;
}

export interface CheckedModel {
  /** the graph as uploaded (masks are written into it) */
  model: OnnxModel;
  side: SideInfo;
  tokenizer: LoadedTokenizer;
}

export async function preflight(o: PreflightOptions): Promise<CheckedModel> {
  const file = path.join(o.dir, o.graphFile);
  try {
    await stat(file);
  } catch {
    throw new UnsupportedModel(`the model has no graph file ${o.graphFile}: ${uploadHint(o.modelId, o.graphFile)}`);
  }
  let model: OnnxModel;
  try {
    model = await loadModel(file);
  } catch (err) {
    throw new UnsupportedModel(
      `${o.graphFile} is not a readable ONNX model (${(err as Error).message.replace(/^cannot read ONNX model [^:]+: /, '')}): upload the .onnx file as the exporter wrote it`,
    );
  }
  checkOps(model, o.graphFile);
  checkDtypes(model, o.graphFile);
  await checkExternalData(model, o.graphFile, o.modelId);
  let tokenizer: LoadedTokenizer;
  try {
    tokenizer = await loadTokenizer(o.dir);
  } catch (err) {
    throw new UnsupportedModel((err as Error).message);
  }
  checkVocabulary(model, tokenizer);
  if (o.scoring) {
    const why = whyNotScorable(model);
    if (why) throw new UnsupportedModel(`${o.graphFile}: ${why}`);
  }
  return { model, side: await readSideFiles(o.dir), tokenizer };
}

export interface PrunableModel {
  /** the graph calibration and discovery run on */
  working: WorkingGraph;
  structure: LinearStructure;
}

/** The working graph and its prunable linears; a graph without them is refused, saying what was found. */
export function discoverStructure(model: OnnxModel, graphFile: string, family?: string): PrunableModel {
  try {
    const working = workingGraph(model);
    return { working, structure: findPrunableLinears(working.model, { family }) };
  } catch (err) {
    throw new UnsupportedModel(`${graphFile}: ${(err as Error).message}`);
  }
}
