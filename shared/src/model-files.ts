/**
 * Which uploaded file of a model is its graph, and which ops make a graph unprunable. Pure: the
 * worker, the runner and the CLI all read real exports (docs/real-exports.md) as
 * uploaded, under the names their exporter gave them.
 */

/** What the worker records for every uploaded *.onnx file (scanned at upload, weights never read). */
export interface GraphInfo {
  /** distinct TensorProto.external_data "location" values: the files holding the weights */
  externalData: string[];
  /** distinct "domain:opType" (empty domain written "ai.onnx"), subgraphs included */
  ops: string[];
  /** the main graph's inputs and outputs, in graph order */
  inputs: string[];
  outputs: string[];
}

/** Graph names by precedence: optimum's merged decoder serves the first and cached steps in one graph. */
export const GRAPH_PRECEDENCE = ['decoder_model_merged.onnx', 'model.onnx', 'decoder_model.onnx'] as const;

/** optimum's cached-step-only graph: it needs a past, so it cannot run the first step on its own. */
export const WITH_PAST_ONLY = 'decoder_with_past_model.onnx';

/** Side files a model cannot run without. */
export const REQUIRED_SIDE_FILES = ['tokenizer.json'] as const;

export const isGraphName = (name: string) => name.toLowerCase().endsWith('.onnx');

export interface GraphChoice {
  graph?: string;
  /** several candidates and no rule or explicit choice to pick one */
  ambiguous?: string[];
  /** only decoder_with_past_model.onnx was uploaded */
  withPastOnly?: boolean;
}

/** The graph among `names`: the model's explicit choice if uploaded, else by precedence, else the single other *.onnx. */
export function chooseGraph(names: readonly string[], chosen?: string | null): GraphChoice {
  const onnx = names.filter(isGraphName);
  if (chosen && onnx.includes(chosen)) return { graph: chosen };
  const known = GRAPH_PRECEDENCE.find((n) => onnx.includes(n));
  if (known) return { graph: known };
  const others = onnx.filter((n) => n !== WITH_PAST_ONLY);
  if (others.length === 1) return { graph: others[0] };
  if (others.length > 1) return { ambiguous: others };
  return onnx.includes(WITH_PAST_ONLY) ? { withPastOnly: true } : {};
}

export function graphFileOf(names: readonly string[], chosen?: string | null): string | undefined {
  return chooseGraph(names, chosen).graph;
}

/** Weight-quantized graphs: pruning needs the fp32/fp16 weights these ops replace. */
export const QUANTIZED_OPS = [
  'MatMulNBits',
  'MatMulInteger',
  'MatMulIntegerToFloat',
  'DynamicQuantizeMatMul',
  'QLinearMatMul',
  'QGemm',
  'QAttention',
  'DequantizeLinear',
  'GatherBlockQuantized',
  'MatMulBnb4',
  'MatMulFpQ4',
] as const;

/** onnxruntime's generation loops: the decoder sits inside as a subgraph polyprune does not step. */
export const SEARCH_WRAPPERS = ['BeamSearch', 'GreedySearch', 'Sampling', 'WhisperBeamSearch'] as const;

const opType = (op: string) => op.slice(op.lastIndexOf(':') + 1);

/** Reasons the graph `graph` with `ops` ("domain:opType") cannot be pruned as uploaded; empty when it can. */
export function graphProblems(graph: string, ops: readonly string[]): string[] {
  const out: string[] = [];
  const quantized = ops.filter((o) => (QUANTIZED_OPS as readonly string[]).includes(opType(o)));
  if (quantized.length) {
    out.push(
      `${graph} is quantized (${quantized.map(opType).join(', ')}): polyprune prunes fp32/fp16 weights — upload the fp32 or fp16 export ` +
        '(e.g. optimum-cli export onnx without --quantize and without the *_quantized/_q4/_int8/_bnb4 files, or the model builder with -p fp32/fp16)',
    );
  }
  const wrappers = ops.filter((o) => (SEARCH_WRAPPERS as readonly string[]).includes(opType(o)) && o.startsWith('com.microsoft:'));
  if (wrappers.length) {
    out.push(
      `${graph} wraps its decoder in a generation loop (${wrappers.join(', ')}): polyprune needs the plain decoder — upload the export without ` +
        'the search wrapper instead (optimum-cli export onnx --task text-generation-with-past, or the model builder’s model.onnx)',
    );
  }
  return out;
}
