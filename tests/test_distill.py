"""`bertkit distill` end to end on tiny random teachers (tasks/distill.py, tasks/distill_embed.py).

The teachers are fine-tuned once per module from a 2-layer, 64-wide BERT (tests/_finetune_util.tiny_folder)
and distilled into `layers:1` students (one layer: the teacher's second), presets and folders. What is
checked: the output is an ordinary model folder (`bertkit predict`/`embed` read it and `transformers` gives
the same numbers as bertkit on it); distillation.json holds the figures the issue asks for; the teacher-logit
cache gives the losses of the live teacher (the objective on the same batches, and two CLI runs); the
intermediate losses run (through a projection when the widths differ); `convert.take_layers` copies the
chosen layers of every family but ALBERT exactly. The loss formulas themselves are checked by hand in
tests/test_distill_losses.py.
"""
from __future__ import annotations

import copy
import json
import math
import random
from pathlib import Path

import pytest
import torch

from _finetune_util import leftovers, tiny_folder, write_jsonl
from bertkit import paths
from bertkit.cli import main

transformers = pytest.importorskip("transformers")
pytestmark = pytest.mark.usefixtures("one_thread")

PEOPLE, PLACES = ["john", "mary"], ["paris", "london"]
FAST = ["--quiet", "--batch-size", "16"]


@pytest.fixture(autouse=True)
def teacher_cache(tmp_path, monkeypatch) -> Path:
    """$BERTKIT_CACHE/teacher in the test's own folder (the user's cache is left alone)."""
    monkeypatch.setattr(paths, "CACHE", tmp_path / "cache")
    return tmp_path / "cache" / "teacher"


# -- data and teachers, built once ------------------------------------------------------------------------

def _reviews(rng: random.Random, n: int) -> list[dict]:
    out = []
    for _ in range(n):
        pos = rng.random() < 0.5
        word = rng.choice(["good", "great"] if pos else ["bad", "awful"])
        tail = " ".join(rng.choice(["cat", "dog", "mat", "river"]) for _ in range(rng.randint(1, 6)))
        out.append({"text": f"the movie was {word} and the plot {tail}", "label": "pos" if pos else "neg"})
    return out


def _conll(path: Path, rng: random.Random, n: int, tags=("B-PER", "B-LOC")) -> Path:
    sents = []
    for _ in range(n):
        p, q = rng.choice(PEOPLE), rng.choice(PLACES)
        words = [(p, tags[0]), ("mary" if p == "john" else "john", "I-PER"), ("visited", "O"), (q, tags[1]),
                 ("and", "O"), ("the", "O"), ("river", "O")]
        sents.append("\n".join(f"{w}\t{t}" for w, t in words))
    path.write_text("-DOCSTART- O\n\n" + "\n\n".join(sents) + "\n", encoding="utf-8")
    return path


def _squad(path: Path, rng: random.Random, n: int, split: str) -> Path:
    paragraphs = []
    for i in range(n):
        who, where = rng.choice(PEOPLE), rng.choice(PLACES)
        ctx = f"the {who} visited {where} and the river"
        paragraphs.append({"context": ctx, "qas": [{"id": f"{split}{i}", "question": "which person is mentioned ?",
                                                    "answers": [{"text": who, "answer_start": ctx.index(who)}]}]})
    path.write_text(json.dumps({"version": "1.1", "data": [{"title": split, "paragraphs": paragraphs}]}),
                    encoding="utf-8")
    return path


def _finetune(base: Path, out: Path, task: str, train: Path, dev: Path | None, *extra: str) -> Path:
    main(["finetune", "--task", task, "--model", str(base), "--train", str(train), "--out", str(out),
          *(["--dev", str(dev)] if dev else []), *FAST, *extra])
    return out


@pytest.fixture(scope="module")
def w(tmp_path_factory):
    """The files and the teachers: a classifier, two NER taggers (with and without a CRF) and a QA model."""
    root = tmp_path_factory.mktemp("distill")
    rng = random.Random(0)
    base = tiny_folder(root / "base")
    d = {"root": root, "base": base,
         "train": write_jsonl(root / "train.jsonl", _reviews(rng, 96)),
         "dev": write_jsonl(root / "dev.jsonl", _reviews(rng, 32)),
         "test": write_jsonl(root / "test.jsonl", _reviews(rng, 32)),
         "conll": _conll(root / "train.conll", rng, 48), "conll_dev": _conll(root / "dev.conll", rng, 12),
         "squad": _squad(root / "train.json", rng, 32, "train"), "squad_dev": _squad(root / "dev.json", rng, 8, "dev")}
    return _Teachers(d)


class _Teachers(dict):
    """The files, and each teacher fine-tuned the first time a test asks for it."""

    def __missing__(self, key):
        base, root = self["base"], self["root"]
        if key == "clf":
            self[key] = _finetune(base, root / key, "classify", self["train"], self["dev"], "--epochs", "4",
                                  "--lr", "2e-3")
        elif key in ("ner", "ner_crf"):
            self[key] = _finetune(base, root / key, "ner", self["conll"], None, "--epochs", "2", "--lr", "3e-3",
                                  *(["--crf"] if key == "ner_crf" else []))
        elif key == "qa":
            self[key] = _finetune(base, root / key, "qa", self["squad"], None, "--epochs", "2", "--lr", "3e-3",
                                  "--max-length", "48")
        else:
            raise KeyError(key)
        return self[key]


def distill(*args: str) -> None:
    main(["distill", *args, "--quiet"])


def metrics(out: Path, event: str = "train") -> list[dict]:
    lines = (out / "metrics.jsonl").read_text(encoding="utf-8").split("\n")
    return [r for r in map(json.loads, filter(None, lines)) if r.get("event") == event]


def predict(folder: Path, inp: Path, capsys) -> list[dict]:
    capsys.readouterr()
    main(["predict", "--model", str(folder), "--input", str(inp)])
    return [json.loads(line) for line in capsys.readouterr().out.splitlines()]


def _padded_batch(tok, texts: list[str]) -> dict:
    enc = tok(texts, padding=True, return_tensors="pt", return_token_type_ids=True)
    assert (enc["attention_mask"] == 0).any()  # real padding in the batch
    return dict(enc)


# -- 1. classification: an ordinary folder, and the report ------------------------------------------------

@pytest.fixture(scope="module")
def clf_student(w):
    out = w["root"] / "clf-student"
    distill("--teacher", str(w["clf"]), "--student", "layers:1", "--train", str(w["train"]), "--dev", str(w["dev"]),
            "--test", str(w["test"]), "--out", str(out), "--epochs", "2", "--lr", "1e-3", "--batch-size", "16")
    return out


def test_classify_student_is_an_ordinary_folder(w, clf_student, capsys):
    from bertkit.registry import AutoModelForSequenceClassification
    from bertkit.tokenization import AutoTokenizer
    out = clf_student
    assert leftovers(out) == [out.name]
    cfg = json.loads((out / "config.json").read_text(encoding="utf-8"))
    teacher_cfg = json.loads((w["clf"] / "config.json").read_text(encoding="utf-8"))
    assert cfg["num_hidden_layers"] == 1 and teacher_cfg["num_hidden_layers"] == 2
    assert cfg["label2id"] == teacher_cfg["label2id"] and cfg["bertkit_task"]["task"] == "classify"
    # bertkit predict reads it
    inp = write_jsonl(out.parent / "clf-in.jsonl", [{"text": "the movie was great"}, {"text": "awful plot"}])
    rows = predict(out, inp, capsys)
    assert [r["text"] for r in rows] == ["the movie was great", "awful plot"]
    assert all(r["label"] in ("pos", "neg") for r in rows)
    # transformers gives bertkit's logits on a padded batch
    tok = AutoTokenizer.from_pretrained(out)
    batch = _padded_batch(tok, ["the movie was great and the plot cat dog", "awful", "the dog sat on the mat"])
    mine = AutoModelForSequenceClassification.from_pretrained(out).eval()
    theirs = transformers.AutoModelForSequenceClassification.from_pretrained(out).eval()
    with torch.no_grad():
        a = mine(**batch).logits
        b = theirs(**batch).logits
    assert a.shape == (3, 2) and (a - b).abs().max() < 1e-5


def test_classify_report(w, clf_student):
    out = clf_student
    rep = json.loads((out / "distillation.json").read_text(encoding="utf-8"))
    assert rep["student"] == "layers:1" and Path(rep["teacher"]) == w["clf"]
    for side in ("teacher_scores", "student_scores"):
        assert 0.0 <= rep[side]["test"]["accuracy"] <= 1.0
    # the teacher's dev scores are those finetune measured for the weights its folder keeps (the best step)
    best = next(r for r in metrics(w["clf"], "eval")[::-1] if r.get("best"))
    for key in ("accuracy", "macro_f1", "loss"):
        assert rep["teacher_scores"]["dev"][key] == pytest.approx(best[key], abs=1e-6)
    # the student's test figures are those of test_metrics.json (the folder's own)
    test_metrics = json.loads((out / "test_metrics.json").read_text(encoding="utf-8"))
    assert rep["student_scores"]["test"]["accuracy"] == pytest.approx(test_metrics["accuracy"])
    tp = rep["throughput"]
    assert tp["split"] == "test" and tp["teacher"] > 0 and tp["student"] > 0
    assert tp["speedup"] == pytest.approx(tp["student"] / tp["teacher"], abs=0.01)
    params = rep["parameters"]
    assert 0 < params["student"] < params["teacher"]
    # the parameter counts are the folders' own
    from safetensors.torch import load_file
    assert params["student"] == sum(t.numel() for t in load_file(out / "model.safetensors").values())
    assert (out / "distill.png").stat().st_size > 0 and (out / "curves.png").exists()
    train_rows = metrics(out)
    assert train_rows and all("kd" in r and "hard" in r and "loss" in r for r in train_rows)
    for r in train_rows:  # the loss is the weighted sum of its terms (defaults 0.5 / 0.5)
        assert r["loss"] == pytest.approx(0.5 * r["kd"] + 0.5 * r["hard"], rel=1e-5)
    assert metrics(out, "eval")


# -- 2. the teacher cache gives the live teacher's losses -----------------------------------------------

def _tiny_models(folder: Path, head: str, seed: int, num_labels: int = 3):
    """(teacher, student) of the folder's bare weights with a random `head` (a registry Auto class name):
    the student is the teacher's layer 1 alone."""
    from bertkit import registry
    from bertkit.convert import take_layers
    torch.manual_seed(seed)
    teacher = getattr(registry, head).from_pretrained(folder, num_labels=num_labels) if head != "AutoModelForQuestionAnswering" \
        else registry.AutoModelForQuestionAnswering.from_pretrained(folder)
    with torch.no_grad():
        for name, p in teacher.named_parameters():  # a head whose logits are far from uniform
            p.add_(0.02 * torch.randn_like(p))
            if name.startswith(("classifier", "qa_outputs")):
                p.mul_(30)
    student = take_layers(teacher, [1]).train()
    with torch.no_grad():  # the student differs from the teacher
        for p in student.parameters():
            p.add_(0.05 * torch.randn_like(p))
    return teacher.eval(), student


def _cache_vs_live(teacher_module, student_module, adapter, train_batches, cache_batches, n):
    from bertkit.train.objectives.distill import (DistillationObjective, Distiller, DistillWeights,
                                                  TeacherCache)
    weights = DistillWeights(kd=0.7, hard=0.3, temperature=2.0)
    distiller = Distiller(student_module, 64, 64, project=False)
    cache = TeacherCache.compute(teacher_module, adapter, cache_batches, n)
    live = DistillationObjective(teacher_module, adapter, weights)
    cached = DistillationObjective(teacher_module, adapter, weights, cache)
    assert len(train_batches) > 1
    for batch in train_batches:
        la, ma = live(distiller, batch)
        lb, mb = cached(distiller, batch)
        assert set(ma) == set(mb) == {"loss", "kd", "hard"}
        assert abs(la.item() - lb.item()) <= 1e-6 and abs(ma["kd"].item() - mb["kd"].item()) <= 1e-6
        assert ma["kd"].item() > 1e-4  # the student differs from the teacher: a real KL is compared
        # the gradients agree too: the cache feeds the same soft targets
        ga = torch.autograd.grad(la, list(distiller.parameters()), allow_unused=True)
        gb = torch.autograd.grad(lb, list(distiller.parameters()), allow_unused=True)
        for x, y in zip(ga, gb):
            assert (x is None) == (y is None) and (x is None or torch.allclose(x, y, atol=1e-6))


def test_cache_equals_live_classify_with_windows(w):
    """Documents of several windows (--long windows): the soft targets are the pooled document logits,
    cached per document and looked up by the batch's `docs`, in batches other than the cache's."""
    from bertkit.data.readers import ClassExample
    from bertkit.tasks.classification import ClassifyOptions, WindowClassifier, encode, label_tensor, make_batches
    from bertkit.tokenization import AutoTokenizer
    from bertkit.train.objectives.distill import ClassifyAdapter
    tok = AutoTokenizer.from_pretrained(w["base"])
    rng = random.Random(1)
    xs = [ClassExample(" ".join(rng.choice(["the", "movie", "cat", "good", "bad", "river"])
                                for _ in range(rng.randint(2, 30))), label=rng.choice("abc")) for _ in range(40)]
    feats = encode(tok, xs, ClassifyOptions(max_length=12, long="windows", stride=4))
    assert len(feats) > len(xs) + 10  # many documents span several windows
    labels = label_tensor(xs, {"a": 0, "b": 1, "c": 2}, "single_label_classification")
    teacher, student = _tiny_models(w["base"], "AutoModelForSequenceClassification", 0)
    g = torch.Generator().manual_seed(5)
    _cache_vs_live(WindowClassifier(teacher), WindowClassifier(student), ClassifyAdapter(None),
                   make_batches(feats, labels, 6, tok.pad_token_id, g),
                   make_batches(feats, None, 16, tok.pad_token_id, None), len(xs))


def test_cache_equals_live_ner(w):
    """Token-level soft targets, cached per feature without the padding and padded back into batches of
    other lengths."""
    from bertkit.data.readers import read_conll
    from bertkit.tasks.ner import NerOptions, Tagger, encode, make_batches
    from bertkit.tokenization import AutoTokenizer
    from bertkit.train.objectives.distill import TokenAdapter
    tok = AutoTokenizer.from_pretrained(w["base"])
    xs = read_conll(w["conll"])
    rng = random.Random(2)
    for e in xs:  # lengths that differ, so that batches pad differently
        k = rng.randint(0, 5)
        e.words, e.tags = e.words + ["the"] * k, e.tags + ["O"] * k
    label2id = {"O": 0, "B-PER": 1, "I-PER": 2, "B-LOC": 3}
    feats = encode(tok, xs, NerOptions(max_length=32, stride=8), label2id)
    teacher, student = _tiny_models(w["base"], "AutoModelForTokenClassification", 1, num_labels=4)
    for crf in (False, True):
        t, s = Tagger(teacher, crf=crf), Tagger(copy.deepcopy(student), crf=crf)
        g = torch.Generator().manual_seed(6)
        _cache_vs_live(t, s, TokenAdapter(), make_batches(feats, 7, tok.pad_token_id, g),
                       make_batches(feats, 20, tok.pad_token_id, None), len(feats))


def test_cache_equals_live_qa(w):
    from bertkit.data.readers import read_squad
    from bertkit.tasks.qa import QAOptions, encode, make_batches
    from bertkit.tokenization import AutoTokenizer
    from bertkit.train.objectives.distill import SpanAdapter
    tok = AutoTokenizer.from_pretrained(w["base"])
    xs = read_squad(w["squad"])
    for i, e in enumerate(xs):  # contexts of several lengths
        e.context = e.context + " and the cat" * (i % 4)
    feats = encode(tok, xs, QAOptions(max_length=48, doc_stride=16), train=True)
    teacher, student = _tiny_models(w["base"], "AutoModelForQuestionAnswering", 2)
    g = torch.Generator().manual_seed(7)
    _cache_vs_live(teacher, student, SpanAdapter(),
                   make_batches(feats, 5, tok.pad_token_id, g, train=True, index=True),
                   make_batches(feats, 16, tok.pad_token_id, None, train=False), len(feats))


CACHE_RUN = ("--student", "layers:1", "--epochs", "2", "--batch-size", "8", "--lr", "1e-3")


@pytest.fixture(scope="module")
def live_run(w) -> Path:
    """A distillation with the teacher live (no cache), 24 steps: the reference of the cache and resume tests."""
    out = w["root"] / "live"
    distill("--teacher", str(w["clf"]), "--train", str(w["train"]), "--out", str(out), *CACHE_RUN)
    return out


def test_cache_teacher_cli(w, live_run, tmp_path, teacher_cache, capsys):
    """--cache-teacher twice: the second run reads the cache and trains with the very same losses; the run
    with the teacher live gives them too, within float noise (its logits come from other batches)."""
    def run(out):
        capsys.readouterr()
        distill("--teacher", str(w["clf"]), "--train", str(w["train"]), "--out", str(out), "--cache-teacher",
                *CACHE_RUN)
        return capsys.readouterr().err

    err1 = run(tmp_path / "a")
    assert "teacher outputs cached in" in err1 and "from the cache" not in err1
    (entry,) = teacher_cache.iterdir()
    err2 = run(tmp_path / "b")
    assert f"teacher outputs from the cache: {entry}" in err2
    a, b, live = metrics(tmp_path / "a"), metrics(tmp_path / "b"), metrics(live_run)
    assert [r["step"] for r in a] == [10, 20, 24]
    assert a == b
    for ra, rc in zip(a, live, strict=True):
        for key in ("loss", "kd", "hard", "grad_norm"):
            assert abs(ra[key] - rc[key]) <= 1e-5, (key, ra, rc)


def test_resume_continues_the_run(w, live_run, tmp_path, monkeypatch):
    """Stopped dead after the checkpoint of step 6, `--resume` finishes the very run of a straight one (the
    layers: student's temporary folder differs between the two invocations; its spec does not)."""
    from safetensors.torch import load_file
    from bertkit.train import loop as loop_mod

    class Crash(Exception):
        pass

    save = loop_mod.Loop.save_checkpoint

    def save_then_crash(self):
        save(self)
        if self.step == 6:
            raise Crash

    out = tmp_path / "out"
    args = ("--teacher", str(w["clf"]), "--train", str(w["train"]), "--out", str(out), *CACHE_RUN)
    monkeypatch.setattr(loop_mod.Loop, "save_checkpoint", save_then_crash)
    with pytest.raises(Crash):
        distill(*args, "--save-every", "3")
    monkeypatch.undo()
    assert not out.exists()
    distill(*args, "--resume")
    assert metrics(out) == metrics(live_run)
    mine, theirs = load_file(out / "model.safetensors"), load_file(live_run / "model.safetensors")
    assert mine.keys() == theirs.keys() and all(torch.equal(mine[k], theirs[k]) for k in mine)


@pytest.mark.slow
def test_damaged_cache_and_other_data(w, tmp_path, teacher_cache, capsys):
    """A damaged cache entry is computed again (with a warning); other data makes another entry."""
    args = ("--teacher", str(w["clf"]), "--student", "layers:1", "--train", str(w["train"]), "--epochs", "1",
            "--cache-teacher", *FAST)
    distill(*args, "--out", str(tmp_path / "a"))
    (entry,) = teacher_cache.iterdir()
    entry.write_bytes(b"not a torch file")
    capsys.readouterr()
    distill(*args, "--out", str(tmp_path / "b"))
    err = capsys.readouterr().err
    assert f"warning: {entry}: unreadable" in err and "teacher outputs cached in" in err
    assert metrics(tmp_path / "a") == metrics(tmp_path / "b")
    distill(*args, "--out", str(tmp_path / "c"), "--limit", "50")
    assert "teacher outputs cached in" in capsys.readouterr().err and len(list(teacher_cache.iterdir())) == 2


# -- 3. NER, with and without a CRF --------------------------------------------------------------------------

@pytest.mark.parametrize("teacher", [pytest.param("ner", marks=pytest.mark.slow), "ner_crf"])
def test_ner_student_predicts(w, tmp_path, teacher, capsys):
    out = tmp_path / "student"
    distill("--teacher", str(w[teacher]), "--student", "layers:1", "--train", str(w["conll"]),
            "--dev", str(w["conll_dev"]), "--test", str(w["conll_dev"]), "--out", str(out), "--epochs", "1", *FAST)
    assert (out / "crf.safetensors").exists() == (teacher == "ner_crf")
    cfg = json.loads((out / "config.json").read_text(encoding="utf-8"))
    assert cfg["num_hidden_layers"] == 1 and cfg["bertkit_task"]["crf"] == (teacher == "ner_crf")
    rep = json.loads((out / "distillation.json").read_text(encoding="utf-8"))
    assert 0 <= rep["student_scores"]["test"]["f1"] <= 1 and rep["throughput"]["student"] > 0
    assert set(rep["student_scores"]) == {"dev", "test"} == set(rep["teacher_scores"])
    assert "kd" in metrics(out)[0]
    rows = predict(out, w["conll_dev"], capsys)  # a CoNLL file: a tag per word
    assert len(rows) == 12 and all(len(r["tags"]) == 7 for r in rows)
    inp = write_jsonl(tmp_path / "in.jsonl", [{"text": "mary visited london"}])
    (row,) = predict(out, inp, capsys)
    assert all(row["text"][e["start"]:e["end"]] == e["text"] for e in row["entities"])


@pytest.mark.slow  # a distillation run of its own (the default tier's budget)
def test_crf_student_starts_from_the_teachers_transitions(w, tmp_path):
    """With the hard loss off nothing trains the CRF (it only scores the labels), so the student's CRF is
    the teacher's to the bit: layers: students take the teacher's transitions with its layers."""
    from safetensors.torch import load_file
    out = tmp_path / "student"
    distill("--teacher", str(w["ner_crf"]), "--student", "layers:1", "--train", str(w["conll"]), "--out", str(out),
            "--epochs", "1", "--alpha-hard", "0", *FAST)
    mine, theirs = load_file(out / "crf.safetensors"), load_file(w["ner_crf"] / "crf.safetensors")
    assert mine.keys() == theirs.keys() and all(torch.equal(mine[k], theirs[k]) for k in mine)
    assert any(v.abs().sum() > 0 for v in theirs.values())
    assert "hard" not in metrics(out)[0]


# -- 4. QA ------------------------------------------------------------------------------------------------

def test_qa_student_predicts(w, tmp_path, capsys):
    from bertkit.registry import AutoModelForQuestionAnswering
    from bertkit.tokenization import AutoTokenizer
    out = tmp_path / "student"
    distill("--teacher", str(w["qa"]), "--student", "layers:1", "--train", str(w["squad"]), "--dev",
            str(w["squad_dev"]), "--out", str(out), "--epochs", "1", *FAST)
    cfg = json.loads((out / "config.json").read_text(encoding="utf-8"))
    assert cfg["num_hidden_layers"] == 1 and cfg["bertkit_task"]["max_length"] == 48
    rep = json.loads((out / "distillation.json").read_text(encoding="utf-8"))
    assert "f1" in rep["teacher_scores"]["dev"] and rep["throughput"]["split"] == "dev"
    ctx = "the mary visited london and the river"
    inp = write_jsonl(tmp_path / "in.jsonl", [{"question": "which person is mentioned ?", "context": ctx}])
    (row,) = predict(out, inp, capsys)
    assert ctx[row["start"]:row["end"]] == row["answer"]
    tok = AutoTokenizer.from_pretrained(out)
    enc = tok(["which person ?", "who ?"], [ctx, "the john visited paris"], padding=True, return_tensors="pt",
              return_token_type_ids=True)
    with torch.no_grad():
        a = AutoModelForQuestionAnswering.from_pretrained(out).eval()(**enc)
        b = transformers.AutoModelForQuestionAnswering.from_pretrained(out).eval()(**enc)
    real = enc["attention_mask"].bool()  # bertkit puts the padding at the lowest logit; transformers does not
    assert (a.start_logits - b.start_logits)[real].abs().max() < 1e-5
    assert (a.end_logits - b.end_logits)[real].abs().max() < 1e-5


# -- 5. sentence embeddings ---------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def corpus(w) -> Path:
    rng = random.Random(4)
    words = ["the", "a", "cat", "dog", "sat", "on", "mat", "river", "bank", "paris", "london", "john", "mary",
             "visited", "good", "bad", "movie", "plot", "very", "not"]
    lines = [" ".join(rng.choice(words) for _ in range(rng.randint(4, 9))) + "." for _ in range(140)]
    path = w["root"] / "corpus.txt"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _mean_pooled(folder: Path, texts: list[str]) -> torch.Tensor:
    """transformers' AutoModel on the folder, mean-pooled over the real tokens: the oracle."""
    tok = transformers.AutoTokenizer.from_pretrained(folder)
    model = transformers.AutoModel.from_pretrained(folder).eval()
    enc = tok(texts, padding=True, return_tensors="pt")
    with torch.no_grad():
        h = model(**enc).last_hidden_state
    m = enc["attention_mask"].unsqueeze(-1).float()
    return (h * m).sum(1) / m.sum(1)


def test_embed_distillation(w, corpus, tmp_path, teacher_cache, capsys):
    from bertkit.tasks.distill_embed import holdout_split, read_sentences
    out = tmp_path / "student"
    args = ("--task", "embed", "--teacher", str(w["base"]), "--student", "layers:1", str(corpus), "--holdout", "20",
            "--lr", "1e-3", *FAST)
    distill(*args, "--out", str(out), "--cache-teacher")
    assert leftovers(out) == ["student"]
    rep = json.loads((out / "distillation.json").read_text(encoding="utf-8"))
    held = rep["held_out"]
    assert -1 <= held["cosine"] <= 1 and 0 <= held["nn_agreement"] <= 1
    assert rep["sentences"]["held_out"] == 20 and rep["sentences"]["train"] >= 100
    assert rep["throughput"]["teacher"] > 0 and rep["throughput"]["student"] > 0
    assert rep["parameters"]["student"] < rep["parameters"]["teacher"]
    assert {"mse", "cosine"} <= set(metrics(out)[-1])
    # the held-out cosine, recomputed with transformers on the folders
    _, sentences = holdout_split(read_sentences([str(corpus)]), 20)
    t, s = _mean_pooled(w["base"], sentences), _mean_pooled(out, sentences)
    assert torch.nn.functional.cosine_similarity(s, t, dim=-1).mean().item() == pytest.approx(held["cosine"], abs=1e-4)
    # bertkit embed reads the folder: the normalised mean-pooled vectors
    inp = tmp_path / "in.txt"
    inp.write_text("\n".join(sentences[:3]) + "\n", encoding="utf-8")
    capsys.readouterr()
    main(["embed", str(inp), "--model", str(out)])
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    got = torch.tensor([r["embedding"] for r in rows])
    assert [r["text"] for r in rows] == sentences[:3]
    assert (got - torch.nn.functional.normalize(s[:3], dim=-1)).abs().max() < 1e-5
    # a second run reads the teacher's vectors from the cache, and trains alike
    distill(*args, "--out", str(tmp_path / "again"), "--cache-teacher")
    assert "teacher outputs from the cache" in capsys.readouterr().err
    assert metrics(tmp_path / "again") == metrics(out)


# -- 6. and 7. a preset student, and the intermediate-layer losses ----------------------------------------------

def test_preset_student_with_layer_losses_through_a_projection(w, tmp_path):
    """`--student tiny`: a fresh model of the preset's size (twice the teacher's width) with the teacher's
    vocabulary and labels; the hidden-state MSE goes through the learned projection (not saved with the
    student) and the relation transfer works across widths."""
    from safetensors.torch import load_file
    from bertkit.config import PRESETS
    out = tmp_path / "student"
    distill("--teacher", str(w["clf"]), "--student", "tiny", "--train", str(w["train"]), "--dev", str(w["dev"]),
            "--out", str(out), "--epochs", "1", "--alpha-hidden", "1", "--alpha-relation", "1", *FAST)
    cfg = json.loads((out / "config.json").read_text(encoding="utf-8"))
    teacher = json.loads((w["clf"] / "config.json").read_text(encoding="utf-8"))
    layers, hidden, heads = PRESETS["tiny"]
    assert (cfg["num_hidden_layers"], cfg["hidden_size"], cfg["num_attention_heads"]) == (layers, hidden, heads)
    assert cfg["vocab_size"] == teacher["vocab_size"] and cfg["hidden_size"] == 2 * teacher["hidden_size"]
    assert cfg["id2label"] == teacher["id2label"]
    (row,) = metrics(out)
    assert row["hidden"] > 0 and row["relation"] >= 0 and "attention" not in row
    assert row["loss"] == pytest.approx(0.5 * row["kd"] + 0.5 * row["hard"] + row["hidden"] + row["relation"],
                                        rel=1e-5)
    assert not any("projection" in k for k in load_file(out / "model.safetensors"))


@pytest.mark.slow  # a distillation run of its own (the default tier's budget)
def test_intermediate_losses(w, tmp_path):
    out = tmp_path / "student"
    distill("--teacher", str(w["clf"]), "--student", "layers:1", "--train", str(w["train"]), "--out", str(out),
            "--epochs", "1", "--alpha-hidden", "1", "--alpha-attention", "1", "--alpha-relation", "1", *FAST)
    (row,) = metrics(out)
    assert {"kd", "hard", "hidden", "attention", "relation"} <= set(row)
    assert all(row[k] >= 0 for k in ("hidden", "attention", "relation"))
    parts = 0.5 * row["kd"] + 0.5 * row["hard"] + row["hidden"] + row["attention"] + row["relation"]
    assert row["loss"] == pytest.approx(parts, rel=1e-5)


# -- 9. take_layers on every family but ALBERT ----------------------------------------------------------------

def _family_model(model_type: str, head: str = "sequence-classification"):
    from bertkit.registry import family
    fam = family(model_type)
    torch.manual_seed(0)
    cfg = fam.config_class.preset("tiny", num_hidden_layers=4, vocab_size=80, max_position_embeddings=40)
    model = fam.model(head)(cfg).eval()
    with torch.no_grad():  # LayerNorm and biases away from their trivial init
        for p in model.parameters():
            p.add_(0.05 * torch.randn_like(p))
    return model


def _layer_state(model, i: int) -> dict:
    return model.base_model.encoder.layers[i].state_dict()


@pytest.mark.parametrize("model_type", ["bert", "roberta", "distilbert", "electra"])
def test_take_layers(model_type, tmp_path):
    from bertkit.convert import take_layers
    teacher = _family_model(model_type)
    student = take_layers(teacher, [0, 3]).eval()
    assert student.config.num_hidden_layers == 2 and teacher.config.num_hidden_layers == 4
    for s, t in ((0, 0), (1, 3)):
        a, b = _layer_state(student, s), _layer_state(teacher, t)
        assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    g = torch.Generator().manual_seed(1)
    ids = torch.randint(5, 80, (3, 9), generator=g)
    mask = torch.ones_like(ids)
    mask[1, 6:] = 0
    mask[2, 2:] = 0
    pad = student.config.pad_token_id or 0
    ids = ids.masked_fill(mask == 0, pad)
    with torch.no_grad():
        t_out = teacher(input_ids=ids, attention_mask=mask, output_hidden_states=True)
        s_out = student(input_ids=ids, attention_mask=mask, output_hidden_states=True)
        # the reference: the teacher itself with layers 1 and 2 left out
        ref = copy.deepcopy(teacher)
        enc = ref.base_model.encoder
        enc.layers = torch.nn.ModuleList([enc.layers[0], enc.layers[3]])
        ref.config.num_hidden_layers = 2
        r_out = ref(input_ids=ids, attention_mask=mask, output_hidden_states=True)
    real = mask.bool()
    assert torch.equal(s_out.hidden_states[0], t_out.hidden_states[0])
    assert (s_out.hidden_states[1] - t_out.hidden_states[1])[real].abs().max() < 1e-6
    assert (s_out.hidden_states[2] - r_out.hidden_states[2])[real].abs().max() < 1e-6
    assert (s_out.logits - r_out.logits).abs().max() < 1e-6
    # transformers loads the saved student with the same numbers
    student.save_pretrained(tmp_path / "s")
    hf = transformers.AutoModelForSequenceClassification.from_pretrained(tmp_path / "s").eval()
    with torch.no_grad():
        h_out = hf(input_ids=ids, attention_mask=mask, output_hidden_states=True)
    assert len(h_out.hidden_states) == 3
    for a, b in zip(s_out.hidden_states, h_out.hidden_states):
        assert (a - b)[real].abs().max() < 1e-5
    assert (s_out.logits - h_out.logits).abs().max() < 1e-5
    # a bare model too (the embed student)
    bare_teacher = _family_model(model_type, "base")
    bare = take_layers(bare_teacher, [3])
    a, b = _layer_state(bare, 0), _layer_state(bare_teacher, 3)
    assert bare.config.num_hidden_layers == 1 and all(torch.equal(a[k], b[k]) for k in b)


def test_ner_training_file_without_a_teacher_tag(w, tmp_path):
    """The student predicts the teacher's tags: a training file that lacks one (here B-LOC) is fine, and a dev
    file that has it is checked against the teacher's tags, not the training file's."""
    lines = w["conll"].read_text(encoding="utf-8").replace("B-LOC", "O")
    train = tmp_path / "no-loc.conll"
    train.write_text(lines, encoding="utf-8")
    out = tmp_path / "student"
    distill("--teacher", str(w["ner_crf"]), "--student", "layers:1", "--train", str(train),
            "--dev", str(w["conll_dev"]), "--out", str(out), "--epochs", "1", *FAST)
    teacher = json.loads((w["ner_crf"] / "config.json").read_text(encoding="utf-8"))
    student = json.loads((out / "config.json").read_text(encoding="utf-8"))
    assert student["id2label"] == teacher["id2label"] and "B-LOC" in student["label2id"]


def test_masked_copies_mask_only_ordinary_pieces():
    from bertkit.tasks.augment import masked_copies
    feats = [{"input_ids": [2, 10, 11, 12, 3], "doc": 0}, {"input_ids": [2, 20, 3], "doc": 1}]
    copies = masked_copies(feats, 3, 0.5, mask_id=4, special={2, 3}, generator=torch.Generator().manual_seed(0))
    assert [k for k, _, _ in copies] == [0, 0, 0, 1, 1, 1]
    for k, copy, picked in copies:
        src = feats[k]["input_ids"]
        assert picked and all(src[p] not in (2, 3) for p in picked)  # at least one, never a special token
        assert copy["input_ids"] == [4 if i in picked else t for i, t in enumerate(src)]
    assert feats[0]["input_ids"] == [2, 10, 11, 12, 3]  # the originals are untouched


def test_augment_and_unlabeled_add_teacher_labelled_documents(w, tmp_path):
    """--unlabeled adds each text, --augment N adds N copies of each training example: documents of their own
    with no hard label. 96 training reviews + 10 texts + 96 copies = 202 documents, 13 batches of 16."""
    unl = tmp_path / "more.txt"
    unl.write_text("\n".join(r["text"] for r in _reviews(random.Random(5), 10)) + "\n", encoding="utf-8")
    out = tmp_path / "student"
    distill("--teacher", str(w["clf"]), "--student", "layers:1", "--train", str(w["train"]), "--out", str(out),
            "--epochs", "1", "--augment", "1", "--unlabeled", str(unl), "--cache-teacher", *FAST)
    (config,) = metrics(out, "config")
    assert config["steps_per_epoch"] == 13
    rows = metrics(out)
    assert rows and all(math.isfinite(r["kd"]) and math.isfinite(r["hard"]) for r in rows)
