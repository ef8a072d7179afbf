"""A sentence that mixes scripts (Chinese characters, Latin words with accents, digits, emoji) goes through
every command: tokenize, embed, fill-mask, finetune and predict, and every offset slices the original
text exactly."""
from __future__ import annotations

import json
import random
import unicodedata

import pytest
import torch

from bertkit import BertConfig, BertForMaskedLM
from bertkit.cli import main
from bertkit.tokenization import AutoTokenizer

from _finetune_util import tiny_folder, write_jsonl

MIXED = "BERT理解多种语言! Café 2024年在北京 🙂"
CJK = list("理解多种语言年在北京上海东西我你他是的用和天安门广场")
WORDS = ["bert", "cafe", "2024", "tokyo", "paris", "model", "the", "is", "good", "bad", "in"]


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    root = tmp_path_factory.mktemp("mixed")
    return tiny_folder(root / "base", words=WORDS + CJK)


def _uncased(text: str) -> str:
    """What an uncased BERT vocabulary holds for `text`: lower case, accents stripped (NFD, no marks)."""
    return "".join(c for c in unicodedata.normalize("NFD", text.lower()) if unicodedata.category(c) != "Mn")


def _json_lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.split("\n") if line.strip()]


def test_tokenize_offsets_slice_the_text(folder, tmp_path, capsys):
    src = tmp_path / "in.txt"
    src.write_text(MIXED + "\n", encoding="utf-8")
    main(["tokenize", str(src), "--model", str(folder)])
    row = _json_lines(capsys.readouterr().out)[0]
    assert row["text"] == MIXED
    for token, (s, e) in zip(row["tokens"], row["offsets"]):
        piece = MIXED[s:e]
        if token in ("[CLS]", "[SEP]"):
            assert (s, e) == (0, 0)
        elif token == "[UNK]":
            assert piece in ("!", "🙂") or piece.strip() == piece != ""  # a whole character or word, never a part
        else:  # the token is the slice, lower-cased and without accents (an uncased vocabulary)
            assert _uncased(piece) == token.removeprefix("##"), (token, piece)
    cjk = [(t, MIXED[s:e]) for t, (s, e) in zip(row["tokens"], row["offsets"]) if t in CJK]
    assert [t for t, _ in cjk] == [p for _, p in cjk] == list("理解多种语言年在北京")


def test_embed_and_fill_mask(folder, tmp_path, capsys):
    src = tmp_path / "in.txt"
    src.write_text(MIXED + "\n北京 is good\n", encoding="utf-8")
    out = tmp_path / "vecs.jsonl"
    main(["embed", str(src), "--model", str(folder), "--output", str(out)])
    rows = _json_lines(out.read_text(encoding="utf-8"))
    assert [r["text"] for r in rows] == [MIXED, "北京 is good"] and len(rows[0]["embedding"]) == 64
    mlm = tmp_path / "mlm"
    tok = AutoTokenizer.from_pretrained(folder)
    torch.manual_seed(0)
    BertForMaskedLM(BertConfig(vocab_size=len(tok), hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                               intermediate_size=64, max_position_embeddings=64)).save_pretrained(mlm)
    tok.save_pretrained(mlm)
    capsys.readouterr()
    main(["fill-mask", "--model", str(mlm), "BERT理解多种[MASK]言!", "--json", "--top-k", "3"])
    result = json.loads(capsys.readouterr().out)
    preds = result[0] if isinstance(result[0], list) else result
    assert len(preds) == 3  # decoded as transformers' fill-mask pipeline decodes: CJK characters spaced apart
    assert [p["sequence"] for p in preds] == [f"bert 理 解 多 种 {p['token_str']} 言!" for p in preds]


@pytest.mark.slow  # two fine-tuning runs and integrated gradients: about 18 s
def test_finetune_and_predict_spans_slice_the_text(folder, tmp_path, capsys):
    rng = random.Random(0)
    places = [("北京", "LOC"), ("上海", "LOC"), ("Tokyo", "LOC"), ("Paris", "LOC")]
    sents = []
    for _ in range(24):
        place, typ = rng.choice(places)
        chars = list("我在") + ([place] if place.isascii() else list(place)) + list("用") + ["BERT"]
        tags = ["O", "O"] + ([f"B-{typ}"] if place.isascii() else [f"B-{typ}", f"I-{typ}"]) + ["O", "O"]
        sents.append("\n".join(f"{c}\t{t}" for c, t in zip(chars, tags)))
    conll = tmp_path / "train.conll"
    conll.write_text("\n\n".join(sents) + "\n", encoding="utf-8")
    ner = tmp_path / "ner"
    main(["finetune", "--task", "ner", "--model", str(folder), "--train", str(conll), "--out", str(ner),
          "--epochs", "30", "--batch-size", "8", "--lr", "3e-3", "--quiet"])
    texts = ["我在北京用BERT", "我在 Paris 用 BERT 🙂", "Café 我在上海用BERT!"]
    inp = write_jsonl(tmp_path / "new.jsonl", [{"text": t} for t in texts])
    out = tmp_path / "pred.jsonl"
    main(["predict", "--model", str(ner), "--input", str(inp), "--output", str(out)])
    rows = _json_lines(out.read_text(encoding="utf-8"))
    found = []
    for text, row in zip(texts, rows):
        assert row["text"] == text
        for ent in row["entities"]:
            assert text[ent["start"]:ent["end"]] == ent["text"] and ent["text"] == ent["text"].strip()
            found.append((ent["type"], ent["text"]))
    assert ("LOC", "北京") in found and ("LOC", "Paris") in found  # learned (fixed seed); the offsets are the point

    clf_rows = [{"text": f"{p} {w}", "label": lab} for p, _ in places for w, lab in (("好", "pos"), ("bad", "neg"))] * 3
    clf = tmp_path / "clf"
    main(["finetune", "--model", str(folder), "--train", str(write_jsonl(tmp_path / "c.jsonl", clf_rows)),
          "--out", str(clf), "--epochs", "2", "--batch-size", "8", "--quiet"])
    main(["predict", "--model", str(clf), "--input", str(inp), "--output", str(out), "--explain", "ig"])
    for text, row in zip(texts, _json_lines(out.read_text(encoding="utf-8"))):
        assert row["label"] in ("pos", "neg")
        for a in row["attributions"]:
            piece = text[a["start"]:a["end"]]
            assert piece and piece == piece.strip()
            assert a["token"] == "[UNK]" or a["token"].removeprefix("##") == _uncased(piece), (a, piece)
