"""Extractive QA: the exact span search against brute force, SQuAD metrics, features, post-processing."""
import random

import pytest
import torch

from bertkit.data.readers import QAExample
from bertkit.tasks.qa import (QAOptions, best_spans, encode, exact_match, f1, normalize_answer, postprocess,
                              squad_metrics)


def brute_force(start, end, valid, max_len):
    spans = []
    T = len(start)
    for s in range(T):
        for e in range(s, min(T, s + max_len)):
            if valid[s] and valid[e]:
                spans.append((float(start[s] + end[e]), s, e))
    spans.sort(key=lambda x: -x[0])
    return spans


@pytest.mark.parametrize("seed", range(20))
def test_n_best_matches_brute_force(seed):
    g = torch.Generator().manual_seed(seed)
    rng = random.Random(seed)
    T = rng.randint(1, 60)
    start, end = torch.randn(T, generator=g) * 3, torch.randn(T, generator=g) * 3
    valid = torch.rand(T, generator=g) > 0.3
    max_len, n = rng.randint(1, 12), rng.randint(1, 25)
    got = best_spans(start, end, valid, max_len, n)
    want = brute_force(start.tolist(), end.tolist(), valid.tolist(), max_len)[:n]
    assert [(s, e) for _, s, e in got] == [(s, e) for _, s, e in want]
    assert [x for x, _, _ in got] == pytest.approx([x for x, _, _ in want], abs=1e-5)


def test_no_valid_span():
    assert best_spans(torch.zeros(5), torch.zeros(5), torch.zeros(5, dtype=torch.bool), 3, 5) == []


def test_normalisation_and_scores():
    assert normalize_answer("The  Eiffel-Tower!") == "eiffeltower"
    assert normalize_answer("an apple, a pear") == "apple pear"
    assert exact_match("the Paris", "Paris.") == 1.0
    assert f1("in Paris France", "Paris") == pytest.approx(0.5)
    assert f1("", "") == 1.0 and f1("x", "") == 0.0 and f1("", "x") == 0.0
    xs = [QAExample("1", "q", "c", [{"text": "Paris", "answer_start": 0}, {"text": "the city of Paris",
                                                                           "answer_start": 0}]),
          QAExample("2", "q", "c", [], True)]
    m = squad_metrics(xs, ["city of Paris", ""])  # max over gold answers; "" is right for no-answer
    assert m["exact"] == 100.0 and m["f1"] == 100.0 and m["NoAns_total"] == 1
    m = squad_metrics(xs, ["Paris France", "something"])
    assert m["exact"] == 0.0 and m["f1"] == pytest.approx(100 * (2 / 3) / 2)


def test_features_map_back_to_answer(minilm_tok):
    ctx = " ".join(f"word{i}" for i in range(300)) + " The answer is Mount Kilimanjaro indeed."
    start = ctx.index("Mount")
    e = QAExample("x", "Which mountain?", ctx, [{"text": "Mount Kilimanjaro", "answer_start": start}])
    opts = QAOptions(max_length=64, doc_stride=16)
    feats = encode(minilm_tok, [e], opts, train=True)
    assert len(feats) > 5  # the long context became windows
    hits = [f for f in feats if f["start_positions"] > 0]
    assert hits, "some window holds the answer"
    for f in hits:
        a, b = f["offsets"][f["start_positions"]][0], f["offsets"][f["end_positions"]][1]
        assert ctx[a:b] == "Mount Kilimanjaro"
    # post-processing with logits that point at the answer recovers the text, across windows
    S = [torch.full((len(f["input_ids"]),), -5.0) for f in feats]
    E = [torch.full((len(f["input_ids"]),), -5.0) for f in feats]
    for f, s, en in zip(feats, S, E):
        s[0] = en[0] = 0.0  # null
        if f["start_positions"]:
            s[f["start_positions"]] = 4.0
            en[f["end_positions"]] = 4.0
    out = postprocess([e], feats, S, E, opts)[0]
    assert out["answer"] == "Mount Kilimanjaro" and out["start"] == start
    # a threshold above (null - best) turns it into no-answer only when asked
    out = postprocess([e], feats, S, E, QAOptions(max_length=64, doc_stride=16, null_threshold=-100.0))[0]
    assert out["answer"] == ""


@pytest.fixture(scope="module")
def minilm_tok(minilm_dir):
    from bertkit.tokenization import BertTokenizer
    return BertTokenizer.from_pretrained(minilm_dir)


@pytest.mark.slow  # trains until a threshold; tests/test_family_tasks.py checks every family by a falling loss
def test_finetune_qa_end_to_end(tmp_path):
    import json

    from _finetune_util import leftovers, tiny_folder
    from bertkit.tasks.finetune import FinetuneArgs, PredictArgs, finetune, predict_rows
    model = tiny_folder(tmp_path / "base")
    rng = random.Random(0)

    def squad(n, split):
        paragraphs = []
        for i in range(n):
            who, where = rng.choice(["john", "mary"]), rng.choice(["paris", "london"])
            ctx = f"{rng.choice(['the', 'a'])} {who} visited {where} and the river"
            # SQuAD v1.1 style (every question has an answer): a tiny random model learns spans in a few
            # seconds; the no-answer decision is covered by test_features_map_back_to_answer
            qas = [{"id": f"{split}{i}p", "question": "which person is mentioned ?",
                    "answers": [{"text": who, "answer_start": ctx.index(who)}]}]
            paragraphs.append({"context": ctx, "qas": qas})
        path = tmp_path / f"{split}.json"
        path.write_text(json.dumps({"version": "1.1", "data": [{"title": split, "paragraphs": paragraphs}]}))
        return path

    train, dev = squad(64, "train"), squad(8, "dev")
    out = tmp_path / "out"
    s = finetune(FinetuneArgs(task="qa", model=str(model), train=str(train), dev=str(dev), test=str(dev),
                              out=str(out), epochs=6, lr=5e-3, batch_size=16, max_length=64, doc_stride=16,
                              quiet=True))
    assert s["test"]["exact"] >= 90 and s["test"]["f1"] >= 90
    assert leftovers(out) == ["out"]
    inp = tmp_path / "in.jsonl"
    inp.write_text(json.dumps({"question": "which person is mentioned ?",
                               "context": "a mary visited london and the river"}) + "\n")
    rows = predict_rows(PredictArgs(model=str(out), input=str(inp)))
    assert rows[0]["answer"] == "mary" and rows[0]["start"] == 2
