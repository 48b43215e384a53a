"""Reference BLEU figures for test/fixtures/bleu/pairs.jsonl, computed by sacreBLEU itself.

Writes test/fixtures/bleu/sacrebleu.json, which test/runner/evaluate/bleu.test.ts compares the
TypeScript implementation against. Run from the repository root (see test/fixtures/bleu/README.md):

    PYTHONPATH=/path/to/sacrebleu-2.6.0 python3 scripts/bleu/bleu-reference.py

Only sacreBLEU's public functions (corpus_bleu, sentence_bleu, BLEU().get_signature()) give the
scores; its tokenizer and per-sentence statistics are recorded too so a mismatch can be located.
"""

import json
import sys
from pathlib import Path

import sacrebleu
from sacrebleu.metrics import BLEU, CHRF

WANT_VERSION = "2.6.0"
FIXTURE = Path("test/fixtures/bleu")


def score_dict(s):
    return {
        "score": s.score,
        "counts": list(s.counts),
        "totals": list(s.totals),
        "precisions": list(s.precisions),
        "bp": s.bp,
        "sys_len": s.sys_len,
        "ref_len": s.ref_len,
    }


def main():
    if sacrebleu.__version__ != WANT_VERSION:
        sys.exit(f"sacrebleu {sacrebleu.__version__} found; the fixture records {WANT_VERSION}")
    with open(FIXTURE / "pairs.jsonl", encoding="utf-8", newline="\n") as f:
        pairs = [json.loads(line) for line in f.read().split("\n") if line.strip()]
    hyps = [p["hypothesis"] for p in pairs]
    refs = [p["reference"] for p in pairs]
    n = len(pairs)

    # the metric object corpus_bleu builds (defaults: 13a, exp smoothing, no effective order)
    corpus_metric = BLEU()
    stats = corpus_metric._extract_corpus_statistics(hyps, [refs])
    sentence_metric = BLEU(effective_order=True)
    sentence_metric.sentence_score(hyps[0], [refs[0]])
    chrf_metric = CHRF()
    chrf_metric.corpus_score(hyps, [refs])

    sentences = []
    for i, (h, r) in enumerate(zip(hyps, refs)):
        sentences.append(
            {
                "index": i,
                "hyp_tokens": corpus_metric._preprocess_segment(h),
                "ref_tokens": corpus_metric._preprocess_segment(r),
                # [sys_len, ref_len, correct_1..4, total_1..4], sacreBLEU's order
                "stats": [int(x) for x in stats[i]],
                # sacrebleu.sentence_bleu defaults: effective order
                "sentence_bleu": score_dict(sacrebleu.sentence_bleu(h, [r])),
                # the same statistics scored as a one-sentence corpus (no effective order)
                "corpus_bleu": score_dict(sacrebleu.corpus_bleu([h], [[r]])),
                # chrF defaults (n = 6, beta = 2, whitespace removed), sentence level
                "sentence_chrf": sacrebleu.sentence_chrf(h, [r]).score,
            }
        )

    def subset(name, idx):
        h = [hyps[i] for i in idx]
        r = [[refs[i] for i in idx]]
        return {"name": name, "indices": idx, **score_dict(sacrebleu.corpus_bleu(h, r)), "chrf": sacrebleu.corpus_chrf(h, r).score}

    corpora = [
        subset("all", list(range(n))),
        # brevity penalty below 1: the hypotheses shorter than their references
        subset("shorter", [i for i in range(n) if stats[i][0] < stats[i][1]]),
        subset("first ten", list(range(10))),
        # no matching unigram anywhere: sacreBLEU's early exit
        subset("no match", [4, 5]),
        # one sentence of two tokens: no 3- or 4-grams at all, so corpus BLEU is 0
        subset("two tokens", [7]),
        # every other sentence
        subset("even rows", list(range(0, n, 2))),
    ]

    out = {
        "sacrebleu_version": sacrebleu.__version__,
        "bleu_signature": str(corpus_metric.get_signature()),
        "sentence_bleu_signature": str(sentence_metric.get_signature()),
        "chrf_signature": str(chrf_metric.get_signature()),
        "n": n,
        "corpora": corpora,
        "sentences": sentences,
    }
    with open(FIXTURE / "sacrebleu.json", "w", encoding="utf-8") as f:
        json.dump(out, f, ensure_ascii=False, indent=1)
        f.write("\n")
    print(f"{n} pairs; corpus BLEU {corpora[0]['score']!r}; {out['bleu_signature']}")


if __name__ == "__main__":
    main()
