"""Train the demo model's byte-level BPE tokenizer on the training text and write demo/model/tokenizer.json.

Usage: python3 scripts/demo-model/tokenizer.py [--vocab 2048] [--out demo/model/tokenizer.json]
(standard library only)
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bpe  # noqa: E402
from make_data import LANGS, NAMES, read_rows  # noqa: E402

SPECIALS = ["<s>", "<pad>", "</s>", "<unk>"]


def training_lines():
    lines = []
    for r in read_rows("train.*.txt"):
        for lang in LANGS:
            lines.append(f"{NAMES[lang]}: {r[lang]}")
            lines.append(r[lang])
    return lines


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--vocab", type=int, default=2048)
    ap.add_argument("--out", default="demo/model/tokenizer.json")
    a = ap.parse_args()
    vocab, merges = bpe.train_bpe(training_lines(), a.vocab, SPECIALS)
    os.makedirs(os.path.dirname(a.out), exist_ok=True)
    bpe.write(a.out, vocab, merges, SPECIALS)
    print(f"wrote {a.out}: {len(vocab)} tokens, {len(merges)} merges")


if __name__ == "__main__":
    main()
