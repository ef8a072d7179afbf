"""NER on files as users write them (issue 13): CoNLL columns, tag schemes, zero-width words, long sentences.

The example files are tests/cases/real-world-inputs/*.conll; their README says what is right for each.
"""
import json
import random
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from torch import nn

from _finetune_util import cli_error as cli, leftovers, tiny_folder
from bertkit.cli import main
from bertkit.data.readers import NerExample, ReaderError, read_conll
from bertkit.errors import BertkitError, ConfigError
from bertkit.models.outputs import TokenClassifierOutput
from bertkit.tasks import ner
from bertkit.tasks.finetune import FinetuneArgs, PredictArgs, finetune, predict_rows

CASES = Path(__file__).parent / "cases" / "real-world-inputs"
NAMES = ["tomas", "rinn", "met", "varek", "lund", "porto", "alice", "bob", "carol", "york", "new", "rome"]


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return tiny_folder(tmp_path_factory.mktemp("ner-rw") / "m", words=NAMES)


@pytest.fixture(scope="module")
def tok(folder):
    from bertkit.tokenization import BertTokenizer
    return BertTokenizer.from_pretrained(folder)


def types(tag_rows, scheme):
    return sorted(t for tags in tag_rows for t, _, _ in ner.entities(tags, scheme))


# -- CoNLL columns ----------------------------------------------------------------------------------------

def test_conll2003_four_columns_tags_from_last_column():
    xs = read_conll(CASES / "conll2003_4col.conll")
    assert [x.words for x in xs] == [["EU", "rejects", "German", "call", "."], ["Tomas", "Rinn"]]
    assert [x.tags for x in xs] == [["B-ORG", "O", "B-MISC", "O", "O"], ["B-PER", "I-PER"]]
    assert [x.line for x in xs] == [3, 9]  # physical lines; -DOCSTART- and the blank line skipped
    assert ner.detect_scheme(xs) == "IOB2"
    assert types([x.tags for x in xs], "IOB2") == ["MISC", "ORG", "PER"]
    assert [x.tags for x in read_conll(CASES / "conll2003_4col.conll", tag_column=-1)] == [x.tags for x in xs]
    chunks = read_conll(CASES / "conll2003_4col.conll", tag_column=3)
    assert chunks[0].tags == ["B-NP", "B-VP", "B-NP", "I-NP", "O"]
    with pytest.raises(ReaderError, match=r"conll2003_4col\.conll:3: field 'tag': 'NNP' \(column 2\)"):
        read_conll(CASES / "conll2003_4col.conll", tag_column=2)
    with pytest.raises(ReaderError, match=r"conll2003_4col\.conll:3: --tag-column 5: the line has 4 columns"):
        read_conll(CASES / "conll2003_4col.conll", tag_column=5)
    with pytest.raises(ReaderError, match=r"--tag-column 1: .*column 1 is the token"):
        read_conll(CASES / "conll2003_4col.conll", tag_column=1)


def test_conll_raw_stream(tmp_path):
    # CRLF, tabs and runs of spaces, a BOM, a Unicode line separator and NBSP inside tokens (not line or
    # column breaks), -DOCSTART- in the middle ending a sentence
    f = tmp_path / "raw.conll"
    f.write_bytes("\ufeffNew\u2028York  B-LOC\r\nis\tO\r\n-DOCSTART- O\r\nnon\xa0break O\r\n\r\n\r\nx O\n".encode())
    xs = read_conll(f)
    assert [x.words for x in xs] == [["New\u2028York", "is"], ["non\xa0break"], ["x"]]
    assert [x.line for x in xs] == [1, 4, 7]
    f.write_bytes(b"a O\rb O\n")
    with pytest.raises(ReaderError, match=r"raw\.conll:1: a carriage return"):
        read_conll(f)
    f.write_bytes(b"a O\nb\xff O\n")
    with pytest.raises(ReaderError, match=r"raw\.conll:2: not UTF-8 \(byte 0xff at byte 2 of the line\)"):
        read_conll(f)
    f.write_text("a NN B-PER\nb O\n", encoding="utf-8")
    with pytest.raises(ReaderError, match=r"raw\.conll:2: expected 3 columns \(token \.\.\. tag\), got 2"):
        read_conll(f)
    f.write_text("a\nb\n", encoding="utf-8")
    assert read_conll(f, require_tags=False)[0].tags is None
    with pytest.raises(ReaderError, match=r"raw\.conll:1: expected 2 columns \(token tag\), got 1"):
        read_conll(f)


# -- tag schemes ------------------------------------------------------------------------------------------

def test_bilou_three_per_three_loc_scored_with_bilou():
    xs = read_conll(CASES / "bilou.conll")
    gold = [x.tags for x in xs]
    assert ner.detect_scheme(xs, "bilou.conll") == "BILOU"
    ents = [[(t, " ".join(x.words[a:b + 1])) for t, a, b in ner.entities(x.tags, "BILOU")] for x in xs]
    assert ents == [[("PER", "Alice"), ("PER", "Bob"), ("LOC", "New York")],
                    [("PER", "Carol"), ("LOC", "Paris"), ("LOC", "Rome")]]
    m = ner.evaluate(gold, gold, "BILOU")
    assert m["scheme"] == "BILOU" and m["report"]["PER"]["support"] == 3 and m["report"]["LOC"]["support"] == 3
    assert ner.evaluate(gold, gold)["scheme"] == "BILOU"  # detected from the gold tags
    # Alice and Bob predicted as one two-word entity: one PER of two predicted is right, one of three found
    pred = [["B-PER", "L-PER"] + gold[0][2:], gold[1]]
    m = ner.evaluate(gold, pred, "BILOU")
    assert m["report"]["PER"]["precision"] == pytest.approx(1 / 2)
    assert m["report"]["PER"]["recall"] == pytest.approx(1 / 3)
    from seqeval.metrics import f1_score
    from seqeval.scheme import BILOU
    assert m["f1"] == pytest.approx(f1_score(gold, pred, mode="strict", scheme=BILOU))


def test_iob1_reads_loc1_org1_per2():
    xs = read_conll(CASES / "iob1_mixed.conll")  # CRLF, tabs and spaces, -DOCSTART- O
    assert ner.detect_scheme(xs, "iob1_mixed.conll") == "IOB1"
    gold = [x.tags for x in xs]
    m = ner.evaluate(gold, gold, "IOB1")
    assert {k: v["support"] for k, v in m["report"].items()} == {"LOC": 1, "ORG": 1, "PER": 2}
    assert ner.entities(xs[1].tags, "IOB1") == [("PER", 0, 1)]  # Tomas Rinn: one entity
    # B- between two entities of the same type is IOB1 too
    assert ner.detect_scheme([["I-PER", "B-PER", "O", "I-LOC"]]) == "IOB1"
    assert ner.entities(["I-PER", "B-PER", "O", "I-LOC"], "IOB1") == [("PER", 0, 0), ("PER", 1, 1), ("LOC", 3, 3)]


@pytest.mark.parametrize("tags, scheme", [
    ([["B-PER", "I-PER", "O"], ["B-LOC"]], "IOB2"),
    ([["I-PER", "I-PER", "O"], ["I-LOC", "B-LOC"]], "IOB1"),
    ([["B-PER", "E-PER", "S-LOC"], ["B-ORG", "I-ORG", "E-ORG"]], "IOBES"),
    ([["U-PER", "U-PER"], ["B-ORG", "I-ORG", "L-ORG"]], "BILOU"),
    ([["O", "O"]], "IOB2"),
])
def test_detect_scheme(tags, scheme):
    assert ner.detect_scheme(tags) == scheme
    ner.check_scheme(tags, scheme)


@pytest.mark.parametrize("text, line, what", [
    ("a I-PER\nb O\n\nc B-LOC\nd O\n", 4, "'B-LOC' fits no tag scheme"),  # I- starts one entity, B- another
    ("a B-PER\nb E-PER\nc U-LOC\n", 3, "'U-LOC' fits no tag scheme"),  # IOBES and BILOU mixed
    ("a B-PER\nb I-PER\nc O\nd S-LOC\n", 4, "'S-LOC' fits no tag scheme"),  # BIO entity not closed, then S-
])
def test_no_scheme_is_refused_at_the_first_tag_that_fits_none(tmp_path, text, line, what):
    f = tmp_path / "train.conll"
    f.write_text(text, encoding="utf-8")
    with pytest.raises(ReaderError) as e:
        ner.detect_scheme(read_conll(f), f)
    msg = str(e.value)
    assert msg.startswith(f"{f}:{line}: field 'tag': ") and what in msg and "\n" not in msg
    for s in ("IOB1", "IOB2", "IOBES", "BILOU"):
        assert f"not {s}:" in msg


def test_scheme_errors_through_finetune(folder, tmp_path, capsys):
    train, dev, out = tmp_path / "train.conll", tmp_path / "dev.conll", tmp_path / "out"
    train.write_text("tomas B-PER\nrinn I-PER\n\nvarek B-PER\n", encoding="utf-8")
    dev.write_text("tomas B-PER\n\nrinn I-PER\n", encoding="utf-8")  # an IOB1 entity in an IOB2 file
    msg = cli(["finetune", "--task", "ner", "--model", str(folder), "--train", str(train), "--dev", str(dev),
               "--out", str(out), "--quiet"], capsys)
    assert f"{dev}:3: field 'tag': 'I-PER' after 'O' starts an entity with I-" in msg and "IOB2" in msg
    train.write_text("tomas X-PER\n", encoding="utf-8")
    msg = cli(["finetune", "--task", "ner", "--model", str(folder), "--train", str(train), "--out", str(out),
               "--quiet"], capsys)
    assert f"{train}:1: field 'tag': 'X-PER'" in msg
    assert leftovers(out) == []


# -- words: each tokenized on its own, zero-width and empty words keep a position --------------------------

def test_zero_width_word_keeps_its_label(tok):
    xs = read_conll(CASES / "zero_width.conll")
    assert xs[0].words[2:4] == ["\u200bLund", "\u200b"] and xs[0].tags[2:4] == ["B-LOC", "O"]
    label2id = {t: i for i, t in enumerate(ner.label_list(xs))}
    f = ner.encode(tok, xs, ner.NerOptions(), label2id)[0]
    pieces = tok.convert_ids_to_tokens(f["input_ids"])
    assert len(f["first"]) == 6 and sum(lab != -100 for lab in f["token_labels"]) == 6
    got = [(pieces[t], f["token_labels"][t]) for t in f["first"]]
    assert got == [("tomas", label2id["B-PER"]), ("visited", 0), ("lund", label2id["B-LOC"]), ("[UNK]", 0),
                   ("and", 0), ("porto", label2id["B-LOC"])]


@pytest.mark.slow  # imports transformers
def test_word_pieces_match_transformers_is_split_into_words(minilm_dir):
    transformers = pytest.importorskip("transformers")
    from bertkit.tokenization import BertTokenizer
    hf = transformers.AutoTokenizer.from_pretrained(str(minilm_dir))
    ours = BertTokenizer.from_pretrained(minilm_dir)
    words = ["Tomas", "visited", "\u200bLund", "\u200b", "\x07", "Caf\u00e9", "cafe\u0301", "e-mail", "U.N.", "東京",
             "\u00ad", "naïve", "\ufeffBOM", "[MASK]", "x\u200dy", "👍", "Rinn's", "\u3000"]
    enc = hf(words, is_split_into_words=True, add_special_tokens=False)
    pieces = ner.word_pieces(ours, words)
    hf_words = enc.word_ids()
    for i, w in enumerate(words):
        want = [t for t, k in zip(enc["input_ids"], hf_words) if k == i]
        assert pieces[i] == (want or [ours.unk_token_id]), w


@pytest.mark.slow  # imports transformers
def test_raw_text_words_are_the_tokenizers_words(minilm_dir):
    transformers = pytest.importorskip("transformers")
    from bertkit.tokenization import BertTokenizer
    hf = transformers.AutoTokenizer.from_pretrained(str(minilm_dir))
    ours = BertTokenizer.from_pretrained(minilm_dir)
    text = "Tomas visited \u200bLund,\u00a0then caf\u00e9 \u6771\u4eac\x07and Porto!  e-mail U.N."
    words, spans, pieces = ner.words_of(text, ours)
    enc = hf(text, add_special_tokens=False, return_offsets_mapping=True)
    want = {}
    for (a, b), k, t in zip(enc["offset_mapping"], enc.word_ids(), enc["input_ids"]):
        s = want.setdefault(k, [a, b, []])
        s[1] = b
        s[2].append(t)
    assert [(a, b) for a, b, _ in want.values()] == spans
    assert [p for _, _, p in want.values()] == pieces
    assert words[2] == "Lund" and text[spans[2][0] - 1] == "\u200b"


# -- a model whose logits depend only on the token: predictions are exact and easy to read ---------------

class Lookup(nn.Module):
    """A token classifier whose logits are a fixed row per token id."""

    def __init__(self, table, id2label):
        super().__init__()
        self.table = nn.Parameter(table)
        self.config = SimpleNamespace(num_labels=table.size(1), id2label=id2label,
                                      label2id={v: k for k, v in id2label.items()})

    def forward(self, input_ids, attention_mask=None, token_type_ids=None, labels=None):
        return TokenClassifierOutput(loss=None, logits=self.table[input_ids])


def lookup_tagger(tok, by_word: dict[str, str]):
    labels = ["O", "B-PER", "I-PER", "B-LOC"]
    table = torch.zeros(len(tok.get_vocab()), len(labels))
    table[:, 0] = 1.0
    for w, lab in by_word.items():
        i = tok.convert_tokens_to_ids(w)
        table[i] = 0.0
        table[i, labels.index(lab)] = 1.0
    return ner.Tagger(Lookup(table, dict(enumerate(labels))))


def test_predict_words_decodes_with_the_given_scheme(tok):
    tagger = lookup_tagger(tok, {"alice": "B-PER", "bob": "B-PER"})  # two adjacent one-word entities
    xs = [NerExample(["alice", "bob", "met"], None)]
    assert [e["text"] for e in ner.predict_words(tagger, tok, xs, ner.NerOptions())[0]["entities"]] == ["alice", "bob"]
    labels = ["O", "U-PER", "B-PER", "L-PER"]
    table = torch.zeros(len(tok.get_vocab()), 4)
    table[:, 0] = 1.0
    table[tok.convert_tokens_to_ids("alice"), :] = torch.tensor([0.0, 1.0, 0.0, 0.0])
    table[tok.convert_tokens_to_ids("bob"), :] = torch.tensor([0.0, 1.0, 0.0, 0.0])
    bilou = ner.Tagger(Lookup(table, dict(enumerate(labels))))
    row = ner.predict_words(bilou, tok, xs, ner.NerOptions(scheme="BILOU"))[0]
    assert row["tags"] == ["U-PER", "U-PER", "O"]
    assert [(e["type"], e["text"]) for e in row["entities"]] == [("PER", "alice"), ("PER", "bob")]


def test_zero_width_word_is_predicted(tok):
    tagger = lookup_tagger(tok, {"tomas": "B-PER", "lund": "B-LOC", "porto": "B-LOC"})
    xs = read_conll(CASES / "zero_width.conll", require_tags=False)
    row = ner.predict_words(tagger, tok, xs, ner.NerOptions())[0]
    assert row["tags"] == ["B-PER", "O", "B-LOC", "O", "O", "B-LOC"]
    assert [e["text"] for e in row["entities"]] == ["Tomas", "\u200bLund", "Porto"]
    text = "Tomas visited \u200bLund and Porto"
    got = ner.predict(tagger, tok, [text], ner.NerOptions())[0]["entities"]
    assert [(e["type"], e["text"], e["start"]) for e in got] == [("PER", "Tomas", 0), ("LOC", "Lund", 15),
                                                                ("LOC", "Porto", 24)]


def test_every_copy_is_tagged_in_a_long_sentence(tok):
    tagger = lookup_tagger(tok, {"tomas": "B-PER", "rinn": "I-PER", "varek": "B-PER"})
    xs = read_conll(CASES / "ner_long.conll", require_tags=False)
    n = len(xs[0].words)
    assert n == 100 and xs[0].words[:5] == ["Tomas", "Rinn", "met", "Varek", "."]
    opts = ner.NerOptions(max_length=32, stride=8)
    feats = ner.encode(tok, xs, opts, None)
    assert len(feats) > 3 and all(len(f["input_ids"]) <= 32 for f in feats)
    row = ner.predict_words(tagger, tok, xs, opts)[0]
    assert row["tags"] == ["B-PER", "I-PER", "O", "B-PER", "O"] * 20
    assert [e["text"] for e in row["entities"]] == ["Tomas Rinn", "Varek"] * 20
    # raw text too
    got = ner.predict(tagger, tok, [" ".join(xs[0].words)], opts)[0]["entities"]
    assert [e["text"] for e in got] == ["Tomas Rinn", "Varek"] * 20


# -- windows ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("seed", range(30))
def test_word_windows_cover_and_overlap_as_asked(seed):
    rng = random.Random(seed)
    lengths = [rng.choice([1, 1, 1, 2, 3, 5]) for _ in range(rng.randint(0, 60))]
    room = rng.randint(1, 20)
    stride = rng.randint(0, room - 1)
    lengths = [min(x, room + 3) for x in lengths]
    wins = ner.word_windows(lengths, room, stride)
    n = len(lengths)
    assert wins[0][0] == 0 and wins[-1][1] == n
    for (a, b), (c, d) in zip(wins, wins[1:]):
        assert a < c <= b < d  # moves on at both ends, no gap
        assert sum(lengths[c:b]) <= stride  # shared tokens
    for a, b in wins:
        assert b > a or n == 0
        assert sum(lengths[a:b]) <= room or b - a == 1  # a single word may be longer (it is cut)
    # the owner of each word: brute force over the definition
    own = ner.best_windows(lengths, wins)
    for i in range(n):
        def score(k):
            a, b = wins[k]
            left = float("inf") if a == 0 else sum(lengths[a:i])
            right = float("inf") if b == n else sum(lengths[i + 1:b])
            return min(left, right)
        holding = [k for k, (a, b) in enumerate(wins) if a <= i < b]
        best = max(score(k) for k in holding)
        assert own[i] == min(k for k in holding if score(k) == best)


def test_windowed_prediction_equals_a_direct_per_window_computation(folder, tok):
    from bertkit.models import BertForTokenClassification
    torch.manual_seed(0)
    labels = {0: "O", 1: "B-PER", 2: "I-PER", 3: "B-LOC"}
    model = BertForTokenClassification.from_pretrained(folder, id2label=labels,
                                                       label2id={v: k for k, v in labels.items()}).eval()
    with torch.no_grad():
        model.classifier.weight.normal_(0, 2.0)
    rng = random.Random(1)
    vocab = NAMES + ["visited", "googles", "the", "river", "http://x", "\u200b"]
    xs = [NerExample([rng.choice(vocab) for _ in range(rng.randint(1, 70))], None) for _ in range(6)]
    opts = ner.NerOptions(max_length=24, stride=6)
    tagger = ner.Tagger(model)
    got = ner.predict_tags(tagger, ner.encode(tok, xs, opts, None), 4, tok.pad_token_id, labels)
    for x, tags in zip(xs, got):
        pieces = ner.word_pieces(tok, x.words)
        lengths = [len(p) for p in pieces]
        wins = ner.word_windows(lengths, 22, 6)
        own = ner.best_windows(lengths, wins)
        window_logits = []
        for a, b in wins:
            ids = [tok.cls_token_id] + [t for p in pieces[a:b] for t in p][:22] + [tok.sep_token_id]
            with torch.no_grad():
                window_logits.append(model(torch.tensor([ids])).logits[0])
        want = []
        for i in range(len(x.words)):
            a, b = wins[own[i]]
            want.append(labels[int(window_logits[own[i]][1 + sum(lengths[a:i])].argmax())])
        assert tags == want
        assert len(wins) > 1 or len(x.words) < 22


def test_training_windows_label_every_word(tok):
    words = (["tomas", "rinn", "met", "varek", "."] * 12)
    tags = ["B-PER", "I-PER", "O", "B-PER", "O"] * 12
    label2id = {"O": 0, "B-PER": 1, "I-PER": 2}
    feats = ner.encode(tok, [NerExample(words, tags)], ner.NerOptions(max_length=16, stride=4), label2id)
    assert len(feats) > 4
    seen = {}
    for f in feats:
        assert len(f["input_ids"]) <= 16
        for i, t in enumerate(f["first"]):
            seen.setdefault(f["word0"] + i, set()).add(f["token_labels"][t])
    assert sorted(seen) == list(range(60))
    assert all(seen[i] == {label2id[tags[i]]} for i in range(60))
    assert sorted(f["word0"] + i for f in feats for i in f["own"]) == list(range(60))


def test_stride_that_does_not_fit_is_refused(folder, tmp_path, capsys):
    train = tmp_path / "train.conll"
    train.write_text("tomas B-PER\n", encoding="utf-8")
    out = tmp_path / "out"
    msg = cli(["finetune", "--task", "ner", "--model", str(folder), "--train", str(train), "--out", str(out),
               "--max-length", "32", "--stride", "30", "--quiet"], capsys)
    assert msg == ("bertkit finetune: --stride 30: windows of --max-length 32 hold 30 tokens besides [CLS] and "
                   "[SEP], and consecutive windows must move on; use --stride 29 or less")
    assert leftovers(out) == []


@pytest.mark.slow  # ~10 s on a busy machine
def test_finetune_and_predict_long_sentences_end_to_end(folder, tmp_path, capsys):
    """Trained at --max-length 32 (default stride: half a window), every copy of "Tomas Rinn" in
    ner_long.conll (100 words, several windows) is tagged; the scheme goes with the model."""
    rng = random.Random(0)
    lines = []
    for _ in range(16):
        sent = []
        for _ in range(rng.randint(1, 10)):
            sent += [("Tomas", "B-PER"), ("Rinn", "I-PER"), (rng.choice(["met", "visited"]), "O"),
                     (rng.choice(["Varek", "Carol"]), "B-PER"), (".", "O")]
        lines.append("\n".join(f"{w} {t}" for w, t in sent))
    train = tmp_path / "train.conll"
    train.write_text("\n\n".join(lines) + "\n", encoding="utf-8")
    out = tmp_path / "out"
    s = finetune(FinetuneArgs(task="ner", model=str(folder), train=str(train), dev=str(train), out=str(out),
                              epochs=5, lr=5e-3, batch_size=16, max_length=32, fp32=True, quiet=True))
    assert s["best_f1"] >= 0.99
    cfg = json.loads((out / "config.json").read_text())["bertkit_task"]
    assert cfg == {"task": "ner", "max_length": 32, "stride": 15, "scheme": "IOB2", "crf": False, "words": "tokenizer"}
    rows = predict_rows(PredictArgs(model=str(out), input=str(CASES / "ner_long.conll")))
    assert len(rows) == 1
    got = [e["text"] for e in rows[0]["entities"] if e["type"] == "PER"]
    assert got.count("Tomas Rinn") == 20 and got.count("Varek") == 20


@pytest.mark.slow  # fine-tunes (~5 s on a busy machine)
def test_predict_uses_the_saved_scheme(folder, tmp_path):
    """A BILOU model decodes two adjacent U-PER as two entities."""
    train = tmp_path / "train.conll"
    train.write_text(("alice U-PER\nbob U-PER\nmet O\nnew B-LOC\nyork L-LOC\n\n") * 24, encoding="utf-8")
    out = tmp_path / "out"
    finetune(FinetuneArgs(task="ner", model=str(folder), train=str(train), dev=str(train), out=str(out),
                          epochs=6, lr=5e-3, batch_size=8, max_length=16, quiet=True))
    assert json.loads((out / "config.json").read_text())["bertkit_task"]["scheme"] == "BILOU"
    inp = tmp_path / "in.conll"
    inp.write_text("alice\nbob\nmet\nnew\nyork\n", encoding="utf-8")
    row = predict_rows(PredictArgs(model=str(out), input=str(inp)))[0]
    assert row["tags"] == ["U-PER", "U-PER", "O", "B-LOC", "L-LOC"]
    assert [e["text"] for e in row["entities"]] == ["alice", "bob", "new york"]
    # predict reads a 4-column CoNLL file too (tags from the last column; --tag-column picks another)
    rows = predict_rows(PredictArgs(model=str(out), input=str(CASES / "conll2003_4col.conll")))
    assert [r["text"] for r in rows] == ["EU rejects German call .", "Tomas Rinn"]
    assert [len(r["tags"]) for r in rows] == [5, 2]
    with pytest.raises(ReaderError, match=r"conll2003_4col\.conll:3: field 'tag': 'NNP' \(column 2\)"):
        predict_rows(PredictArgs(model=str(out), input=str(CASES / "conll2003_4col.conll"), tag_column=2))
