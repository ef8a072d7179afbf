"""Every bad-input case of `finetune` fails with file:line:field in the message and leaves no output folder."""
import json

import pytest

from _finetune_util import leftovers, tiny_folder, write_jsonl
from bertkit.cli import main
from bertkit.data.readers import ReaderError
from bertkit.tasks import finetune as ft
from bertkit.tasks.finetune import FinetuneArgs, finetune


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    return tiny_folder(tmp_path_factory.mktemp("base") / "m")


def run(model, tmp_path, task, train, dev):
    out = tmp_path / "out"
    with pytest.raises(ReaderError) as err:
        finetune(FinetuneArgs(task=task, model=str(model), train=str(train), dev=str(dev), out=str(out),
                              epochs=1, quiet=True))
    assert leftovers(out) == []
    return str(err.value)


def test_unknown_label_in_dev(model, tmp_path):
    train = write_jsonl(tmp_path / "train.jsonl", [{"text": "good", "label": "pos"}, {"text": "bad", "label": "neg"}])
    dev = write_jsonl(tmp_path / "dev.jsonl", [{"text": "good", "label": "pos"}, {"text": "meh", "label": "neutral"}])
    msg = run(model, tmp_path, "classify", train, dev)
    assert f"{dev}:2: field 'label': 'neutral' is not one of the training labels (neg, pos)" in msg


def test_missing_label_column(model, tmp_path):
    train = tmp_path / "train.csv"
    train.write_text("text,sentiment\ngood,pos\n", encoding="utf-8")
    msg = run(model, tmp_path, "classify", train, train)
    assert f"{train}:1: no 'label' column in the header (columns: text, sentiment)" in msg


def test_empty_file(model, tmp_path):
    train = write_jsonl(tmp_path / "train.jsonl", [{"text": "good", "label": "pos"}, {"text": "bad", "label": "neg"}])
    dev = tmp_path / "dev.jsonl"
    dev.write_text("", encoding="utf-8")
    assert f"{dev}: the file is empty" in run(model, tmp_path, "classify", train, dev)


def test_conll_wrong_columns(model, tmp_path):
    train = tmp_path / "train.conll"
    train.write_text("John B-PER\nlives O\n\nMary B-PER\nin O O\n", encoding="utf-8")
    msg = run(model, tmp_path, "ner", train, train)
    assert f"{train}:5: expected 2 columns (token tag), got 3: 'in O O'" in msg


def test_conll_unknown_tag_in_dev(model, tmp_path):
    train = tmp_path / "train.conll"
    train.write_text("John B-PER\nlives O\n", encoding="utf-8")
    dev = tmp_path / "dev.conll"
    dev.write_text("John B-PER\n\nParis B-LOC\n", encoding="utf-8")
    assert f"{dev}:3: field 'tag': 'B-LOC' is not one of the training tags" in run(model, tmp_path, "ner", train, dev)


def test_squad_answer_start_mismatch(model, tmp_path):
    train = tmp_path / "train.json"
    doc = {"data": [{"paragraphs": [{"context": "John lives in Paris.", "qas": [
        {"id": "a1", "question": "Where?", "answers": [{"text": "Paris", "answer_start": 5}]}]}]}]}
    train.write_text(json.dumps(doc, indent=2), encoding="utf-8")
    line = next(i for i, t in enumerate(train.read_text().splitlines(), 1) if '"a1"' in t)
    msg = run(model, tmp_path, "qa", train, train)
    assert f"{train}:{line}: data[0].paragraphs[0].qas[0] (id a1): answers[0].answer_start 5 points at 'lives'" in msg


def test_error_during_training_leaves_nothing(model, tmp_path, monkeypatch):
    train = write_jsonl(tmp_path / "train.jsonl", [{"text": "good", "label": "pos"}, {"text": "bad", "label": "neg"}])
    out = tmp_path / "out"

    def broken(self, module, split="dev", folder=None):
        raise RuntimeError("evaluation failed")

    monkeypatch.setattr(ft._Classify, "evaluate", broken)
    with pytest.raises(RuntimeError, match="evaluation failed"):
        finetune(FinetuneArgs(model=str(model), train=str(train), dev=str(train), out=str(out), epochs=1, quiet=True))
    assert leftovers(out) == []


def test_cli_reports_the_error(model, tmp_path):
    train = write_jsonl(tmp_path / "train.jsonl", [{"text": "good"}])
    with pytest.raises(SystemExit) as err:
        main(["finetune", "--model", str(model), "--train", str(train), "--out", str(tmp_path / "out")])
    assert str(err.value) == (f"bertkit finetune: {train}:1: field 'label' is missing "
                              "(the row has: 'text'); give every row a 'label'")
    assert leftovers(tmp_path / "out") == []
