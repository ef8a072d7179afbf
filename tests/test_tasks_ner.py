"""NER: first-piece labels, seqeval metrics, character-offset spans, the CRF, and a tiny end-to-end run."""
import itertools
import json
import random

import pytest
import torch

from _finetune_util import leftovers, tiny_folder
from bertkit.data.readers import NerExample
from bertkit.models.crf import CRF
from bertkit.tasks.finetune import FinetuneArgs, PredictArgs, finetune, predict_rows
from bertkit.tasks.ner import NerOptions, encode, evaluate, spans, words_of


@pytest.fixture(scope="module")
def tok(tmp_path_factory):
    from bertkit.tokenization import BertTokenizer
    return BertTokenizer.from_pretrained(tiny_folder(tmp_path_factory.mktemp("ner") / "m"))


def test_label_on_first_piece(tok):
    # "googles" is cut into several pieces; "http://x" into several words of the tokenizer
    ex = NerExample(["john", "visited", "googles", "http://x", "."], ["B-PER", "O", "B-ORG", "O", "O"])
    f = encode(tok, [ex], NerOptions(), {"O": 0, "B-PER": 1, "B-ORG": 2})[0]
    pieces = tok.convert_ids_to_tokens(f["input_ids"])
    assert len(pieces) > len(ex.words) + 2
    labelled = [(pieces[i], lab) for i, lab in enumerate(f["token_labels"]) if lab != -100]
    assert labelled == [(pieces[f["first"][k]], lab) for k, lab in enumerate([1, 0, 2, 0, 0])]
    assert [p for p, _ in labelled][:3] == ["john", "visited", pieces[f["first"][2]]]
    assert sum(lab != -100 for lab in f["token_labels"]) == 5


def test_seqeval_metrics_and_spans(tok):
    gold = [["B-PER", "I-PER", "O", "B-LOC"], ["O", "B-ORG"]]
    pred = [["B-PER", "I-PER", "O", "O"], ["O", "B-ORG"]]
    m = evaluate(gold, pred)
    assert m["precision"] == 1.0 and m["recall"] == pytest.approx(2 / 3) and m["f1"] == pytest.approx(0.8)
    assert m["report"]["LOC"]["recall"] == 0.0 and m["report"]["PER"]["f1"] == 1.0
    bioes = evaluate([["S-LOC", "B-PER", "E-PER"]], [["S-LOC", "B-PER", "I-PER"]])
    # strict IOBES: B- I- without E- is no entity, so PER is missed
    assert bioes["precision"] == 1.0 and bioes["recall"] == pytest.approx(0.5)
    text = "Mary Ann visited New York, then left."
    words, ws, _ = words_of(text, tok)  # the tokenizer's words: whitespace and punctuation split
    tags = ["B-PER", "I-PER", "O", "B-LOC", "I-LOC", "O", "O", "O", "O"]
    assert words == ["Mary", "Ann", "visited", "New", "York", ",", "then", "left", "."]
    assert spans(text, ws, tags) == [{"type": "PER", "start": 0, "end": 8, "text": "Mary Ann"},
                                     {"type": "LOC", "start": 17, "end": 25, "text": "New York"}]


@torch.no_grad()
def _crf_brute(crf, em, n):
    L = em.size(1)
    scores = {}
    for path in itertools.product(range(L), repeat=n):
        s = crf.start[path[0]] + em[0, path[0]] + crf.end[path[-1]]
        for t in range(1, n):
            s = s + crf.transitions[path[t - 1], path[t]] + em[t, path[t]]
        scores[path] = float(s)
    return scores


def test_crf_against_brute_force():
    torch.manual_seed(0)
    crf = CRF(3)
    with torch.no_grad():
        for p in crf.parameters():
            p.normal_()
    em = torch.randn(2, 4, 3)
    mask = torch.tensor([[1, 1, 1, 1], [1, 1, 0, 0]], dtype=torch.bool)
    tags = torch.tensor([[0, 2, 1, 1], [2, 0, 0, 0]])
    nll = crf.neg_log_likelihood(em, tags, mask)
    want = []
    for b, n in ((0, 4), (1, 2)):
        scores = _crf_brute(crf, em[b], n)
        logz = torch.logsumexp(torch.tensor(list(scores.values())), 0)
        want.append(float(logz) - scores[tuple(tags[b, :n].tolist())])
        assert crf.decode(em[b:b + 1], mask[b:b + 1])[0] == list(max(scores, key=scores.get))
    assert float(nll.detach()) == pytest.approx(sum(want) / 2, abs=1e-4)


@pytest.mark.slow  # trains until a threshold; tests/test_family_tasks.py checks every family by a falling loss
@pytest.mark.parametrize("crf", [False, True])
def test_finetune_ner_end_to_end(tmp_path, crf):
    model = tiny_folder(tmp_path / "base")
    rng = random.Random(0)
    people, places = ["john", "mary"], ["paris", "london"]

    def sentence():
        p, q = rng.choice(people), rng.choice(places)
        return [(p, "B-PER"), ("visited", "O"), (q, "B-LOC"), ("and", "O"), ("the", "O"), ("river", "O")]

    def write(path, n):
        path.write_text("-DOCSTART- O\n\n" + "\n".join("\n".join(f"{w}\t{t}" for w, t in sentence()) + "\n"
                                                       for _ in range(n)), encoding="utf-8")
        return path

    train, dev = write(tmp_path / "train.conll", 64), write(tmp_path / "dev.conll", 16)
    out = tmp_path / "out"
    s = finetune(FinetuneArgs(task="ner", model=str(model), train=str(train), dev=str(dev), test=str(dev),
                              out=str(out), epochs=10, lr=5e-3, batch_size=16, crf=crf, quiet=True))
    assert s["test"]["f1"] >= 0.9
    assert leftovers(out) == ["out"] and (out / "crf.safetensors").exists() == crf
    cfg = json.loads((out / "config.json").read_text())
    assert set(cfg["label2id"]) == {"O", "B-PER", "B-LOC"}
    inp = tmp_path / "in.jsonl"
    inp.write_text(json.dumps({"text": "Mary visited  London and the river"}) + "\n", encoding="utf-8")
    rows = predict_rows(PredictArgs(model=str(out), input=str(inp)))
    assert rows[0]["entities"] == [{"type": "PER", "start": 0, "end": 4, "text": "Mary"},
                                   {"type": "LOC", "start": 14, "end": 20, "text": "London"}]
    rows = predict_rows(PredictArgs(model=str(out), input=str(dev)))  # a CoNLL file: tags per word too
    assert len(rows) == 16 and len(rows[0]["tags"]) == 6
    assert [e["type"] for e in rows[0]["entities"]] == ["PER", "LOC"]
    assert all(r["text"][e["start"]:e["end"]] == e["text"] for r in rows for e in r["entities"])
