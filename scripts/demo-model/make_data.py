"""Derive the committed demo data (demo/data/) from the hand-written multi-parallel text in text/.

text/train.*.txt      training pairs    (English | French | German | Spanish | Russian per line)
text/heldout.mt.txt   held out: translation suites and the multiple-choice suites
text/heldout.mono.txt held out: monolingual perplexity text

Usage: python3 scripts/demo-model/make_data.py [--out demo/data]   (standard library only)
"""
import argparse
import glob
import json
import os
import random

HERE = os.path.dirname(os.path.abspath(__file__))
LANGS = ["en", "fr", "de", "es", "ru"]
NAMES = {"en": "English", "fr": "French", "de": "German", "es": "Spanish", "ru": "Russian"}


def read_rows(pattern):
    rows = []
    for path in sorted(glob.glob(os.path.join(HERE, "text", pattern))):
        with open(path, encoding="utf-8") as f:
            for line in f:
                line = line.strip()
                if not line:
                    continue
                cols = [c.strip() for c in line.split(" | ")]
                assert len(cols) == 5, line
                rows.append(dict(zip(LANGS, cols)))
    return rows


def split_ending(sentence):
    """Context = the first words, ending = the rest (at least two words, so it can be scrambled)."""
    words = sentence.split(" ")
    if len(words) < 3:
        return None
    cut = max(1, min(len(words) - 2, len(words) // 2))
    return " ".join(words[:cut]), " ".join(words[cut:]), cut


def scramble(ending, rng):
    punct = ""
    while ending and ending[-1] in ".?!":
        punct = ending[-1] + punct
        ending = ending[:-1]
    words = ending.split(" ")
    for _ in range(20):
        perm = words[:]
        rng.shuffle(perm)
        if perm != words:
            break
    return " ".join(perm) + punct


def other_ending(row, lang, cut_frac, other):
    words = row[other].split(" ")
    cut = max(1, min(len(words) - 1, round(len(words) * cut_frac)))
    return " ".join(words[cut:])


def main(out):
    os.makedirs(out, exist_ok=True)
    train = read_rows("train.*.txt")
    mt = read_rows("heldout.mt.txt")
    mono = read_rows("heldout.mono.txt")
    for lang in LANGS:
        seen = {r[lang] for r in train}
        for r in mt + mono:
            assert r[lang] not in seen, f"held-out sentence in training: {r[lang]}"
        assert len(seen) == len(train), f"duplicate training sentence in {lang}"

    for lang in LANGS[1:]:
        with open(os.path.join(out, f"corpus.{lang}-en.tsv"), "w", encoding="utf-8") as f:
            for r in train:
                f.write(f"{r[lang]}\t{r['en']}\n")
        with open(os.path.join(out, f"suite.mt.{lang}-en.jsonl"), "w", encoding="utf-8") as f:
            for r in mt:
                f.write(json.dumps({"src": r[lang], "tgt": r["en"]}, ensure_ascii=False) + "\n")
    for lang in LANGS:
        with open(os.path.join(out, f"mono.{lang}.txt"), "w", encoding="utf-8") as f:
            for r in mono:
                f.write(r[lang] + "\n")

    # Multiple choice: continue a held-out sentence. Choices: the true ending, the same words
    # scrambled, and the matching ending in another language (tests word order and language identity).
    foreign = {"en": "fr", "fr": "es", "de": "en", "es": "fr", "ru": "de"}
    for li, lang in enumerate(LANGS):
        rng = random.Random(1234 + li)
        n = 0
        with open(os.path.join(out, f"suite.mc.{lang}.jsonl"), "w", encoding="utf-8") as f:
            for r in mt:
                sp = split_ending(r[lang])
                if sp is None:
                    continue
                context, ending, cut = sp
                frac = cut / len(r[lang].split(" "))
                wrong = [scramble(ending, rng), other_ending(r, lang, frac, foreign[lang])]
                if ending in wrong:
                    continue
                label = rng.randrange(3)
                choices = wrong[:]
                choices.insert(label, ending)
                f.write(json.dumps({"context": context, "choices": choices, "label": label}, ensure_ascii=False) + "\n")
                n += 1
        print(f"suite.mc.{lang}.jsonl: {n} rows")
    print(f"corpus: {len(train)} pairs per language pair; mt suites: {len(mt)}; mono: {len(mono)}")


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default="demo/data")
    main(ap.parse_args().out)
