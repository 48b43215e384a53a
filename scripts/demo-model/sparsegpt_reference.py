"""Independent torch reference for SparseGPT (Frantar & Alistarh 2023): `fasterprune` and the
block-by-block driver of IST-DASLab/sparsegpt (sparsegpt.py, opt.py `opt_sequential`), re-written from
their published semantics in float64, run on a tiny LLaMA-style model that is also exported to ONNX.

Writes test/fixtures/sparsegpt/:
  model.onnx, config.json   the model (families.LlamaForCausalLM, d=64, 2 layers, random weights)
  reference.json            calibration token ids and, per case, the options and each layer's offsets
  weights.bin               updated weights, float32, canonical [d_in, d_out] (= torch weight.T)
  masks.bin                 uint8, 1 = kept, same layout

Usage (environment: README.md in this folder):
  PYTHONPATH=/tmp/pyextra:/tmp/pydeps /usr/bin/python3 scripts/demo-model/sparsegpt_reference.py
"""
import json
import math
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import families as fam  # noqa: E402

torch.set_num_threads(2)
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "test", "fixtures", "sparsegpt")
VOCAB, D, LAYERS, HEADS, KV, INTER = 288, 64, 2, 4, 2, 128
SAMPLES, SEQ = 8, 24
ROLES = [("self_attn.q_proj", "q"), ("self_attn.k_proj", "k"), ("self_attn.v_proj", "v"), ("self_attn.o_proj", "o"),
         ("mlp.gate_proj", "gate"), ("mlp.up_proj", "up"), ("mlp.down_proj", "down")]


class Hessian:
    """add_batch of sparsegpt.py: running average of (2/n)·Σ x xᵀ, tmp = samples in the batch."""

    def __init__(self, cols):
        self.H = torch.zeros(cols, cols, dtype=torch.float64)
        self.nsamples = 0

    def add_batch(self, inp):
        if inp.dim() == 2:
            inp = inp.unsqueeze(0)
        tmp = inp.shape[0]
        inp = inp.reshape(-1, inp.shape[-1]).t().double()
        self.H *= self.nsamples / (self.nsamples + tmp)
        self.nsamples += tmp
        inp = math.sqrt(2 / self.nsamples) * inp
        self.H += inp.matmul(inp.t())


def fasterprune(W, H, sparsity, prunen=0, prunem=0, blocksize=128, percdamp=0.01):
    """sparsegpt.py SparseGPT.fasterprune on W [rows=d_out, cols=d_in]; returns (Q, mask1 True=pruned)."""
    W = W.clone().double()
    H = H.clone()
    cols = W.shape[1]
    dead = torch.diag(H) == 0
    H[dead, dead] = 1
    W[:, dead] = 0
    damp = percdamp * torch.mean(torch.diag(H))
    H[torch.arange(cols), torch.arange(cols)] += damp
    H = torch.linalg.cholesky(H)
    H = torch.cholesky_inverse(H)
    H = torch.linalg.cholesky(H, upper=True)
    Hinv = H
    pruned = torch.zeros_like(W, dtype=torch.bool)
    for i1 in range(0, cols, blocksize):
        i2 = min(i1 + blocksize, cols)
        count = i2 - i1
        W1 = W[:, i1:i2].clone()
        Q1 = torch.zeros_like(W1)
        Err1 = torch.zeros_like(W1)
        Hinv1 = Hinv[i1:i2, i1:i2]
        if prunen == 0:
            tmp = W1 ** 2 / (torch.diag(Hinv1).reshape((1, -1))) ** 2
            thresh = torch.sort(tmp.flatten())[0][int(tmp.numel() * sparsity)]
            mask1 = tmp <= thresh
        else:
            mask1 = torch.zeros_like(W1, dtype=torch.bool)
        for i in range(count):
            w = W1[:, i]
            d = Hinv1[i, i]
            if prunen != 0 and i % prunem == 0:
                tmp = W1[:, i:(i + prunem)] ** 2 / (torch.diag(Hinv1)[i:(i + prunem)].reshape((1, -1))) ** 2
                # topk(largest=False) with ties broken towards the lower index (stable sort)
                idx = torch.sort(tmp, dim=1, stable=True)[1][:, :prunen]
                mask1.scatter_(1, i + idx, True)
            q = w.clone()
            q[mask1[:, i]] = 0
            Q1[:, i] = q
            err1 = (w - q) / d
            W1[:, i:] -= err1.unsqueeze(1).matmul(Hinv1[i, i:].unsqueeze(0))
            Err1[:, i] = err1
        W[:, i1:i2] = Q1
        pruned[:, i1:i2] = mask1
        W[:, i2:] -= Err1.matmul(Hinv[i1:i2, i2:])
    return W, pruned


def run_case(model, ids, mode, **opts):
    """opt_sequential: each layer's Hessians from its inputs, prune, then the next layer's inputs."""
    m = model.model
    am = torch.ones_like(ids)
    with torch.no_grad():
        cos, sin = m.rotary_emb(ids.shape[1])
        mask = fam.additive_mask(am[:1], ids.shape[1])
        inps = [m.embed_tokens(ids[j:j + 1]) for j in range(ids.shape[0])]
        out = {}
        for b, layer in enumerate(m.layers):
            mods = {role: layer.get_submodule(path) for path, role in ROLES}
            hs = {role: Hessian(mod.in_features) for role, mod in mods.items()}
            hooks = [mod.register_forward_hook(lambda _m, inp, _o, r=role: hs[r].add_batch(inp[0].data)) for role, mod in mods.items()]
            dense_outs = [layer(x, mask, cos, sin) for x in inps]
            for h in hooks:
                h.remove()
            for role, mod in mods.items():
                Q, pruned = fasterprune(mod.weight.data, hs[role].H, **opts)
                out[f"block{b}.{role}"] = (Q.t().contiguous(), (~pruned).t().contiguous())
                mod.weight.data = Q.float()
            inps = [layer(x, mask, cos, sin) for x in inps] if mode == "sequential" else dense_outs
    return out


def main():
    os.makedirs(OUT, exist_ok=True)
    torch.manual_seed(23)
    model = fam.LlamaForCausalLM(VOCAB, D, LAYERS, HEADS, KV, INTER)
    with torch.no_grad():
        # RMSNorm gains away from 1 and a few loud input channels, so that H⁻¹ is far from diagonal
        for p in model.parameters():
            if p.dim() == 1:
                p.copy_(0.5 + torch.rand_like(p))
        model.model.embed_tokens.weight[:, :4] *= 8
    fam.export(model, os.path.join(OUT, "model.onnx"))
    with open(os.path.join(OUT, "config.json"), "w") as f:
        json.dump({"architectures": ["LlamaForCausalLM"], "model_type": "llama", "vocab_size": VOCAB, "hidden_size": D,
                   "num_hidden_layers": LAYERS, "num_attention_heads": HEADS, "num_key_value_heads": KV,
                   "intermediate_size": INTER, "bos_token_id": 0, "eos_token_id": 2, "pad_token_id": 1}, f, indent=2)
    g = torch.Generator().manual_seed(7)
    ids = torch.randint(4, VOCAB, (SAMPLES, SEQ), generator=g)
    state = {k: v.clone() for k, v in model.state_dict().items()}
    cases = {
        "sequential-unstructured": dict(mode="sequential", sparsity=0.5, blocksize=32, percdamp=0.01),
        "sequential-2:4": dict(mode="sequential", sparsity=0.5, prunen=2, prunem=4, blocksize=32, percdamp=0.01),
        "oneshot-unstructured": dict(mode="oneshot", sparsity=0.5, blocksize=128, percdamp=0.01),
    }
    weights, masks, meta = [], [], {}
    off = 0
    for name, c in cases.items():
        model.load_state_dict(state)
        c = dict(c)
        mode = c.pop("mode")
        layers = {}
        for lid, (w, keep) in run_case(model, ids, mode, **c).items():
            weights.append(w.float().numpy().tobytes())
            masks.append(keep.to(torch.uint8).numpy().tobytes())
            layers[lid] = {"offset": off, "dIn": w.shape[0], "dOut": w.shape[1]}
            off += w.numel()
        meta[name] = {"mode": mode, **c, "layers": layers}
        print(name, "sparsity", 1 - sum(float(torch.frombuffer(bytearray(m), dtype=torch.uint8).float().sum()) for m in masks[-len(layers):]) / sum(v["dIn"] * v["dOut"] for v in layers.values()))
    with open(os.path.join(OUT, "weights.bin"), "wb") as f:
        f.write(b"".join(weights))
    with open(os.path.join(OUT, "masks.bin"), "wb") as f:
        f.write(b"".join(masks))
    with open(os.path.join(OUT, "reference.json"), "w") as f:
        json.dump({"samples": SAMPLES, "seqLen": SEQ, "inputIds": ids.tolist(), "cases": meta}, f)


if __name__ == "__main__":
    main()
