"""A non-transformer NER baseline: a linear-chain CRF over hand-made token features (sklearn-crfsuite),
and the same features without the CRF (one logistic regression per token, scikit-learn), scored by
seqeval's entity F1 on the test split.

    pip install sklearn-crfsuite
    python scripts/crf_baseline.py --data ~/.cache/bertkit/data/zh_ner      # character-level Chinese
    python scripts/crf_baseline.py --data ~/.cache/bertkit/data/wnut         # English tweets

`--data` holds train.conll, dev.conll and test.conll (`token tag` per line, blank line between
sentences), read by bertkit's CoNLL reader. Features of token i: the token, its lower-cased form, its
script (CJK, Latin, digit, punctuation), its last 2 and 3 characters, and the tokens and scripts at
i-2 … i+2 and the bigrams (i-1, i) and (i, i+1). For Chinese, a token is one character, so these are
the character n-gram features of the classic CRF segmenters and taggers. The CRF's L1/L2 weights are
fixed (c1 0.05, c2 0.05, 100 iterations); dev is not used for tuning.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
import unicodedata
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
from bertkit.data.readers import read_conll  # noqa: E402


def script(tok: str) -> str:
    c = tok[:1]
    if not c:
        return "empty"
    if "\u4e00" <= c <= "\u9fff" or "\u3400" <= c <= "\u4dbf":
        return "cjk"
    if c.isdigit():
        return "digit"
    if c.isalpha():
        return "upper" if c.isupper() else "alpha"
    return "punct" if unicodedata.category(c).startswith("P") else "other"


def features(tokens: list[str], i: int) -> dict[str, str | float]:
    def at(j):
        return tokens[j] if 0 <= j < len(tokens) else ("<s>" if j < 0 else "</s>")
    t = tokens[i]
    f: dict[str, str | float] = {"bias": 1.0, "w": t, "lower": t.lower(), "script": script(t),
                                 "suf2": t[-2:].lower(), "suf3": t[-3:].lower()}
    for d in (-2, -1, 1, 2):
        f[f"w{d:+d}"] = at(i + d).lower()
        f[f"s{d:+d}"] = script(at(i + d))
    f["bi-1"] = at(i - 1).lower() + "|" + t.lower()
    f["bi+1"] = t.lower() + "|" + at(i + 1).lower()
    return f


def sentences(path: Path):
    xs = read_conll(path)
    return [[features(x.words, i) for i in range(len(x.words))] for x in xs], [list(x.tags) for x in xs]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", required=True, help="folder with train.conll and test.conll")
    p.add_argument("--out", help="write the scores as JSON here")
    a = p.parse_args()
    try:
        import sklearn_crfsuite
    except ImportError:
        sys.exit("crf_baseline: sklearn-crfsuite is not installed; pip install sklearn-crfsuite")
    from seqeval.metrics import classification_report, f1_score
    from sklearn.feature_extraction import DictVectorizer
    from sklearn.linear_model import LogisticRegression

    data = Path(a.data).expanduser()
    X_train, y_train = sentences(data / "train.conll")
    X_test, y_test = sentences(data / "test.conll")
    scores = {"data": str(data), "train_sentences": len(X_train), "test_sentences": len(X_test)}

    start = time.perf_counter()
    crf = sklearn_crfsuite.CRF(algorithm="lbfgs", c1=0.05, c2=0.05, max_iterations=100)
    crf.fit(X_train, y_train)
    pred = crf.predict(X_test)
    scores["crf_f1"] = f1_score(y_test, pred)
    scores["crf_seconds"] = round(time.perf_counter() - start, 1)
    print(f"linear CRF: entity F1 {scores['crf_f1']:.4f} ({scores['crf_seconds']} s)")
    print(classification_report(y_test, pred, digits=4))

    start = time.perf_counter()
    vec = DictVectorizer()
    flat = vec.fit_transform([f for s in X_train for f in s])
    clf = LogisticRegression(max_iter=300, C=1.0)
    clf.fit(flat, [t for s in y_train for t in s])
    tags = clf.predict(vec.transform([f for s in X_test for f in s])).tolist()
    pred, k = [], 0
    for s in X_test:
        pred.append(tags[k:k + len(s)])
        k += len(s)
    scores["no_crf_f1"] = f1_score(y_test, pred)
    scores["no_crf_seconds"] = round(time.perf_counter() - start, 1)
    print(f"same features, no CRF (logistic regression per token): entity F1 {scores['no_crf_f1']:.4f} "
          f"({scores['no_crf_seconds']} s)")
    if a.out:
        Path(a.out).write_text(json.dumps(scores, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
