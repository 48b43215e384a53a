"""Graph passes that real exporters apply after torch.onnx.export, re-implemented on the onnx Python API.

Written for polyprune (build-time only); used by real_exports.py. Each pass follows the named tool's
algorithm (read from its source) closely enough that the result has the same names, node layout,
dtypes and external-data placement; where we deviate (determinism), the docstring says so.

- merge_decoders():     optimum `optimum.onnx.merge_decoders` (optimum 1.16-1.2x, `--legacy` exports)
- tie_gather_matmul():  optimum `remove_duplicate_weights_from_tied_info` (optimum >= 1.14)
- float16():            onnxconverter_common `float16.convert_float_to_float16(keep_io_types=False)`
                        (the 1.13 algorithm: BFS over graphs/attributes, op block list, Cast rewrite)
- research_names():     what torch 1.x's exporter named things (numeric values, `MatMul_17` nodes),
                        plus a deterministic shuffle of the node list
"""
import hashlib
import itertools
import random
from collections import defaultdict

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


# ------------------------------------------------------------------------------------- optimum: merge
def _find_duplicate_initializers(models):
    """(dtype, data hash, dims) -> {(initializer name, model index)}. Scalars and 1-D int32/int64
    tensors are left out: optimum keeps those inside each branch."""
    duplicates = defaultdict(set)
    for i, model in enumerate(models):
        for init in model.graph.initializer:
            dims = tuple(init.dims)
            if len(dims) > 1 or (len(dims) == 1 and init.data_type not in (TensorProto.INT32, TensorProto.INT64)):
                digest = hashlib.sha512(numpy_helper.to_array(init).tobytes()).hexdigest()
                duplicates[(init.data_type, digest, dims)].add((init.name, i))
    return duplicates


def _name_sharing_dict(duplicates, suffix):
    """optimum names each group `{common}_{suffix}_{k}`. It takes `common` with set.pop(), which depends
    on Python's string-hash seed; we take the smallest (name, model) pair so every build is identical."""
    sharing, used = {}, {}
    for group in duplicates.values():
        common, _ = min(group)
        used[common] = used[common] + 1 if common in used else 0
        for key in group:
            sharing[key] = f"{common}_{suffix}_{used[common]}"
    return sharing


def _unify_outputs(model1, model2):
    """The If branches must declare identical outputs: model2's outputs take model1's declarations."""
    for idx, out1 in enumerate(model1.graph.output):
        out2 = model2.graph.output[idx]
        if out1 != out2:
            assert out1.name == out2.name and out1.type.tensor_type.elem_type == out2.type.tensor_type.elem_type
            shape = [d.dim_param or d.dim_value for d in out1.type.tensor_type.shape.dim]
            model2.graph.output.remove(out2)
            model2.graph.output.insert(idx, helper.make_tensor_value_info(out1.name, out1.type.tensor_type.elem_type, shape))


def merge_decoders(decoder, decoder_with_past, graph_name="merged", producer_name="optimum-onnx"):
    """One graph whose single `If` node ("optimum::if") runs the with-past decoder (then_branch) or the
    no-past decoder (else_branch) on `use_cache_branch`. Every weight of both decoders becomes a
    main-graph initializer (deduplicated by content, renamed `<name>_merged_<k>`) that the branches
    read from the outer scope; scalars and 1-D int tensors stay in the branch that uses them."""
    assert decoder.opset_import[0].version == decoder_with_past.opset_import[0].version
    _unify_outputs(decoder, decoder_with_past)

    inputs, seen = [], set()
    for m in (decoder, decoder_with_past):
        for inp in m.graph.input:
            if inp.name not in seen:
                seen.add(inp.name)
                inputs.append(inp)
    # the merged graph's input_ids and attention_mask differ in length on a cached step
    for inp in inputs:
        if inp.name == "attention_mask":
            assert inp.type.tensor_type.shape.dim[1].dim_param == "sequence_length"
            inp.type.tensor_type.shape.dim[1].dim_param = "attention_mask_sequence_length"

    models = [decoder, decoder_with_past]
    sharing = _name_sharing_dict(_find_duplicate_initializers(models), graph_name)
    for i, m in enumerate(models):
        for node in m.graph.node:
            for j, name in enumerate(node.input):
                if (name, i) in sharing:
                    node.input[j] = sharing[(name, i)]
    shared, shared_names = [], set()
    for i, m in enumerate(models):
        for init in m.graph.initializer:
            new = sharing.get((init.name, i))
            if new is not None and new not in shared_names:
                shared_names.add(new)
                init.name = new
                shared.append(init)

    def kept(m):
        return [t for t in m.graph.initializer
                if len(t.dims) == 0 or (len(t.dims) == 1 and t.data_type in (TensorProto.INT32, TensorProto.INT64))]

    no_past = helper.make_graph(decoder.graph.node, "no_past", [], decoder.graph.output, initializer=kept(decoder))
    with_past = helper.make_graph(decoder_with_past.graph.node, "with_past", [], decoder_with_past.graph.output,
                                  initializer=kept(decoder_with_past))
    use_cache_branch = helper.make_tensor_value_info("use_cache_branch", TensorProto.BOOL, [1])
    if_node = helper.make_node("If", ["use_cache_branch"], [o.name for o in no_past.output], name="optimum::if",
                               then_branch=with_past, else_branch=no_past)
    graph = helper.make_graph([if_node], graph_name, inputs + [use_cache_branch], no_past.output, initializer=shared)
    opsets, domains = [], set()
    for op in list(decoder.opset_import) + list(decoder_with_past.opset_import):
        if op.domain not in domains:
            domains.add(op.domain)
            opsets.append(op)
    model = helper.make_model(graph, producer_name=producer_name, opset_imports=opsets)
    onnx.checker.check_model(model)  # before the IR bump: Debian's onnx 1.12 checks up to IR 8
    model.ir_version = 9  # optimum: make_model_gen_version(..., ir_version=9)
    return model


# --------------------------------------------------------------------------------- optimum: tied head
def tie_gather_matmul(model, embedding_param, head_module="lm_head"):
    """optimum's post-export tying of `lm_head.weight` to the embedding: torch folded the head's
    transposed weight into its own `onnx::MatMul_*` initializer; optimum deletes it and inserts
    `Transpose_<n>(embedding)` -> `<embedding>_transposed` in front of the first node that used it."""
    g = model.graph
    inits = {t.name: t for t in g.initializer}
    head = [n for n in g.node if f"{head_module}/MatMul" in n.name]
    cands = {name for n in head for name in n.input if name in inits}
    assert len(cands) == 1, cands
    dup = cands.pop()
    ref = numpy_helper.to_array(inits[embedding_param])
    assert np.array_equal(ref.T, numpy_helper.to_array(inits[dup]))
    out = f"{embedding_param}_transposed"
    first = next(i for i, n in enumerate(g.node) if dup in n.input)
    g.node.insert(first, helper.make_node("Transpose", [embedding_param], [out], name=f"Transpose_{len(g.node) + 1}"))
    for n in g.node:
        for j, name in enumerate(n.input):
            if name == dup:
                n.input[j] = out
    g.initializer.remove(inits[dup])
    return model


# ---------------------------------------------------------------------------- onnxconverter_common fp16
FP16_OP_BLOCK_LIST = {
    "ArrayFeatureExtractor", "Binarizer", "CastMap", "CategoryMapper", "DictVectorizer", "FeatureVectorizer",
    "Imputer", "LabelEncoder", "LinearClassifier", "LinearRegressor", "Normalizer", "OneHotEncoder",
    "RandomUniformLike", "SVMClassifier", "SVMRegressor", "Scaler", "TreeEnsembleClassifier",
    "TreeEnsembleRegressor", "ZipMap", "NonMaxSuppression", "TopK", "RoiAlign", "Resize", "Range", "CumSum",
    "Min", "Max", "Upsample",
}


def to_float16(array, min_positive_val=1e-7, max_finite_val=1e4):
    """onnxconverter_common.convert_np_to_float16: clamp magnitudes into [1e-7, 1e4] (keeping sign,
    zero, inf, nan) before rounding. float32.min masks become -10000 this way, not -inf."""
    a = np.asarray(array, dtype=np.float32)
    a = np.where((0 < a) & (a < min_positive_val), min_positive_val, a)
    a = np.where((-min_positive_val < a) & (a < 0), -min_positive_val, a)
    a = np.where((max_finite_val < a) & (a < np.inf), max_finite_val, a)
    a = np.where((-np.inf < a) & (a < -max_finite_val), -max_finite_val, a)
    return a.astype(np.float16)


def _tensor_to_fp16(t):
    if t.data_type == TensorProto.FLOAT:
        arr = numpy_helper.to_array(t)
        new = numpy_helper.from_array(to_float16(arr), t.name)
        t.CopyFrom(new)
    return t


def float16(model):
    """convert_float_to_float16(model, keep_io_types=False): every float tensor, value_info, graph
    input and output becomes float16 (so past_key_values, present.* and logits are float16), `Cast(to=
    FLOAT)` becomes `Cast(to=FLOAT16)`, and nodes of the block list get Cast nodes around their float16
    inputs/outputs, appended at the end of the node list (the tool does not re-sort)."""
    model = onnx.shape_inference.infer_shapes(model)
    queue, value_infos, blocked = [model.graph], [], []
    while queue:
        nxt = []
        for q in queue:
            if isinstance(q, onnx.GraphProto):
                for n in q.node:
                    if n.op_type in FP16_OP_BLOCK_LIST:
                        blocked.append((n, q))
                        continue
                    if n.op_type == "Cast":
                        for a in n.attribute:
                            if a.name == "to" and a.i == TensorProto.FLOAT:
                                a.i = TensorProto.FLOAT16
                    nxt.extend(n.attribute)
                for t in q.initializer:
                    if t.data_type == TensorProto.FLOAT:
                        _tensor_to_fp16(t)
                        value_infos.append(t.name)
                for vi in itertools.chain(q.input, q.output, q.value_info):
                    if vi.type.tensor_type.elem_type == TensorProto.FLOAT:
                        vi.type.tensor_type.elem_type = TensorProto.FLOAT16
                        value_infos.append(vi.name)
            else:  # AttributeProto
                if q.HasField("g"):
                    nxt.append(q.g)
                nxt.extend(q.graphs)
                if q.HasField("t"):
                    _tensor_to_fp16(q.t)
                for t in q.tensors:
                    _tensor_to_fp16(t)
        queue = nxt
    fp16_names = set(value_infos)
    for node, graph in blocked:
        for i, name in enumerate(node.input):
            if name in fp16_names:
                cast_out = f"{node.name}_input_cast_{i}"
                graph.node.append(helper.make_node("Cast", [name], [cast_out], to=TensorProto.FLOAT,
                                                   name=f"{node.name}_input_cast{i}"))
                node.input[i] = cast_out
        for i, name in enumerate(node.output):
            if name in fp16_names:
                cast_in = f"{node.name}_output_cast_{i}"
                graph.node.append(helper.make_node("Cast", [cast_in], [name], to=TensorProto.FLOAT16,
                                                   name=f"{node.name}_output_cast{i}"))
                node.output[i] = cast_in
    return model


# ------------------------------------------------------------------------------- research-code names
def research_names(model, seed):
    """Rename as torch 1.x's exporter did: nodes `<OpType>_<index>`, every intermediate value and every
    parameter a bare number (`209`), folded transposed weights `onnx::MatMul_<number>`; graph inputs and
    outputs keep their names. Then shuffle the node list (a deterministic permutation): files written by
    old tools or edited by hand are not always topologically sorted, and ONNX Runtime sorts on load."""
    g = model.graph
    keep = {v.name for v in itertools.chain(g.input, g.output)}
    rename, counter = {}, itertools.count(len(g.input))
    for t in g.initializer:
        n = next(counter)
        rename[t.name] = f"onnx::{t.name.split('::')[1].split('_')[0]}_{n}" if t.name.startswith("onnx::") else str(n)
    for node in g.node:
        for out in node.output:
            if out and out not in keep and out not in rename:
                rename[out] = str(next(counter))
    for t in g.initializer:
        t.name = rename[t.name]
    for i, node in enumerate(g.node):
        node.name = f"{node.op_type}_{i}"
        for j, name in enumerate(node.input):
            node.input[j] = rename.get(name, name)
        for j, name in enumerate(node.output):
            node.output[j] = rename.get(name, name)
    del g.value_info[:]
    nodes = list(g.node)
    random.Random(seed).shuffle(nodes)
    del g.node[:]
    g.node.extend(nodes)
    return model
