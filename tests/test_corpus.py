"""Corpus preparation: reading, sentence splitting, shards that keep boundaries, reuse."""
import json

import numpy as np
import pytest

from bertkit.data.corpus import (CorpusError, PrepareConfig, TokenCorpus, prepare_corpus, read_documents,
                                 split_sentences)


def test_split_sentences():
    text = ("Dr. Smith went to Washington. He met J. S. Bach there! Did they talk? "
            "Yes, e.g. about music. The end")
    assert split_sentences(text) == ["Dr. Smith went to Washington.", "He met J. S. Bach there!",
                                     "Did they talk?", "Yes, e.g. about music.", "The end"]
    assert split_sentences("version 3.11 is out. 42 is a number.") == ["version 3.11 is out.", "42 is a number."]


def test_read_documents(tmp_path):
    txt = tmp_path / "a.txt"
    txt.write_text("p1 line\np2 line\n\n\nsecond doc\n")
    assert list(read_documents(txt)) == [["p1 line", "p2 line"], ["second doc"]]
    jl = tmp_path / "b.jsonl"
    jl.write_text(json.dumps({"text": "one.\ntwo."}) + "\n\n" + json.dumps({"text": "three."}) + "\n")
    assert list(read_documents(jl)) == [["one.", "two."], ["three."]]
    bad = tmp_path / "c.jsonl"
    bad.write_text('{"text": "ok"}\n{"txt": 1}\n')
    with pytest.raises(CorpusError, match="c.jsonl:2"):
        list(read_documents(bad))


def test_prepare_shards_and_reuse(pretrain_text, pretrain_vocab, tmp_path):
    from bertkit.tokenization import BertTokenizer
    out = tmp_path / "shards"
    cfg = PrepareConfig(eval_fraction=0.05, workers=1)
    prepare_corpus([pretrain_text], pretrain_vocab, out, cfg, progress=False)
    meta = json.loads((out / "meta.json").read_text())
    assert meta["dtype"] == "uint16" and meta["splits"]["eval"]["documents"] == 3
    assert meta["splits"]["train"]["documents"] + 3 == 60
    train = TokenCorpus(out, "train")
    # boundaries: the first training document's sentences are the tokenized sentences of the text
    docs = list(read_documents(pretrain_text))
    tok = BertTokenizer.from_pretrained(pretrain_vocab)
    ids = tok([s for p in docs[0] for s in split_sentences(p)], add_special_tokens=False)["input_ids"]
    found = any(len(train.doc(j)) == len(ids) and all(np.array_equal(a, b) for a, b in zip(train.doc(j), ids))
                for j in range(len(train)))
    assert found, "the first document's sentences are not in the training shards"
    # same inputs: reused (nothing rewritten); changed input: prepared again
    stamp = (out / "meta.json").stat().st_mtime_ns
    prepare_corpus([pretrain_text], pretrain_vocab, out, cfg, progress=False)
    assert (out / "meta.json").stat().st_mtime_ns == stamp
    changed = tmp_path / "more.txt"
    changed.write_text(pretrain_text.read_text() + "\n\nAnother document here. With two sentences.\n")
    prepare_corpus([changed], pretrain_vocab, out, cfg, progress=False)
    assert json.loads((out / "meta.json").read_text())["splits"]["train"]["documents"] + 3 == 61


@pytest.mark.parametrize("segment", ["none", "spaces"])
def test_a_sentence_longer_than_the_model_warns_nothing(pretrain_vocab, tmp_path, segment):
    """prepare cuts the stream of sentences into examples later: a 600-token sentence is no fault, so the
    tokenizer's model_max_length warning must not reach the user."""
    import warnings
    src = tmp_path / "long.txt"
    src.write_text(" ".join(["the"] * 600) + "\n\n" + "".join(f"A short one {i}.\n\n" for i in range(5)), encoding="utf-8")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        prepare_corpus([src], pretrain_vocab, tmp_path / "shards", PrepareConfig(eval_fraction=0.3, segment=segment),
                       progress=False)
    assert not [w for w in caught if "model_max_length" in str(w.message)]
    splits = TokenCorpus(tmp_path / "shards", "train").meta["splits"]
    assert splits["train"]["tokens"] + splits["eval"]["tokens"] >= 600
