"""Task file readers: formats that work, and errors that name the file, line and field."""
import json

import pytest

from bertkit.data.readers import (ReaderError, check_labels, label_kind, read_classification, read_conll,
                                  read_squad)


def test_classification_formats(tmp_path):
    (tmp_path / "a.csv").write_text('text,label\n"Hello, world",pos\nbad day,neg\n', encoding="utf-8")
    (tmp_path / "a.tsv").write_text("text\ttext_pair\tlabel\nq1\tp1\t0.5\nq2\tp2\t-1\n", encoding="utf-8")
    (tmp_path / "a.jsonl").write_text(json.dumps({"text": "x", "label": ["a", "b"]}) + "\n\n"
                                      + json.dumps({"text": "y", "label": []}) + "\n", encoding="utf-8")
    csv_ = read_classification(tmp_path / "a.csv")
    assert [(e.text, e.label, e.line) for e in csv_] == [("Hello, world", "pos", 2), ("bad day", "neg", 3)]
    assert label_kind(csv_) == "single_label_classification"
    tsv = read_classification(tmp_path / "a.tsv")
    assert [(e.text, e.text_pair, e.label) for e in tsv] == [("q1", "p1", 0.5), ("q2", "p2", -1.0)]
    assert label_kind(tsv) == "regression"
    jl = read_classification(tmp_path / "a.jsonl")
    assert [e.label for e in jl] == [["a", "b"], []] and [e.line for e in jl] == [1, 3]
    assert label_kind(jl) == "multi_label_classification"


def test_classification_errors(tmp_path):
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n  \n", encoding="utf-8")
    with pytest.raises(ReaderError, match=r"empty\.jsonl: the file is empty"):
        read_classification(empty)
    nolabel = tmp_path / "nolabel.csv"
    nolabel.write_text("text,target\nhi,1\n", encoding="utf-8")
    with pytest.raises(ReaderError, match=r"nolabel\.csv:1: no 'label' column"):
        read_classification(nolabel)
    missing = tmp_path / "missing.jsonl"
    missing.write_text('{"text": "a", "label": "x"}\n{"text": "b"}\n', encoding="utf-8")
    with pytest.raises(ReaderError, match=r"missing\.jsonl:2: field 'label' is missing"):
        read_classification(missing)
    notext = tmp_path / "notext.jsonl"
    notext.write_text('{"label": "x"}\n', encoding="utf-8")
    with pytest.raises(ReaderError, match=r"notext\.jsonl:1: field 'text'"):
        read_classification(notext)
    badjson = tmp_path / "bad.jsonl"
    badjson.write_text('{"text": "a", "label": "x"}\n{"text": \n', encoding="utf-8")
    with pytest.raises(ReaderError, match=r"bad\.jsonl:2: not valid JSON"):
        read_classification(badjson)
    ok = tmp_path / "ok.jsonl"
    ok.write_text('{"text": "a", "label": "x"}\n{"text": "b", "label": "y"}\n', encoding="utf-8")
    dev = tmp_path / "dev.jsonl"
    dev.write_text('{"text": "a", "label": "x"}\n{"text": "b", "label": "z"}\n', encoding="utf-8")
    with pytest.raises(ReaderError, match=r"dev\.jsonl:2: field 'label': 'z' is not one of the training labels"):
        check_labels(read_classification(dev), {"x": 0, "y": 1}, dev)


def test_conll(tmp_path):
    f = tmp_path / "a.conll"
    f.write_text("-DOCSTART- O\n\nJohn B-PER\nlives O\nin O\nNew B-LOC\nYork I-LOC\n\t\nParis S-LOC\n"
                 "and O\nLos B-LOC\nAngeles E-LOC\n", encoding="utf-8")
    xs = read_conll(f)
    assert [x.words for x in xs] == [["John", "lives", "in", "New", "York"], ["Paris", "and", "Los", "Angeles"]]
    assert xs[1].tags == ["S-LOC", "O", "B-LOC", "E-LOC"] and xs[0].line == 3 and xs[1].line == 9


def test_conll_errors(tmp_path):
    f = tmp_path / "bad.conll"
    f.write_text("John B-PER\nlives O extra\n", encoding="utf-8")
    with pytest.raises(ReaderError, match=r"bad\.conll:2: expected 2 columns \(token tag\), got 3"):
        read_conll(f)
    f.write_text("John B-PER\nlives\n", encoding="utf-8")
    with pytest.raises(ReaderError, match=r"bad\.conll:2: expected 2 columns"):
        read_conll(f)
    f.write_text("John PER\n", encoding="utf-8")
    with pytest.raises(ReaderError, match=r"bad\.conll:1: field 'tag': 'PER'"):
        read_conll(f)
    f.write_text("", encoding="utf-8")
    with pytest.raises(ReaderError, match=r"bad\.conll: the file is empty"):
        read_conll(f)


def _squad(paragraphs):
    return {"version": "v2.0", "data": [{"title": "t", "paragraphs": paragraphs}]}


def test_squad(tmp_path):
    f = tmp_path / "s.json"
    f.write_text(json.dumps(_squad([{"context": "Mary lives in Paris.", "qas": [
        {"id": "q1", "question": "Where?", "answers": [{"text": "Paris", "answer_start": 14}]},
        {"id": "q2", "question": "Who is John?", "answers": [], "is_impossible": True}]}]), indent=1),
        encoding="utf-8")
    xs = read_squad(f)
    assert [(x.id, x.is_impossible) for x in xs] == [("q1", False), ("q2", True)]
    assert xs[0].answers[0]["text"] == "Paris"


def test_squad_answer_start_mismatch(tmp_path):
    f = tmp_path / "s.json"
    f.write_text(json.dumps(_squad([{"context": "Mary lives in Paris.", "qas": [
        {"id": "q1", "question": "Where?", "answers": [{"text": "Paris", "answer_start": 14}]},
        {"id": "q2", "question": "Who?", "answers": [{"text": "Mary", "answer_start": 3}]}]}]), indent=1),
        encoding="utf-8")
    line = next(i for i, t in enumerate(f.read_text().splitlines(), 1) if '"q2"' in t)
    with pytest.raises(ReaderError, match=rf"s\.json:{line}: data\[0\]\.paragraphs\[0\]\.qas\[1\] \(id q2\): "
                                          r"answers\[0\]\.answer_start 3 points at 'y li', not the answer text 'Mary'"):
        read_squad(f)
    f.write_text("", encoding="utf-8")
    with pytest.raises(ReaderError, match="the file is empty"):
        read_squad(f)


def test_real_data_reads(rt_dir, wnut_dir, wnut_qa_dir):
    """What `make data` wrote reads cleanly: split sizes, label sets, SQuAD 2.0 no-answer questions."""
    rt = {s: read_classification(rt_dir / f"{s}.jsonl") for s in ("train", "dev", "test")}
    assert [len(v) for v in rt.values()] == [8456, 1056, 1056]
    assert {e.label for e in rt["train"]} == {"positive", "negative"}
    wnut = {s: read_conll(wnut_dir / f"{s}.conll") for s in ("train", "dev", "test")}
    assert [len(v) for v in wnut.values()] == [1916, 239, 239]
    types = {t[2:] for e in wnut["train"] for t in e.tags if t != "O"}
    assert len(types) == 10
    qa = read_squad(wnut_qa_dir / "train.json")
    assert sum(e.is_impossible for e in qa) == 1916 and len(qa) > 1916
