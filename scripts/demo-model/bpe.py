"""Byte-level BPE: a small trainer and a writer for the Hugging Face `tokenizer.json` format.

Written for polyprune (build-time only; the product never runs Python).
Layout of the vocabulary: the special tokens first (ids 0..k-1), then the 256 byte symbols, then merges.
"""
import json
import re
from collections import Counter

# Pre-tokenizer regex of the GPT-2 family, expressed for Python's `re` (no \p classes):
# contractions, optional space + letters, optional space + digits, optional space + other symbols, spaces.
_WORD_RE = re.compile(r"""'s|'t|'re|'ve|'m|'ll|'d| ?[^\W\d_]+| ?\d+| ?(?:[^\s\w]|_)+|\s+(?!\S)|\s+""", re.UNICODE)


def byte_symbols():
    """The reversible byte -> printable character table used by byte-level BPE tokenizers."""
    keep = list(range(ord("!"), ord("~") + 1)) + list(range(ord("\u00a1"), ord("\u00ac") + 1)) + list(
        range(ord("\u00ae"), ord("\u00ff") + 1)
    )
    table = {}
    extra = 0
    for b in range(256):
        if b in keep:
            table[b] = chr(b)
        else:
            table[b] = chr(256 + extra)
            extra += 1
    return table


def pretokenize(text):
    return _WORD_RE.findall(text)


def train_bpe(lines, vocab_size, specials):
    """Learn merges until the vocabulary (specials + 256 bytes + merges) reaches vocab_size."""
    table = byte_symbols()
    words = Counter()
    for line in lines:
        for w in pretokenize(line):
            words[tuple(table[b] for b in w.encode("utf-8"))] += 1
    vocab = list(specials) + [table[b] for b in range(256)]
    merges = []
    words = {w: c for w, c in words.items()}
    while len(vocab) < vocab_size:
        pairs = Counter()
        for w, c in words.items():
            for a, b in zip(w, w[1:]):
                pairs[(a, b)] += c
        if not pairs:
            break
        best_count = max(pairs.values())
        if best_count < 2:
            break
        # deterministic tie-break: highest count, then lexicographically smallest pair
        best = min(p for p, c in pairs.items() if c == best_count)
        merged = best[0] + best[1]
        merges.append(best)
        vocab.append(merged)
        new_words = {}
        for w, c in words.items():
            if best[0] not in w:
                new_words[w] = c
                continue
            out = []
            i = 0
            while i < len(w):
                if i + 1 < len(w) and w[i] == best[0] and w[i + 1] == best[1]:
                    out.append(merged)
                    i += 2
                else:
                    out.append(w[i])
                    i += 1
            t = tuple(out)
            new_words[t] = new_words.get(t, 0) + c
        words = new_words
    return vocab, merges


def tokenizer_json(vocab, merges, specials):
    added = [
        {
            "id": i,
            "content": s,
            "single_word": False,
            "lstrip": False,
            "rstrip": False,
            "normalized": False,
            "special": True,
        }
        for i, s in enumerate(specials)
    ]
    return {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": added,
        "normalizer": None,
        "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True},
        "post_processor": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": False, "use_regex": True},
        "decoder": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True},
        "model": {
            "type": "BPE",
            "dropout": None,
            "unk_token": None,
            "continuing_subword_prefix": "",
            "end_of_word_suffix": "",
            "fuse_unk": False,
            "byte_fallback": False,
            "ignore_merges": False,
            "vocab": {tok: i for i, tok in enumerate(vocab)},
            "merges": [f"{a} {b}" for a, b in merges],
        },
    }


def encode(text, vocab, merges):
    """Reference encoder (used to tokenize the training text in Python exactly as tokenizer.json does)."""
    table = byte_symbols()
    rank = {m: i for i, m in enumerate(merges)}
    index = {t: i for i, t in enumerate(vocab)}
    ids = []
    cache = {}
    for w in pretokenize(text):
        if w in cache:
            ids.extend(cache[w])
            continue
        sym = [table[b] for b in w.encode("utf-8")]
        while len(sym) > 1:
            best = None
            for i in range(len(sym) - 1):
                r = rank.get((sym[i], sym[i + 1]))
                if r is not None and (best is None or r < best[0]):
                    best = (r, i)
            if best is None:
                break
            i = best[1]
            sym = sym[:i] + [sym[i] + sym[i + 1]] + sym[i + 2 :]
        out = [index[s] for s in sym]
        cache[w] = out
        ids.extend(out)
    return ids


def write(path, vocab, merges, specials):
    with open(path, "w", encoding="utf-8") as f:
        json.dump(tokenizer_json(vocab, merges, specials), f, ensure_ascii=False, indent=1)
