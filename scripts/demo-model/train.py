"""Train the polyprune demo model (a small XGLM-like decoder) on the demo text and export it to ONNX.

Usage (environment: see README.md in this folder):
    PYTHONPATH=/tmp/pyextra:/tmp/pydeps /usr/bin/python3 scripts/demo-model/train.py --out demo/model

Training text (from scripts/demo-model/text/train.*.txt only; the held-out files are never trained on):
- translation demonstrations in the calibration format "{SrcName}: {src}</s>{TgtName}: {tgt}</s>",
  1-5 consecutive pairs, X->English (70%) and English->X (30%), X in French/German/Spanish/Russian;
- monolingual runs "{Name}: {s}</s>" and plain sentences "{s}</s>" in all five languages.
Sequences are packed to --seq tokens, optionally starting with <s> or </s>.
"""
import argparse
import json
import math
import os
import random
import sys
import time

import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import augment  # noqa: E402
import bpe  # noqa: E402
import families as fam  # noqa: E402
from make_data import LANGS, NAMES, read_rows  # noqa: E402

BOS, PAD, EOS, UNK = 0, 1, 2, 3


def load_tokenizer(path):
    tj = json.load(open(path, encoding="utf-8"))
    vocab = [None] * len(tj["model"]["vocab"])
    for t, i in tj["model"]["vocab"].items():
        vocab[i] = t
    merges = [tuple(m.split(" ")) for m in tj["model"]["merges"]]
    return vocab, merges


class Data:
    def __init__(self, rows, extra, vocab, merges, rng, p_extra_mt=0.5, p_extra_mono=0.3, p_mt=0.6, max_shots=5):
        self.rng = rng
        self.p_mt, self.max_shots = p_mt, max_shots
        self.p_extra_mt, self.p_extra_mono = p_extra_mt, p_extra_mono
        enc = lambda s: bpe.encode(s, vocab, merges)  # noqa: E731
        # per row and language: "{Name}: {s}" and the plain sentence
        self.sets = []
        for rs in (rows, extra):
            named = [{l: enc(f"{NAMES[l]}: {r[l]}") for l in LANGS} for r in rs]
            plain = [{l: enc(r[l]) for l in LANGS} for r in rs]
            self.sets.append((named, plain, len(rs)))

    def segment(self):
        rng = self.rng
        u = rng.random()
        out = []
        if u < self.p_mt:  # translation demonstrations
            named, _, n = self.sets[1 if self.sets[1][2] and rng.random() < self.p_extra_mt else 0]
            x = rng.choice(LANGS[1:])
            src, tgt = (x, "en") if rng.random() < 0.7 else ("en", x)
            k = rng.randint(1, self.max_shots)
            i = rng.randrange(n)
            for j in range(k):
                r = (i + j) % n
                out += named[r][src] + [EOS] + named[r][tgt] + [EOS]
        else:  # monolingual, with the language name or plain
            named, plain, n = self.sets[1 if self.sets[1][2] and rng.random() < self.p_extra_mono else 0]
            src = named if u < self.p_mt + 0.6 * (1 - self.p_mt) else plain
            lang = rng.choice(LANGS)
            for _ in range(rng.randint(1, 4)):
                out += src[rng.randrange(n)][lang] + [EOS]
        return out

    def sequence(self, seq):
        u = self.rng.random()
        ids = [BOS] if u < 0.25 else [EOS] if u < 0.5 else []
        while len(ids) < seq + 1:
            ids += self.segment()
        return ids[: seq + 1]

    def batch(self, bs, seq):
        t = torch.tensor([self.sequence(seq) for _ in range(bs)], dtype=torch.long)
        return t[:, :-1], t[:, 1:]


def line_nll(model, seqs):
    """Sum of NLL and token count over sequences (each scored after a leading </s>)."""
    model.eval()
    tot, cnt = 0.0, 0
    with torch.no_grad():
        for ids in seqs:
            x = torch.tensor([[EOS] + ids], dtype=torch.long)
            logits = model(x[:, :-1], torch.ones_like(x[:, :-1]))
            nll = F.cross_entropy(logits[0], x[0, 1:], reduction="sum")
            tot += nll.item()
            cnt += len(ids)
    model.train()
    return tot, cnt


def chrf(hyp, ref, n=6, beta=2.0):
    """Character n-gram F-score (chrF, spaces removed), 0..100."""
    h, r = hyp.replace(" ", ""), ref.replace(" ", "")
    precs, recs = [], []
    for k in range(1, n + 1):
        hg = {}
        for i in range(len(h) - k + 1):
            hg[h[i : i + k]] = hg.get(h[i : i + k], 0) + 1
        rg = {}
        for i in range(len(r) - k + 1):
            rg[r[i : i + k]] = rg.get(r[i : i + k], 0) + 1
        if not hg or not rg:
            continue
        m = sum(min(c, rg.get(g, 0)) for g, c in hg.items())
        precs.append(m / sum(hg.values()))
        recs.append(m / sum(rg.values()))
    if not precs:
        return 0.0
    p, rc = sum(precs) / len(precs), sum(recs) / len(recs)
    if p + rc == 0:
        return 0.0
    return 100 * (1 + beta**2) * p * rc / (beta**2 * p + rc)


def translate(model, vocab, merges, shots, src_lang, src, max_new=24):
    enc = lambda s: bpe.encode(s, vocab, merges)  # noqa: E731
    ids = []
    for s, t in shots:
        ids += enc(f"{NAMES[src_lang]}: {s}") + [EOS] + enc(f"English: {t}") + [EOS]
    ids += enc(f"{NAMES[src_lang]}: {src}") + [EOS] + enc("English:")
    out = []
    model.eval()
    with torch.no_grad():
        for _ in range(max_new):
            x = torch.tensor([ids + out], dtype=torch.long)
            nxt = int(model(x, torch.ones_like(x))[0, -1].argmax())
            if nxt == EOS:
                break
            out.append(nxt)
    model.train()
    table = {v: k for k, v in bpe.byte_symbols().items()}
    text = bytes(table[c] for tid in out for c in vocab[tid] if tid > 3).decode("utf-8", "replace")
    return text.strip()


def spread_features(model, sigma, seed):
    """Function-preserving reparametrisation: per block, draw a log-normal scale s_j per channel, multiply
    the LayerNorm gain and bias before q/k/v (and before fc1) by s and divide the matching input columns of
    q/k/v (fc1) by s. The network computes the same function, but its block inputs now have channels of
    very different magnitude, like the large-magnitude features of large LMs (Kim et al. 2024, Sec. 3).
    Wanda's score |W_ij| * ||x_j|| is invariant to this; plain magnitude pruning is not."""
    if sigma <= 0:
        return
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for layer in model.model.layers:
            for norm, lins in ((layer.self_attn_layer_norm, (layer.self_attn.q_proj, layer.self_attn.k_proj,
                                                             layer.self_attn.v_proj)),
                               (layer.final_layer_norm, (layer.fc1,))):
                z = torch.randn(norm.weight.shape[0], generator=g).clamp(-2.5, 2.5)
                scale = torch.exp(sigma * z)
                norm.weight.mul_(scale)
                norm.bias.mul_(scale)
                for lin in lins:
                    lin.weight.div_(scale[None, :])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default="demo/model")
    ap.add_argument("--layers", type=int, default=4)
    ap.add_argument("--d", type=int, default=128)
    ap.add_argument("--heads", type=int, default=4)
    ap.add_argument("--ffn", type=int, default=512)
    ap.add_argument("--seq", type=int, default=128)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--dropout", type=float, default=0.1)
    ap.add_argument("--minutes", type=float, default=12.0, help="wall-clock training budget")
    ap.add_argument("--max-steps", type=int, default=3000)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--extra", type=int, default=12000, help="composed pairs from augment.py (0: none)")
    ap.add_argument("--p-mt", type=float, default=0.6, help="share of translation-demonstration segments")
    ap.add_argument("--max-shots", type=int, default=5)
    ap.add_argument("--feature-spread", type=float, default=1.0,
                    help="sigma of the log-normal channel scales moved into the LayerNorms before export (0: off)")
    a = ap.parse_args()

    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    rng = random.Random(a.seed)
    vocab, merges = load_tokenizer(os.path.join(a.out, "tokenizer.json"))
    V = len(vocab)
    rows = read_rows("train.*.txt")
    val_rows = rows[-24:]  # validation for checkpoint choice: the last 24 training pairs
    train_rows = rows[:-24]
    heldout = {r[l] for pat in ("heldout.*.txt",) for r in read_rows(pat) for l in LANGS}
    extra = [dict(zip(LANGS, r)) for r in augment.all_rows(a.seed)[: a.extra]]
    extra = [r for r in extra if not any(r[l] in heldout for l in LANGS)]
    data = Data(train_rows, extra, vocab, merges, rng, p_mt=a.p_mt, max_shots=a.max_shots)
    enc = lambda s: bpe.encode(s, vocab, merges)  # noqa: E731
    val = [enc(f"{NAMES[l]}: {r[l]}") + [EOS] for r in val_rows for l in LANGS]
    val_mt = [(enc(f"{NAMES[x]}: {r[x]}") + [EOS] + enc("English:"), enc(f"English: {r['en']}")[len(enc("English:")):] + [EOS])
              for r in val_rows for x in LANGS[1:]]

    def val_mt_nll():
        model.eval()
        tot, cnt = 0.0, 0
        with torch.no_grad():
            for pre, tgt in val_mt:
                x = torch.tensor([[EOS] + pre + tgt], dtype=torch.long)
                logits = model(x[:, :-1], torch.ones_like(x[:, :-1]))[0, len(pre):]
                tot += F.cross_entropy(logits, x[0, 1 + len(pre):], reduction="sum").item()
                cnt += len(tgt)
        model.train()
        return tot / cnt

    model = fam.XGLMForCausalLM(V, a.d, a.layers, a.heads, a.ffn, n_positions=512, dropout=a.dropout)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if p.dim() == 2:
                p.normal_(0.0, 0.02)
        for layer in model.model.layers:  # scaled init of residual outputs
            layer.fc2.weight.mul_(1 / math.sqrt(2 * a.layers))
            layer.self_attn.out_proj.weight.mul_(1 / math.sqrt(2 * a.layers))
    n_params = sum(p.numel() for p in model.parameters())
    print(f"params {n_params}, vocab {V}, train pairs {len(train_rows)} + composed {len(extra)}, "
          f"val pairs {len(val_rows)}", flush=True)

    decay = [p for n, p in model.named_parameters() if p.dim() == 2]
    no_decay = [p for n, p in model.named_parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1}, {"params": no_decay, "weight_decay": 0.0}],
                            lr=a.lr, betas=(0.9, 0.98))
    warm = 40
    budget = a.minutes * 60
    t0 = time.time()
    best = (float("inf"), None, 0)
    losses = []
    step = 0
    model.train()
    while step < a.max_steps:
        elapsed = time.time() - t0
        if elapsed > budget:
            break
        # schedule by the larger of step progress and time progress (cosine to 10%)
        prog = max(step / a.max_steps, elapsed / budget)
        lr = a.lr * min(1.0, (step + 1) / warm) * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(1.0, prog))))
        for g in opt.param_groups:
            g["lr"] = lr
        x, y = data.batch(a.batch, a.seq)
        logits = model(x, torch.ones_like(x))
        loss = F.cross_entropy(logits.reshape(-1, V), y.reshape(-1))
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        losses.append(loss.item())
        step += 1
        if step % 50 == 0:
            tot, cnt = line_nll(model, val)
            vppl = math.exp(tot / cnt)
            vmt = val_mt_nll()
            if vppl < best[0]:  # checkpoint choice: validation perplexity
                best = (vppl, {k: v.detach().clone() for k, v in model.state_dict().items()}, step)
            print(f"step {step} {time.time() - t0:.0f}s lr {lr:.2e} train loss {sum(losses[-50:]) / 50:.3f} "
                  f"val ppl {vppl:.2f} val X->en target nll {vmt:.3f}", flush=True)
    train_loss = sum(losses[-50:]) / min(50, len(losses))
    tot, cnt = line_nll(model, val)
    if math.exp(tot / cnt) < best[0]:
        best = (math.exp(tot / cnt), None, step)
    if best[1] is not None:
        model.load_state_dict(best[1])
    tot, cnt = line_nll(model, val)
    vmt = val_mt_nll()
    model.eval()
    minutes = (time.time() - t0) / 60

    # held-out perplexity (mono.<lang>.txt lines, each after a leading </s>, EOS included)
    report = {"steps": step, "best_step": best[2], "train_minutes": round(minutes, 1),
              "final_train_loss": round(train_loss, 3), "val_ppl": round(math.exp(tot / cnt), 2),
              "val_mt_target_nll": round(vmt, 3), "heldout_ppl": {}}
    all_tot, all_cnt = 0.0, 0
    for lang in LANGS:
        lines = [l.strip() for l in open(os.path.join("demo/data", f"mono.{lang}.txt"), encoding="utf-8") if l.strip()]
        tot, cnt = line_nll(model, [enc(l) + [EOS] for l in lines])
        report["heldout_ppl"][lang] = round(math.exp(tot / cnt), 2)
        all_tot, all_cnt = all_tot + tot, all_cnt + cnt
    report["heldout_ppl"]["all"] = round(math.exp(all_tot / all_cnt), 2)

    # few-shot translation of held-out pairs (4 shots from the training pairs), chrF vs copy baseline
    report["chrf_4shot"] = {}
    shots_rows = train_rows[:4]
    for x in LANGS[1:]:
        pairs = [json.loads(l) for l in open(os.path.join("demo/data", f"suite.mt.{x}-en.jsonl"), encoding="utf-8")]
        pairs = pairs[:8]
        shots = [(r[x], r["en"]) for r in shots_rows]
        hyps = [translate(model, vocab, merges, shots, x, p["src"]) for p in pairs]
        c = sum(chrf(h, p["tgt"]) for h, p in zip(hyps, pairs)) / len(pairs)
        copy = sum(chrf(p["src"], p["tgt"]) for p in pairs) / len(pairs)
        report["chrf_4shot"][f"{x}-en"] = {"model": round(c, 1), "copy": round(copy, 1), "n": len(pairs)}
        for h, p in list(zip(hyps, pairs))[:3]:
            print(f"  {x}: {p['src']}  ->  {h}   (ref: {p['tgt']})")
    print(json.dumps(report, indent=1), flush=True)

    # export
    torch.save(model.state_dict(), os.path.join("/tmp", "polyprune-demo-model-raw.pt"))
    spread_features(model, a.feature_spread, a.seed + 1)
    report["feature_spread_sigma"] = a.feature_spread
    os.makedirs(a.out, exist_ok=True)
    fam.export(model, os.path.join(a.out, "model.onnx"))
    cfg = {
        "architectures": ["XGLMForCausalLM"],
        "model_type": "xglm",
        "vocab_size": V,
        "hidden_size": a.d,
        "num_hidden_layers": a.layers,
        "num_attention_heads": a.heads,
        "max_position_embeddings": 512,
        "d_model": a.d,
        "num_layers": a.layers,
        "attention_heads": a.heads,
        "ffn_dim": a.ffn,
        "activation_function": "gelu",
        "scale_embedding": True,
        "tie_word_embeddings": True,
        "bos_token_id": BOS,
        "eos_token_id": EOS,
        "pad_token_id": PAD,
        "unk_token_id": UNK,
        "torch_dtype": "float32",
        "polyprune_training": report,
    }
    with open(os.path.join(a.out, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)
        f.write("\n")
    with open(os.path.join(a.out, "tokenizer_config.json"), "w") as f:
        json.dump({"bos_token": "<s>", "eos_token": "</s>", "pad_token": "<pad>", "unk_token": "<unk>",
                   "clean_up_tokenization_spaces": False, "model_max_length": 512,
                   "tokenizer_class": "PreTrainedTokenizerFast"}, f, indent=2)
        f.write("\n")
    torch.save(model.state_dict(), os.path.join("/tmp", "polyprune-demo-model.pt"))
    print("exported", os.path.join(a.out, "model.onnx"))


if __name__ == "__main__":
    main()
