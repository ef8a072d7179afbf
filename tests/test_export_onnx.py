"""`bertkit export --format onnx` and `--engine onnx` on embed and predict.

The oracle is our PyTorch model (itself checked against `transformers` elsewhere) and the check is
onnxruntime running the exported file: for each head (embed, classify, ner, qa) a tiny random BERT is
exported and its outputs must match at every real (unpadded) position to 1e-4, on padded batches of
other sizes and lengths than the one the graph was traced on (the dynamic axes). The CLI's embed and
predict give the same vectors and labels on either engine; int8 runs and mostly agrees; each user
error is one line, exit 2. Exported files are shared by the module (an export takes a few seconds).
"""
from __future__ import annotations

import contextlib
import io
import json
import shutil

import pytest
import torch

from _finetune_util import cli_error, tiny_folder, write_jsonl
from bertkit.cli import main
from bertkit.export.onnx import export_onnx
from bertkit.export.runtime import OUTPUTS, OnnxModel, load_model
from bertkit.tokenization import AutoTokenizer

pytest.importorskip("onnxruntime")
pytestmark = pytest.mark.usefixtures("one_thread")

TEXTS = [  # real English in the tiny vocabulary's words (and some it lacks), of many lengths
    "john visited paris and mary works at google .",
    "the movie was very good !",
    "a cat sat on the mat by the river bank in london , and the dog was not there at all .",
    "bad film",
    "who is the actor in this film ?",
    "it was an awful plot , but the actor was great and the music was good .",
    "paris",
    "mary visited london and john works at apple in paris , which is a great place .",
    "The film's plot is thin, but its actors are wonderful.",
]
NER_LABELS = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC", "B-ORG", "I-ORG"]


def _head_folder(base, out, task: str, labels: list[str] | None, options: dict, seed: int):
    """A random head of `task` over the base encoder, saved as a fine-tuned folder (config.json's
    bertkit_task, the tokenizer) without the cost of fine-tuning. The head's weights are scaled up so that
    its logits are far apart (argmaxes that a rounding cannot flip)."""
    from bertkit import registry
    from bertkit.registry import AutoConfig
    cls = {"classify": registry.AutoModelForSequenceClassification, "ner": registry.AutoModelForTokenClassification,
           "qa": registry.AutoModelForQuestionAnswering}[task]
    cfg = AutoConfig.from_pretrained(base)
    if labels:
        cfg.id2label = dict(enumerate(labels))
        cfg.label2id = {v: k for k, v in cfg.id2label.items()}
    torch.manual_seed(seed)
    model = cls.from_config(cfg)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.startswith(("classifier", "qa_outputs")):
                p.mul_(30)
    model.config.extra["bertkit_task"] = {"task": task, **options}
    model.save_pretrained(out)
    AutoTokenizer.from_pretrained(base).save_pretrained(out)
    return out


def _one_layer(two, out):
    """tiny_folder's tokenizer and config with one layer: a layer is what the graph repeats, and each one
    costs the exporter about as much as the rest of the model (the module's exports are most of its time)."""
    from bertkit import BertConfig, BertModel
    cfg = BertConfig.from_pretrained(two)
    cfg.num_hidden_layers = 1
    torch.manual_seed(0)
    BertModel(cfg).save_pretrained(out)
    AutoTokenizer.from_pretrained(two).save_pretrained(out)
    return out


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    root = tmp_path_factory.mktemp("onnx")
    base = _one_layer(tiny_folder(root / "two"), root / "base")
    ner = _head_folder(base, root / "ner", "ner", NER_LABELS, {"max_length": 64, "stride": 16, "scheme": "IOB2"}, 1)
    from safetensors.torch import save_file
    torch.manual_seed(2)  # a CRF over the tags, so predict runs Viterbi on the ONNX logits
    n = len(NER_LABELS)
    save_file({"transitions": torch.randn(n, n), "start": torch.randn(n), "end": torch.randn(n)},
              str(ner / "crf.safetensors"))
    return {"base": base, "embed": base,
            # windows of 16 tokens: predict pools several windows per text (WindowClassifier over the file)
            "classify": _head_folder(base, root / "classify", "classify", ["neg", "pos"],
                                     {"max_length": 16, "long": "windows", "stride": 4, "pool": "mean"}, 3),
            "ner": ner,
            "qa": _head_folder(base, root / "qa", "qa", None, {"max_length": 32, "doc_stride": 8}, 4)}


class _Exports:
    """Each head's export, made on first use and kept for the module: embed, ner and qa through the API
    (default file <folder>/model.onnx), classify through `bertkit export` (its printed report kept)."""

    def __init__(self, folders):
        self.folders, self.reports = folders, {}

    def __getitem__(self, task: str) -> dict:
        if task not in self.reports:
            if task == "classify":
                out = io.StringIO()
                with contextlib.redirect_stdout(out):
                    main(["export", "--format", "onnx", "--model", str(self.folders[task]), "--quiet"])
                self.reports[task] = {"file": str(self.folders[task] / "model.onnx"), "printed": out.getvalue()}
            else:  # ner's file is --optimize'd: its parity checks the fused graph
                self.reports[task] = export_onnx(self.folders[task], texts=TEXTS, optimize=task == "ner")
        return self.reports[task]


@pytest.fixture(scope="module")
def exported(folders):
    return _Exports(folders)


# the default tier exports one file (embed); the head exports, some seconds each, run in the slow tier with
# the report, the error cases, int8 and the family sweep
TASKS = ["embed", *(pytest.param(t, marks=pytest.mark.slow) for t in ("classify", "ner", "qa"))]


def _batches(tok, task):
    """Padded batches of 5, 3 and 1 texts (qa: question/context pairs), unlike the traced batch of 2."""
    groups = [TEXTS[:5], TEXTS[5:8], TEXTS[8:]]
    for g in groups:
        if task == "qa":
            yield tok(g, list(reversed(g)), truncation=True, max_length=64, padding=True, return_tensors="pt",
                      return_token_type_ids=True)
        else:
            yield tok(g, truncation=True, max_length=64, padding=True, return_tensors="pt",
                      return_token_type_ids=True)


@pytest.mark.parametrize("task", TASKS)
def test_each_head_matches_pytorch_at_real_positions(folders, exported, task):
    exported[task]
    folder = folders[task]
    torch_model = load_model(folder, task, "torch")
    onnx_model = load_model(folder, task, "onnx")
    assert isinstance(onnx_model, OnnxModel) and onnx_model.task == task
    assert next(onnx_model.parameters()).device == torch.device("cpu")
    tok = AutoTokenizer.from_pretrained(folder)
    shapes = set()
    for enc in _batches(tok, task):
        mask = enc["attention_mask"].bool()
        shapes.add(tuple(enc["input_ids"].shape))
        with torch.no_grad():
            want = torch_model(enc["input_ids"], attention_mask=enc["attention_mask"],
                               token_type_ids=enc["token_type_ids"])
        got = onnx_model(enc["input_ids"], attention_mask=enc["attention_mask"], token_type_ids=enc["token_type_ids"])
        assert type(got) is type(want)
        for name in OUTPUTS[task]:
            a, b = getattr(got, name), getattr(want, name)
            assert a.shape == b.shape and a.dtype == torch.float32
            real = (a, b) if task == "classify" else (a[mask], b[mask])
            assert (real[0] - real[1]).abs().max() <= 1e-4, (task, name, enc["input_ids"].shape)
    # the dynamic axes: three batch sizes and lengths, none of them the traced (2, T) batch
    assert len({b for b, _ in shapes}) == 3 and len({t for _, t in shapes}) >= 2
    assert all(b != 2 for b, _ in shapes)


@pytest.mark.slow
def test_report_and_metadata(folders, exported):
    r = exported["ner"]
    exported["classify"]
    assert r["task"] == "ner" and r["inputs"] == ["input_ids", "attention_mask", "token_type_ids"]
    assert r["outputs"] == ["logits"] and r["max_abs_diff"]["logits"] <= 1e-4 and r["tolerance"] == 1e-4
    assert r["checked_on"]["traced_on"][0] == 2 and r["checked_on"]["batches"][-1][0] == 1
    assert r["agreement"]["argmax_agreement"] == 1.0 and r["opset"] == 20
    # one layer: its attention, its two residual LayerNorms and its GELU fused (and the embeddings' sum + LayerNorm)
    assert r["optimize"]["fused"] == {"MultiHeadAttention": 1, "SkipLayerNormalization": 3, "BiasGelu": 1}
    assert r["optimize"]["max_abs_diff"]["logits"] <= 1e-4 and "note" not in r["optimize"]
    m = OnnxModel(r["file"], folders["ner"]).metadata
    assert m["task"] == "ner" and m["model_type"] == "bert" and m["num_labels"] == str(len(NER_LABELS))
    assert m["hidden_size"] == "64" and m["inputs"] == "input_ids,attention_mask,token_type_ids"
    assert m["quantization"] == "none" and m["opset"] == "20" and m["optimized"] == "yes"
    printed = exported["classify"]["printed"].splitlines()
    assert printed[0].startswith(f"wrote {folders['classify'] / 'model.onnx'} (") and "classify, bert, opset 20" in printed[0]
    assert "max abs diff vs PyTorch on 8 texts (real positions): logits " in printed[2]


def _rows(argv, capsys):
    main(argv)
    return [json.loads(line) for line in capsys.readouterr().out.splitlines()]


def test_cli_embed_same_on_both_engines(folders, exported, tmp_path, capsys):
    exported["embed"]
    lines = tmp_path / "in.txt"
    lines.write_text("\n".join(TEXTS) + "\n", encoding="utf-8")
    base = str(folders["base"])
    vt, vo = (_rows(["embed", str(lines), "--model", base, *e], capsys) for e in ([], ["--engine", "onnx"]))
    a = torch.tensor([r["embedding"] for r in vt])
    b = torch.tensor([r["embedding"] for r in vo])
    assert a.shape == (len(TEXTS), 64) and [r["text"] for r in vo] == TEXTS
    assert torch.nn.functional.cosine_similarity(a, b).min() >= 0.99999


@pytest.mark.parametrize("task", TASKS[1:])
def test_cli_predict_same_on_both_engines(folders, exported, task, tmp_path, capsys):
    exported[task]
    if task == "qa":
        source = write_jsonl(tmp_path / "qa.jsonl", [{"id": str(i), "question": "who visited paris ?", "context": t}
                                                     for i, t in enumerate(TEXTS)])
    else:
        source = write_jsonl(tmp_path / "texts.jsonl", [{"text": t} for t in TEXTS])
    f = str(folders[task])
    rt = _rows(["predict", "--model", f, "--input", str(source)], capsys)
    ro = _rows(["predict", "--model", f, "--input", str(source), "--engine", "onnx",
                "--onnx", str(folders[task] / "model.onnx")], capsys)
    assert len(rt) == len(ro) == len(TEXTS)
    for x, y in zip(rt, ro):
        if task == "classify":  # several 16-token windows per text, pooled
            assert x["label"] == y["label"] and abs(x["score"] - y["score"]) <= 1e-4
        elif task == "ner":
            assert x == y  # the same entities, spans and rounded scores (CRF Viterbi on the ONNX logits)
        else:
            assert x["answer"] == y["answer"] and abs(x["score"] - y["score"]) <= 1e-3
    if task == "ner":
        assert sum(len(r["entities"]) for r in ro) >= 3  # the random head tags some words


@pytest.mark.slow
def test_int8_runs_and_mostly_agrees(folders, exported, tmp_path):
    exported["classify"]
    out = tmp_path / "clf.int8.onnx"
    r = export_onnx(folders["classify"], out, quantize="int8", texts=TEXTS)
    assert r["file"] == str(out) and r["tolerance"] is None and r["quantize"]["per_channel"]
    assert r["quantize"]["quantized_nodes"].get("MatMulInteger", 0) >= 4  # the layer's 4 weight matmuls
    assert r["agreement"]["argmax_agreement"] >= 0.8
    assert r["size_bytes"] < 0.6 * (folders["classify"] / "model.onnx").stat().st_size
    model = load_model(folders["classify"], "classify", "onnx", out)
    assert model.metadata["quantization"] == "int8"
    tok = AutoTokenizer.from_pretrained(folders["classify"])
    enc = tok(TEXTS, padding=True, return_tensors="pt")
    with torch.no_grad():
        want = load_model(folders["classify"], "classify")(**enc).logits.argmax(-1)
    got = model(**enc).logits.argmax(-1)
    assert (got == want).float().mean() >= 0.8


@pytest.mark.slow
def test_user_errors_are_one_line(folders, exported, tmp_path, capsys):
    exported["embed"], exported["classify"]
    base, clf = folders["base"], folders["classify"]
    texts = write_jsonl(tmp_path / "in.jsonl", [{"text": "good movie"}])
    lines = tmp_path / "in.txt"
    lines.write_text("good movie\n", encoding="utf-8")
    empty = tmp_path / "empty"
    shutil.copytree(base, empty, ignore=shutil.ignore_patterns("*.onnx"))
    assert cli_error(["embed", str(lines), "--model", str(empty), "--engine", "onnx"], capsys) == (
        f"bertkit embed: {empty / 'model.onnx'}: no such file; export it first with bertkit export --model {empty}")
    # a file exported for another task
    assert cli_error(["predict", "--model", str(clf), "--input", str(texts), "--engine", "onnx", "--onnx",
                      str(base / "model.onnx")], capsys) == (
        f"bertkit predict: {base / 'model.onnx'}: exported for embed, not classify; export the model for classify "
        f"with bertkit export --model {clf} --task classify --out FILE, and give --onnx FILE")
    # a file of another model: the folder's labels are not the file's
    other = tmp_path / "other"
    shutil.copytree(clf, other)
    cfg = json.loads((other / "config.json").read_text(encoding="utf-8"))
    cfg["id2label"], cfg["label2id"] = {"0": "a", "1": "b", "2": "c"}, {"a": 0, "b": 1, "c": 2}
    (other / "config.json").write_text(json.dumps(cfg), encoding="utf-8")
    assert cli_error(["predict", "--model", str(other), "--input", str(texts), "--engine", "onnx"], capsys) == (
        f"bertkit predict: {other / 'model.onnx'}: exported from a model with num_labels 2, but "
        f"{other / 'config.json'} has 3; the file belongs to another model: export this folder again with "
        f"bertkit export --model {other}")
    # --out over a file of the folder (not .onnx): refused before any work, the file untouched
    vocab = (other / "vocab.txt").read_bytes()
    assert "--out " + str(other / "vocab.txt") + ": an ONNX file's name ends in .onnx" in cli_error(
        ["export", "--model", str(other), "--out", str(other / "vocab.txt")], capsys)
    assert (other / "vocab.txt").read_bytes() == vocab
    garbage = tmp_path / "garbage.onnx"
    garbage.write_bytes(b"not a protobuf at all \x00\xff")
    msg = cli_error(["embed", str(lines), "--model", str(base), "--engine", "onnx", "--onnx", str(garbage)], capsys)
    assert msg.startswith(f"bertkit embed: {garbage}: not an ONNX model onnxruntime can load (")
    assert msg.endswith("); export it again with bertkit export")
    assert cli_error(["embed", str(lines), "--model", str(base), "--onnx", str(garbage)], capsys) == (
        f"bertkit embed: --onnx {garbage}: an ONNX file is run by --engine onnx; add --engine onnx or drop --onnx")
    assert cli_error(["embed", str(lines), "--model", str(base), "--engine", "tf"], capsys) == (
        "bertkit embed: --engine 'tf': use one of torch, onnx")
    assert cli_error(["predict", "--model", str(clf), "--input", str(texts), "--engine", "onnx", "--bf16"],
                     capsys) == ("bertkit predict: --bf16: the onnx engine runs the exported file as it is (no "
                                 "autocast, no gradients); drop --bf16 or use --engine torch")
    # export's own options, refused before any work
    assert cli_error(["export", "--model", str(base), "--opset", "12"], capsys) == (
        "bertkit export: --opset 12: use 18..22 (or leave it out for the exporter's default)")
    assert cli_error(["export", "--model", str(base), "--opset", "23"], capsys) == (
        "bertkit export: --opset 23: use 18..22 (or leave it out for the exporter's default)")
    assert cli_error(["export", "--model", str(base), "--format", "tflite"], capsys) == (
        "bertkit export: --format 'tflite': use one of onnx")
    assert cli_error(["export", "--model", str(base), "--quantize", "int4"], capsys) == (
        "bertkit export: --quantize 'int4': use one of int8")
    assert cli_error(["export", "--model", str(tmp_path / "nope")], capsys) == (
        f"bertkit export: {tmp_path / 'nope'}: no such folder; give --model a model folder (Hugging Face layout)")
    assert cli_error(["export", "--model", str(tmp_path)], capsys) == (
        f"bertkit export: {tmp_path}: not a model folder (no config.json); give --model a model folder")
    assert cli_error(["export"], capsys) == (
        "bertkit export: --model: give the model folder to export (bertkit export --model DIR)")
    assert cli_error(["export", "--model", str(base), "--out", str(tmp_path / "no" / "x.onnx")], capsys) == (
        f"bertkit export: {tmp_path / 'no' / 'x.onnx'}: cannot write (the folder {tmp_path / 'no'} does not exist); "
        "create it or choose another --out")
    assert cli_error(["export", "--model", str(base), "--out", str(tmp_path)], capsys).startswith(
        f"bertkit export: {tmp_path}: cannot write (Is a directory")
    assert cli_error(["export", "--model", str(clf), "--task", "ner"], capsys) == (
        f"bertkit export: --task ner: {clf} was fine-tuned for classify; leave --task out, give --task classify (or "
        "embed, the bare encoder), or a folder fine-tuned for ner")
    assert cli_error(["export", "--model", str(base), "--task", "classify", "--quiet"], capsys) == (
        f"bertkit export: {base}: holds no trained classifier head (classifier.bias, classifier.weight); "
        "fine-tune it first with bertkit finetune --task classify")
    for where in (tmp_path, base, clf):  # no temporary file or folder left by the refused exports
        assert not [p.name for p in where.iterdir() if p.name.startswith(".")]


@pytest.mark.slow
def test_beyond_tolerance_nothing_is_written(folders, tmp_path, monkeypatch):
    import bertkit.export.onnx as export
    monkeypatch.setattr(export, "TOLERANCE", 0.0)  # every fp32 graph differs from PyTorch by a rounding
    out = tmp_path / "x.onnx"
    with pytest.raises(export.BertkitError) as e:
        export_onnx(folders["ner"], out, texts=TEXTS)
    assert str(e.value).startswith(f"{folders['ner']}: the exported graph: output logits differs from the PyTorch "
                                   "model by ")
    assert "beyond the tolerance 0; nothing was written;" in str(e.value)
    assert list(tmp_path.iterdir()) == []


# -- slow: every family, and the real MiniLM ----------------------------------------------------------------

@pytest.mark.slow
@pytest.mark.parametrize("family", ["bert", "roberta", "distilbert", "albert", "electra"])
def test_family_sweep_classify(family, tmp_path):
    base = _family_base(family, tmp_path)
    folder = _head_folder(base, tmp_path / "clf", "classify", ["neg", "pos", "mixed"], {"max_length": 32}, 5)
    r = export_onnx(folder, texts=TEXTS, optimize=True)  # the fused graph is checked (and written) too
    segments = family != "distilbert"
    assert r["inputs"] == ["input_ids", "attention_mask"] + (["token_type_ids"] if segments else [])
    assert r["max_abs_diff"]["logits"] <= 1e-4
    torch_model, onnx_model = load_model(folder, "classify"), load_model(folder, "classify", "onnx")
    tok = AutoTokenizer.from_pretrained(folder)
    enc = tok(TEXTS[:7], TEXTS[2:9], truncation=True, max_length=32, padding=True, return_tensors="pt",
              return_token_type_ids=True)  # pairs: segment 1 too where the family has two segments
    if torch_model.config.type_vocab_size == 1:  # RoBERTa (BERT's tokenizer here gives 1 on the second text)
        enc["token_type_ids"].zero_()
    with torch.no_grad():
        want = torch_model(**enc).logits
    assert (onnx_model(**enc).logits - want).abs().max() <= 1e-4


def _family_base(family: str, tmp):
    """A bare random tiny folder of `family` with a tokenizer (the families of test_family_tasks)."""
    if family == "bert":
        return tiny_folder(tmp / "model")
    bert = tiny_folder(tmp / "bert")
    tok = AutoTokenizer.from_pretrained(bert)
    torch.manual_seed(0)
    if family == "distilbert":
        main(["convert", str(bert), str(tmp / "model"), "--layers", "0,1"])
        return tmp / "model"
    from bertkit.registry import AutoConfig, AutoModel
    sizes = dict(vocab_size=len(tok), hidden_size=64, num_hidden_layers=2, num_attention_heads=2,
                 intermediate_size=128, max_position_embeddings=64)
    if family in ("albert", "electra"):
        sizes["embedding_size"] = 32
    if family == "roberta":  # BERT's tokenizer is enough here: RoBERTa's positions start after pad_token_id
        sizes.update(pad_token_id=tok.pad_token_id, max_position_embeddings=66, type_vocab_size=1)
    AutoModel.from_config(AutoConfig.for_model(family, **sizes)).save_pretrained(tmp / "model")
    tok.save_pretrained(tmp / "model")
    return tmp / "model"


@pytest.mark.slow
def test_minilm_optimized_matches_on_rt(minilm_dir, rt_dir, tmp_path):
    from bertkit.data.readers import read_classification
    texts = [x.text for x in read_classification(rt_dir / "test.jsonl")[:64]]
    out = tmp_path / "minilm.onnx"
    r = export_onnx(minilm_dir, out, optimize=True, texts=texts)
    assert r["task"] == "embed" and r["checked_on"]["texts"] == 64
    assert r["fp32_max_abs_diff"]["last_hidden_state"] <= 1e-4
    assert r["max_abs_diff"]["last_hidden_state"] <= 1e-4  # the optimised graph, the one written
    assert r["optimize"]["fused"] == {"MultiHeadAttention": 6, "SkipLayerNormalization": 13, "BiasGelu": 6}
    model = load_model(minilm_dir, "embed", "onnx", out)
    assert model.metadata["optimized"] == "yes"
    from bertkit.inference import sentence_embeddings
    tok = AutoTokenizer.from_pretrained(minilm_dir)
    a = sentence_embeddings(load_model(minilm_dir, "embed"), tok, texts, batch_size=16)
    b = sentence_embeddings(model, tok, texts, batch_size=16)
    assert torch.nn.functional.cosine_similarity(a, b).min() >= 0.99999
