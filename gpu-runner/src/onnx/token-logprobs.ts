/**
 * Scoring reads one number per scored position, log p(target | prefix), yet a graph hands back the
 * whole logits row (256k floats for XGLM/BLOOM): onnxruntime's output, copied into JavaScript and
 * normalised there, took a fifth of scoring's CPU time in the peer bench. After head-gather.ts has cut the logits to
 * the rows a pass reads ([1, n, vocab]), this rewrite adds, beside them, the log-probabilities of
 * given targets: an int64 input [1, n, k] (k target ids per row: the last position of a shared prefix
 * is read with every member's next token) and a float32 output [1, n, k], a LogSoftmax over the
 * vocabulary gathered at the targets (fp16 logits widened first, as JavaScript widens them). The
 * logits output stays: greedy decoding fetches it and feeds any targets.
 *
 * LogSoftmax rather than ReduceLogSumExp minus the target logit, which would not hold a second
 * [n, vocab] tensor: onnxruntime's ReduceLogSumExp was 10 × less precise (float32 sums: 3e-5 from
 * the float64 log-softmax at a 256k vocabulary, 2e-6 for LogSoftmax) and no faster.
 */
import { LOGIT_ROWS_INPUT } from './head-gather.js';
import { onnx, type GraphMessage, type ModelProto, type NodeProto } from './proto.js';

/** The int64 [1, n, k] input: for each gathered row, the k token ids whose log-probs are wanted. */
export const TARGET_IDS_INPUT = 'polyprune_target_ids';
/** The float32 [1, n, k] output: log softmax(logits row)[target]. */
export const TOKEN_LOGPROBS_OUTPUT = 'polyprune_token_logprobs';

const isOnnxDomain = (d: string | null | undefined) => !d || d === 'ai.onnx';

/**
 * The graph with the target log-probs added, or undefined when it has no gathered head (its logits
 * keep the [batch, tokens, vocab] layout: callers use logits as before) or an opset before 11
 * (GatherElements).
 */
export function addTokenLogProbs(proto: ModelProto, logits: string): ModelProto | undefined {
  const g = proto.graph!;
  const inputs = new Set((g.input ?? []).map((i) => i.name));
  if (!inputs.has(LOGIT_ROWS_INPUT) || inputs.has(TARGET_IDS_INPUT)) return undefined;
  const out = (g.output ?? []).find((o) => o.name === logits);
  if (!out) return undefined;
  const opset = Number((proto.opsetImport ?? []).find((o) => isOnnxDomain(o.domain))?.version ?? 0);
  if (opset < 11) return undefined;
  const T = onnx.TensorProto.DataType;
  const elemType = out.type?.tensorType?.elemType ?? T.FLOAT;
  if (elemType !== T.FLOAT && elemType !== T.FLOAT16) return undefined;

  const A = onnx.AttributeProto.AttributeType;
  const name = (s: string) => `${TOKEN_LOGPROBS_OUTPUT}/${s}`;
  const attr = (n: string, i: number) => onnx.AttributeProto.create({ name: n, type: A.INT, i });
  const node = (opType: string, input: string[], output: string, attribute: ReturnType<typeof attr>[] = []) =>
    onnx.NodeProto.create({ opType, name: output, input, output: [output], attribute });
  const added: NodeProto[] = [];
  let wide = logits;
  if (elemType === T.FLOAT16) {
    wide = name('float');
    added.push(node('Cast', [logits], wide, [attr('to', T.FLOAT)]));
  }
  added.push(node('LogSoftmax', [wide], name('all'), [attr('axis', 2)]));
  added.push(node('GatherElements', [name('all'), TARGET_IDS_INPUT], TOKEN_LOGPROBS_OUTPUT, [attr('axis', 2)]));

  const tensorInfo = (n: string, type: number, dims: Array<{ dimValue?: number; dimParam?: string }>) =>
    onnx.ValueInfoProto.create({
      name: n,
      type: onnx.TypeProto.create({
        tensorType: onnx.TypeProto.Tensor.create({
          elemType: type,
          shape: onnx.TensorShapeProto.create({ dim: dims.map((d) => onnx.TensorShapeProto.Dimension.create(d)) }),
        }),
      }),
    });
  const dims = [{ dimValue: 1 }, { dimParam: 'logit_rows' }, { dimParam: 'targets_per_row' }];
  const graph = onnx.GraphProto.create({
    ...(g as GraphMessage),
    node: [...(g.node ?? []), ...added],
    input: [...(g.input ?? []), tensorInfo(TARGET_IDS_INPUT, T.INT64, dims)],
    output: [...(g.output ?? []), tensorInfo(TOKEN_LOGPROBS_OUTPUT, T.FLOAT, dims)],
  });
  return onnx.ModelProto.create({ ...proto, graph });
}
