"""Build the tiny random-weight family fixtures in test/fixtures/models/<name>/.

Usage (see README.md in this folder for the environment):
    python3 scripts/demo-model/fixtures.py [--out test/fixtures/models]
"""
import argparse
import json
import os
import shutil
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bpe  # noqa: E402
import families as fam  # noqa: E402

torch.set_num_threads(2)

SPECIALS = ["<s>", "<pad>", "</s>", "<unk>"]
BOS, PAD, EOS, UNK = 0, 1, 2, 3
VOCAB = 288
D, LAYERS, HEADS, POS = 32, 2, 4, 128

SAMPLE_TEXT = [
    "French: Le chat dort sur le canapé.",
    "English: The cat is sleeping on the sofa.",
    "German: Der Zug kommt heute später an.",
    "English: The train arrives later today.",
    "Spanish: Mañana vamos a la playa con mis primos.",
    "English: Tomorrow we are going to the beach with my cousins.",
    "Russian: Я читаю эту книгу уже неделю.",
    "English: I have been reading this book for a week.",
    "The weather is nice and the children are playing in the garden.",
    "She opened the window because the room was too warm.",
]


def common(model_type, arch, **extra):
    cfg = {
        "architectures": [arch],
        "model_type": model_type,
        "vocab_size": VOCAB,
        "hidden_size": D,
        "num_hidden_layers": LAYERS,
        "num_attention_heads": HEADS,
        "max_position_embeddings": POS,
        "bos_token_id": BOS,
        "eos_token_id": EOS,
        "pad_token_id": PAD,
        "torch_dtype": "float32",
    }
    cfg.update(extra)
    return cfg


def build(out):
    vocab, merges = bpe.train_bpe(SAMPLE_TEXT * 3, VOCAB, SPECIALS)
    assert len(vocab) == VOCAB, len(vocab)
    specs = {
        "gpt2": (
            lambda: fam.GPT2LMHeadModel(VOCAB, D, LAYERS, HEADS, POS, matmul=False),
            common("gpt2", "GPT2LMHeadModel", n_embd=D, n_layer=LAYERS, n_head=HEADS, n_positions=POS,
                   n_inner=None, activation_function="gelu_new", layer_norm_epsilon=1e-5,
                   tie_word_embeddings=True),
        ),
        "gpt2-matmul": (
            lambda: fam.GPT2LMHeadModel(VOCAB, D, LAYERS, HEADS, POS, matmul=True),
            common("gpt2", "GPT2LMHeadModel", n_embd=D, n_layer=LAYERS, n_head=HEADS, n_positions=POS,
                   n_inner=None, activation_function="gelu_new", layer_norm_epsilon=1e-5,
                   tie_word_embeddings=True),
        ),
        "bloom": (
            lambda: fam.BloomForCausalLM(VOCAB, D, LAYERS, HEADS),
            common("bloom", "BloomForCausalLM", n_layer=LAYERS, n_head=HEADS, layer_norm_epsilon=1e-5,
                   apply_residual_connection_post_layernorm=False, tie_word_embeddings=True),
        ),
        "xglm": (
            lambda: fam.XGLMForCausalLM(VOCAB, D, LAYERS, HEADS, 4 * D, POS),
            common("xglm", "XGLMForCausalLM", d_model=D, num_layers=LAYERS, attention_heads=HEADS,
                   ffn_dim=4 * D, activation_function="gelu", scale_embedding=True,
                   tie_word_embeddings=True),
        ),
        "llama": (
            lambda: fam.LlamaForCausalLM(VOCAB, D, LAYERS, HEADS, 2, 64),
            common("llama", "LlamaForCausalLM", num_key_value_heads=2, intermediate_size=64,
                   hidden_act="silu", rms_norm_eps=1e-6, rope_theta=10000.0, attention_bias=False,
                   mlp_bias=False, tie_word_embeddings=False),
        ),
        "gemm": (
            lambda: fam.XGLMForCausalLM(VOCAB, D, LAYERS, HEADS, 4 * D, POS, gemm=True),
            common("xglm", "XGLMForCausalLM", d_model=D, num_layers=LAYERS, attention_heads=HEADS,
                   ffn_dim=4 * D, activation_function="gelu", scale_embedding=True,
                   tie_word_embeddings=True),
        ),
    }
    for seed, (name, (make, cfg)) in enumerate(specs.items()):
        torch.manual_seed(1000 + seed)
        model = make()
        # random but non-degenerate weights: norms around 1, biases small and non-zero
        with torch.no_grad():
            for pname, p in model.named_parameters():
                if p.dim() == 1:
                    p.copy_((1.0 if pname.endswith("weight") else 0.0) + 0.05 * torch.randn_like(p))
                else:
                    p.normal_(0.0, 0.2)
        d = os.path.join(out, name)
        os.makedirs(d, exist_ok=True)
        fam.export(model, os.path.join(d, "model.onnx"))
        with open(os.path.join(d, "config.json"), "w") as f:
            json.dump(cfg, f, indent=2)
            f.write("\n")
        bpe.write(os.path.join(d, "tokenizer.json"), vocab, merges, SPECIALS)
        print("built", name)

    # llama with every tensor in one external-data file
    import onnx

    src, dst = os.path.join(out, "llama"), os.path.join(out, "llama-extdata")
    os.makedirs(dst, exist_ok=True)
    for f in ("config.json", "tokenizer.json"):
        shutil.copy(os.path.join(src, f), os.path.join(dst, f))
    for f in ("model.onnx", "model.onnx.data"):
        if os.path.exists(os.path.join(dst, f)):
            os.remove(os.path.join(dst, f))
    m = onnx.load(os.path.join(src, "model.onnx"))
    onnx.save_model(m, os.path.join(dst, "model.onnx"), save_as_external_data=True,
                    all_tensors_to_one_file=True, location="model.onnx.data", size_threshold=0)
    print("built llama-extdata")

    for name in list(specs) + ["llama-extdata"]:
        p = os.path.join(out, name, "model.onnx")
        onnx.checker.check_model(p)


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default="test/fixtures/models")
    build(ap.parse_args().out)
