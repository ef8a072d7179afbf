"""Linear probe on Rotten Tomatoes: how much sentiment a model's frozen sentence vectors carry.

    .venv/bin/python scripts/rt_probe.py MODEL_DIR [MODEL_DIR ...]      # plus the bag-of-words baseline

For each folder: mean-pooled last hidden states of the train, dev and test sentences (the encoder is not
trained), standardised, then a logistic regression whose C is chosen on dev; prints dev and test
accuracy. The baseline is the same regression on tf-idf word uni- and bigrams. A pretrained encoder
whose probe does no better than a random-init one has learned nothing the task can use.
Needs scikit-learn (installed with seqeval) and `make data`.
"""
from __future__ import annotations

import argparse
import json

import numpy as np

from bertkit.paths import DATA

C_GRID = (0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0)


def load(split: str) -> tuple[list[str], np.ndarray]:
    path = DATA / "rt" / f"{split}.jsonl"
    if not path.exists():
        raise SystemExit(f"{path} is absent: run `make data`")
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [r["text"] for r in rows], np.array([r["label"] == "positive" for r in rows])


def fit(features: list, labels: list[np.ndarray]) -> dict:
    """Logistic regression on (train, dev, test) features; C picked by dev accuracy."""
    from sklearn.linear_model import LogisticRegression
    best = None
    for c in C_GRID:
        clf = LogisticRegression(C=c, max_iter=3000).fit(features[0], labels[0])
        dev = clf.score(features[1], labels[1])
        if best is None or dev > best["dev"]:
            best = {"C": c, "dev": dev, "test": clf.score(features[2], labels[2])}
    return best


def model_features(folder: str, texts: list[list[str]]) -> list[np.ndarray]:
    from sklearn.preprocessing import StandardScaler

    from bertkit import BertModel, BertTokenizer
    from bertkit.inference import sentence_embeddings
    tok, model = BertTokenizer.from_pretrained(folder), BertModel.from_pretrained(folder)
    vectors = [sentence_embeddings(model, tok, t, normalize=False).numpy() for t in texts]
    scale = StandardScaler().fit(vectors[0])
    return [scale.transform(v) for v in vectors]


def bow_features(texts: list[list[str]]) -> list:
    from sklearn.feature_extraction.text import TfidfVectorizer
    vec = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True).fit(texts[0])
    return [vec.transform(t) for t in texts]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("models", nargs="*", help="model folders (Hugging Face layout)")
    a = p.parse_args()
    splits = [load(s) for s in ("train", "dev", "test")]
    texts, labels = [s[0] for s in splits], [s[1] for s in splits]
    print("| features | C | dev accuracy | test accuracy |\n|---|---|---|---|")
    for name in ["tf-idf word 1-2 grams", *a.models]:
        feats = bow_features(texts) if name.startswith("tf-idf") else model_features(name, texts)
        r = fit(feats, labels)
        print(f"| {name} | {r['C']} | {100 * r['dev']:.1f}% | {100 * r['test']:.1f}% |", flush=True)


if __name__ == "__main__":
    main()
