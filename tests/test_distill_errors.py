"""`bertkit distill` on options and files that do not fit: each is one line, exit 2, naming the option or the
file, and nothing is left at --out (tiny random teachers, fine-tuned once for the module)."""
from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
import torch

from _finetune_util import cli_error, leftovers, tiny_folder, write_jsonl
from bertkit import paths
from bertkit.cli import main

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setattr(paths, "CACHE", tmp_path / "cache")


@pytest.fixture(scope="module")
def f(tmp_path_factory):
    root = tmp_path_factory.mktemp("distill-errors")
    base = tiny_folder(root / "base")
    rng = random.Random(0)
    rows = [{"text": f"the movie was {w} and the {rng.choice(['cat', 'dog'])}", "label": lab}
            for w, lab in [("good", "pos"), ("bad", "neg")] * 12]
    train = write_jsonl(root / "train.jsonl", rows)
    conll = root / "train.conll"
    conll.write_text("john\tB-PER\nvisited\tO\nparis\tB-LOC\n\nmary\tB-PER\nsat\tO\non\tO\nthe\tO\nmat\tO\n",
                     encoding="utf-8")
    common = ["--epochs", "1", "--batch-size", "8", "--quiet"]
    main(["finetune", "--model", str(base), "--train", str(train), "--out", str(root / "clf"), *common])
    main(["finetune", "--task", "ner", "--model", str(base), "--train", str(conll), "--out", str(root / "ner"), *common])
    corpus = root / "corpus.txt"
    corpus.write_text("\n".join(f"the {a} sat on the {b} ." for a in ("cat", "dog", "john", "mary", "river")
                                for b in ("mat", "bank", "river", "movie", "plot", "paris")) + "\n", encoding="utf-8")
    return {"root": root, "base": base, "train": train, "conll": conll, "clf": root / "clf", "ner": root / "ner",
            "corpus": corpus}


def fails(argv: list[str], capsys, out: Path) -> str:
    """The one-line error of `bertkit distill ... --out out`, with nothing written at `out`."""
    msg = cli_error(["distill", *argv, "--out", str(out), "--quiet"], capsys)
    assert leftovers(out) == []
    return msg.removeprefix("bertkit distill: ")


def clf_args(f, *extra):
    return ["--teacher", str(f["clf"]), "--train", str(f["train"]), "--epochs", "1", *extra]


def test_teacher_missing_or_not_a_folder(f, tmp_path, capsys):
    out = tmp_path / "out"
    msg = fails(["--train", str(f["train"])], capsys, out)
    assert msg.startswith("--teacher: give the teacher's model folder")
    msg = fails(["--teacher", str(tmp_path / "nowhere"), "--train", str(f["train"])], capsys, out)
    assert msg.startswith(f"--teacher {tmp_path / 'nowhere'}: not a model folder (no config.json)")
    # a bare model is a teacher for embed only: a task needs a fine-tuned one
    msg = fails(["--teacher", str(f["base"]), "--train", str(f["train"])], capsys, out)
    assert msg.startswith(f"--teacher {f['base']}: not fine-tuned for a task") and "--task embed" in msg


@pytest.mark.parametrize("spec, start", [
    ("layers:0,x", "--student 'layers:0,x': give layer numbers separated by commas"),
    ("layers:", "--student 'layers:': give layer numbers"),
    ("nonsense", "--student 'nonsense': not a model folder (no config.json), a preset (tiny"),
    ("layers:9", "--student layers:9: the model has layers 0..1; name each at most once"),
    ("layers:1,1", "--student layers:1,1: the model has layers 0..1; name each at most once"),
    ("layers:-1", "--student layers:-1: the model has layers 0..1"),
])
def test_bad_student_spec(f, tmp_path, capsys, spec, start):
    assert fails(clf_args(f, "--student", spec), capsys, tmp_path / "out").startswith(start)


def test_student_folder_with_another_vocabulary(f, tmp_path, capsys):
    other = tiny_folder(tmp_path / "other", words=["zebra", "yak"])
    msg = fails(clf_args(f, "--student", str(other)), capsys, tmp_path / "out")
    assert msg.startswith(f"--student {other}: its tokenizer's vocabulary differs from the teacher's")


def test_student_folder_with_the_teachers_vocabulary_trains(f, tmp_path):
    """The folder student counterpart of the refusal above: a bare folder of the same vocabulary."""
    out = tmp_path / "out"
    main(["distill", *clf_args(f, "--student", str(f["base"])), "--out", str(out), "--quiet", "--batch-size", "8"])
    cfg = json.loads((out / "config.json").read_text(encoding="utf-8"))
    assert cfg["num_hidden_layers"] == 2 and cfg["label2id"] == json.loads((f["clf"] / "config.json").read_text())["label2id"]


def test_cache_with_layer_losses(f, tmp_path, capsys):
    for flag in ("--alpha-hidden", "--alpha-attention", "--alpha-relation"):
        msg = fails(clf_args(f, "--student", "layers:1", "--cache-teacher", flag, "1"), capsys, tmp_path / "out")
        assert msg.startswith("--cache-teacher: the cache holds the teacher's logits only")
    assert not (tmp_path / "cache").exists()  # refused before the teacher ran


def test_attention_transfer_needs_the_same_heads(f, tmp_path, capsys):
    msg = fails(clf_args(f, "--student", "mini", "--alpha-attention", "1"), capsys, tmp_path / "out")
    assert msg.startswith("--alpha-attention: the student has 4 attention heads and the teacher 2")


def test_relation_heads_must_divide_the_widths(f, tmp_path, capsys):
    msg = fails(clf_args(f, "--student", "layers:1", "--alpha-relation", "1", "--relation-heads", "3"), capsys,
                tmp_path / "out")
    assert msg.startswith("--relation-heads: 3 relation heads do not divide the student's width 64")


def test_task_other_than_the_teachers(f, tmp_path, capsys):
    msg = fails(["--teacher", str(f["clf"]), "--task", "ner", "--train", str(f["conll"])], capsys, tmp_path / "out")
    assert msg.startswith(f"--task ner: the teacher {f['clf']} was fine-tuned for classify")


def test_corpus_files_and_task_files_do_not_mix(f, tmp_path, capsys):
    out = tmp_path / "out"
    msg = fails(["--teacher", str(f["base"]), "--task", "embed"], capsys, out)
    assert msg.startswith("--task embed: give the corpus files")
    msg = fails(["--teacher", str(f["base"]), "--task", "embed", str(f["corpus"]), "--train", str(f["train"])],
                capsys, out)
    assert msg.startswith("--train: --task embed learns from the corpus files")
    msg = fails([str(f["corpus"]), *clf_args(f)], capsys, out)
    assert msg.startswith(f"{f['corpus']}: corpus files are for --task embed")
    msg = fails(["--teacher", str(f["clf"])], capsys, out)
    assert msg.startswith("--train: --task classify needs a training file")


def test_embed_holdout_too_large(f, tmp_path, capsys):
    msg = fails(["--task", "embed", "--teacher", str(f["base"]), "--student", "layers:1", str(f["corpus"]),
                 "--holdout", "30"], capsys, tmp_path / "out")
    assert msg.startswith(f"{f['corpus']}: 30 distinct sentences of 3 words or more; --holdout 30 leaves too few")


@pytest.mark.parametrize("n", ["0", "-5"])
def test_embed_holdout_not_positive(f, tmp_path, capsys, n):
    msg = fails(["--task", "embed", "--teacher", str(f["base"]), "--student", "layers:1", str(f["corpus"]),
                 "--holdout", n], capsys, tmp_path / "out")
    assert msg.startswith(f"--holdout {n}")


def test_training_label_the_teacher_does_not_know(f, tmp_path, capsys):
    train = write_jsonl(tmp_path / "t.jsonl", [{"text": "good movie", "label": "pos"},
                                               {"text": "so so movie", "label": "meh"}])
    msg = fails(["--teacher", str(f["clf"]), "--train", str(train), "--student", "layers:1"], capsys, tmp_path / "out")
    assert msg.startswith(f"{train}:2: field 'label': 'meh' is not one of the teacher's labels")


def test_training_labels_of_another_kind(f, tmp_path, capsys):
    train = write_jsonl(tmp_path / "t.jsonl", [{"text": "good movie", "label": 0.5}, {"text": "bad", "label": 1.5}])
    msg = fails(["--teacher", str(f["clf"]), "--train", str(train), "--student", "layers:1"], capsys, tmp_path / "out")
    assert msg.startswith(f"--train {train}: its labels make a regression task, but the teacher {f['clf']} was "
                          "fine-tuned for single_label_classification")


def test_ner_tag_the_teacher_does_not_know(f, tmp_path, capsys):
    conll = tmp_path / "t.conll"
    conll.write_text("london\tB-ORG\nvisited\tO\n\njohn\tB-PER\n", encoding="utf-8")
    msg = fails(["--teacher", str(f["ner"]), "--train", str(conll), "--student", "layers:1"], capsys, tmp_path / "out")
    assert msg.startswith(f"{conll}:1: field 'tag': 'B-ORG' is not one of the teacher's tags (O, B-LOC, B-PER)")


def test_ner_tag_the_teacher_does_not_know_names_its_line(f, tmp_path, capsys):
    conll = tmp_path / "t.conll"
    conll.write_text("john\tB-PER\nvisited\tO\nlondon\tB-ORG\n", encoding="utf-8")
    msg = fails(["--teacher", str(f["ner"]), "--train", str(conll), "--student", "layers:1"], capsys, tmp_path / "out")
    assert msg.startswith(f"{conll}:3: field 'tag': 'B-ORG' is not one of the teacher's tags")


@pytest.mark.parametrize("t", ["0", "-1"])
def test_temperature_must_be_positive(f, tmp_path, capsys, t):
    msg = fails(clf_args(f, "--student", "layers:1", "--temperature", t), capsys, tmp_path / "out")
    assert msg.startswith(f"--temperature {t}")


def test_albert_teacher_has_no_layers_to_take(f, tmp_path, capsys):
    from bertkit import AlbertConfig, AlbertForSequenceClassification
    from bertkit.tokenization import AutoTokenizer
    folder = tmp_path / "albert"
    tok = AutoTokenizer.from_pretrained(f["base"])
    torch.manual_seed(0)
    cfg = AlbertConfig(vocab_size=len(tok), embedding_size=16, hidden_size=32, num_hidden_layers=2,
                       num_attention_heads=2, intermediate_size=64, max_position_embeddings=32,
                       id2label={0: "neg", 1: "pos"}, label2id={"neg": 0, "pos": 1})
    AlbertForSequenceClassification(cfg).save_pretrained(folder)
    tok.save_pretrained(folder)
    msg = fails(["--teacher", str(folder), "--train", str(f["train"]), "--student", "layers:0"], capsys,
                tmp_path / "out")
    assert msg.startswith("--student layers:0: ALBERT's layers share their weights") and "a preset" in msg


def test_every_weight_zero_is_refused(f, tmp_path, capsys):
    msg = fails(clf_args(f, "--student", "layers:1", "--alpha-kd", "0", "--alpha-hard", "0"), capsys, tmp_path / "out")
    assert msg.startswith("--alpha-kd, --alpha-hard, --alpha-hidden, --alpha-attention, --alpha-relation: all 0")


def test_negative_weight_is_refused(f, tmp_path, capsys):
    msg = fails(clf_args(f, "--student", "layers:1", "--alpha-kd", "-1"), capsys, tmp_path / "out")
    assert msg.startswith("--alpha-kd -1.0: must be at least 0")


@pytest.mark.parametrize("opt", ["--train", "--dev", "--test", "--unlabeled"])
def test_a_missing_file_names_its_option(f, tmp_path, capsys, opt):
    args = ["--teacher", str(f["clf"]), "--train", str(f["train"]), "--student", "layers:1"]
    if opt == "--train":
        args[3] = str(tmp_path / "nope.jsonl")
    else:
        args += [opt, str(tmp_path / "nope.jsonl")]
    msg = fails(args, capsys, tmp_path / "out")
    assert msg == f"{opt} {tmp_path / 'nope.jsonl'}: no such file; check the path"
