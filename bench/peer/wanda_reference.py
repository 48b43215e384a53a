"""The peer side of `npm run bench -- peer`: a torch implementation of the reference's sequential
Wanda (locuslab/wanda `prune_wanda`, as the paper's code calls it: layer 0's inputs caught, then per
decoder layer the linears' input norms gathered by forward hooks over every sample, each output row's
lowest |W|·sqrt(scaler_row) pruned by a stable sort, and the layer run again on the pruned weights to
give the next layer's inputs) and its multiple-choice scoring (one prompt per forward pass, mean token
log-prob of the prompt: the `paper` scoring). Bench only, never in the product.

  build --out DIR --layers L --d D --ffn F --heads H --vocab V   random-weight XGLM (families.py),
        exported to DIR/model.onnx (+ external data) and saved as DIR/weights.pt
  run --model DIR --inputs FILE --out FILE --threads N           calibrate, prune, score; writes masks
        (uint8, 1 = kept, torch layout [out, in], layer by layer) to FILE.masks and a JSON report to FILE
        [--sums float64]: the statistics and metric in float64 instead of the reference's float32
        (Wrapped64; a bench variant for telling rounding from real differences)

Environment: scripts/demo-model/README.md (PYTHONPATH=/tmp/pyextra:/tmp/pydeps /usr/bin/python3).
"""
import argparse
import json
import math
import os
import resource
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "scripts", "demo-model"))
import families as fam  # noqa: E402

LINEARS = ["self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.out_proj", "fc1", "fc2"]


def make_model(cfg):
    torch.manual_seed(cfg["seed"])
    m = fam.XGLMForCausalLM(vocab=cfg["vocab"], d=cfg["d"], n_layers=cfg["layers"], n_heads=cfg["heads"], ffn=cfg["ffn"], n_positions=2048)
    with torch.no_grad():
        for p in m.parameters():
            if p.dim() == 2:
                p.normal_(0, 0.02)
    return m.eval()


def build(args):
    cfg = dict(layers=args.layers, d=args.d, ffn=args.ffn, heads=args.heads, vocab=args.vocab, seed=args.seed)
    os.makedirs(args.out, exist_ok=True)
    torch.set_num_threads(args.threads)
    m = make_model(cfg)
    torch.save(m.state_dict(), os.path.join(args.out, "weights.pt"))
    # Above 2 GB torch.onnx writes every tensor, a Constant's position table included, to its own file.
    fam.export(m, os.path.join(args.out, "model.onnx"))
    single_data_file(args.out)
    with open(os.path.join(args.out, "peer.json"), "w") as f:
        json.dump(cfg, f)


def single_data_file(out):
    """One model.onnx_data for the initializers, Constants inline: the optimum layout polyprune's writer copies."""
    import onnx

    path = os.path.join(out, "model.onnx")
    model = onnx.load(path)
    before = set(os.listdir(out))
    onnx.save_model(model, path, save_as_external_data=True, all_tensors_to_one_file=True, location="model.onnx_data", size_threshold=1024, convert_attribute=False)
    for f in before - {"model.onnx", "model.onnx_data", "weights.pt", "peer.json"}:
        os.remove(os.path.join(out, f))


class Wrapped64:
    """Bench variant (`--sums float64`), not the reference: Σ_tokens x_j² summed in float64, divided by
    the sample count once, and the metric |W|·sqrt(s) taken in float64 and rounded to float32 once, as
    polyprune computes them. Shows how many mask entries depend on float32 rounding alone."""

    def __init__(self, layer):
        self.sum = torch.zeros(layer.weight.shape[1], dtype=torch.float64)
        self.nsamples = 0

    def add_batch(self, inp):
        if inp.dim() == 2:
            inp = inp.unsqueeze(0)
        self.nsamples += inp.shape[0]
        x = inp.reshape(-1, inp.shape[-1]).double()
        self.sum += (x * x).sum(0)

    def metric(self, w):
        return (torch.abs(w.double()) * torch.sqrt(self.sum / self.nsamples).reshape((1, -1))).float()


class Wrapped:
    """WrappedGPT of the reference: scaler_row, the running mean over samples of Σ_tokens x_j²."""

    def __init__(self, layer):
        self.layer = layer
        self.scaler_row = torch.zeros(layer.weight.shape[1])
        self.nsamples = 0

    def add_batch(self, inp):
        if inp.dim() == 2:
            inp = inp.unsqueeze(0)
        tmp = inp.shape[0]
        inp = inp.reshape(-1, inp.shape[-1]).t().float()
        self.scaler_row *= self.nsamples / (self.nsamples + tmp)
        self.nsamples += tmp
        self.scaler_row += torch.norm(inp, p=2, dim=1) ** 2 / self.nsamples

    def metric(self, w):
        return torch.abs(w) * torch.sqrt(self.scaler_row.reshape((1, -1)))


def find(module, name):
    for part in name.split("."):
        module = getattr(module, part)
    return module


def prune_wanda(model, samples, sparsity, wrapper=None):
    """prune_wanda of the reference, unstructured, one sample per forward as its loop does."""
    wrapper = wrapper or Wrapped
    layers = model.model.layers
    n, seq = samples.shape
    mask = fam.additive_mask(torch.ones(1, seq, dtype=torch.long), seq)
    with torch.no_grad():
        # The Catcher: the embeddings are layer 0's inputs.
        emb = model.model.embed_tokens(samples) * model.model.embed_scale + model.model.embed_positions(seq)
        inps = [emb[j : j + 1] for j in range(n)]
        masks = []
        for i, layer in enumerate(layers):
            wrapped = {name: wrapper(find(layer, name)) for name in LINEARS}
            handles = [find(layer, name).register_forward_hook(lambda _m, inp, _out, w=wrapped[name]: w.add_batch(inp[0].data)) for name in LINEARS]
            for j in range(n):
                layer(inps[j], mask)
            for h in handles:
                h.remove()
            for name in LINEARS:
                w = find(layer, name).weight
                metric = wrapped[name].metric(w.data)
                drop = torch.zeros_like(metric, dtype=torch.bool)
                idx = torch.sort(metric, dim=-1, stable=True)[1][:, : int(metric.shape[1] * sparsity)]
                drop.scatter_(1, idx, True)
                w.data[drop] = 0
                masks.append((~drop).to(torch.uint8).numpy().tobytes())
            inps = [layer(inps[j], mask) for j in range(n)]
    return masks


def score_paper(model, prompts):
    """Mean token log-prob of each whole prompt, one prompt per forward pass."""
    out = []
    with torch.no_grad():
        for ids in prompts:
            t = torch.tensor([ids], dtype=torch.long)
            logits = model(t, torch.ones_like(t))[0].double()
            lp = F.log_softmax(logits[:-1], dim=-1).gather(1, t[0, 1:, None])[:, 0]
            out.append(float(lp.mean()))
    return out


def run(args):
    torch.set_num_threads(args.threads)
    with open(os.path.join(args.model, "peer.json")) as f:
        cfg = json.load(f)
    with open(args.inputs) as f:
        inputs = json.load(f)
    t0 = time.perf_counter()
    model = make_model(cfg)
    model.load_state_dict(torch.load(os.path.join(args.model, "weights.pt")))
    t1 = time.perf_counter()
    masks = prune_wanda(model, torch.tensor(inputs["calibration"], dtype=torch.long), inputs["sparsity"], Wrapped64 if args.sums == "float64" else Wrapped)
    t2 = time.perf_counter()
    scores = score_paper(model, inputs["prompts"])
    t3 = time.perf_counter()
    with open(args.out + ".masks", "wb") as f:
        for m in masks:
            f.write(m)
    report = {
        "seconds": {"load": t1 - t0, "calibrate+prune": t2 - t1, "score": t3 - t2, "total": t3 - t0},
        "maxRssBytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
        "cpuSeconds": resource.getrusage(resource.RUSAGE_SELF).ru_utime + resource.getrusage(resource.RUSAGE_SELF).ru_stime,
        "scores": scores,
        "linears": [
            {"block": i, "name": name, "dOut": find(model.model.layers[i], name).weight.shape[0], "dIn": find(model.model.layers[i], name).weight.shape[1]}
            for i in range(cfg["layers"])
            for name in LINEARS
        ],
    }
    with open(args.out, "w") as f:
        json.dump(report, f)


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("build")
    b.add_argument("--out", required=True)
    for k, v in dict(layers=4, d=1024, ffn=4096, heads=16, vocab=256008, seed=1, threads=2).items():
        b.add_argument(f"--{k}", type=int, default=v)
    r = sub.add_parser("run")
    r.add_argument("--model", required=True)
    r.add_argument("--inputs", required=True)
    r.add_argument("--out", required=True)
    r.add_argument("--threads", type=int, default=2)
    r.add_argument("--sums", choices=["float32", "float64"], default="float32")
    a = p.parse_args()
    build(a) if a.cmd == "build" else run(a)


if __name__ == "__main__":
    main()
