#!/usr/bin/env python3
"""Fixtures that reproduce the layouts written by ONNX Runtime's own exporters, plus refusal fixtures.

Builds, with `onnx.helper` only (no torch, no onnxruntime), under the repository root:

  test/fixtures/real/genai-llama-fp16/        onnxruntime-genai model builder, LLaMA, `-p fp16 -e cuda`
                                              (GroupQueryAttention, packed qkv, rotary inside GQA)
  test/fixtures/real/genai-llama-fp32-mha/    model builder's MultiHeadAttention path (separate q/k/v,
                                              RotaryEmbedding nodes, 4-D additive mask subgraph)
  test/fixtures/real/ort-fused-gpt2/          GPT-2 with past after onnxruntime.transformers.optimizer
                                              (Attention, SkipLayerNormalization, FastGelu)
  test/fixtures/real-reference/<same names>/  plain fp32 graphs (standard ops, no cache) with the same weights:
                                              model.onnx (input_ids, attention_mask) and model-nomask.onnx
                                              (input_ids only: the mask of ones of a model(input_ids) call)
  test/fixtures/refuse/{matmulnbits,qdq,beam-search,missing-data,tokenizer-oob}/

Weights are seeded random; node/initializer names, ops, attributes, I/O names, dtypes and dynamic-axis
names follow the real tools (see test/fixtures/real/README-contrib.md for what each one stands for and
where it deviates). Check with `node scripts/demo-model/check_contrib_exports.mjs`.

Usage: /usr/bin/python3 scripts/demo-model/contrib_exports.py [--root .]
Needs Debian's python3-onnx (onnx 1.12) and numpy.
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import shutil

import numpy as np
import onnx
from onnx import TensorProto as TP
from onnx import helper, numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
TOKENIZER_SRC = os.path.join("test", "fixtures", "models", "llama", "tokenizer.json")

NP = {TP.FLOAT: np.float32, TP.FLOAT16: np.float16, TP.INT64: np.int64, TP.INT32: np.int32, TP.BOOL: np.bool_}
DT_NAME = {TP.FLOAT: "FLOAT", TP.FLOAT16: "FLOAT16", TP.INT64: "INT64", TP.INT32: "INT32"}
DT_BY_NAME = {v: k for k, v in DT_NAME.items()}

VOCAB = 288
MAX_POS = 128
BOS, PAD, EOS, UNK = 0, 1, 2, 3


# --------------------------------------------------------------------------------------------------
# Graph assembly helpers
# --------------------------------------------------------------------------------------------------
class G:
    """A node list with the model builder's conventions: `/model/constants/{DTYPE}/{literal}` inputs become
    one `Constant` node each (named `/model/constant_nodes/...`), a node name is created once."""

    def __init__(self):
        self.nodes: list[onnx.NodeProto] = []
        self.inits: list[onnx.TensorProto] = []
        self.vi: dict[str, tuple[int, list | None]] = {}
        self.node_names: set[str] = set()
        self.init_names: set[str] = set()

    def init(self, name: str, arr: np.ndarray) -> str:
        assert name not in self.init_names, name
        self.inits.append(numpy_helper.from_array(np.ascontiguousarray(arr), name))
        self.init_names.add(name)
        return name

    def value(self, name: str, dtype: int, shape):
        if name:
            self.vi[name] = (dtype, shape)

    def const(self, name: str):
        node_name = name.replace("constants", "constant_nodes")
        if node_name in self.node_names:
            return
        parts = name.split("/")
        dtype = DT_BY_NAME[parts[-2]]
        arr = np.array(ast.literal_eval(parts[-1]), dtype=NP[dtype])
        self.nodes.append(helper.make_node("Constant", [], [name], name=node_name, value=numpy_helper.from_array(arr, name)))
        self.node_names.add(node_name)

    def node(self, op, inputs, outputs, name, domain=None, **attrs):
        if name in self.node_names:
            return
        for i in inputs:
            if i.startswith("/model/constants/"):
                self.const(i)
        attrs = {k: (float(v) if isinstance(v, (float, np.floating)) else v) for k, v in attrs.items()}
        n = helper.make_node(op, list(inputs), list(outputs), name=name, **attrs)
        if domain:
            n.domain = domain
        self.nodes.append(n)
        self.node_names.add(name)

    def sorted_nodes(self):
        """Producers before consumers, otherwise creation order (the builder saves after `graph.sort()`)."""
        producer = {o: k for k, n in enumerate(self.nodes) for o in n.output if o}
        done, out = set(), []

        def visit(k):
            if k in done:
                return
            done.add(k)
            for i in self.nodes[k].input:
                if i in producer:
                    visit(producer[i])
            out.append(self.nodes[k])

        for k in range(len(self.nodes)):
            visit(k)
        return out

    def model(self, graph_name, inputs, outputs, opsets, ir_version, producer=None, producer_version=None,
              value_info=True):
        graph = helper.make_graph(self.sorted_nodes(), graph_name, inputs, outputs, self.inits)
        if value_info:
            skip = {v.name for v in inputs} | {v.name for v in outputs} | self.init_names
            for name, (dt, shape) in self.vi.items():
                if name in skip or name.startswith("/model/constants/"):
                    continue
                graph.value_info.append(helper.make_tensor_value_info(name, dt, shape))
        m = helper.make_model(graph, opset_imports=[helper.make_opsetid(d, v) for d, v in opsets])
        m.ir_version = ir_version
        if producer:
            m.producer_name = producer
        if producer_version:
            m.producer_version = producer_version
        return m


def vinfo(name, dt, shape):
    return helper.make_tensor_value_info(name, dt, shape)


def save_external(model: onnx.ModelProto, folder: str, filename: str, location: str, threshold: int = 0,
                  write_data: bool = True) -> int:
    """Move initializers (raw size >= threshold bytes) into one data file, contiguous, in initializer order,
    with `external_data` = location/offset/length (what onnx_ir and onnx.save write). Returns the data size."""
    data = bytearray()
    for t in model.graph.initializer:
        raw = t.raw_data
        if len(raw) < max(threshold, 1):
            continue
        offset = len(data)
        data += raw
        t.ClearField("raw_data")
        t.data_location = TP.EXTERNAL
        del t.external_data[:]
        for k, v in (("location", location), ("offset", str(offset)), ("length", str(len(raw)))):
            e = t.external_data.add()
            e.key, e.value = k, v
    onnx.save(model, os.path.join(folder, filename))
    if write_data:
        with open(os.path.join(folder, location), "wb") as f:
            f.write(bytes(data))
    return len(data)


def write_json(path, obj, indent=2):
    with open(path, "w") as f:
        json.dump(obj, f, indent=indent)
        f.write("\n")


def fresh_dir(path):
    if os.path.isdir(path):
        shutil.rmtree(path)
    os.makedirs(path)


def f16(a):
    """Round to fp16 and back: the values a fp16 export holds, as fp32 for the reference."""
    return np.asarray(a, np.float32).astype(np.float16).astype(np.float32)


# --------------------------------------------------------------------------------------------------
# Weights
# --------------------------------------------------------------------------------------------------
def llama_weights(seed, V, H, nh, kvh, hd, inter, L):
    rng = np.random.default_rng(seed)

    def n(*shape, std):
        return rng.normal(0.0, std, shape).astype(np.float32)

    w = {"embed": n(V, H, std=0.5), "layers": [], "norm": 1.0 + n(H, std=0.1), "lm_head": n(H, V, std=0.12)}
    for _ in range(L):
        w["layers"].append({
            "in_ln": 1.0 + n(H, std=0.1),
            "q": n(H, nh * hd, std=0.1), "k": n(H, kvh * hd, std=0.1), "v": n(H, kvh * hd, std=0.1),
            "o": n(nh * hd, H, std=0.08),
            "post_ln": 1.0 + n(H, std=0.1),
            "gate": n(H, inter, std=0.1), "up": n(H, inter, std=0.1), "down": n(inter, H, std=0.06),
        })
    return w


def map_weights(w, fn):
    out = {k: fn(v) for k, v in w.items() if k != "layers"}
    out["layers"] = [{k: fn(v) for k, v in lw.items()} for lw in w["layers"]]
    return out


def gpt2_weights(seed, V, H, inter, L, P):
    rng = np.random.default_rng(seed)

    def n(*shape, std):
        return rng.normal(0.0, std, shape).astype(np.float32)

    w = {"wte": n(V, H, std=0.3), "wpe": n(P, H, std=0.1), "layers": [],
         "ln_f_w": 1.0 + n(H, std=0.1), "ln_f_b": n(H, std=0.05)}
    for _ in range(L):
        w["layers"].append({
            "ln_1_w": 1.0 + n(H, std=0.1), "ln_1_b": n(H, std=0.05),
            "c_attn_w": n(H, 3 * H, std=0.15), "c_attn_b": n(3 * H, std=0.05),
            "c_proj_w": n(H, H, std=0.1), "c_proj_b": n(H, std=0.03),
            "ln_2_w": 1.0 + n(H, std=0.1), "ln_2_b": n(H, std=0.05),
            "c_fc_w": n(H, inter, std=0.15), "c_fc_b": n(inter, std=0.05),
            "mlp_proj_w": n(inter, H, std=0.08), "mlp_proj_b": n(H, std=0.03),
        })
    return w


def rope_tables(hd, theta=10000.0, length=MAX_POS):
    inv_freq = 1.0 / (theta ** (np.arange(0, hd, 2, dtype=np.int64).astype(np.float32) / hd))
    t = np.arange(length, dtype=np.int64).astype(np.float32)
    freqs = np.outer(t, inv_freq).astype(np.float32)
    emb = np.concatenate([freqs, freqs], axis=-1)
    return np.cos(emb).astype(np.float32), np.sin(emb).astype(np.float32)


# --------------------------------------------------------------------------------------------------
# onnxruntime-genai model builder layouts
# --------------------------------------------------------------------------------------------------
class GenaiLlama:
    """Node-for-node what `onnxruntime_genai.models.builder` (builders/base.py) emits for a LLaMA checkpoint.

    attn = "gqa": GroupQueryAttention with the packed qkv MatMul and rotary inside GQA (do_rotary=1,
                  cos_cache/sin_cache initializers), seqlens_k/total_sequence_length from attention_mask.
    attn = "mha": MultiHeadAttention with q/k/v MatMuls, RotaryEmbedding nodes fed by `position_ids`, and the
                  4-D additive causal+padding mask built by the `/model/attn_mask_reformat/...` subgraph.
    int4 = True:  every block linear becomes `.../MatMulNBits` (bits 4, block 32) the way the builder writes a
                  pre-quantized (AWQ/GPTQ-style) checkpoint: `<name>.qweight` uint8 + `<name>.scales`.
    """

    def __init__(self, w, *, H, nh, kvh, hd, inter, L, io, attn, int4=False, eps=1e-6):
        self.w, self.H, self.nh, self.kvh, self.hd, self.inter, self.L = w, H, nh, kvh, hd, inter, L
        self.io, self.attn, self.int4, self.eps = io, attn, int4, eps
        self.iodt = NP[io]
        self.g = G()
        self.root = self.skip = self.ln_out = ""
        self.last = False
        self.mask_name = ""

    # -- io ---------------------------------------------------------------------------------------
    def io_infos(self):
        ins = [vinfo("input_ids", TP.INT64, ["batch_size", "sequence_length"]),
               vinfo("attention_mask", TP.INT64, ["batch_size", "total_sequence_length"])]
        if self.attn == "mha":
            ins.append(vinfo("position_ids", TP.INT64, ["batch_size", "sequence_length"]))
        outs = [vinfo("logits", self.io, ["batch_size", "sequence_length", VOCAB])]
        for i in range(self.L):
            for kind in ("key", "value"):
                ins.append(vinfo(f"past_key_values.{i}.{kind}", self.io,
                                 ["batch_size", self.kvh, "past_sequence_length", self.hd]))
                outs.append(vinfo(f"present.{i}.{kind}", self.io,
                                  ["batch_size", self.kvh, "total_sequence_length", self.hd]))
        return ins, outs

    # -- helpers ----------------------------------------------------------------------------------
    def matmul(self, weight, name, root, logits=False):
        g = self.g
        if self.int4 and not logits:
            return self.matmul_nbits(weight, name, root)
        wname = name[1:].replace("/", ".") + ".weight"
        g.init(wname, weight.astype(self.iodt))
        out = "logits" if logits else f"{name}/output_0"
        g.node("MatMul", [root, wname], [out], name)
        g.value(out, self.io, ["batch_size", "sequence_length", weight.shape[1]])
        return out

    def matmul_nbits(self, weight, basename, root, block=32):
        g = self.g
        name = f"{basename}NBits"
        K, N = weight.shape
        nb = K // block
        wt = weight.T.reshape(N, nb, block)
        scales = np.abs(wt).max(axis=-1) / 7.0
        scales[scales == 0] = 1.0
        q = np.clip(np.rint(wt / scales[..., None]) + 8, 0, 15).astype(np.uint8)
        packed = (q[..., 0::2] | (q[..., 1::2] << 4)).astype(np.uint8)  # [N, nb, block/2], low nibble first
        qweight = name[1:].replace("/", ".") + ".qweight"
        sname = name[1:].replace("/", ".") + ".scales"
        g.init(qweight, packed)
        g.init(sname, scales.reshape(-1).astype(self.iodt))
        out = f"{name}/output_0"
        g.node("MatMulNBits", [root, qweight, sname], [out], name, domain="com.microsoft",
               accuracy_level=4, bits=4, block_size=block, K=K, N=N)
        g.value(out, self.io, ["batch_size", "sequence_length", N])
        return out

    def layernorm(self, layer_id, weight, skip, location):
        g = self.g
        wname = f"model.layers.{layer_id}.{location}_layernorm.weight"
        g.init(wname, weight.astype(self.iodt))
        inputs = [self.root, self.skip, wname] if skip else [self.root, wname]
        name = f"/model/layers.{layer_id}/{location}_layernorm/{'Skip' if skip else ''}LayerNorm"
        op = f"{'Skip' if skip else ''}SimplifiedLayerNormalization"
        attrs = {"epsilon": self.eps}
        if not skip:
            attrs.update(axis=-1, stash_type=1)
        out0 = f"/model/layers.{layer_id}/{location}_layernorm/output_0"
        out3 = f"/model/layers.{layer_id}/{location}_layernorm/output_3"
        outputs = [out0, "", "", out3] if skip and not self.last else [out0]
        g.node(op, inputs, outputs, name, domain="com.microsoft" if skip else None, **attrs)
        shape = ["batch_size", "sequence_length", self.H]
        g.value(out0, self.io, shape)
        self.ln_out = out0
        if skip and not self.last:
            g.value(out3, self.io, shape)
            self.root = out3

    def rope_caches(self):
        if "cos_cache" in self.g.init_names:
            return "cos_cache", "sin_cache"
        cos, sin = rope_tables(self.hd)
        self.g.init("cos_cache", cos[:, : self.hd // 2].astype(self.iodt))
        self.g.init("sin_cache", sin[:, : self.hd // 2].astype(self.iodt))
        return "cos_cache", "sin_cache"

    # -- preprocessing ----------------------------------------------------------------------------
    def mask_gqa(self):
        g, b = self.g, "/model/attn_mask_reformat/attn_mask_subgraph"
        g.node("ReduceSum", ["attention_mask", "/model/constants/INT64/[1]"], [f"{b}/ReduceSum/output_0"],
               f"{b}/ReduceSum", keepdims=0)
        g.value(f"{b}/ReduceSum/output_0", TP.INT64, ["batch_size"])
        g.node("Sub", [f"{b}/ReduceSum/output_0", "/model/constants/INT64/[1]"], [f"{b}/Sub/output_0"], f"{b}/Sub")
        g.value(f"{b}/Sub/output_0", TP.INT64, ["batch_size"])
        g.node("Cast", [f"{b}/Sub/output_0"], [f"{b}/Sub/Cast/output_0"], f"{b}/Sub/Cast", to=TP.INT32)
        g.value(f"{b}/Sub/Cast/output_0", TP.INT32, ["batch_size"])
        g.node("Shape", ["attention_mask"], [f"{b}/Shape/output_0"], f"{b}/Shape")
        g.value(f"{b}/Shape/output_0", TP.INT64, [2])
        g.node("Gather", [f"{b}/Shape/output_0", "/model/constants/INT64/1"], [f"{b}/Gather/output_0"], f"{b}/Gather",
               axis=0)
        g.value(f"{b}/Gather/output_0", TP.INT64, [])
        g.node("Cast", [f"{b}/Gather/output_0"], [f"{b}/Gather/Cast/output_0"], f"{b}/Gather/Cast", to=TP.INT32)
        g.value(f"{b}/Gather/Cast/output_0", TP.INT32, None)
        self.seqlens_k = f"{b}/Sub/Cast/output_0"
        self.total_seq_len = f"{b}/Gather/Cast/output_0"

    def _common_mask(self, base, root, unsq_concat, unsq_expand, ids):
        g, io = self.g, self.io
        g.node("Shape", [root], [f"{base}/Shape_1/output_0"], f"{base}/Shape_1")
        g.value(f"{base}/Shape_1/output_0", TP.INT64, [2])
        g.node("Shape", [root], [f"{base}/Shape_2/output_0"], f"{base}/Shape_2")
        g.value(f"{base}/Shape_2/output_0", TP.INT64, [2])
        g.node("Gather", [f"{base}/Shape_1/output_0", "/model/constants/INT64/0"], [f"{base}/Gather_1/output_0"],
               f"{base}/Gather_1", axis=0)
        g.value(f"{base}/Gather_1/output_0", TP.INT64, [])
        g.node("Gather", [f"{base}/Shape_2/output_0", "/model/constants/INT64/1"], [f"{base}/Gather_2/output_0"],
               f"{base}/Gather_2", axis=0)
        g.value(f"{base}/Gather_2/output_0", TP.INT64, [])
        for k in (1, 2):
            g.node("Unsqueeze", [f"{base}/Gather_{k}/output_0", "/model/constants/INT64/[0]"],
                   [f"{base}/Unsqueeze_{k}/output_0"], f"{base}/Unsqueeze_{k}")
            g.value(f"{base}/Unsqueeze_{k}/output_0", TP.INT64, [1])
        concat = f"{base}/Concat" if not ids else f"{base}/Concat_1"
        last_two = ([f"{unsq_concat}/output_0", f"{base}/Unsqueeze_2/output_0"] if not ids
                    else [f"{base}/Unsqueeze_2/output_0", f"{unsq_concat}/output_0"])
        g.node("Concat", [f"{base}/Unsqueeze_1/output_0", "/model/constants/INT64/[1]"] + last_two,
               [f"{concat}/output_0"], concat, axis=0)
        g.value(f"{concat}/output_0", TP.INT64, [4])
        g.node("Shape", [f"{concat}/output_0"], [f"{base}/Shape_3/output_0"], f"{base}/Shape_3")
        g.value(f"{base}/Shape_3/output_0", TP.INT64, [1])
        cos_name = f"{base}/ConstantOfShape" if not ids else f"{base}/ConstantOfShape_1"
        g.node("ConstantOfShape", [f"{base}/Shape_3/output_0"], [f"{cos_name}/output_0"], cos_name,
               value=numpy_helper.from_array(np.array([1], np.int64)))
        g.value(f"{cos_name}/output_0", TP.INT64, ["unk"])
        g.node("Mul", [f"{cos_name}/output_0", "/model/constants/INT64/-1"], [f"{base}/Mul/output_0"], f"{base}/Mul")
        g.value(f"{base}/Mul/output_0", TP.INT64, ["unk"])
        g.node("Equal", [f"{concat}/output_0", f"{base}/Mul/output_0"], [f"{base}/Equal/output_0"], f"{base}/Equal")
        g.value(f"{base}/Equal/output_0", TP.BOOL, [4])
        g.node("Where", [f"{base}/Equal/output_0", f"{cos_name}/output_0", f"{concat}/output_0"],
               [f"{base}/Where_1/output_0"], f"{base}/Where_1")
        g.value(f"{base}/Where_1/output_0", TP.INT64, [4])
        g.node("Expand", [f"{unsq_expand}/output_0", f"{base}/Where_1/output_0"], [f"{base}/Expand/output_0"],
               f"{base}/Expand")
        g.value(f"{base}/Expand/output_0", io if ids else TP.INT64, None if ids else ["unk", "unk", "unk", "unk"])
        return f"{base}/Expand"

    def mask_mha(self):
        g, io = self.g, self.io
        ioname = DT_NAME[io]
        fmin = str(float(np.finfo(self.iodt).min))
        basename = "/model/attn_mask_reformat"
        ib, pb, ab = f"{basename}/input_ids_subgraph", f"{basename}/past_key_subgraph", f"{basename}/attn_mask_subgraph"
        # past_key_values.0.key subgraph
        g.node("Shape", ["past_key_values.0.key"], [f"{pb}/Shape/output_0"], f"{pb}/Shape")
        g.value(f"{pb}/Shape/output_0", TP.INT64, [4])
        g.node("Gather", [f"{pb}/Shape/output_0", "/model/constants/INT64/2"], [f"{pb}/Gather/output_0"],
               f"{pb}/Gather", axis=0)
        g.value(f"{pb}/Gather/output_0", TP.INT64, [])
        # input_ids subgraph (causal part)
        g.node("Add", [f"{ib}/Gather_2/output_0", f"{pb}/Gather/output_0"], [f"{ib}/Add_1/output_0"], f"{ib}/Add_1")
        g.value(f"{ib}/Add_1/output_0", TP.INT64, [])
        g.node("Unsqueeze", [f"{ib}/Add_1/output_0", "/model/constants/INT64/[0]"], [f"{ib}/Unsqueeze_3/output_0"],
               f"{ib}/Unsqueeze_3")
        g.value(f"{ib}/Unsqueeze_3/output_0", TP.INT64, [1])
        for k in (4, 5, 6):
            g.node("Unsqueeze", [f"{ib}/Gather_2/output_0", "/model/constants/INT64/[0]"],
                   [f"{ib}/Unsqueeze_{k}/output_0"], f"{ib}/Unsqueeze_{k}")
            g.value(f"{ib}/Unsqueeze_{k}/output_0", TP.INT64, [1])
        g.node("Concat", [f"{ib}/Unsqueeze_4/output_0", f"{ib}/Unsqueeze_5/output_0"], [f"{ib}/Concat_2/output_0"],
               f"{ib}/Concat_2", axis=0)
        g.value(f"{ib}/Concat_2/output_0", TP.INT64, [2])
        g.node("ConstantOfShape", [f"{ib}/Concat_2/output_0"], [f"{ib}/ConstantOfShape_2/output_0"],
               f"{ib}/ConstantOfShape_2",
               value=numpy_helper.from_array(np.array([np.finfo(self.iodt).min], self.iodt),
                                             "make_input_ids_subgraph_shape"))
        g.value(f"{ib}/ConstantOfShape_2/output_0", io, ["unk", "unk"])
        int64_max = f"/model/constants/INT64/[{np.iinfo(np.int64).max}]"
        for shp, slc, sq in (("Shape_4", "Slice_1", "Squeeze_1"), ("Shape_5", "Slice_2", "Squeeze_2")):
            g.node("Shape", [f"{ib}/ConstantOfShape_2/output_0"], [f"{ib}/{shp}/output_0"], f"{ib}/{shp}")
            g.value(f"{ib}/{shp}/output_0", TP.INT64, [2])
            g.node("Slice", [f"{ib}/{shp}/output_0", "/model/constants/INT64/[-1]", int64_max,
                             "/model/constants/INT64/[0]"], [f"{ib}/{slc}/output_0"], f"{ib}/{slc}")
            g.value(f"{ib}/{slc}/output_0", TP.INT64, [1])
            g.node("Squeeze", [f"{ib}/{slc}/output_0", "/model/constants/INT64/[0]"], [f"{ib}/{sq}/output_0"],
                   f"{ib}/{sq}")
            g.value(f"{ib}/{sq}/output_0", TP.INT64, [])
            if sq == "Squeeze_1":
                # the builder names this Unsqueeze node ".../output_0" (so its output is ".../output_0/output_0")
                g.node("Unsqueeze", [f"{ib}/Squeeze_1/output_0", "/model/constants/INT64/[0]"],
                       [f"{ib}/output_0/output_0"], f"{ib}/output_0")
                g.value(f"{ib}/output_0/output_0", TP.INT64, [1])
                g.node("Concat", [f"{ib}/output_0/output_0", "/model/constants/INT64/[1]"], [f"{ib}/Concat_3/output_0"],
                       f"{ib}/Concat_3", axis=0)
                g.value(f"{ib}/Concat_3/output_0", TP.INT64, [2])
        g.node("Range", ["/model/constants/INT64/0", f"{ib}/Squeeze_2/output_0", "/model/constants/INT64/1"],
               [f"{ib}/Range/output_0"], f"{ib}/Range")
        g.value(f"{ib}/Range/output_0", TP.INT64, ["unk"])
        g.node("Add", [f"{ib}/Range/output_0", "/model/constants/INT64/1"], [f"{ib}/Add_2/output_0"], f"{ib}/Add_2")
        g.value(f"{ib}/Add_2/output_0", TP.INT64, ["unk"])
        g.node("Reshape", [f"{ib}/Add_2/output_0", f"{ib}/Concat_3/output_0"], [f"{ib}/Reshape/output_0"],
               f"{ib}/Reshape")
        g.value(f"{ib}/Reshape/output_0", TP.INT64, None)
        g.node("Less", [f"{ib}/Range/output_0", f"{ib}/Reshape/output_0"], [f"{ib}/Less/output_0"], f"{ib}/Less")
        g.value(f"{ib}/Less/output_0", TP.BOOL, None)
        g.node("Where", [f"{ib}/Less/output_0", f"/model/constants/{ioname}/0", f"{ib}/ConstantOfShape_2/output_0"],
               [f"{ib}/Where_2/output_0"], f"{ib}/Where_2")
        g.value(f"{ib}/Where_2/output_0", io, None)
        g.node("Unsqueeze", [f"{ib}/Where_2/output_0", "/model/constants/INT64/[0]"], [f"{ib}/Unsqueeze_8/output_0"],
               f"{ib}/Unsqueeze_8")
        g.value(f"{ib}/Unsqueeze_8/output_0", io, None)
        g.node("Unsqueeze", [f"{ib}/Unsqueeze_8/output_0", "/model/constants/INT64/[1]"],
               [f"{ib}/Unsqueeze_9/output_0"], f"{ib}/Unsqueeze_9")
        g.value(f"{ib}/Unsqueeze_9/output_0", io, None)
        ids_expand = self._common_mask(ib, "input_ids", f"{ib}/Unsqueeze_3", f"{ib}/Unsqueeze_9", ids=True)
        # attention_mask subgraph (padding part)
        g.node("Unsqueeze", ["attention_mask", "/model/constants/INT64/[1]"], [f"{ab}/Unsqueeze_3/output_0"],
               f"{ab}/Unsqueeze_3")
        g.value(f"{ab}/Unsqueeze_3/output_0", TP.INT64, ["batch_size", 1, "total_sequence_length"])
        g.node("Unsqueeze", [f"{ab}/Unsqueeze_3/output_0", "/model/constants/INT64/[2]"],
               [f"{ab}/Unsqueeze_4/output_0"], f"{ab}/Unsqueeze_4")
        g.value(f"{ab}/Unsqueeze_4/output_0", TP.INT64, ["batch_size", 1, 1, "total_sequence_length"])
        am_expand = self._common_mask(ab, "attention_mask", f"{ib}/Unsqueeze_6", f"{ab}/Unsqueeze_4", ids=False)
        unk4 = ["unk", "unk", "unk", "unk"]
        g.node("Cast", [f"{am_expand}/output_0"], [f"{ab}/Cast_1/output_0"], f"{ab}/Cast_1", to=io)
        g.value(f"{ab}/Cast_1/output_0", io, unk4)
        g.node("Sub", [f"/model/constants/{ioname}/1", f"{ab}/Cast_1/output_0"], [f"{ab}/Sub/output_0"], f"{ab}/Sub")
        g.value(f"{ab}/Sub/output_0", io, unk4)
        g.node("Cast", [f"{ab}/Sub/output_0"], [f"{ab}/Cast_2/output_0"], f"{ab}/Cast_2", to=TP.BOOL)
        g.value(f"{ab}/Cast_2/output_0", TP.BOOL, unk4)
        g.node("Where", [f"{ab}/Cast_2/output_0", f"/model/constants/{ioname}/{fmin}", f"{ab}/Sub/output_0"],
               [f"{ab}/Where_2/output_0"], f"{ab}/Where_2")
        g.value(f"{ab}/Where_2/output_0", io, unk4)
        g.node("Add", [f"{ab}/Where_2/output_0", f"{ids_expand}/output_0"], [f"{basename}/Add/output_0"],
               f"{basename}/Add")
        g.value(f"{basename}/Add/output_0", io, ["batch_size", 1, "source_sequence_length", "target_sequence_length"])
        g.node("Tile", [f"{basename}/Add/output_0", f"/model/constants/INT64/[1, {self.nh}, 1, 1]"],
               [f"{basename}/Tile/output_0"], f"{basename}/Tile")
        g.value(f"{basename}/Tile/output_0", io,
                ["batch_size", self.nh, "source_sequence_length", "target_sequence_length"])
        self.mask_name = f"{basename}/Tile/output_0"

    # -- blocks -----------------------------------------------------------------------------------
    def embedding(self):
        g = self.g
        g.init("model.embed_tokens.weight", self.w["embed"].astype(self.iodt))
        out = "/model/embed_tokens/Gather/output_0"
        g.node("Gather", ["model.embed_tokens.weight", "input_ids"], [out], "/model/embed_tokens/Gather")
        g.value(out, self.io, ["batch_size", "sequence_length", self.H])
        self.root = self.skip = out

    def attention(self, i, lw):
        g, io = self.g, self.io
        p = f"/model/layers.{i}/attn"
        pk, pv, prk, prv = (f"past_key_values.{i}.key", f"past_key_values.{i}.value", f"present.{i}.key",
                            f"present.{i}.value")
        scale = float(1.0 / np.sqrt(self.hd))
        if self.attn == "gqa":
            qkv = np.concatenate([lw["q"], lw["k"], lw["v"]], axis=1)
            q_path = self.matmul(qkv, f"{p}/qkv_proj/MatMul", self.ln_out)
            cos, sin = self.rope_caches()
            name = f"{p}/GroupQueryAttention"
            g.node("GroupQueryAttention",
                   [q_path, "", "", pk, pv, self.seqlens_k, self.total_seq_len, cos, sin, "", "", ""],
                   [f"{name}/output_0", prk, prv], name, domain="com.microsoft",
                   num_heads=self.nh, kv_num_heads=self.kvh, scale=scale, local_window_size=-1, softcap=0.0,
                   do_rotary=1, rotary_interleaved=0)
        else:
            q = self.matmul(lw["q"], f"{p}/q_proj/MatMul", self.ln_out)
            k = self.matmul(lw["k"], f"{p}/k_proj/MatMul", self.ln_out)
            v = self.matmul(lw["v"], f"{p}/v_proj/MatMul", self.ln_out)
            cos, sin = self.rope_caches()
            rot = {}
            for which, src, heads in (("q", q, self.nh), ("k", k, self.kvh)):
                rname = f"{p}/{which}_rotary/RotaryEmbedding"
                g.node("RotaryEmbedding", [src, "position_ids", cos, sin], [f"{rname}/output_0"], rname,
                       domain="com.microsoft", interleaved=0, num_heads=0, rotary_embedding_dim=0)
                g.value(f"{rname}/output_0", io, ["batch_size", "sequence_length", self.hd * heads])
                rot[which] = f"{rname}/output_0"
            name = f"{p}/MultiHeadAttention"
            g.node("MultiHeadAttention", [rot["q"], rot["k"], v, "", "", self.mask_name, pk, pv],
                   [f"{name}/output_0", prk, prv], name, domain="com.microsoft",
                   num_heads=self.nh, scale=scale, unidirectional=0)
        g.value(f"{name}/output_0", io, ["batch_size", "sequence_length", self.hd * self.nh])
        self.skip = self.matmul(lw["o"], f"{p}/o_proj/MatMul", f"{name}/output_0")

    def mlp(self, i, lw):
        g, io = self.g, self.io
        p = f"/model/layers.{i}/mlp"
        shape = ["batch_size", "sequence_length", self.inter]
        gate = self.matmul(lw["gate"], f"{p}/gate_proj/MatMul", self.ln_out)
        up = self.matmul(lw["up"], f"{p}/up_proj/MatMul", self.ln_out)
        g.node("Sigmoid", [gate], [f"{p}/act_fn/Sigmoid/output_0"], f"{p}/act_fn/Sigmoid")
        g.value(f"{p}/act_fn/Sigmoid/output_0", io, shape)
        g.node("Mul", [gate, f"{p}/act_fn/Sigmoid/output_0"], [f"{p}/act_fn/Mul/output_0"], f"{p}/act_fn/Mul")
        g.value(f"{p}/act_fn/Mul/output_0", io, shape)
        g.node("Mul", [f"{p}/act_fn/Mul/output_0", up], [f"{p}/Mul/output_0"], f"{p}/Mul")
        g.value(f"{p}/Mul/output_0", io, shape)
        self.skip = self.matmul(lw["down"], f"{p}/down_proj/MatMul", f"{p}/Mul/output_0")

    def build(self, graph_name="main_graph"):
        if self.attn == "gqa":
            self.mask_gqa()
        else:
            self.mask_mha()
        self.embedding()
        for i, lw in enumerate(self.w["layers"]):
            self.layernorm(i, lw["in_ln"], skip=(i > 0), location="input")
            self.attention(i, lw)
            self.layernorm(i, lw["post_ln"], skip=True, location="post_attention")
            self.mlp(i, lw)
        self.last = True
        self.layernorm(self.L, self.w["norm"], skip=True, location="final_norm")
        self.matmul(self.w["lm_head"], "/lm_head/MatMul", self.ln_out, logits=True)
        ins, outs = self.io_infos()
        return self.g.model(graph_name, ins, outs, [("", 21), ("com.microsoft", 1)], ir_version=10,
                            producer="onnxruntime-genai")


def genai_config(*, L, nh, kvh, hd, H, ep, position_ids, share_buffer):
    inputs = {"input_ids": "input_ids", "attention_mask": "attention_mask"}
    if position_ids:
        inputs["position_ids"] = "position_ids"
    inputs.update(past_key_names="past_key_values.%d.key", past_value_names="past_key_values.%d.value")
    provider_options = []
    if ep == "cuda":
        provider_options.append({"cuda": {"enable_cuda_graph": "0", "enable_skip_layer_norm_strict_mode": "1"}})
    return {
        "model": {
            "bos_token_id": BOS,
            "context_length": MAX_POS,
            "decoder": {
                "session_options": {"log_id": "onnxruntime-genai", "provider_options": provider_options},
                "filename": "model.onnx",
                "head_size": hd,
                "hidden_size": H,
                "inputs": inputs,
                "outputs": {"logits": "logits", "present_key_names": "present.%d.key",
                            "present_value_names": "present.%d.value"},
                "num_attention_heads": nh,
                "num_hidden_layers": L,
                "num_key_value_heads": kvh,
            },
            "eos_token_id": EOS,
            "pad_token_id": PAD,
            "type": "llama",
            "vocab_size": VOCAB,
        },
        "search": {
            "diversity_penalty": 0.0, "do_sample": False, "early_stopping": True, "length_penalty": 1.0,
            "max_length": MAX_POS, "min_length": 0, "no_repeat_ngram_size": 0, "num_beams": 1,
            "num_return_sequences": 1, "past_present_share_buffer": share_buffer, "repetition_penalty": 1.0,
            "temperature": 1.0, "top_k": 50, "top_p": 1.0,
        },
    }


def tokenizer_side_files(folder, tokenizer_json):
    """tokenizer.json plus what `tokenizer.save_pretrained` writes next to it (model builder copies these)."""
    shutil.copyfile(tokenizer_json, os.path.join(folder, "tokenizer.json"))
    tok = json.load(open(tokenizer_json))
    added = {str(t["id"]): {k: t[k] for k in ("content", "lstrip", "normalized", "rstrip", "single_word", "special")}
             for t in tok["added_tokens"]}
    write_json(os.path.join(folder, "tokenizer_config.json"), {
        "added_tokens_decoder": added,
        "bos_token": "<s>",
        "clean_up_tokenization_spaces": False,
        "eos_token": "</s>",
        "extra_special_tokens": {},
        "model_max_length": MAX_POS,
        "pad_token": "<pad>",
        "tokenizer_class": "PreTrainedTokenizerFast",
        "unk_token": "<unk>",
    })
    tokmap = {}
    for key, content in (("bos_token", "<s>"), ("eos_token", "</s>"), ("pad_token", "<pad>"), ("unk_token", "<unk>")):
        tokmap[key] = {"content": content, "lstrip": False, "normalized": False, "rstrip": False, "single_word": False}
    write_json(os.path.join(folder, "special_tokens_map.json"), tokmap)


def hf_llama_config(*, V, H, L, nh, kvh, inter, extra=None):
    cfg = {
        "architectures": ["LlamaForCausalLM"], "model_type": "llama", "vocab_size": V, "hidden_size": H,
        "num_hidden_layers": L, "num_attention_heads": nh, "num_key_value_heads": kvh, "intermediate_size": inter,
        "max_position_embeddings": MAX_POS, "bos_token_id": BOS, "eos_token_id": EOS, "pad_token_id": PAD,
        "hidden_act": "silu", "rms_norm_eps": 1e-06, "rope_theta": 10000.0, "tie_word_embeddings": False,
        "torch_dtype": "float32",
    }
    cfg.update(extra or {})
    return cfg


# --------------------------------------------------------------------------------------------------
# Plain fp32 references (standard ONNX ops, no cache)
# --------------------------------------------------------------------------------------------------
class Plain:
    """Small helpers for plain graphs whose tensors are named like torch.onnx.export's (`<node>_output_0`)."""

    def __init__(self):
        self.g = G()

    def n(self, op, inputs, name, n_out=1, **attrs):
        outs = [f"{name}_output_{k}" for k in range(n_out)]
        self.g.node(op, inputs, outs, name, **attrs)
        return outs[0] if n_out == 1 else outs

    def c(self, name, arr):
        return self.g.init(name, np.asarray(arr))


def plain_positions_and_mask(P: Plain, prefix, mask_input=True):
    """positions = max(cumsum(mask) - 1, 0) (HF generate's rule); additive causal + padding bias [B, 1, S, S].
    mask_input=False: no attention_mask input; the mask is ones of input_ids' shape, as transformers builds
    it for model(input_ids), so positions are 0..S-1 and only the causal part remains."""
    one = P.c(f"{prefix}.const_one", np.array(1, np.int64))
    zero = P.c(f"{prefix}.const_zero", np.array(0, np.int64))
    axis1 = P.c(f"{prefix}.const_axis1", np.array(1, np.int64))
    mask = "attention_mask"
    if not mask_input:
        ones = helper.make_tensor(f"{prefix}.const_ones", TP.INT64, [1], [1])
        mask = P.n("ConstantOfShape", [P.n("Shape", ["input_ids"], f"{prefix}/Shape_ids")], f"{prefix}/ConstantOfShape",
                   value=ones)
    cs = P.n("CumSum", [mask, axis1], f"{prefix}/CumSum")
    sub = P.n("Sub", [cs, one], f"{prefix}/Sub")
    pos = P.n("Max", [sub, zero], f"{prefix}/Max")
    shp = P.n("Shape", ["input_ids"], f"{prefix}/Shape")
    seq = P.n("Gather", [shp, one], f"{prefix}/Gather", axis=0)
    ar = P.n("Range", [zero, seq, one], f"{prefix}/Range")
    ax0 = P.c(f"{prefix}.const_ax0", np.array([0], np.int64))
    axm1 = P.c(f"{prefix}.const_axm1", np.array([-1], np.int64))
    keys = P.n("Unsqueeze", [ar, ax0], f"{prefix}/Unsqueeze")  # [1, S]
    queries = P.n("Unsqueeze", [ar, axm1], f"{prefix}/Unsqueeze_1")  # [S, 1]
    causal = P.n("LessOrEqual", [keys, queries], f"{prefix}/LessOrEqual")  # [S, S]: key <= query
    pad = P.n("Cast", [mask], f"{prefix}/Cast", to=TP.BOOL)
    ax12 = P.c(f"{prefix}.const_ax12", np.array([1, 2], np.int64))
    pad4 = P.n("Unsqueeze", [pad, ax12], f"{prefix}/Unsqueeze_2")  # [B, 1, 1, S]
    allowed = P.n("And", [causal, pad4], f"{prefix}/And")  # [B, 1, S, S]
    zf = P.c(f"{prefix}.const_zero_f", np.array(0.0, np.float32))
    mf = P.c(f"{prefix}.const_min_f", np.array(np.finfo(np.float32).min, np.float32))
    bias = P.n("Where", [allowed, zf, mf], f"{prefix}/Where")
    return pos, bias


def plain_llama(w, *, V, H, nh, kvh, hd, inter, L, names, eps=1e-6, anon_start=None, mask_input=True):
    """LLaMA with standard ops. names="genai": `/model/layers.i/attn/{qkv_proj|q_proj..}/MatMul`,
    `/model/layers.i/mlp/*_proj/MatMul`, weights `<node path>.weight` as the builder names them;
    names="optimum": `/model/layers.i/self_attn/q_proj/MatMul` with anonymous `onnx::MatMul_N` weights."""
    P = Plain()
    g = P.g
    counter = [anon_start or 200]

    def wname(node_name):
        if names == "optimum":
            counter[0] += 1
            return f"onnx::MatMul_{counter[0]}"
        return node_name[1:].replace("/", ".") + ".weight"

    def linear(x, weight, node_name):
        return P.n("MatMul", [x, P.c(wname(node_name), weight)], node_name)

    c_two = P.c("model.const_two", np.array(2.0, np.float32))
    c_eps = P.c("model.const_eps", np.array(eps, np.float32))
    c_one = P.c("model.const_one", np.array(1.0, np.float32))

    def rms(x, weight, prefix, wn):
        pw = P.n("Pow", [x, c_two], f"{prefix}/Pow")
        rm = P.n("ReduceMean", [pw], f"{prefix}/ReduceMean", axes=[-1], keepdims=1)
        ad = P.n("Add", [rm, c_eps], f"{prefix}/Add")
        sq = P.n("Sqrt", [ad], f"{prefix}/Sqrt")
        dv = P.n("Div", [c_one, sq], f"{prefix}/Div")
        ml = P.n("Mul", [x, dv], f"{prefix}/Mul")
        return P.n("Mul", [P.c(wn, weight), ml], f"{prefix}/Mul_1")

    pos, bias = plain_positions_and_mask(P, "/model/attn_mask", mask_input)
    cos, sin = rope_tables(hd)
    cos_g = P.n("Gather", [P.c("model.rotary_emb.cos", cos), pos], "/model/rotary_emb/Gather")
    sin_g = P.n("Gather", [P.c("model.rotary_emb.sin", sin), pos], "/model/rotary_emb/Gather_1")
    ax1 = P.c("model.const_ax1", np.array([1], np.int64))
    cos4 = P.n("Unsqueeze", [cos_g, ax1], "/model/rotary_emb/Unsqueeze")  # [B, 1, S, hd]
    sin4 = P.n("Unsqueeze", [sin_g, ax1], "/model/rotary_emb/Unsqueeze_1")
    half0 = P.c("model.const_half0", np.array([0], np.int64))
    half1 = P.c("model.const_half1", np.array([hd // 2], np.int64))
    half2 = P.c("model.const_half2", np.array([hd], np.int64))
    axis3 = P.c("model.const_axis3", np.array([3], np.int64))
    scale = P.c("model.const_scale", np.array(1.0 / np.sqrt(hd), np.float32))
    merge = P.c("model.const_merge", np.array([0, 0, nh * hd], np.int64))
    head_shapes = {}

    def rope(x, prefix):
        x1 = P.n("Slice", [x, half0, half1, axis3], f"{prefix}/Slice")
        x2 = P.n("Slice", [x, half1, half2, axis3], f"{prefix}/Slice_1")
        nx2 = P.n("Neg", [x2], f"{prefix}/Neg")
        rot = P.n("Concat", [nx2, x1], f"{prefix}/Concat", axis=-1)
        a = P.n("Mul", [x, cos4], f"{prefix}/Mul")
        b = P.n("Mul", [rot, sin4], f"{prefix}/Mul_1")
        return P.n("Add", [a, b], f"{prefix}/Add")

    def heads(x, n, prefix):
        if n not in head_shapes:
            head_shapes[n] = P.c(f"model.const_heads_{n}", np.array([0, 0, n, hd], np.int64))
        r = P.n("Reshape", [x, head_shapes[n]], f"{prefix}/Reshape")
        return P.n("Transpose", [r], f"{prefix}/Transpose", perm=[0, 2, 1, 3])

    g.init("model.embed_tokens.weight", w["embed"])
    x = P.n("Gather", ["model.embed_tokens.weight", "input_ids"], "/model/embed_tokens/Gather")
    att = "self_attn" if names == "optimum" else "attn"
    rep = nh // kvh
    for i, lw in enumerate(w["layers"]):
        p = f"/model/layers.{i}"
        h = rms(x, lw["in_ln"], f"{p}/input_layernorm", f"model.layers.{i}.input_layernorm.weight")
        if names == "genai-fused":
            qkv = linear(h, np.concatenate([lw["q"], lw["k"], lw["v"]], axis=1), f"{p}/{att}/qkv_proj/MatMul")
            split = P.c(f"model.layers.{i}.split", np.array([nh * hd, kvh * hd, kvh * hd], np.int64))
            q, k, v = P.n("Split", [qkv, split], f"{p}/{att}/Split", n_out=3, axis=-1)
        else:
            q = linear(h, lw["q"], f"{p}/{att}/q_proj/MatMul")
            k = linear(h, lw["k"], f"{p}/{att}/k_proj/MatMul")
            v = linear(h, lw["v"], f"{p}/{att}/v_proj/MatMul")
        qh = rope(heads(q, nh, f"{p}/{att}/q"), f"{p}/{att}/q_rotary")
        kh = rope(heads(k, kvh, f"{p}/{att}/k"), f"{p}/{att}/k_rotary")
        vh = heads(v, kvh, f"{p}/{att}/v")
        if rep > 1:
            ax2 = P.c(f"model.layers.{i}.ax2", np.array([2], np.int64))
            shp = P.c(f"model.layers.{i}.rep_shape", np.array([0, nh, -1, hd], np.int64))
            kk = P.n("Unsqueeze", [kh, ax2], f"{p}/{att}/repeat_kv_k/Unsqueeze")
            kh = P.n("Reshape", [P.n("Concat", [kk] * rep, f"{p}/{att}/repeat_kv_k/Concat", axis=2), shp],
                     f"{p}/{att}/repeat_kv_k/Reshape")
            vv = P.n("Unsqueeze", [vh, ax2], f"{p}/{att}/repeat_kv_v/Unsqueeze")
            vh = P.n("Reshape", [P.n("Concat", [vv] * rep, f"{p}/{att}/repeat_kv_v/Concat", axis=2), shp],
                     f"{p}/{att}/repeat_kv_v/Reshape")
        kt = P.n("Transpose", [kh], f"{p}/{att}/Transpose", perm=[0, 1, 3, 2])
        sc = P.n("MatMul", [qh, kt], f"{p}/{att}/MatMul")
        sc = P.n("Mul", [sc, scale], f"{p}/{att}/Mul")
        sc = P.n("Add", [sc, bias], f"{p}/{att}/Add")
        pr = P.n("Softmax", [sc], f"{p}/{att}/Softmax", axis=-1)
        ctx = P.n("MatMul", [pr, vh], f"{p}/{att}/MatMul_1")
        ctx = P.n("Transpose", [ctx], f"{p}/{att}/Transpose_1", perm=[0, 2, 1, 3])
        ctx = P.n("Reshape", [ctx, merge], f"{p}/{att}/Reshape")
        o = linear(ctx, lw["o"], f"{p}/{att}/o_proj/MatMul")
        x = P.n("Add", [x, o], f"{p}/Add")
        h = rms(x, lw["post_ln"], f"{p}/post_attention_layernorm", f"model.layers.{i}.post_attention_layernorm.weight")
        gt = linear(h, lw["gate"], f"{p}/mlp/gate_proj/MatMul")
        up = linear(h, lw["up"], f"{p}/mlp/up_proj/MatMul")
        sg = P.n("Sigmoid", [gt], f"{p}/mlp/act_fn/Sigmoid")
        act = P.n("Mul", [gt, sg], f"{p}/mlp/act_fn/Mul")
        mu = P.n("Mul", [act, up], f"{p}/mlp/Mul")
        dn = linear(mu, lw["down"], f"{p}/mlp/down_proj/MatMul")
        x = P.n("Add", [x, dn], f"{p}/Add_1")
    h = rms(x, w["norm"], "/model/norm", "model.norm.weight")
    lm = f"onnx::MatMul_{counter[0] + 1}" if names == "optimum" else "lm_head.MatMul.weight"
    g.node("MatMul", [h, P.c(lm, w["lm_head"])], ["logits"], "/lm_head/MatMul")
    ins = [vinfo("input_ids", TP.INT64, ["batch_size", "sequence_length"])]
    if mask_input:
        ins.append(vinfo("attention_mask", TP.INT64, ["batch_size", "sequence_length"]))
    outs = [vinfo("logits", TP.FLOAT, ["batch_size", "sequence_length", V])]
    return g.model("main_graph", ins, outs, [("", 17)], ir_version=8, producer="pytorch", producer_version="2.13.0",
                   value_info=False)


def plain_gpt2(w, *, V, H, nh, inter, eps=1e-5, mask_input=True):
    P = Plain()
    g = P.g
    hd = H // nh
    pos, bias = plain_positions_and_mask(P, "/transformer/attn_mask", mask_input)
    g.init("transformer.wte.weight", w["wte"])
    g.init("transformer.wpe.weight", w["wpe"])
    te = P.n("Gather", ["transformer.wte.weight", "input_ids"], "/transformer/wte/Gather")
    pe = P.n("Gather", ["transformer.wpe.weight", pos], "/transformer/wpe/Gather")
    x = P.n("Add", [te, pe], "/transformer/Add")
    scale = P.c("transformer.const_scale", np.array(1.0 / np.sqrt(hd), np.float32))
    shape4 = P.c("transformer.const_heads", np.array([0, 0, nh, hd], np.int64))
    merge = P.c("transformer.const_merge", np.array([0, 0, H], np.int64))
    split = P.c("transformer.const_split", np.array([H, H, H], np.int64))
    c0 = P.c("transformer.gelu.c0", np.array(0.5, np.float32))
    c1 = P.c("transformer.gelu.c1", np.array(1.0, np.float32))
    c2 = P.c("transformer.gelu.c2", np.array(0.044715, np.float32))
    c3 = P.c("transformer.gelu.c3", np.array(np.sqrt(2.0 / np.pi), np.float32))
    c4 = P.c("transformer.gelu.c4", np.array(3.0, np.float32))

    def ln(x, wname, bname, name):
        return P.n("LayerNormalization", [x, wname, bname], name, axis=-1, epsilon=eps)

    def conv1d(x, wt, b, prefix, wn):
        m = P.n("MatMul", [x, P.c(f"{wn}.weight", wt)], f"{prefix}/MatMul")
        return P.n("Add", [m, P.c(f"{wn}.bias", b)], f"{prefix}/Add")

    for i, lw in enumerate(w["layers"]):
        p, wp = f"/transformer/h.{i}", f"transformer.h.{i}"
        g.init(f"{wp}.ln_1.weight", lw["ln_1_w"])
        g.init(f"{wp}.ln_1.bias", lw["ln_1_b"])
        h = ln(x, f"{wp}.ln_1.weight", f"{wp}.ln_1.bias", f"{p}/ln_1/LayerNormalization")
        qkv = conv1d(h, lw["c_attn_w"], lw["c_attn_b"], f"{p}/attn/c_attn", f"{wp}.attn.c_attn")
        q, k, v = P.n("Split", [qkv, split], f"{p}/attn/Split", n_out=3, axis=2)
        qh = P.n("Transpose", [P.n("Reshape", [q, shape4], f"{p}/attn/Reshape")], f"{p}/attn/Transpose", perm=[0, 2, 1, 3])
        kh = P.n("Transpose", [P.n("Reshape", [k, shape4], f"{p}/attn/Reshape_1")], f"{p}/attn/Transpose_1",
                 perm=[0, 2, 3, 1])
        vh = P.n("Transpose", [P.n("Reshape", [v, shape4], f"{p}/attn/Reshape_2")], f"{p}/attn/Transpose_2",
                 perm=[0, 2, 1, 3])
        sc = P.n("Mul", [P.n("MatMul", [qh, kh], f"{p}/attn/MatMul"), scale], f"{p}/attn/Mul")
        sc = P.n("Add", [sc, bias], f"{p}/attn/Add")
        pr = P.n("Softmax", [sc], f"{p}/attn/Softmax", axis=-1)
        ctx = P.n("Transpose", [P.n("MatMul", [pr, vh], f"{p}/attn/MatMul_1")], f"{p}/attn/Transpose_3", perm=[0, 2, 1, 3])
        ctx = P.n("Reshape", [ctx, merge], f"{p}/attn/Reshape_3")
        a = conv1d(ctx, lw["c_proj_w"], lw["c_proj_b"], f"{p}/attn/c_proj", f"{wp}.attn.c_proj")
        x = P.n("Add", [a, x], f"{p}/Add")
        g.init(f"{wp}.ln_2.weight", lw["ln_2_w"])
        g.init(f"{wp}.ln_2.bias", lw["ln_2_b"])
        h = ln(x, f"{wp}.ln_2.weight", f"{wp}.ln_2.bias", f"{p}/ln_2/LayerNormalization")
        f = conv1d(h, lw["c_fc_w"], lw["c_fc_b"], f"{p}/mlp/c_fc", f"{wp}.mlp.c_fc")
        # gelu_new: 0.5 * x * (1 + tanh(sqrt(2/pi) * (x + 0.044715 * x^3)))
        a = f"{p}/mlp/act"
        cube = P.n("Pow", [f, c4], f"{a}/Pow")
        inner = P.n("Add", [f, P.n("Mul", [c2, cube], f"{a}/Mul")], f"{a}/Add")
        th = P.n("Tanh", [P.n("Mul", [c3, inner], f"{a}/Mul_1")], f"{a}/Tanh")
        gl = P.n("Mul", [P.n("Mul", [c0, f], f"{a}/Mul_2"), P.n("Add", [c1, th], f"{a}/Add_1")], f"{a}/Mul_3")
        m = conv1d(gl, lw["mlp_proj_w"], lw["mlp_proj_b"], f"{p}/mlp/c_proj", f"{wp}.mlp.c_proj")
        x = P.n("Add", [x, m], f"{p}/Add_1")
    g.init("transformer.ln_f.weight", w["ln_f_w"])
    g.init("transformer.ln_f.bias", w["ln_f_b"])
    h = ln(x, "transformer.ln_f.weight", "transformer.ln_f.bias", "/transformer/ln_f/LayerNormalization")
    g.node("MatMul", [h, P.c("onnx::MatMul_1007", np.ascontiguousarray(w["wte"].T))], ["logits"], "/lm_head/MatMul")
    ins = [vinfo("input_ids", TP.INT64, ["batch_size", "sequence_length"])]
    if mask_input:
        ins.append(vinfo("attention_mask", TP.INT64, ["batch_size", "sequence_length"]))
    outs = [vinfo("logits", TP.FLOAT, ["batch_size", "sequence_length", V])]
    return g.model("main_graph", ins, outs, [("", 17)], ir_version=8, producer="pytorch", producer_version="2.13.0",
                   value_info=False)


# --------------------------------------------------------------------------------------------------
# onnxruntime.transformers.optimizer: fused GPT-2 with past
# --------------------------------------------------------------------------------------------------
def ort_fused_gpt2_graph(w, *, V, H, nh, L, eps=1e-5, graph_name="torch_jit"):
    """What `optimize_model(gpt2_past.onnx, model_type="gpt2", ...)` leaves for a GPT-2 exported by
    `onnxruntime/python/tools/transformers/models/gpt2` (Gpt2Helper.export_onnx: opset 11, int32 ids/mask,
    stacked `past_i`), with SkipLayerNormalization fusion on (FusionOptions.enable_skip_layer_norm=True).
    Returns (nodes, initializers, inputs, outputs)."""
    hd = H // nh
    g = G()
    for name, arr in (("transformer.wte.weight", w["wte"]), ("transformer.wpe.weight", w["wpe"])):
        g.init(name, arr)
    g.node("Gather", ["transformer.wte.weight", "input_ids"], ["/transformer/wte/Gather_output_0"],
           "/transformer/wte/Gather")
    g.node("Gather", ["transformer.wpe.weight", "position_ids"], ["/transformer/wpe/Gather_output_0"],
           "/transformer/wpe/Gather")
    g.node("Add", ["/transformer/wte/Gather_output_0", "/transformer/wpe/Gather_output_0"],
           ["/transformer/Add_output_0"], "/transformer/Add")
    lw0 = w["layers"][0]
    g.init("transformer.h.0.ln_1.weight", lw0["ln_1_w"])
    g.init("transformer.h.0.ln_1.bias", lw0["ln_1_b"])
    ln_out = "/transformer/h.0/ln_1/Add_1_output_0"
    g.node("LayerNormalization", ["/transformer/Add_output_0", "transformer.h.0.ln_1.weight", "transformer.h.0.ln_1.bias"],
           [ln_out], "LayerNorm_0", epsilon=eps)
    residual = "/transformer/Add_output_0"
    fc = 0  # FullyConnect_MatMul_* counter
    sln = 0  # SkipLayerNorm_AddBias_* counter
    for i, lw in enumerate(w["layers"]):
        wp = f"transformer.h.{i}"
        for suffix, arr in (("attn.c_attn.weight", lw["c_attn_w"]), ("attn.c_attn.bias", lw["c_attn_b"]),
                            ("attn.c_proj.weight", lw["c_proj_w"]), ("attn.c_proj.bias", lw["c_proj_b"]),
                            ("ln_2.weight", lw["ln_2_w"]), ("ln_2.bias", lw["ln_2_b"]),
                            ("mlp.c_fc.weight", lw["c_fc_w"]), ("mlp.c_fc.bias", lw["c_fc_b"]),
                            ("mlp.c_proj.weight", lw["mlp_proj_w"]), ("mlp.c_proj.bias", lw["mlp_proj_b"])):
            g.init(f"{wp}.{suffix}", arr)
        att = f"GptAttention_{i}"
        g.node("Attention", [ln_out, f"{wp}.attn.c_attn.weight", f"{wp}.attn.c_attn.bias", "attention_mask",
                             f"past_{i}"], [f"{att}_output", f"present_{i}"], att, domain="com.microsoft",
               num_heads=nh, unidirectional=1)
        g.node("MatMul", [f"{att}_output", f"{wp}.attn.c_proj.weight"], [f"{att}_matmul_output"], f"{att}_matmul")
        attn_res = f"/transformer/h.{i}/Add_output_0"
        g.node("SkipLayerNormalization",
               [f"{att}_matmul_output", residual, f"{wp}.ln_2.weight", f"{wp}.ln_2.bias", f"{wp}.attn.c_proj.bias"],
               [f"FullyConnect_MatMul_{fc}_input", "", "", attn_res], f"SkipLayerNorm_AddBias_{sln}",
               domain="com.microsoft", epsilon=eps)
        sln += 1
        g.node("MatMul", [f"FullyConnect_MatMul_{fc}_input", f"{wp}.mlp.c_fc.weight"], [f"FullyConnect_MatMul_{fc}_output"],
               f"FullyConnect_MatMul_{fc}")
        g.node("FastGelu", [f"FullyConnect_MatMul_{fc}_output", f"{wp}.mlp.c_fc.bias"], [f"FullyConnect_MatMul_{fc + 1}_input"],
               f"FastGelu_AddBias_{i}", domain="com.microsoft")
        fc += 1
        g.node("MatMul", [f"FullyConnect_MatMul_{fc}_input", f"{wp}.mlp.c_proj.weight"],
               [f"FullyConnect_MatMul_{fc}_output"], f"FullyConnect_MatMul_{fc}")
        mlp_out = f"FullyConnect_MatMul_{fc}_output"
        fc += 1
        mlp_res = f"/transformer/h.{i}/Add_1_output_0"
        if i + 1 < L:
            nwp = f"transformer.h.{i + 1}"
            g.init(f"{nwp}.ln_1.weight", w["layers"][i + 1]["ln_1_w"])
            g.init(f"{nwp}.ln_1.bias", w["layers"][i + 1]["ln_1_b"])
            ln_out = f"/transformer/h.{i + 1}/ln_1/Add_1_output_0"
            g.node("SkipLayerNormalization",
                   [mlp_out, attn_res, f"{nwp}.ln_1.weight", f"{nwp}.ln_1.bias", f"{wp}.mlp.c_proj.bias"],
                   [ln_out, "", "", mlp_res], f"SkipLayerNorm_AddBias_{sln}", domain="com.microsoft", epsilon=eps)
            residual = mlp_res
        else:
            g.init("transformer.ln_f.weight", w["ln_f_w"])
            g.init("transformer.ln_f.bias", w["ln_f_b"])
            ln_out = "/transformer/ln_f/Add_1_output_0"
            g.node("SkipLayerNormalization",
                   [mlp_out, attn_res, "transformer.ln_f.weight", "transformer.ln_f.bias", f"{wp}.mlp.c_proj.bias"],
                   [ln_out], f"SkipLayerNorm_AddBias_{sln}", domain="com.microsoft", epsilon=eps)
        sln += 1
    g.init("onnx::MatMul_1007", np.ascontiguousarray(w["wte"].T))
    g.node("MatMul", [ln_out, "onnx::MatMul_1007"], ["logits"], "/lm_head/MatMul")
    ins = [vinfo("input_ids", TP.INT32, ["batch_size", "seq_len"]),
           vinfo("position_ids", TP.INT32, ["batch_size", "seq_len"]),
           vinfo("attention_mask", TP.INT32, ["batch_size", "total_seq_len"])]
    ins += [vinfo(f"past_{i}", TP.FLOAT, [2, "batch_size", nh, "past_seq_len", hd]) for i in range(L)]
    outs = [vinfo("logits", TP.FLOAT, ["batch_size", "seq_len", V])]
    outs += [vinfo(f"present_{i}", TP.FLOAT, [2, "batch_size", nh, "total_seq_len", hd]) for i in range(L)]
    return g, ins, outs


def ort_fused_gpt2(w, **kw):
    g, ins, outs = ort_fused_gpt2_graph(w, **kw)
    return g.model("torch_jit", ins, outs, [("", 11), ("com.microsoft", 1)], ir_version=7, producer="pytorch",
                   producer_version="1.13.1", value_info=False)


def hf_gpt2_config(*, V, H, L, nh, inter):
    return {
        "architectures": ["GPT2LMHeadModel"], "model_type": "gpt2", "vocab_size": V, "n_embd": H, "n_layer": L,
        "n_head": nh, "n_inner": inter, "n_positions": MAX_POS, "n_ctx": MAX_POS, "activation_function": "gelu_new",
        "layer_norm_epsilon": 1e-05, "hidden_size": H, "num_hidden_layers": L, "num_attention_heads": nh,
        "max_position_embeddings": MAX_POS, "bos_token_id": BOS, "eos_token_id": EOS, "pad_token_id": PAD,
        "tie_word_embeddings": True, "torch_dtype": "float32",
    }


# --------------------------------------------------------------------------------------------------
# ORT dynamic quantization (quantize_dynamic) applied to an optimum-style graph
# --------------------------------------------------------------------------------------------------
def quantize_dynamic_like(model: onnx.ModelProto) -> onnx.ModelProto:
    """Rewrite the way `onnxruntime.quantization.quantize_dynamic` (QOperator format, default op types) does:
    MatMul(X, W) -> DynamicQuantizeLinear(X) + MatMulInteger(X_q, W_quantized, X_zp, W_zp) + Cast + Mul + Mul;
    Gather(E, ids) on an initializer -> Gather(E_quantized) + DequantizeLinear."""
    graph = model.graph
    inits = {t.name: t for t in graph.initializer}
    new_nodes, new_inits, dq_done = [], [], {}
    drop = set()

    def qweight(name, int8):
        arr = numpy_helper.to_array(inits[name]).astype(np.float32)
        drop.add(name)
        if int8:  # weights: QInt8, symmetric, reduce_range (7 bits)
            scale = np.float32(max(np.abs(arr).max(), 1e-8) / 63.0)
            q = np.clip(np.rint(arr / scale), -64, 63).astype(np.int8)
            zp = np.array(0, np.int8)
        else:  # activation type (QUInt8), asymmetric
            lo, hi = min(arr.min(), 0.0), max(arr.max(), 0.0)
            scale = np.float32((hi - lo) / 255.0)
            zpv = int(np.clip(np.rint(-lo / scale), 0, 255))
            q = np.clip(np.rint(arr / scale) + zpv, 0, 255).astype(np.uint8)
            zp = np.array(zpv, np.uint8)
        new_inits.append(numpy_helper.from_array(q, name + "_quantized"))
        new_inits.append(numpy_helper.from_array(np.array(scale, np.float32), name + "_scale"))
        new_inits.append(numpy_helper.from_array(zp, name + "_zero_point"))
        return name + "_quantized", name + "_scale", name + "_zero_point"

    for node in graph.node:
        if node.op_type == "MatMul" and node.input[1] in inits:
            x = node.input[0]
            if x not in dq_done:
                new_nodes.append(helper.make_node("DynamicQuantizeLinear", [x],
                                                  [x + "_quantized", x + "_scale", x + "_zero_point"],
                                                  name=x + "_QuantizeLinear"))
                dq_done[x] = True
            wq, ws, wz = qweight(node.input[1], True)
            mi = node.name + "_quant"
            out = node.output[0]
            new_nodes.append(helper.make_node("MatMulInteger", [x + "_quantized", wq, x + "_zero_point", wz],
                                              [out + "_output_quantized"], name=mi))
            new_nodes.append(helper.make_node("Cast", [out + "_output_quantized"], [out + "_output_quantized_cast_output"],
                                              name=out + "_output_quantized_cast", to=TP.FLOAT))
            new_nodes.append(helper.make_node("Mul", [x + "_scale", ws], [mi + "_scales_mul:0"], name=mi + "_scales_mul"))
            new_nodes.append(helper.make_node("Mul", [out + "_output_quantized_cast_output", mi + "_scales_mul:0"], [out],
                                              name=mi + "_output_scale_mul"))
        elif node.op_type == "Gather" and node.input[0] in inits:
            eq, es, ez = qweight(node.input[0], False)
            out = node.output[0]
            new_nodes.append(helper.make_node("Gather", [eq, node.input[1]], [out + "_quantized"], name=node.name))
            new_nodes.append(helper.make_node("DequantizeLinear", [out + "_quantized", es, ez], [out],
                                              name=out + "_DequantizeLinear"))
        else:
            new_nodes.append(node)
    keep = [t for t in graph.initializer if t.name not in drop]
    del graph.node[:]
    graph.node.extend(new_nodes)
    del graph.initializer[:]
    graph.initializer.extend(keep + new_inits)
    return model


# --------------------------------------------------------------------------------------------------
# Fixture writers
# --------------------------------------------------------------------------------------------------
GQA_DIMS = dict(H=64, nh=4, kvh=2, hd=16, inter=128, L=2)  # head_size 16: GQA's rotary needs head_size % 16 == 0
MHA_DIMS = dict(H=32, nh=4, kvh=4, hd=8, inter=64, L=2)
GPT2_DIMS = dict(H=32, nh=4, inter=128, L=2)


def build_genai_fp16(root, tok):
    name = "genai-llama-fp16"
    d = GQA_DIMS
    w32 = llama_weights(1101, VOCAB, d["H"], d["nh"], d["kvh"], d["hd"], d["inter"], d["L"])
    w = map_weights(w32, f16)  # the values the fp16 file holds
    folder = os.path.join(root, "test/fixtures/real", name)
    fresh_dir(folder)
    m = GenaiLlama(w, io=TP.FLOAT16, attn="gqa", **d).build()
    save_external(m, folder, "model.onnx", "model.onnx.data")
    write_json(os.path.join(folder, "genai_config.json"),
               genai_config(L=d["L"], nh=d["nh"], kvh=d["kvh"], hd=d["hd"], H=d["H"], ep="cuda", position_ids=False,
                            share_buffer=True), indent=4)
    tokenizer_side_files(folder, tok)
    ref = os.path.join(root, "test/fixtures/real-reference", name)
    fresh_dir(ref)
    onnx.save(plain_llama(w, V=VOCAB, names="genai-fused", **d), os.path.join(ref, "model.onnx"))
    onnx.save(plain_llama(w, V=VOCAB, names="genai-fused", mask_input=False, **d), os.path.join(ref, "model-nomask.onnx"))
    shutil.copyfile(tok, os.path.join(ref, "tokenizer.json"))
    write_json(os.path.join(ref, "config.json"), hf_llama_config(V=VOCAB, H=d["H"], L=d["L"], nh=d["nh"], kvh=d["kvh"],
                                                                  inter=d["inter"], extra={"head_dim": d["hd"]}))


def build_genai_fp32_mha(root, tok):
    name = "genai-llama-fp32-mha"
    d = MHA_DIMS
    w = llama_weights(1202, VOCAB, d["H"], d["nh"], d["kvh"], d["hd"], d["inter"], d["L"])
    folder = os.path.join(root, "test/fixtures/real", name)
    fresh_dir(folder)
    m = GenaiLlama(w, io=TP.FLOAT, attn="mha", **d).build()
    save_external(m, folder, "model.onnx", "model.onnx.data")
    write_json(os.path.join(folder, "genai_config.json"),
               genai_config(L=d["L"], nh=d["nh"], kvh=d["kvh"], hd=d["hd"], H=d["H"], ep="cpu", position_ids=True,
                            share_buffer=False), indent=4)
    tokenizer_side_files(folder, tok)
    ref = os.path.join(root, "test/fixtures/real-reference", name)
    fresh_dir(ref)
    onnx.save(plain_llama(w, V=VOCAB, names="genai", **d), os.path.join(ref, "model.onnx"))
    onnx.save(plain_llama(w, V=VOCAB, names="genai", mask_input=False, **d), os.path.join(ref, "model-nomask.onnx"))
    shutil.copyfile(tok, os.path.join(ref, "tokenizer.json"))
    write_json(os.path.join(ref, "config.json"), hf_llama_config(V=VOCAB, H=d["H"], L=d["L"], nh=d["nh"], kvh=d["kvh"],
                                                                  inter=d["inter"]))


def build_ort_fused_gpt2(root, tok):
    name = "ort-fused-gpt2"
    d = GPT2_DIMS
    w = gpt2_weights(1303, VOCAB, d["H"], d["inter"], d["L"], MAX_POS)
    folder = os.path.join(root, "test/fixtures/real", name)
    fresh_dir(folder)
    onnx.save(ort_fused_gpt2(w, V=VOCAB, H=d["H"], nh=d["nh"], L=d["L"]), os.path.join(folder, "model.onnx"))
    shutil.copyfile(tok, os.path.join(folder, "tokenizer.json"))
    cfg = hf_gpt2_config(V=VOCAB, **{k: d[k] for k in ("H", "L", "nh", "inter")})
    write_json(os.path.join(folder, "config.json"), cfg)
    ref = os.path.join(root, "test/fixtures/real-reference", name)
    fresh_dir(ref)
    onnx.save(plain_gpt2(w, V=VOCAB, H=d["H"], nh=d["nh"], inter=d["inter"]), os.path.join(ref, "model.onnx"))
    onnx.save(plain_gpt2(w, V=VOCAB, H=d["H"], nh=d["nh"], inter=d["inter"], mask_input=False),
              os.path.join(ref, "model-nomask.onnx"))
    shutil.copyfile(tok, os.path.join(ref, "tokenizer.json"))
    write_json(os.path.join(ref, "config.json"), cfg)
    return w


def build_refuse(root, tok, gpt2_w):
    base = os.path.join(root, "test/fixtures/refuse")
    os.makedirs(base, exist_ok=True)

    # matmulnbits: model builder int4 (`-p int4 -e cpu`, fp32 activations), every block linear MatMulNBits
    d = GQA_DIMS
    w = llama_weights(1404, VOCAB, d["H"], d["nh"], d["kvh"], d["hd"], d["inter"], d["L"])
    folder = os.path.join(base, "matmulnbits")
    fresh_dir(folder)
    m = GenaiLlama(w, io=TP.FLOAT, attn="gqa", int4=True, **d).build()
    save_external(m, folder, "model.onnx", "model.onnx.data")
    write_json(os.path.join(folder, "genai_config.json"),
               genai_config(L=d["L"], nh=d["nh"], kvh=d["kvh"], hd=d["hd"], H=d["H"], ep="cpu", position_ids=False,
                            share_buffer=True), indent=4)
    shutil.copyfile(tok, os.path.join(folder, "tokenizer.json"))
    write_json(os.path.join(folder, "config.json"), hf_llama_config(V=VOCAB, H=d["H"], L=d["L"], nh=d["nh"], kvh=d["kvh"],
                                                                     inter=d["inter"], extra={"head_dim": d["hd"]}))

    # qdq: optimum-style LLaMA after quantize_dynamic (`model_quantized.onnx` style), saved as model.onnx
    small = dict(H=32, nh=4, kvh=2, hd=8, inter=64, L=2)
    w = llama_weights(1505, VOCAB, small["H"], small["nh"], small["kvh"], small["hd"], small["inter"], small["L"])
    folder = os.path.join(base, "qdq")
    fresh_dir(folder)
    m = quantize_dynamic_like(plain_llama(w, V=VOCAB, names="optimum", anon_start=640, **small))
    onnx.save(m, os.path.join(folder, "model.onnx"))
    shutil.copyfile(tok, os.path.join(folder, "tokenizer.json"))
    write_json(os.path.join(folder, "config.json"), hf_llama_config(V=VOCAB, H=small["H"], L=small["L"], nh=small["nh"],
                                                                     kvh=small["kvh"], inter=small["inter"]))

    # beam-search: convert_generation.py wrapping of the fused GPT-2 decoder (initializers moved to the main graph)
    folder = os.path.join(base, "beam-search")
    fresh_dir(folder)
    dg = GPT2_DIMS
    g, ins, outs = ort_fused_gpt2_graph(gpt2_w, V=VOCAB, H=dg["H"], nh=dg["nh"], L=dg["L"])
    decoder = helper.make_graph(g.sorted_nodes(), "gpt2 decoder", ins, outs, [])
    node = helper.make_node(
        "BeamSearch",
        ["input_ids", "max_length", "min_length", "num_beams", "num_return_sequences", "length_penalty",
         "repetition_penalty", "", "", ""],
        ["sequences"], name="BeamSearch_gpt2", domain="com.microsoft",
        eos_token_id=EOS, pad_token_id=PAD, no_repeat_ngram_size=0, early_stopping=0, model_type=0)
    node.attribute.append(helper.make_attribute("decoder", decoder))
    main_in = [vinfo("input_ids", TP.INT32, ["batch_size", "sequence_length"]),
               vinfo("max_length", TP.INT32, [1]), vinfo("min_length", TP.INT32, [1]),
               vinfo("num_beams", TP.INT32, [1]), vinfo("num_return_sequences", TP.INT32, [1]),
               vinfo("length_penalty", TP.FLOAT, [1]), vinfo("repetition_penalty", TP.FLOAT, [1])]
    main_out = [vinfo("sequences", TP.INT32, ["batch_size", "num_return_sequences", "max_length"])]
    graph = helper.make_graph([node], "gpt2 beam search", main_in, main_out, g.inits)
    bm = helper.make_model(graph, producer_name="onnxruntime.transformers",
                           opset_imports=[helper.make_opsetid("", 11), helper.make_opsetid("com.microsoft", 1)])
    bm.ir_version = 7
    onnx.save(bm, os.path.join(folder, "model.onnx"))
    shutil.copyfile(tok, os.path.join(folder, "tokenizer.json"))
    write_json(os.path.join(folder, "config.json"), hf_gpt2_config(V=VOCAB, **{k: dg[k] for k in ("H", "L", "nh", "inter")}))

    # missing-data: optimum-style export whose weights live in model.onnx_data, which is not in the folder
    w = llama_weights(1606, VOCAB, small["H"], small["nh"], small["kvh"], small["hd"], small["inter"], small["L"])
    folder = os.path.join(base, "missing-data")
    fresh_dir(folder)
    m = plain_llama(w, V=VOCAB, names="optimum", anon_start=640, **small)
    size = save_external(m, folder, "model.onnx", "model.onnx_data", threshold=1024, write_data=False)
    shutil.copyfile(tok, os.path.join(folder, "tokenizer.json"))
    write_json(os.path.join(folder, "config.json"), hf_llama_config(V=VOCAB, H=small["H"], L=small["L"], nh=small["nh"],
                                                                     kvh=small["kvh"], inter=small["inter"]))

    # tokenizer-oob: runnable plain model with a 64-token vocabulary next to the 288-token tokenizer
    w = llama_weights(1707, 64, small["H"], small["nh"], small["kvh"], small["hd"], small["inter"], small["L"])
    folder = os.path.join(base, "tokenizer-oob")
    fresh_dir(folder)
    onnx.save(plain_llama(w, V=64, names="optimum", anon_start=640, **small), os.path.join(folder, "model.onnx"))
    shutil.copyfile(tok, os.path.join(folder, "tokenizer.json"))
    write_json(os.path.join(folder, "config.json"), hf_llama_config(V=64, H=small["H"], L=small["L"], nh=small["nh"],
                                                                     kvh=small["kvh"], inter=small["inter"]))
    return size


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--root", default=REPO, help="repository root (default: this checkout)")
    args = ap.parse_args()
    tok = os.path.join(args.root, TOKENIZER_SRC)
    build_genai_fp16(args.root, tok)
    build_genai_fp32_mha(args.root, tok)
    gpt2_w = build_ort_fused_gpt2(args.root, tok)
    missing = build_refuse(args.root, tok, gpt2_w)
    print(f"built genai-llama-fp16, genai-llama-fp32-mha, ort-fused-gpt2 (+ references) and 5 refusal fixtures; "
          f"refuse/missing-data names model.onnx_data ({missing} bytes, not written)")


if __name__ == "__main__":
    main()
