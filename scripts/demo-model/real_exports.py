"""Build fixtures that reproduce the files real ONNX exporters write for decoder LMs, and plain
fp32 references with the same weights.

    test/fixtures/real/<name>/            the exporter's layout: file names, I/O names, dtypes, cache
                                          shapes, symbolic dims, node/initializer naming, side files
    test/fixtures/real-reference/<name>/  model.onnx: input_ids, attention_mask -> logits (last_state),
                                          no cache, module-path names (the families.py style);
                                          model-nomask.onnx (layouts with an attention_mask): input_ids ->
                                          logits, the same weights called as model(input_ids)

Usage (environment: README.md in this folder):
    PYTHONPATH=/tmp/pyextra:/tmp/pydeps /usr/bin/python3 scripts/demo-model/real_exports.py \
        [--out test/fixtures/real] [--ref-out test/fixtures/real-reference]
    node scripts/demo-model/check_real_exports.mjs   # run both with onnxruntime-node and compare

What each folder stands for, and every deviation from the real tool, is in test/fixtures/real/README.md.
Weights are random (seeded), as in fixtures.py; dims as there: hidden 32, 2 layers, 4 heads (LLaMA:
2 kv heads), vocab 288, max positions 128. The build is deterministic.
"""
import argparse
import json
import os
import shutil
import sys
import tempfile

import onnx
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import families_past as fp  # noqa: E402
import onnx_passes as passes  # noqa: E402

torch.set_num_threads(2)

VOCAB, D, LAYERS, HEADS, KV_HEADS, POS = 288, 32, 2, 4, 2, 128
HEAD_DIM = D // HEADS
BOS, PAD, EOS, UNK = 0, 1, 2, 3
TOKENIZER = os.path.join(HERE, "..", "..", "test", "fixtures", "models", "xglm", "tokenizer.json")
TRANSFORMERS_VERSION = "4.38.2"  # the transformers release these optimum layouts come from


# --------------------------------------------------------------------------------------------- export
# Tracing sizes: different from each other and from every static size of the models (heads 4, kv heads
# 2, head dim 8, batch x heads 12 != 8), and the batch differs from the check's (2), so that a dynamic
# axis baked into the graph as a constant by mistake shows up as a failure in check_real_exports.mjs.
TB, TS, TP = 3, 5, 6


def trace_inputs(batch=TB, seq=TS, past=TP, mask=True):
    """Example input_ids, attention_mask (past + seq) and position_ids for tracing."""
    torch.manual_seed(0)
    ids = torch.randint(4, VOCAB, (batch, seq), dtype=torch.long)
    am = torch.ones(batch, past + seq, dtype=torch.long) if mask else None
    pos = (torch.arange(seq) + past).unsqueeze(0).expand(batch, seq).contiguous()
    return ids, am, pos


def torch_export(model, path, args, input_names, output_names, dynamic_axes, opset):
    model.eval()
    with torch.no_grad():
        torch.onnx.export(model, tuple(args), path, input_names=input_names, output_names=output_names,
                          dynamic_axes=dynamic_axes, opset_version=opset, do_constant_folding=True, dynamo=False)
    return onnx.load(path)


def export_reference(model, out_dir, output="logits"):
    """The families.py layout: (input_ids, attention_mask) -> logits, opset 17, readable names."""
    model.io = "plain"
    ids, am, _ = trace_inputs(seq=7, past=0)
    am[1, :2] = 0  # left padding on one row while tracing, as families.export does
    os.makedirs(out_dir, exist_ok=True)
    axes = {"batch_size": 0, "sequence_length": 1}
    dyn = {n: {v: k for k, v in axes.items()} for n in ("input_ids", "attention_mask", output)}
    torch_export(model, os.path.join(out_dir, "model.onnx"), (ids, am), ["input_ids", "attention_mask"], [output],
                 dyn, 17)
    onnx.checker.check_model(os.path.join(out_dir, "model.onnx"))


def export_maskless(model, out_dir, output="logits"):
    """The reference layout without an attention_mask input: traced as model(input_ids), so the mask is
    the ones transformers builds for a call without one and positions are 0..T-1 (the calibration call
    of the reference code). Written as model-nomask.onnx next to model.onnx."""
    model.io = "plain"
    ids, _, _ = trace_inputs(seq=7, past=0, mask=False)
    dyn = {n: {0: "batch_size", 1: "sequence_length"} for n in ("input_ids", output)}
    path = os.path.join(out_dir, "model-nomask.onnx")
    torch_export(model, path, (ids,), ["input_ids"], [output], dyn, 17)
    onnx.checker.check_model(path)


def cache_names(prefix, layers=LAYERS):
    return [f"{prefix}.{i}.{kv}" for i in range(layers) for kv in ("key", "value")]


def save_external(model, path):
    """optimum's check_and_save_model with FORCE_ONNX_EXTERNAL_DATA=1: one data file named
    `<file>.onnx_data` next to the model; every tensor whose serialized raw_data passes onnx's size
    test (sys.getsizeof(raw_data) >= 100) goes there, Constant-node tensors inside the If branches
    included (convert_attribute=True); smaller ones stay inline."""
    data = os.path.basename(path) + "_data"
    for f in (path, os.path.join(os.path.dirname(path), data)):
        if os.path.exists(f):
            os.remove(f)
    onnx.save(model, path, save_as_external_data=True, all_tensors_to_one_file=True, location=data,
              convert_attribute=True, size_threshold=100)


# ------------------------------------------------------------------------------------------ side files
def write_json(path, obj):
    with open(path, "w") as f:
        json.dump(obj, f, indent=2)
        f.write("\n")


def added_tokens_decoder():
    return {str(i): {"content": tok, "lstrip": False, "normalized": False, "rstrip": False, "single_word": False,
                     "special": True} for i, tok in enumerate(["<s>", "<pad>", "</s>", "<unk>"])}


def hf_side_files(d, config, pad=True, special_map_style="dict", max_len=POS, tokenizer_extra=None):
    """What `model.config.save_pretrained` / `generation_config` / `tokenizer.save_pretrained` write
    (optimum calls all three). EOS/BOS are in config.json, generation_config.json (`_from_model_config`)
    and, as tokens, in tokenizer_config.json and special_tokens_map.json; a model without a pad token
    (LLaMA) has none anywhere."""
    write_json(os.path.join(d, "config.json"), config)
    gen = {"_from_model_config": True, "bos_token_id": BOS, "eos_token_id": EOS}
    if pad:
        gen["pad_token_id"] = PAD
    gen["transformers_version"] = TRANSFORMERS_VERSION
    write_json(os.path.join(d, "generation_config.json"), gen)
    shutil.copy(TOKENIZER, os.path.join(d, "tokenizer.json"))
    tokens = {"bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>"}
    if pad:
        tokens["pad_token"] = "<pad>"
    tok_cfg = {"added_tokens_decoder": added_tokens_decoder(), **tokens, "clean_up_tokenization_spaces": False,
               "model_max_length": max_len, "tokenizer_class": "PreTrainedTokenizerFast"}
    if not pad:
        tok_cfg["pad_token"] = None
    tok_cfg.update(tokenizer_extra or {})
    write_json(os.path.join(d, "tokenizer_config.json"), dict(sorted(tok_cfg.items())))
    if special_map_style == "dict":  # transformers >= 4.3x writes the AddedToken fields
        tokens = {k: {"content": v, "lstrip": False, "normalized": False, "rstrip": False, "single_word": False}
                  for k, v in tokens.items()}
    write_json(os.path.join(d, "special_tokens_map.json"), dict(sorted(tokens.items())))


def hf_config(model_type, arch, name, **fields):
    cfg = {"_name_or_path": name, "architectures": [arch], "model_type": model_type}
    cfg.update(fields)
    cfg.update({"torch_dtype": "float32", "transformers_version": TRANSFORMERS_VERSION, "use_cache": True,
                "vocab_size": VOCAB})
    return dict(sorted(cfg.items(), key=lambda kv: (kv[0] != "_name_or_path", kv[0])))


def reference_side_files(ref_dir, real_dir):
    shutil.copy(os.path.join(real_dir, "config.json"), os.path.join(ref_dir, "config.json"))
    shutil.copy(TOKENIZER, os.path.join(ref_dir, "tokenizer.json"))


# --------------------------------------------------------------------------------- 1. optimum LLaMA
def build_llama_merged(out, ref):
    """`optimum-cli export onnx --task text-generation-with-past --legacy` (optimum 1.16-1.2x, the
    layout of Xenova/* and early onnx-community/* LLaMA repos), run with FORCE_ONNX_EXTERNAL_DATA=1:
    decoder_model.onnx + decoder_with_past_model.onnx, merged into decoder_model_merged.onnx."""
    model = fp.init_weights(fp.LlamaForCausalLM(VOCAB, D, LAYERS, HEADS, KV_HEADS, 64), 2001)
    present = {0: "batch_size", 2: "past_sequence_length + 1"}  # optimum's add_past_key_values(outputs)
    out_names = ["logits"] + cache_names("present")
    tmp = tempfile.mkdtemp()
    try:
        # decoder_model.onnx: optimum's dummy inputs have no past; outputs include the cache
        model.io = "no_past"
        ids, am, pos = trace_inputs(seq=7, past=0)
        seq = {0: "batch_size", 1: "sequence_length"}
        dyn = {"input_ids": seq, "attention_mask": seq, "position_ids": seq, "logits": seq}
        dyn.update({n: present for n in out_names[1:]})
        dec = torch_export(model, os.path.join(tmp, "decoder_model.onnx"), (ids, am, pos),
                           ["input_ids", "attention_mask", "position_ids"], out_names, dyn, 14)
        # decoder_with_past_model.onnx
        model.io = "with_past"
        ids, am, pos = trace_inputs()
        past = [torch.randn(TB, KV_HEADS, TP, HEAD_DIM) for _ in range(2 * LAYERS)]
        in_names = ["input_ids", "attention_mask", "position_ids"] + cache_names("past_key_values")
        dyn = {"input_ids": seq, "attention_mask": {0: "batch_size", 1: "past_sequence_length + 1"},
               "position_ids": seq, "logits": seq}
        dyn.update({n: {0: "batch_size", 2: "past_sequence_length"} for n in cache_names("past_key_values")})
        dyn.update({n: present for n in out_names[1:]})
        dwp = torch_export(model, os.path.join(tmp, "decoder_with_past_model.onnx"), (ids, am, pos, *past),
                           in_names, out_names, dyn, 14)
    finally:
        shutil.rmtree(tmp)
    merged = passes.merge_decoders(dec, dwp)
    d = os.path.join(out, "optimum-llama-merged")
    os.makedirs(d, exist_ok=True)
    save_external(merged, os.path.join(d, "decoder_model_merged.onnx"))
    hf_side_files(d, hf_config("llama", "LlamaForCausalLM", "TinyLlama/polyprune-tiny-llama", hidden_size=D,
                               intermediate_size=64, num_hidden_layers=LAYERS, num_attention_heads=HEADS,
                               num_key_value_heads=KV_HEADS, max_position_embeddings=POS, hidden_act="silu",
                               rms_norm_eps=1e-6, rope_theta=10000.0, rope_scaling=None, attention_bias=False,
                               attention_dropout=0.0, initializer_range=0.02, pretraining_tp=1,
                               tie_word_embeddings=False, bos_token_id=BOS, eos_token_id=EOS),
                  pad=False)
    export_reference(model, os.path.join(ref, "optimum-llama-merged"))
    export_maskless(model, os.path.join(ref, "optimum-llama-merged"))
    reference_side_files(os.path.join(ref, "optimum-llama-merged"), d)


# ---------------------------------------------------------------------------------- 2. optimum GPT-2
def build_gpt2(out, ref):
    """`optimum-cli export onnx --task text-generation-with-past` (optimum >= 1.2x, no merging; the
    layout of onnx-community/* GPT-2 style repos): one model.onnx whose first step takes an empty past."""
    model = fp.init_weights(fp.GPT2LMHeadModel(VOCAB, D, LAYERS, HEADS, POS, matmul=True), 2002)
    model.io = "optimum"
    ids, am, pos = trace_inputs()
    past = [torch.randn(TB, HEADS, TP, HEAD_DIM) for _ in range(2 * LAYERS)]
    total = "past_sequence_length + sequence_length"
    seq = {0: "batch_size", 1: "sequence_length"}
    in_names = ["input_ids"] + cache_names("past_key_values") + ["attention_mask", "position_ids"]
    out_names = ["logits"] + cache_names("present")
    dyn = {"input_ids": seq, "attention_mask": {0: "batch_size", 1: total}, "position_ids": seq, "logits": seq}
    dyn.update({n: {0: "batch_size", 2: "past_sequence_length"} for n in cache_names("past_key_values")})
    dyn.update({n: {0: "batch_size", 2: total} for n in out_names[1:]})
    d = os.path.join(out, "optimum-gpt2")
    os.makedirs(d, exist_ok=True)
    path = os.path.join(d, "model.onnx")
    m = torch_export(model, path, (ids, *past, am, pos), in_names, out_names, dyn, 14)
    m = passes.tie_gather_matmul(m, "transformer.wte.weight")
    onnx.checker.check_model(m)
    onnx.save(m, path)
    hf_side_files(d, hf_config("gpt2", "GPT2LMHeadModel", "openai-community/polyprune-tiny-gpt2",
                               activation_function="gelu_new", attn_pdrop=0.1, embd_pdrop=0.1,
                               initializer_range=0.02, layer_norm_epsilon=1e-5, n_ctx=POS, n_embd=D, n_head=HEADS,
                               n_inner=None, n_layer=LAYERS, n_positions=POS, resid_pdrop=0.1,
                               tie_word_embeddings=True, bos_token_id=BOS, eos_token_id=EOS),
                  pad=False, special_map_style="str", tokenizer_extra={"add_prefix_space": False})
    export_reference(model, os.path.join(ref, "optimum-gpt2"))
    export_maskless(model, os.path.join(ref, "optimum-gpt2"))
    reference_side_files(os.path.join(ref, "optimum-gpt2"), d)


# ----------------------------------------------------------------------------- 3. optimum BLOOM fp16
def build_bloom_fp16(out, ref):
    """`optimum-cli export onnx --task text-generation-with-past` with optimum 1.14-1.21 and
    transformers < 4.44 (BLOOM's own split cache layout), then the fp16 variant as the conversion
    scripts of that time made it: onnxconverter_common float16 with keep_io_types=False, saved as
    model_fp16.onnx. Only the fp16 file is shipped (a hub repo would also hold model.onnx)."""
    model = fp.init_weights(fp.BloomForCausalLM(VOCAB, D, LAYERS, HEADS), 2003)
    with torch.no_grad():  # the fp16 weights, as the reference will use them too
        for p in model.parameters():
            p.copy_(torch.from_numpy(passes.to_float16(p.detach().numpy()).astype("float32")))
    model.io = "optimum"
    ids, am, _ = trace_inputs()
    bh = "batch_size x num_heads"  # optimum's BloomOnnxConfig (transformers < 4.44)
    past = []
    for _ in range(LAYERS):
        past += [torch.randn(TB * HEADS, HEAD_DIM, TP), torch.randn(TB * HEADS, TP, HEAD_DIM)]
    in_names = ["input_ids"] + cache_names("past_key_values") + ["attention_mask"]
    out_names = ["logits"] + cache_names("present")
    dyn = {"input_ids": {0: "batch_size", 1: "sequence_length"},
           "attention_mask": {0: "batch_size", 1: "past_sequence_length + 1"},
           "logits": {0: "batch_size", 1: "sequence_length"}}
    for i in range(LAYERS):
        dyn[f"past_key_values.{i}.key"] = {0: bh, 2: "past_sequence_length"}
        dyn[f"past_key_values.{i}.value"] = {0: bh, 1: "past_sequence_length"}
        dyn[f"present.{i}.key"] = {0: bh, 2: "past_sequence_length + 1"}
        dyn[f"present.{i}.value"] = {0: bh, 1: "past_sequence_length + 1"}
    d = os.path.join(out, "optimum-bloom-fp16")
    os.makedirs(d, exist_ok=True)
    tmp = tempfile.mkdtemp()
    try:
        m = torch_export(model, os.path.join(tmp, "model.onnx"), (ids, *past, am), in_names, out_names, dyn, 14)
    finally:
        shutil.rmtree(tmp)
    m = passes.tie_gather_matmul(m, "transformer.word_embeddings.weight")
    m16 = passes.float16(m)
    onnx.save(m16, os.path.join(d, "model_fp16.onnx"))
    hf_side_files(d, hf_config("bloom", "BloomForCausalLM", "bigscience/polyprune-tiny-bloom",
                               apply_residual_connection_post_layernorm=False, attention_dropout=0.0,
                               hidden_dropout=0.0, hidden_size=D, initializer_range=0.02, layer_norm_epsilon=1e-5,
                               n_head=HEADS, n_layer=LAYERS, pretraining_tp=1, slow_but_exact=False,
                               tie_word_embeddings=True, bos_token_id=BOS, eos_token_id=EOS, pad_token_id=PAD),
                  special_map_style="str", tokenizer_extra={"padding_side": "left"})
    export_reference(model, os.path.join(ref, "optimum-bloom-fp16"))
    export_maskless(model, os.path.join(ref, "optimum-bloom-fp16"))
    reference_side_files(os.path.join(ref, "optimum-bloom-fp16"), d)


# ------------------------------------------------------------------------------ 4./5. research code
def stacked_export(model, path, output, seed):
    """A research script's export: input_ids and stacked caches past_<i> [2, batch, heads, past, head_dim]
    (the layout of onnxruntime's old GPT-2 conversion helper, whose axis names these are), no
    attention_mask, opset 11; then torch-1.x-style numeric names and an unsorted node list."""
    model.io = "stacked"
    ids, _, _ = trace_inputs(mask=False)
    past = [torch.randn(2, TB, HEADS, TP, HEAD_DIM) for _ in range(LAYERS)]
    in_names = ["input_ids"] + [f"past_{i}" for i in range(LAYERS)]
    out_names = [output] + [f"present_{i}" for i in range(LAYERS)]
    dyn = {"input_ids": {0: "batch_size", 1: "seq_len"}, output: {0: "batch_size", 1: "seq_len"}}
    dyn.update({f"past_{i}": {1: "batch_size", 3: "past_seq_len"} for i in range(LAYERS)})
    dyn.update({f"present_{i}": {1: "batch_size", 3: "total_seq_len"} for i in range(LAYERS)})
    m = torch_export(model, path, (ids, *past), in_names, out_names, dyn, 11)
    m.producer_name, m.producer_version = "pytorch", "1.8"
    onnx.checker.check_model(m)  # still sorted here
    onnx.save(passes.research_names(m, seed), path)


def research_config(model_type, arch, **fields):
    cfg = {"architectures": [arch], "model_type": model_type, "vocab_size": VOCAB, "bos_token_id": BOS,
           "eos_token_id": EOS, "pad_token_id": PAD}
    cfg.update(fields)
    return cfg


def build_torch_plain(out, ref):
    model = fp.init_weights(fp.GPT2LMHeadModel(VOCAB, D, LAYERS, HEADS, POS, matmul=False), 2004)
    d = os.path.join(out, "torch-plain")
    os.makedirs(d, exist_ok=True)
    stacked_export(model, os.path.join(d, "model.onnx"), "logits", 4)
    write_json(os.path.join(d, "config.json"),
               research_config("gpt2", "GPT2LMHeadModel", n_embd=D, n_layer=LAYERS, n_head=HEADS, n_positions=POS,
                               n_ctx=POS, activation_function="gelu_new", layer_norm_epsilon=1e-5))
    shutil.copy(TOKENIZER, os.path.join(d, "tokenizer.json"))
    export_reference(model, os.path.join(ref, "torch-plain"))
    reference_side_files(os.path.join(ref, "torch-plain"), d)


def build_torch_last_state(out, ref):
    model = fp.init_weights(fp.XGLMBackbone(VOCAB, D, LAYERS, HEADS, 4 * D, POS), 2005)
    d = os.path.join(out, "torch-last-state")
    os.makedirs(d, exist_ok=True)
    stacked_export(model, os.path.join(d, "model.onnx"), "last_state", 5)
    write_json(os.path.join(d, "config.json"),
               research_config("xglm", "XGLMModel", d_model=D, num_layers=LAYERS, attention_heads=HEADS,
                               ffn_dim=4 * D, max_position_embeddings=POS, activation_function="gelu",
                               scale_embedding=True))
    shutil.copy(TOKENIZER, os.path.join(d, "tokenizer.json"))
    export_reference(model, os.path.join(ref, "torch-last-state"), output="last_state")
    reference_side_files(os.path.join(ref, "torch-last-state"), d)


FILES = {"optimum-llama-merged": "decoder_model_merged.onnx", "optimum-gpt2": "model.onnx",
         "optimum-bloom-fp16": "model_fp16.onnx", "torch-plain": "model.onnx", "torch-last-state": "model.onnx"}


def linear_weights(path):
    """{content digest: shape} of every initializer a MatMul/Gemm reads as its weight (input 1), in the
    main graph and in If branches (whose weights are outer-scope initializers); fp16 read as fp32."""
    import hashlib
    import numpy as np
    from onnx import numpy_helper

    m = onnx.load(path)
    inits = {t.name: t for t in m.graph.initializer}
    found = {}

    def walk(g):
        local = {**inits, **{t.name: t for t in g.initializer}}
        for n in g.node:
            if n.op_type in ("MatMul", "Gemm") and n.input[1] in local:
                a = numpy_helper.to_array(local[n.input[1]]).astype(np.float32)
                found[hashlib.sha1(a.tobytes() + str(a.shape).encode()).hexdigest()] = a.shape
            for at in n.attribute:
                if at.type == onnx.AttributeProto.GRAPH:
                    walk(at.g)

    walk(m.graph)
    return found


def verify_same_weights(out, ref):
    """Every weight matrix a linear of the reference reads is, bit for bit and in the same [in, out]
    layout, a weight of the real layout; the only one allowed to be missing is a tied LM head, which
    optimum turns into Transpose(embedding)."""
    for name, file in FILES.items():
        real = linear_weights(os.path.join(out, name, file))
        refw = linear_weights(os.path.join(ref, name, "model.onnx"))
        missing = {k: v for k, v in refw.items() if k not in real}
        maskless = os.path.join(ref, name, "model-nomask.onnx")
        assert not os.path.exists(maskless) or linear_weights(maskless) == refw, (name, "model-nomask.onnx weights")
        assert len(missing) <= 1 and all(v[1] == VOCAB for v in missing.values()), (name, missing)
        print(f"  {name}: {len(refw)} reference linear weights, {len(refw) - len(missing)} identical in the real layout"
              + (" (+ tied head read through Transpose)" if missing else ""))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default="test/fixtures/real")
    ap.add_argument("--ref-out", default="test/fixtures/real-reference")
    a = ap.parse_args()
    for build in (build_llama_merged, build_gpt2, build_bloom_fp16, build_torch_plain, build_torch_last_state):
        build(a.out, a.ref_out)
        print("built", build.__name__[len("build_"):])
    verify_same_weights(a.out, a.ref_out)


if __name__ == "__main__":
    main()
