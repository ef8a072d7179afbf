"""Every task command on a BERT, a RoBERTa (byte-level BPE), a DistilBERT folder (from `bertkit convert`), an
ALBERT (SentencePiece) and an ELECTRA folder.

The oracle is `transformers`: the folder that `finetune` writes, tokenizer included, is loaded by its
Auto classes and must give the logits bertkit gives on the same text, and the features the tasks build
(ids, segment ids, word starts, answer offsets) must be what its tokenizer gives. Learning is checked only
as a training loss that falls on a fixed seed, which cannot be flaky.

ALBERT's tokenizer, as transformers 5's AlbertTokenizer, returns no token_type_ids unless asked; its model
has two segments (type_vocab_size 2) and was pretrained with 0 / 1 on a pair, so the tasks ask for them
(return_token_type_ids=True) and the oracle is transformers' model on the same 0 / 1.
"""
from __future__ import annotations

import json
import random

import pytest
import torch

from _finetune_util import WORDS, tiny_folder, write_jsonl
from bertkit.cli import main
from bertkit.data.readers import ClassExample, NerExample
from bertkit.registry import (AutoModelForQuestionAnswering, AutoModelForSequenceClassification,
                              AutoModelForTokenClassification)
from bertkit.tasks.finetune import FinetuneArgs, PredictArgs, finetune, predict_rows
from bertkit.tokenization import AutoTokenizer

transformers = pytest.importorskip("transformers")
pytestmark = pytest.mark.usefixtures("one_thread")

PEOPLE, PLACES = ["john", "mary"], ["paris", "london"]
TWO_SEGMENTS = ("bert", "albert", "electra")  # families whose model reads token_type_ids 0 / 1
# NER and QA fine-tuning on ALBERT run in the slow tier (classify, embed, info, fill-mask run by default)
SLOW_ALBERT = pytest.mark.parametrize("family_folder", ["bert", "roberta", "distilbert",
                                                        pytest.param("albert", marks=pytest.mark.slow),
                                                        pytest.param("electra", marks=pytest.mark.slow)],
                                      indirect=True)


@pytest.fixture(scope="module", params=["bert", "roberta", "distilbert", "albert",
                                        pytest.param("electra", marks=pytest.mark.slow)])
def family_folder(request, tmp_path_factory):
    """(model_type, a bare random tiny folder of that family with its tokenizer)."""
    tmp = tmp_path_factory.mktemp(request.param)
    if request.param == "bert":
        return "bert", tiny_folder(tmp / "model")
    if request.param == "electra":  # BERT's WordPiece tokenizer; embeddings narrower than the hidden size
        from bertkit import ElectraConfig, ElectraModel
        from bertkit.tokenization import AutoTokenizer as Tok
        bert = tiny_folder(tmp / "bert")
        tok = Tok.from_pretrained(bert)
        torch.manual_seed(0)
        cfg = ElectraConfig(vocab_size=len(tok), embedding_size=32, hidden_size=64, num_hidden_layers=2,
                            num_attention_heads=2, intermediate_size=128, max_position_embeddings=64,
                            hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
        ElectraModel(cfg).save_pretrained(tmp / "model")
        tok.save_pretrained(tmp / "model")
        return "electra", tmp / "model"
    if request.param == "albert":  # a SentencePiece unigram tokenizer small enough to cut words into pieces
        from bertkit import AlbertConfig, AlbertModel
        from bertkit.tokenization.vocab import train_unigram
        corpus = tmp / "corpus.txt"
        rng = random.Random(0)
        corpus.write_text("\n".join(" ".join(rng.choice(WORDS) for _ in range(12)) for _ in range(400)) + "\n",
                          encoding="utf-8")
        tok = train_unigram(corpus, vocab_size=60, show_progress=False)
        torch.manual_seed(0)
        cfg = AlbertConfig(vocab_size=len(tok), embedding_size=32, hidden_size=64, num_hidden_layers=2,
                           num_hidden_groups=2, num_attention_heads=2, intermediate_size=128,
                           max_position_embeddings=64)
        AlbertModel(cfg).save_pretrained(tmp / "model")
        tok.save_pretrained(tmp / "model")
        return "albert", tmp / "model"
    if request.param == "distilbert":
        bert = tiny_folder(tmp / "bert")
        main(["convert", str(bert), str(tmp / "model"), "--layers", "0,1"])
        return "distilbert", tmp / "model"
    from bertkit import RobertaConfig, RobertaModel
    from bertkit.tokenization.vocab import train_bpe
    corpus = tmp / "corpus.txt"
    rng = random.Random(0)
    corpus.write_text("\n".join(" ".join(rng.choice(WORDS) for _ in range(12)) for _ in range(400)) + "\n",
                      encoding="utf-8")
    tok = train_bpe(corpus, vocab_size=400, show_progress=False)
    torch.manual_seed(0)
    cfg = RobertaConfig.preset("tiny", vocab_size=len(tok), pad_token_id=tok.pad_token_id, hidden_size=64,
                               intermediate_size=128, max_position_embeddings=66, hidden_dropout_prob=0.0,
                               attention_probs_dropout_prob=0.0)
    RobertaModel(cfg).save_pretrained(tmp / "model")
    tok.save_pretrained(tmp / "model")
    return "roberta", tmp / "model"


def _train_losses(out) -> list[float]:
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().split("\n") if line.strip()]
    return [r["loss"] for r in rows if r.get("event") == "train"]


def _same_logits(ours, theirs_cls, folder, enc_args: dict, enc_kwargs: dict | None = None):
    """bertkit's and transformers' logits for the folder, each tokenizing with its own library."""
    tok = AutoTokenizer.from_pretrained(folder)
    hf_tok = transformers.AutoTokenizer.from_pretrained(folder)
    kw = dict(padding=True, return_tensors="pt", **(enc_kwargs or {}))
    a, b = tok(*enc_args, **kw), hf_tok(*enc_args, **kw)
    assert a["input_ids"].tolist() == b["input_ids"].tolist()
    assert a.get("token_type_ids") is None or a["token_type_ids"].tolist() == b["token_type_ids"].tolist()
    hf = theirs_cls.from_pretrained(folder, attn_implementation="eager").eval()
    with torch.no_grad():
        mine = ours(**a).logits
        theirs = hf(**b).logits
    return mine, theirs, a["attention_mask"].bool()


def test_classify_pairs(family_folder, tmp_path):
    model_type, folder = family_folder
    rng = random.Random(1)
    rows = []
    for _ in range(96):
        cat = rng.random() < 0.5
        text = " ".join(rng.choice(["the", "a", "film", "plot"]) for _ in range(5)) + (" cat" if cat else " dog")
        second = rng.choice(["good", "bad"])
        rows.append({"text": text, "text_pair": second, "label": "yes" if cat else "no"})
    train, dev = write_jsonl(tmp_path / "train.jsonl", rows[:80]), write_jsonl(tmp_path / "dev.jsonl", rows[80:])
    out = tmp_path / "out"
    finetune(FinetuneArgs(model=str(folder), train=str(train), dev=str(dev), out=str(out), epochs=4, lr=3e-3,
                          batch_size=8, quiet=True))
    losses = _train_losses(out)
    assert losses[-1] < losses[0]
    cfg = json.loads((out / "config.json").read_text())
    assert cfg["model_type"] == model_type and cfg["architectures"][0].endswith("ForSequenceClassification")
    preds = predict_rows(PredictArgs(model=str(out), input=str(dev)))
    assert len(preds) == 16 and {p["label"] for p in preds} <= {"yes", "no"}
    ours = AutoModelForSequenceClassification.from_pretrained(out)
    texts, pairs = [r["text"] for r in rows[80:84]], [r["text_pair"] for r in rows[80:84]]
    two = model_type in TWO_SEGMENTS
    # what finetune and predict feed the model: ids, and segments 0 / 1 where the model has two
    from bertkit.tasks.classification import ClassifyOptions, encode
    feats = encode(AutoTokenizer.from_pretrained(out), [ClassExample(t, p) for t, p in zip(texts, pairs)],
                   ClassifyOptions())
    hf_tok = transformers.AutoTokenizer.from_pretrained(out)
    want = hf_tok(texts, pairs, return_token_type_ids=True if two else None)
    assert [f["input_ids"] for f in feats] == want["input_ids"]
    if two:
        assert [f["token_type_ids"] for f in feats] == want["token_type_ids"]
        assert {t for f in feats for t in f["token_type_ids"]} == {0, 1}
    mine, theirs, _ = _same_logits(ours, transformers.AutoModelForSequenceClassification, out, (texts, pairs),
                                   {"return_token_type_ids": True} if two else None)
    assert (mine - theirs).abs().max() < 1e-4
    assert [p["label"] for p in preds[:4]] == [ours.config.id2label[i] for i in mine.argmax(-1).tolist()]


def _conll(path, n, rng):
    lines = ["-DOCSTART- O", ""]
    for _ in range(n):
        p, q = rng.choice(PEOPLE), rng.choice(PLACES)
        lines += [f"{p}\tB-PER", "visited\tO", f"{q}\tB-LOC", "and\tO", "the\tO", "river\tO", ""]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@SLOW_ALBERT
def test_ner(family_folder, tmp_path):
    model_type, folder = family_folder
    rng = random.Random(2)
    train, dev = _conll(tmp_path / "train.conll", 48, rng), _conll(tmp_path / "dev.conll", 8, rng)
    out = tmp_path / "out"
    finetune(FinetuneArgs(task="ner", model=str(folder), train=str(train), dev=str(dev), out=str(out), epochs=3,
                          lr=5e-3, batch_size=8, quiet=True))
    losses = _train_losses(out)
    assert losses[-1] < losses[0]
    if model_type == "roberta":  # words are cut as inside a text, after a space
        assert json.loads((out / "tokenizer_config.json").read_text())["add_prefix_space"] is True
    inp = write_jsonl(tmp_path / "in.jsonl", [{"text": "Mary visited  London and the river"}])
    row = predict_rows(PredictArgs(model=str(out), input=str(inp)))[0]
    assert all(row["text"][e["start"]:e["end"]] == e["text"] for e in row["entities"])
    ours = AutoModelForTokenClassification.from_pretrained(out)
    words = [["mary", "visited", "london"], ["john", "visited", "paris", "and", "the", "river"]]
    # the features NER trains and predicts on: transformers' word split (is_split_into_words), the tag on
    # each word's first piece (for SentencePiece the piece with "▁", which may be "▁" alone)
    from bertkit.tasks.ner import NerOptions, encode
    hf_tok = transformers.AutoTokenizer.from_pretrained(out)
    feats = encode(AutoTokenizer.from_pretrained(out), [NerExample(w, None) for w in words], NerOptions(), None)
    for f, w in zip(feats, words):
        want = hf_tok(w, is_split_into_words=True)
        assert f["input_ids"] == want["input_ids"]
        wids = want.word_ids()
        assert f["first"] == [wids.index(i) for i in range(len(w))]
    mine, theirs, mask = _same_logits(ours, transformers.AutoModelForTokenClassification, out, (words,),
                                      {"is_split_into_words": True})
    assert (mine - theirs)[mask].abs().max() < 1e-4


@SLOW_ALBERT
def test_qa(family_folder, tmp_path):
    model_type, folder = family_folder
    rng = random.Random(3)

    def squad(n, split):
        paragraphs = []
        for i in range(n):
            who, where = rng.choice(PEOPLE), rng.choice(PLACES)
            ctx = f"the {who} visited {where} and the river"
            qas = [{"id": f"{split}{i}", "question": "which person is mentioned ?",
                    "answers": [{"text": who, "answer_start": ctx.index(who)}]}]
            paragraphs.append({"context": ctx, "qas": qas})
        path = tmp_path / f"{split}.json"
        path.write_text(json.dumps({"version": "1.1", "data": [{"title": split, "paragraphs": paragraphs}]}))
        return path

    train, dev = squad(48, "train"), squad(8, "dev")
    out = tmp_path / "out"
    s = finetune(FinetuneArgs(task="qa", model=str(folder), train=str(train), dev=str(dev), out=str(out),
                              epochs=3, lr=5e-3, batch_size=8, max_length=48, quiet=True))
    assert s["out"] == str(out)
    losses = _train_losses(out)
    assert losses[-1] < losses[0]
    inp = write_jsonl(tmp_path / "in.jsonl", [{"question": "which person is mentioned ?",
                                              "context": "the mary visited london and the river"}])
    row = predict_rows(PredictArgs(model=str(out), input=str(inp)))[0]
    context = "the mary visited london and the river"
    assert context[row["start"]:row["end"]] == row["answer"]
    # the windows QA trains on: transformers' tokens, segments and offsets, and answer positions whose
    # offsets give back the answer's text
    from bertkit.data.readers import QAExample
    from bertkit.tasks.qa import QAOptions, encode
    two = model_type in TWO_SEGMENTS
    hf_tok = transformers.AutoTokenizer.from_pretrained(out)
    q = "which person is mentioned ?"
    examples = [QAExample(str(i), q, f"the {who} visited {where} and the river",
                          [{"text": who, "answer_start": 4}]) for i, (who, where) in enumerate([("mary", "paris"),
                                                                                                 ("john", "london")])]
    feats = encode(AutoTokenizer.from_pretrained(out), examples, QAOptions(max_length=48, doc_stride=8), train=True)
    want = hf_tok([q] * 2, [e.context for e in examples], return_offsets_mapping=True,
                  return_token_type_ids=True if two else None)
    for k, (f, e) in enumerate(zip(feats, examples)):
        assert f["input_ids"] == want["input_ids"][k]
        if two:
            assert f["token_type_ids"] == want["token_type_ids"][k]
        seq = want.sequence_ids(k)
        assert f["offsets"] == [tuple(o) if s == 1 else None for o, s in zip(want["offset_mapping"][k], seq)]
        a, b = f["start_positions"], f["end_positions"]
        assert e.context[f["offsets"][a][0]:f["offsets"][b][1]] == e.answers[0]["text"]
    ours = AutoModelForQuestionAnswering.from_pretrained(out).eval()
    hf = transformers.AutoModelForQuestionAnswering.from_pretrained(out, attn_implementation="eager").eval()
    enc = hf_tok([q] * 2, [e.context for e in examples], return_tensors="pt", padding=True,
                 return_token_type_ids=True if two else None)
    with torch.no_grad():
        mine, theirs = ours(**enc), hf(**enc)
    real = enc["attention_mask"].bool()  # bertkit gives padding the lowest logit
    assert (mine.start_logits - theirs.start_logits)[real].abs().max() < 1e-4
    assert (mine.end_logits - theirs.end_logits)[real].abs().max() < 1e-4


def test_embed_fill_mask_and_info(family_folder, tmp_path, capsys):
    model_type, folder = family_folder
    lines = tmp_path / "lines.txt"
    lines.write_text("mary visited london\nthe cat sat on the mat\n", encoding="utf-8")
    out = tmp_path / "vecs.jsonl"
    main(["embed", str(lines), "--model", str(folder), "--output", str(out)])
    vecs = torch.tensor([json.loads(r)["embedding"] for r in out.read_text().split("\n") if r])
    hf_tok = transformers.AutoTokenizer.from_pretrained(folder)
    hf = transformers.AutoModel.from_pretrained(folder).eval()
    enc = hf_tok(["mary visited london", "the cat sat on the mat"], padding=True, return_tensors="pt")
    with torch.no_grad():
        h = hf(**enc).last_hidden_state
    m = enc["attention_mask"].unsqueeze(-1).float()
    want = torch.nn.functional.normalize((h * m).sum(1) / m.sum(1), dim=-1)
    assert (vecs - want).abs().max() < 1e-5
    capsys.readouterr()
    main(["info", str(folder)])
    assert f"model_type: {model_type}" in capsys.readouterr().out


def test_fill_mask(family_folder, tmp_path):
    """`bertkit fill-mask` on the folder with an MLM head (random, drawn by transformers) gives the
    transformers fill-mask pipeline's predictions: the same ids, scores, token_str and sequence."""
    import shutil

    from bertkit.fill_mask import fill_mask
    model_type, folder = family_folder
    torch.manual_seed(0)
    mlm = tmp_path / "mlm"
    transformers.AutoModelForMaskedLM.from_pretrained(folder).save_pretrained(mlm)
    for f in folder.iterdir():  # the tokenizer files, as bertkit wrote them
        if f.name not in ("config.json", "model.safetensors"):
            shutil.copy(f, mlm / f.name)
    pipe = transformers.pipeline("fill-mask", model=str(mlm), top_k=4)
    mask = pipe.tokenizer.mask_token
    for text in (f"mary visited {mask} and the river", f"{mask} visited {mask}"):
        got = fill_mask(mlm, text, top_k=4)
        want = pipe(text)
        want = [want] if text.count(mask) == 1 else want
        assert len(got) == len(want) == text.count(mask)
        for g_row, w_row in zip(got, want):
            assert [g["token"] for g in g_row] == [w["token"] for w in w_row]
            assert [g["token_str"] for g in g_row] == [w["token_str"] for w in w_row]
            assert [g["sequence"] for g in g_row] == [w["sequence"] for w in w_row]
            assert max(abs(g["score"] - w["score"]) for g, w in zip(g_row, w_row)) < 1e-5
