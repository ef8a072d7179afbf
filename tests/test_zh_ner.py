"""Character-level Chinese NER (issue 18): a model trained on a character-level CoNLL file cuts raw text
into characters in prediction as it did in training, so raw text and the CoNLL file give the same tags,
and every predicted entity's offsets slice the original text exactly, on every test sentence."""
from __future__ import annotations

import json

import pytest

from bertkit.cli import main
from bertkit.data.readers import NerExample, read_conll
from bertkit.tasks import ner
from bertkit.tokenization import BertTokenizer

from _finetune_util import tiny_folder, write_jsonl

pytestmark = pytest.mark.usefixtures("one_thread")

# a People's Daily-style sentence: full-width digits and Latin, which BERT's tokenizer keeps together
# as one word ("１９９７", "ＳＯＳ") although the character-level corpus tags each character
SENTENCE = "１９９７年，江泽民在北京会见ＳＯＳ儿童村代表。"


def test_word_unit_is_characters_only_for_character_level_cjk_files():
    zh = [NerExample(list("江泽民在北京"), ["B-PER", "I-PER", "I-PER", "O", "B-LOC", "I-LOC"])]
    assert ner.word_unit(zh) == "characters"
    assert ner.word_unit([NerExample(["Paris", "is", "big"], ["B-LOC", "O", "O"])]) == "tokenizer"
    # one-letter words without a CJK character: a Latin file, not a character-level Chinese one
    assert ner.word_unit([NerExample(["a", "b"], ["O", "O"])]) == "tokenizer"
    # one longer word is enough to make it a word-level file
    assert ner.word_unit([NerExample(["北京", "在"], ["B-LOC", "O"])]) == "tokenizer"


def test_words_of_characters_matches_the_training_cut(tmp_path):
    tok = BertTokenizer.from_pretrained(tiny_folder(tmp_path / "m", words=list("年江泽民在北京")))
    words, spans, pieces = ner.words_of(SENTENCE + " ok", tok, "characters")
    assert words == list(SENTENCE) + ["o", "k"]  # spaces belong to no word
    assert all(SENTENCE[a:b] == w for w, (a, b) in zip(words, spans) if a < len(SENTENCE))
    assert spans[-2:] == [(len(SENTENCE) + 1, len(SENTENCE) + 2), (len(SENTENCE) + 2, len(SENTENCE) + 3)]
    assert pieces == ner.word_pieces(tok, words)
    # the tokenizer's own cut keeps the full-width number whole: 4 characters, one word
    assert ner.words_of(SENTENCE, tok)[0][0] == "１９９７"


@pytest.mark.slow  # 1,491 real sentences
def test_every_test_sentence_raw_text_and_conll_agree_and_offsets_slice(zh_ner_dir, tmp_path):
    """A random tiny tagger tags every sentence of the real test split (so many entities of every type
    come out): predicting the raw text (the characters joined) gives the same tags and entity spans as
    predicting the CoNLL words, and text[start:end] is each entity's text."""
    xs = read_conll(zh_ner_dir / "test.conll")
    chars = sorted({w for x in xs for w in x.words})
    tok = BertTokenizer.from_pretrained(tiny_folder(tmp_path / "m", words=chars, max_positions=64, hidden=32))
    import torch
    from bertkit.registry import AutoModelForTokenClassification
    labels = ["O", "B-LOC", "I-LOC", "B-ORG", "I-ORG", "B-PER", "I-PER"]
    torch.manual_seed(0)
    model = AutoModelForTokenClassification.from_pretrained(
        tmp_path / "m", id2label=dict(enumerate(labels)), label2id={t: i for i, t in enumerate(labels)})
    tagger = ner.Tagger(model, crf=True)
    opts = ner.NerOptions(max_length=64, stride=16, words="characters")
    texts = ["".join(x.words) for x in xs]
    raw = ner.predict(tagger, tok, texts, opts, batch_size=64)
    by_words = ner.predict_words(tagger, tok, xs, opts, batch_size=64)
    assert len(raw) == len(xs) == 1491
    n = 0
    for x, text, r, w in zip(xs, texts, raw, by_words):
        assert w["text"] == text == r["text"]
        assert r["entities"] == w["entities"], text
        for e in r["entities"]:
            assert text[e["start"]:e["end"]] == e["text"] and e["text"]
            n += 1
    assert n > 1000


def test_finetune_then_predict_cuts_characters(zh_ner_dir, tmp_path, capsys):
    """Through the commands: the fine-tuned folder records the character cut, and `predict` on raw text
    and on the CoNLL file give the same entities, with offsets into the text."""
    xs = read_conll(zh_ner_dir / "test.conll")[:24]
    train = tmp_path / "train.conll"
    train.write_text("".join("".join(f"{c} {t}\n" for c, t in zip(x.words, x.tags)) + "\n" for x in xs),
                     encoding="utf-8")
    base = tiny_folder(tmp_path / "base", words=sorted({w for x in xs for w in x.words}), max_positions=64, hidden=32)
    out = tmp_path / "ner"
    main(["finetune", "--task", "ner", "--model", str(base), "--train", str(train), "--out", str(out),
          "--epochs", "1", "--max-length", "64", "--stride", "16", "--crf", "--quiet"])
    assert "the final weights: no --dev to choose by" in capsys.readouterr().out  # not "best 0 of N steps"
    opts = json.loads((out / "config.json").read_text())["bertkit_task"]
    assert opts["words"] == "characters" and opts["crf"] is True
    texts = ["".join(x.words) for x in xs] + [SENTENCE]
    src = write_jsonl(tmp_path / "raw.jsonl", [{"text": t} for t in texts])
    capsys.readouterr()
    main(["predict", "--model", str(out), "--input", str(src)])
    raw = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.strip()]
    main(["predict", "--model", str(out), "--input", str(train)])
    conll = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.strip()]
    assert [r["text"] for r in raw] == texts
    assert [r["entities"] for r in raw[:-1]] == [c["entities"] for c in conll]
    assert [c["text"] for c in conll] == texts[:-1]  # a character-level file is joined without spaces
    for r in raw:
        for e in r["entities"]:
            assert r["text"][e["start"]:e["end"]] == e["text"]


def test_a_few_longer_words_in_a_character_level_file_are_named():
    xs = [NerExample(list("江泽民在北京") + ["Microsoft"], ["B-PER", "I-PER", "I-PER", "O", "B-LOC", "I-LOC", "B-ORG"],
                     line=3)] + [NerExample(list("我们在上海"), ["O"] * 5, line=20 + 6 * i) for i in range(3)]
    assert ner.word_unit(xs) == "tokenizer"
    note = ner.word_unit_note(xs, "train.conll")
    assert note.startswith("train.conll: 1 of 22 words are longer than one character (the first, 'Microsoft', "
                           "at line 9)") and "split them into characters" in note
    assert ner.word_unit_note(xs[1:], "train.conll") is None  # all one character: "characters", nothing to say
    assert ner.word_unit_note([NerExample(["Paris", "is", "big"], ["B-LOC", "O", "O"])], "en.conll") is None
