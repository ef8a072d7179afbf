"""Limits (issue 13, section 3): long QA questions, --doc-stride, and --max-length against the model's
positions, refused in one line before any work."""
import json
import random
from pathlib import Path

import pytest
import torch

from _finetune_util import cli_error as cli, leftovers, tiny_folder
from bertkit.cli import main
from bertkit.data.readers import read_squad
from bertkit.tasks import finetune as ft
from bertkit.tasks import qa
from bertkit.tasks.finetune import FinetuneArgs, _resolve, finetune

CASES = Path(__file__).parent / "cases" / "real-world-inputs"


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return tiny_folder(tmp_path_factory.mktemp("limits") / "m")


@pytest.fixture(scope="module")
def folder512(tmp_path_factory):
    return tiny_folder(tmp_path_factory.mktemp("limits512") / "m", max_positions=512, hidden=32)


@pytest.fixture(scope="module")
def tok(folder):
    from bertkit.tokenization import BertTokenizer
    return BertTokenizer.from_pretrained(folder)


# -- QA: long questions ---------------------------------------------------------------------------------------

def test_cut_question_is_the_first_tokens(tok, minilm_dir):
    from bertkit.data.readers import QAExample
    from bertkit.tokenization import BertTokenizer
    rng = random.Random(0)
    words = ["how", "high", "is", "Mount", "Fuji", "surveyors'", "e-mail", "naïve", "東京", ",", "?", "x\u200by",
             "unbelievably", "measurements"]
    for t in (tok, BertTokenizer.from_pretrained(minilm_dir)):
        for _ in range(50):
            q = " ".join(rng.choice(words) for _ in range(rng.randint(1, 40)))
            k = rng.randint(1, 30)
            (cut,), (n,), (was_cut,) = qa.cut_questions(t, [QAExample("i", "  " + q, "ctx")], k)
            full = t(q, add_special_tokens=False)["input_ids"]
            assert t(cut, add_special_tokens=False)["input_ids"] == full[:k]
            assert n == min(k, len(full)) and was_cut == (len(full) > k)


def test_long_question_is_truncated_and_counted(folder, tok, tmp_path, capsys):
    xs = read_squad(CASES / "qa_long_question.json")
    n_q2 = len(tok(xs[1].question, add_special_tokens=False)["input_ids"])
    assert n_q2 > 16 > len(tok(xs[0].question, add_special_tokens=False)["input_ids"])
    stats = {}
    feats = qa.encode(tok, xs, qa.QAOptions(max_length=48, doc_stride=8, max_query_length=16), True, stats)
    assert stats == {"questions": 2, "truncated_questions": 1}
    q2 = [f for f in feats if f["doc"] == 1]
    assert all(f["input_ids"][:18] == [tok.cls_token_id] + tok(xs[1].question, add_special_tokens=False)["input_ids"][:16]
               + [tok.sep_token_id] for f in q2)


@pytest.mark.slow  # trains for a step and plots the curves (~10 s on a busy machine)
def test_long_question_through_finetune_and_predict(folder, tmp_path, capsys):
    out = tmp_path / "out"
    path = str(CASES / "qa_long_question.json")
    s = finetune(FinetuneArgs(task="qa", model=str(folder), train=path, dev=path, out=str(out), epochs=1,
                              max_length=48, doc_stride=8, max_query_length=16, quiet=True, fp32=True))
    assert s["truncated_questions"] == {"train": 1, "dev": 1}
    err = capsys.readouterr().err
    assert err.count("qa: 2 questions longer than --max-query-length 16 tokens truncated to 16 (train 1, dev 1)") == 1
    assert json.loads((out / "config.json").read_text())["bertkit_task"]["max_query_length"] == 16
    # predict counts too, with the folder's options
    from bertkit.tasks.finetune import PredictArgs, predict_rows
    rows = predict_rows(PredictArgs(model=str(out), input=path))
    assert len(rows) == 2 and "Traceback" not in capsys.readouterr().err


def test_default_max_query_length_is_64(tok):
    assert FinetuneArgs().max_query_length == 64 and qa.QAOptions().max_query_length == 64
    xs = read_squad(CASES / "qa_long_question.json")
    stats = {}
    qa.encode(tok, xs, qa.QAOptions(), False, stats)
    assert stats["truncated_questions"] == 0  # 36 tokens < 64


def test_question_leaving_no_room_names_max_length(folder, tok, tmp_path, capsys):
    path = CASES / "qa_long_question.json"
    xs = read_squad(path)
    q = len(tok(xs[1].question, add_special_tokens=False)["input_ids"])
    out = tmp_path / "out"
    msg = cli(["finetune", "--task", "qa", "--model", str(folder), "--train", str(path), "--out", str(out),
               "--max-length", "32", "--doc-stride", "8", "--quiet"], capsys)
    assert msg == (f"bertkit finetune: --max-length 32: the question of id 'q2' ({path}:{xs[1].line}) has {q} tokens, "
                   f"which with [CLS] and two [SEP] leaves no room for the context; use --max-length {q + 12} or "
                   f"more (the question, 3 special tokens and --doc-stride 8 + 1 context tokens), or a smaller "
                   f"--max-query-length")
    assert leftovers(out) == []


def test_doc_stride_that_cannot_fit_names_the_largest_that_fits(folder, tmp_path, capsys):
    path = CASES / "qa_long_question.json"
    out = tmp_path / "out"
    msg = cli(["finetune", "--task", "qa", "--model", str(folder), "--train", str(path), "--out", str(out),
               "--max-length", "48", "--doc-stride", "40", "--max-query-length", "16", "--quiet"], capsys)
    line = read_squad(path)[1].line
    assert msg == (f"bertkit finetune: --doc-stride 40: a window of --max-length 48 holds 29 context tokens, as "
                   f"the question of id 'q2' ({path}:{line}) has 16 tokens (cut to --max-query-length 16) and 3 are "
                   f"special; consecutive windows must move on, so use --doc-stride 28 or less (or a larger "
                   f"--max-length, or a smaller --max-query-length)")
    assert leftovers(out) == []
    # run_qa's --doc-stride 128 with a short window: an error, not a traceback
    msg = cli(["finetune", "--task", "qa", "--model", str(folder), "--train", str(path), "--out", str(out),
               "--max-length", "64", "--doc-stride", "128", "--quiet"], capsys)
    assert msg.startswith("bertkit finetune: --doc-stride 128: a window of --max-length 64 holds")
    assert "--doc-stride" in msg and "or less" in msg
    # the default stride is a third of the window (21 here), so a short window works without one
    from bertkit.tasks.finetune import FinetuneArgs, _resolve
    a = _resolve(FinetuneArgs(task="qa", model=str(folder), train=str(path), max_length=64))
    assert a.doc_stride == 21


# -- --max-length against max_position_embeddings -------------------------------------------------------------

@pytest.mark.parametrize("task, train", [("classify", "long_docs.jsonl"), ("ner", "zero_width.conll"),
                                         ("qa", "qa_long_question.json")])
def test_max_length_above_the_positions_is_refused_before_any_work(folder512, tmp_path, capsys, monkeypatch,
                                                                   task, train):
    monkeypatch.setattr(ft, "load_tokenizer", lambda *a: pytest.fail("work started"))
    out = tmp_path / "out"
    msg = cli(["finetune", "--task", task, "--model", str(folder512), "--train", str(CASES / train),
               "--out", str(out), "--max-length", "600"], capsys)
    assert msg == (f"bertkit finetune: --max-length 600: the model at {folder512} reads at most 512 tokens "
                   "(max_position_embeddings); use --max-length 512 or less")
    assert leftovers(out) == []


def test_max_length_on_minilm(minilm_dir, tmp_path, capsys):
    out = tmp_path / "out"
    msg = cli(["finetune", "--model", str(minilm_dir), "--train", str(CASES / "long_docs.jsonl"),
               "--out", str(out), "--max-length", "600"], capsys)
    assert msg == (f"bertkit finetune: --max-length 600: the model at {minilm_dir} reads at most 512 tokens "
                   "(max_position_embeddings); use --max-length 512 or less")
    assert leftovers(out) == []


def test_default_max_length_stays_within_the_positions(folder, folder512):
    a = _resolve(FinetuneArgs(task="ner", model=str(folder), train="t.conll"))
    assert (a.max_length, a.stride) == (64, 31)  # a 64-position model: 128 would not fit
    a = _resolve(FinetuneArgs(task="qa", model=str(folder512), train="t.json"))
    assert (a.max_length, a.stride) == (384, 32)
    a = _resolve(FinetuneArgs(task="classify", model=str(folder512), train="t.jsonl", max_length=512))
    assert a.max_length == 512


def test_predict_refuses_a_folder_whose_max_length_exceeds_its_positions(folder512, tmp_path, capsys):
    model = tmp_path / "m"
    import shutil
    shutil.copytree(folder512, model)
    cfg = json.loads((model / "config.json").read_text())
    cfg["bertkit_task"] = {"task": "ner", "max_length": 600}
    cfg["architectures"] = ["BertForTokenClassification"]
    (model / "config.json").write_text(json.dumps(cfg))
    msg = cli(["predict", "--model", str(model), "--input", str(CASES / "zero_width.conll")], capsys)
    assert msg == (f"bertkit predict: max_length (in {model / 'config.json'}, bertkit_task) 600: the model at "
                   f"{model} reads at most 512 tokens (max_position_embeddings); use max_length (in "
                   f"{model / 'config.json'}, bertkit_task) 512 or less")
