"""The issue's real-world inputs through `bertkit finetune` and `bertkit predict` (in-process, tiny models).

A fine-tuned classifier is trained for one epoch on int_labels.csv from a tiny random BERT, once per
module; the tests then check what the folder says and what `predict` reads and prints.
"""
import io
import json
import sys
from pathlib import Path

import pytest

from _finetune_util import cli_error, leftovers, tiny_folder
from bertkit.cli import main

CASES = Path(__file__).parent / "cases" / "real-world-inputs"
WORDS = "the script gives them nothing clumsy loud brilliant warm deeply moving funny far too long dull".split()


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    return tiny_folder(tmp_path_factory.mktemp("base") / "m", words=WORDS)


@pytest.fixture(scope="module")
def classifier(base, tmp_path_factory):
    out = tmp_path_factory.mktemp("clf") / "int"
    main(["finetune", "--model", str(base), "--train", str(CASES / "int_labels.csv"), "--out", str(out),
          "--epochs", "1", "--batch-size", "4", "--quiet"])
    return out


def test_int_labels_train_a_classifier(classifier, capsys):
    cfg = json.loads((classifier / "config.json").read_text(encoding="utf-8"))
    assert cfg["problem_type"] == "single_label_classification"
    assert cfg["id2label"] == {"0": "0", "1": "1"} and cfg["label2id"] == {"0": 0, "1": 1}
    capsys.readouterr()
    main(["predict", "--model", str(classifier), "--input", str(CASES / "int_labels.csv")])
    rows = [json.loads(line) for line in capsys.readouterr().out.split("\n") if line]
    assert len(rows) == 10 and {r["label"] for r in rows} <= {"0", "1"} and set(rows[0]["scores"]) == {"0", "1"}
    assert rows[8]["text"] == "boring, flat, lifeless"


def test_problem_type_regression_on_int_labels(base, tmp_path, capsys):
    out = tmp_path / "reg"
    main(["finetune", "--model", str(base), "--train", str(CASES / "int_labels.csv"), "--out", str(out),
          "--epochs", "1", "--quiet", "--problem-type", "regression"])
    assert json.loads((out / "config.json").read_text(encoding="utf-8"))["problem_type"] == "regression"
    capsys.readouterr()
    main(["predict", "--model", str(out), "--input", str(CASES / "int_labels.csv")])
    rows = [json.loads(line) for line in capsys.readouterr().out.split("\n") if line]
    assert len(rows) == 10 and isinstance(rows[0]["score"], float) and "label" not in rows[0]


def test_predict_wrong_field_jsonl_and_stdin(classifier, monkeypatch, capsys):
    path = CASES / "predict_wrong_field.jsonl"
    assert cli_error(["predict", "--model", str(classifier), "--input", str(path)], capsys, stdout_empty=True) == (
        f"bertkit predict: {path}:1: field 'text' is missing (the row has: 'sentence'); give every row a 'text'")
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(path.read_bytes()), encoding="utf-8"))
    assert cli_error(["predict", "--model", str(classifier)], capsys, stdout_empty=True) == (
        "bertkit predict: <stdin>:1: field 'text' is missing (the row has: 'sentence'); give every row a 'text'")


def test_predict_txt_is_one_text_per_line(classifier, tmp_path, capsys):
    out = tmp_path / "pred.jsonl"
    main(["predict", "--model", str(classifier), "--input", str(CASES / "predict_wrong_field.txt"),
          "--output", str(out)])
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").split("\n") if line]
    assert [r["text"] for r in rows] == ['{"sentence": "a joy to watch"}', '{"sentence": "boring, flat, lifeless"}']
    assert all(r["label"] in ("0", "1") for r in rows)


def test_predict_stdin_plain_and_json_lines(classifier, monkeypatch, capsys):
    data = '\ufeffthe script gives them nothing\r\n{"text": "brilliant and warm"}\nfunny\u2028and warm\n'.encode()
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data), encoding="utf-8"))
    capsys.readouterr()
    main(["predict", "--model", str(classifier)])
    rows = [json.loads(line) for line in capsys.readouterr().out.split("\n") if line]
    assert [r["text"] for r in rows] == ["the script gives them nothing", "brilliant and warm", "funny\u2028and warm"]


def test_one_class_and_pair_missing_are_errors(base, tmp_path, capsys):
    out = tmp_path / "out"
    one = CASES / "one_class.csv"
    assert cli_error(["finetune", "--model", str(base), "--train", str(one), "--out", str(out), "--quiet"], capsys) == (
        f"bertkit finetune: {one}: field 'label': every example has the label 'spam', one class; "
        "a classifier needs at least two, so add examples of another class")
    pair = CASES / "pair_missing.csv"
    assert cli_error(["finetune", "--model", str(base), "--train", str(pair), "--out", str(out), "--quiet"], capsys) == (
        f"bertkit finetune: {pair}:3: field 'text_pair' is missing or empty, but other rows have one (line 2); "
        "give a text_pair in every row or in none")
    assert leftovers(out) == []


def test_predict_qa_jsonl_needs_question_and_context(tmp_path, base):
    from bertkit.data.readers import ReaderError
    from bertkit.tasks.finetune import PredictArgs, predict_rows
    f = tmp_path / "q.jsonl"
    f.write_text('{"question": "Who?", "context": "Mary."}\n{"question": "Where?"}\n', encoding="utf-8")
    with pytest.raises(ReaderError, match=rf"{f}:2: field 'context' is missing \(the row has: 'question'\)"):
        predict_rows(PredictArgs(model=str(base), task="qa", input=str(f)))
    f.write_text('{"id": "a", "question": "Who?", "context": "Mary."}\n\n{"id": "a", "question": "Who?", '
                 '"context": "John."}\n', encoding="utf-8")
    with pytest.raises(ReaderError, match=rf"{f}:3: field 'id': 'a' is also the id of the question at {f}:1"):
        predict_rows(PredictArgs(model=str(base), task="qa", input=str(f)))


def test_squad2_impossible_with_answer_trains_and_scores_as_no_answer(base, tmp_path):
    """q2 lists an answer but is_impossible: every training window of it points at [CLS], and the
    scores count it with the no-answer questions (HasAns 1, NoAns 2)."""
    from bertkit.tasks.finetune import FinetuneArgs, _QA
    path = str(CASES / "squad2_impossible_with_answer.json")
    out = tmp_path / "qa"
    main(["finetune", "--task", "qa", "--model", str(base), "--train", path, "--dev", path, "--test", path,
          "--out", str(out), "--epochs", "1", "--max-length", "64", "--doc-stride", "16", "--quiet"])
    m = json.loads((out / "test_metrics.json").read_text(encoding="utf-8"))
    assert (m["HasAns_total"], m["NoAns_total"], m["total"]) == (1, 2, 3)
    task = _QA(FinetuneArgs(task="qa", model=str(base), train=path, max_length=64, doc_stride=16))
    task.read()
    from bertkit.tokenization import BertTokenizer
    task.build(BertTokenizer.from_pretrained(base))
    feats = task.data["train"][1]
    by_doc = {d: [(f["start_positions"], f["end_positions"]) for f in feats if f["doc"] == d] for d in range(3)}
    assert any(p != (0, 0) for p in by_doc[0])  # q1: Lund
    assert all(p == (0, 0) for p in by_doc[1]) and all(p == (0, 0) for p in by_doc[2])
