"""ALBERT's SentencePiece tokenizer (AlbertTokenizer) and `bertkit vocab --algorithm unigram`: the special
tokens' ids, the template, pairs, truncation, padding, normalisation, continuation_mask, decode, saving and
loading, the dispatch on a folder, and one-line errors for bad folders, files and options. Parity with
transformers (on the tokenizer corpus, and that it loads what bertkit writes) is in
parity/test_tokenizer_spm_parity.py; here the oracle for pieces is the `sentencepiece` library."""
from __future__ import annotations

import io
import json
import shutil

import pytest

from bertkit.cli import main
from bertkit.data.masking import continuation_table
from bertkit.errors import TokenizerError
from bertkit.tokenization import AlbertTokenizer, AutoTokenizer, TOKENIZER_FOR_MODEL_TYPE
from bertkit.tokenization.auto import TOKENIZER_CLASSES
from bertkit.tokenization.vocab import train_unigram

TEXTS = ["The river city, and the music of the island.", "  The   KING  played ``music'' in Café Zürich!  ",
         "", "x[MASK]y the [MASK] [mask] <pad> [CLS]", "Numbers 1990, 12 and 3.5 — the end…",
         "tabs\tand\nnew\x85lines"]


@pytest.fixture(scope="module")
def tok(albert_spm_dir):
    return AlbertTokenizer.from_pretrained(albert_spm_dir)


def test_albert_specials_have_albert_ids(tok, albert_spm_dir):
    """<pad>=0 <unk>=1 [CLS]=2 [SEP]=3 [MASK]=4, as in albert-base-v2's spiece.model; control pieces."""
    assert tok.convert_ids_to_tokens([0, 1, 2, 3, 4]) == ["<pad>", "<unk>", "[CLS]", "[SEP]", "[MASK]"]
    assert (tok.pad_token_id, tok.unk_token_id, tok.cls_token_id, tok.sep_token_id, tok.mask_token_id) == \
        (0, 1, 2, 3, 4)
    assert (tok.bos_token, tok.eos_token) == ("[CLS]", "[SEP]")
    assert len(tok) == tok.vocab_size == 100
    sp = tok.sp_model.processor
    assert [sp.IsControl(i) for i in range(5)] == [True, False, True, True, True] and sp.IsUnknown(1)
    assert sorted(p.name for p in albert_spm_dir.iterdir()) == ["special_tokens_map.json", "spiece.model",
                                                               "tokenizer.json", "tokenizer_config.json"]


def test_template_pairs_and_token_types(tok):
    """[CLS] A [SEP] B [SEP]; input_ids and attention_mask by default (transformers' AlbertTokenizer), types
    0 / 1 when asked."""
    enc = tok("the river", "the city")
    assert list(enc.keys()) == ["input_ids", "attention_mask"]
    assert enc.tokens() == ["[CLS]", "▁the", "▁river", "[SEP]", "▁the", "▁city", "[SEP]"]
    enc = tok("the river", "the city", return_token_type_ids=True, return_special_tokens_mask=True)
    assert enc["token_type_ids"] == [0, 0, 0, 0, 1, 1, 1]
    assert enc["special_tokens_mask"] == [1, 0, 0, 1, 0, 0, 1]
    assert enc.sequence_ids() == [None, 0, 0, None, 1, 1, None]
    a, b = tok.encode("the river", add_special_tokens=False), tok.encode("the city", add_special_tokens=False)
    assert tok.build_inputs_with_special_tokens(a, b) == enc["input_ids"]
    assert tok.create_token_type_ids_from_sequences(a, b) == enc["token_type_ids"]
    assert tok.num_special_tokens_to_add(True) == 3


def test_normalisation_as_albert(albert_spm_dir):
    """`` and '' read as ", accents stripped, lowercased, whitespace runs are one space (remove_space);
    keep_accents / do_lower_case=False keep them."""
    tok = AlbertTokenizer.from_pretrained(albert_spm_dir)
    assert tok("``The'' Rivér")["input_ids"] == tok('"the" river')["input_ids"]
    assert tok("  the \t river\u3000 city  ")["input_ids"] == tok("the river city")["input_ids"]
    assert tok("ﬁ")["input_ids"] == tok("fi")["input_ids"]  # the model's NFKC table
    cased = AlbertTokenizer.from_pretrained(albert_spm_dir, do_lower_case=False, keep_accents=True)
    assert cased.tokenize("The") != tok.tokenize("The") and cased.tokenize("é") != tok.tokenize("é")
    assert AlbertTokenizer.from_pretrained(albert_spm_dir, keep_accents=True).tokenize("the") == ["▁the"]


def test_offsets_word_ids_and_unknown_characters(tok):
    text = "The rivers 日本"
    enc = tok(text, return_offsets_mapping=True)
    assert [text[a:b] for a, b in enc["offset_mapping"][1:-1]][:2] == ["The", "river"]
    assert tok.unk_token_id in enc["input_ids"]  # characters the model never saw
    assert enc.word_ids()[0] is None and enc.word_to_chars(0) == (0, 3)


def test_truncation_padding_and_overflow(tok):
    texts = ["the river city and the music of the island", "the king"]
    enc = tok(texts, padding="max_length", truncation=True, max_length=6)
    assert [len(r) for r in enc["input_ids"]] == [6, 6]
    assert enc["input_ids"][1][-2:] == [0, 0] and enc["attention_mask"][1] == [1, 1, 1, 1, 0, 0]
    assert enc["input_ids"][0][-1] == tok.sep_token_id
    left = tok(texts, padding=True, padding_side="left")
    assert left["input_ids"][1][0] == tok.pad_token_id
    windows = tok(texts[0], max_length=6, truncation=True, stride=2, return_overflowing_tokens=True)
    assert len(windows["input_ids"]) > 1 and all(len(r) <= 6 for r in windows["input_ids"])
    pair = tok("the king", texts[0], max_length=8, truncation="only_second")
    assert len(pair["input_ids"]) == 8 and pair.tokens()[:4] == ["[CLS]", "▁the", "▁king", "[SEP]"]
    with pytest.raises(TokenizerError, match="max_length"):
        tok(texts[0], max_length=1, truncation=True)


def test_special_tokens_in_text_and_added_tokens(tok, albert_spm_dir):
    """Special tokens written in the text are found (case-sensitively), as transformers finds them."""
    ids = tok("the [MASK] city [mask]", add_special_tokens=False)["input_ids"]
    assert ids.count(tok.mask_token_id) == 1
    local = AlbertTokenizer.from_pretrained(albert_spm_dir)
    assert local.add_tokens(["zebra"]) == 1
    assert local.tokenize("the Zebra") == ["▁the", "zebra"]  # normalized added token: found lowercased


def test_continuation_mask(albert_spm_dir):
    """A piece not starting with "▁" continues the word of the piece before it; never a control, the
    unknown piece, or an added token. Each word of a text starts with a piece that is not a continuation."""
    tok = AlbertTokenizer.from_pretrained(albert_spm_dir)
    tok.add_tokens(["zzz"])
    mask = tok.continuation_mask()
    assert len(mask) == len(tok) == 101 and mask[-1] is False
    pieces = tok.convert_ids_to_tokens(list(range(len(tok))))
    for i, piece in enumerate(pieces):
        assert mask[i] == (i >= 5 and i != 100 and not piece.startswith("▁")), piece
    assert sum(mask) > 10  # the 100-piece model cuts rare words into parts
    table = continuation_table(tok)
    assert table.tolist() == mask
    enc = tok("the river unknownword played", add_special_tokens=False)
    words = enc.word_ids()
    for k, i in enumerate(enc["input_ids"]):
        first = k == 0 or words[k] != words[k - 1]
        assert mask[i] == (not first and i != tok.unk_token_id), (k, enc.tokens()[k])


def test_decode(tok):
    ids = tok("The river city.")["input_ids"]
    assert tok.decode(ids) == "[CLS] the river city.[SEP]"
    assert tok.decode(ids, skip_special_tokens=True) == "the river city."
    assert tok.decode(tok("the river 日")["input_ids"], skip_special_tokens=True) == "the river "  # <unk> skipped
    assert tok.convert_tokens_to_string(["▁the", "▁ri", "ver"]) == "the river"


def test_save_and_load_round_trip(tok, tmp_path):
    """save_pretrained writes spiece.model byte for byte, and the folder loads with the same settings."""
    cased = AlbertTokenizer(tok.sp_model.data, do_lower_case=False, keep_accents=True, model_max_length=64)
    cased.add_special_tokens({"additional_special_tokens": ["<e1>"]})
    written = cased.save_pretrained(tmp_path / "t")
    assert (tmp_path / "t" / "spiece.model").read_bytes() == tok.sp_model.data
    assert {p.split("/")[-1] for p in written} == {"spiece.model", "tokenizer.json", "tokenizer_config.json",
                                                   "special_tokens_map.json"}
    config = json.loads((tmp_path / "t" / "tokenizer_config.json").read_text())
    assert (config["tokenizer_class"], config["do_lower_case"], config["keep_accents"]) == \
        ("AlbertTokenizer", False, True)
    again = AutoTokenizer.from_pretrained(tmp_path / "t")
    assert isinstance(again, AlbertTokenizer) and not again.do_lower_case and again.keep_accents
    assert again.model_max_length == 64 and again.additional_special_tokens == ["<e1>"]
    for text in TEXTS + ["a <e1> b"]:
        assert again(text)["input_ids"] == cased(text)["input_ids"]


def test_pieces_agree_with_the_sentencepiece_library(tok):
    """The Rust pipeline cuts each word as SentencePieceProcessor.encode does on the normalised word. (Not
    for control pieces written in the text: with split_special_tokens=True, "<pad>" is id 0 in the Rust
    Unigram model, as in transformers, while sentencepiece never emits a control piece.)"""
    import re
    sp = tok.sp_model.processor
    lowered = {"The": "the", "KING": "king", "Café": "cafe", "Zürich!": "zurich!"}
    assert 0 in tok("<PAD>", add_special_tokens=False)["input_ids"] and 0 not in sp.encode("<pad>")
    for text in TEXTS[:3] + TEXTS[4:]:
        words = [lowered.get(w, w.lower()) for w in re.split(r"\s+", text.replace("``", '"').replace("''", '"'))
                 if w]
        if any(ord(c) > 127 and c not in "…—" for c in "".join(words)):
            continue
        expected = [i for w in words for i in sp.encode(sp.normalize(w))]
        assert tok(text, add_special_tokens=False, split_special_tokens=True)["input_ids"] == expected, text


def test_tokenizer_json_alone(albert_spm_dir, tmp_path):
    """A folder with tokenizer.json and no spiece.model (transformers 5 saves one so when it loaded the
    tokenizer from tokenizer.json): its pieces, scores, control pieces and normalisation table make the same
    model, which save_pretrained writes as spiece.model."""
    folder = tmp_path / "json"
    shutil.copytree(albert_spm_dir, folder)
    (folder / "spiece.model").unlink()
    tok = AutoTokenizer.from_pretrained(folder)
    ref = AlbertTokenizer.from_pretrained(albert_spm_dir)
    assert isinstance(tok, AlbertTokenizer)
    for field in ("pieces", "scores", "control", "unk_id", "charsmap"):
        assert getattr(tok.sp_model, field) == getattr(ref.sp_model, field), field
    for text in TEXTS + ["ﬁ ① the　river"]:
        assert tok(text)["input_ids"] == ref(text)["input_ids"]
        assert tok.sp_model.processor.encode(text) == ref.sp_model.processor.encode(text)
    tok.save_pretrained(tmp_path / "again")
    again = AlbertTokenizer(tmp_path / "again" / "spiece.model")
    assert again.sp_model.pieces == ref.sp_model.pieces and again("the river")["input_ids"] == \
        ref("the river")["input_ids"]
    bad = tmp_path / "bpe"
    bad.mkdir()
    (bad / "tokenizer.json").write_text(json.dumps({"model": {"type": "BPE", "vocab": {}, "merges": []}}))
    (bad / "tokenizer_config.json").write_text(json.dumps({"tokenizer_class": "AlbertTokenizer"}))
    _fails(lambda: AutoTokenizer.from_pretrained(bad), "not a SentencePiece unigram tokenizer (model type 'BPE')")


def test_dispatch(albert_spm_dir, tmp_path):
    """spiece.model alone, tokenizer_class, or config.json's model_type albert: AlbertTokenizer."""
    import bertkit
    assert TOKENIZER_FOR_MODEL_TYPE["albert"] is AlbertTokenizer and bertkit.AlbertTokenizer is AlbertTokenizer
    assert TOKENIZER_CLASSES["AlbertTokenizer"] is AlbertTokenizer
    only = tmp_path / "only"
    only.mkdir()
    shutil.copy(albert_spm_dir / "spiece.model", only)
    assert isinstance(AutoTokenizer.from_pretrained(only), AlbertTokenizer)
    typed = tmp_path / "typed"
    shutil.copytree(only, typed)
    (typed / "config.json").write_text(json.dumps({"model_type": "albert"}))
    assert isinstance(AutoTokenizer.from_pretrained(typed), AlbertTokenizer)
    fast = tmp_path / "fast"
    shutil.copytree(albert_spm_dir, fast)
    (fast / "tokenizer_config.json").write_text(json.dumps({"tokenizer_class": "AlbertTokenizerFast"}))
    assert isinstance(AutoTokenizer.from_pretrained(fast), AlbertTokenizer)


def _fails(call, expected: str):
    with pytest.raises(TokenizerError) as e:
        call()
    assert "\n" not in str(e.value) and expected in str(e.value), str(e.value)


def test_bad_models_and_settings_are_one_line_errors(albert_spm_dir, pretrain_text, tmp_path):
    import sentencepiece as spm
    junk = tmp_path / "junk.model"
    junk.write_bytes(b"\x00\x01 not a model")
    _fails(lambda: AlbertTokenizer(junk), f"{junk}: not a SentencePiece model")
    _fails(lambda: AlbertTokenizer(tmp_path / "none.model"), "SentencePiece model not found")
    _fails(lambda: AlbertTokenizer(albert_spm_dir), "is a folder; use AlbertTokenizer.from_pretrained")
    model = io.BytesIO()
    spm.SentencePieceTrainer.train(input=str(pretrain_text), model_writer=model, vocab_size=120, model_type="bpe",
                                   minloglevel=2)
    _fails(lambda: AlbertTokenizer(model.getvalue()), "a SentencePiece BPE model; ALBERT's tokenizer reads unigram")
    _fails(lambda: AlbertTokenizer(albert_spm_dir / "spiece.model", remove_space=False), "remove_space=False")
    _fails(lambda: AlbertTokenizer(albert_spm_dir / "spiece.model", engine="python"), "engine='python'")
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "tokenizer_config.json").write_text(json.dumps({"tokenizer_class": "AlbertTokenizer"}))
    _fails(lambda: AutoTokenizer.from_pretrained(empty), "no spiece.model nor tokenizer.json")
    bad = tmp_path / "bad"
    shutil.copytree(albert_spm_dir, bad)
    config = json.loads((bad / "tokenizer_config.json").read_text())
    (bad / "tokenizer_config.json").write_text(json.dumps({**config, "do_lower_case": "yes"}))
    _fails(lambda: AutoTokenizer.from_pretrained(bad), "tokenizer_config.json: do_lower_case is 'yes'")


def test_vocab_unigram_command(pretrain_text, tmp_path, capsys):
    """`bertkit vocab --algorithm unigram` writes the folder (again over its own output), quietly: one line
    on stderr, none of sentencepiece's log; two runs give the same spiece.model."""
    out = tmp_path / "v"
    main(["vocab", str(pretrain_text), "--algorithm", "unigram", "--vocab-size", "90", "--out", str(out)])
    captured = capsys.readouterr()
    assert captured.out.strip() == f"wrote a vocabulary of 90 tokens to {out}"
    assert len(captured.err.splitlines()) == 1 and "unigram" in captured.err
    first = (out / "spiece.model").read_bytes()
    main(["vocab", str(pretrain_text), "--algorithm", "unigram", "--vocab-size", "90", "--out", str(out)])
    assert (out / "spiece.model").read_bytes() == first
    tok = AutoTokenizer.from_pretrained(out)
    assert isinstance(tok, AlbertTokenizer) and tok.do_lower_case and len(tok) == 90
    main(["vocab", str(pretrain_text), "--algorithm", "unigram", "--vocab-size", "90", "--cased",
          "--out", str(tmp_path / "c")])
    cased = AutoTokenizer.from_pretrained(tmp_path / "c")
    assert not cased.do_lower_case and cased.keep_accents and any(c.isupper() for c in "".join(cased.vocab)[20:])


def test_vocab_unigram_bad_options_and_files_are_one_line(pretrain_text, tmp_path, capsys):
    bad = tmp_path / "latin1.txt"
    bad.write_bytes(b"fine line\ncaf\xe9\n")
    empty = tmp_path / "empty.txt"
    empty.write_text("\n \n")
    tiny = tmp_path / "tiny.txt"
    tiny.write_text("hello world\nthe cat\n")
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("keep me")
    for argv, expected in [
        ([str(pretrain_text), "--min-frequency", "3"], "bertkit vocab: --min-frequency: the unigram trainer"),
        ([str(pretrain_text), "--vocab-size", "5"], "bertkit vocab: --vocab-size 5: must be larger than the 5 "
                                                    "special tokens (<pad>, <unk>, [CLS], [SEP], [MASK])"),
        ([str(tiny), "--vocab-size", "8"], f"bertkit vocab: --vocab-size 8: too small for the 5 special tokens "
                                           f"and the characters of {tiny}; use at least 16"),
        ([str(bad)], f"bertkit vocab: {bad}:2: not UTF-8"),
        ([str(empty)], f"bertkit vocab: {empty}: no text to learn a vocabulary from"),
        ([str(tmp_path / "missing.txt")], f"bertkit vocab: {tmp_path / 'missing.txt'}: no such file"),
        ([str(tmp_path)], f"bertkit vocab: {tmp_path}: a folder, not a file"),
    ]:
        with pytest.raises(SystemExit) as e:
            main(["vocab", *argv, "--algorithm", "unigram", "--out", str(tmp_path / "v")])
        assert e.value.code == 2
        err = capsys.readouterr().err
        assert err.splitlines()[-1].startswith(expected) and len(err.splitlines()) <= 2, err
    assert not (tmp_path / "v").exists()
    with pytest.raises(SystemExit):
        main(["vocab", str(pretrain_text), "--algorithm", "unigram", "--vocab-size", "90", "--out", str(foreign)])
    assert "not bertkit output (notes.txt)" in capsys.readouterr().err
    assert (foreign / "notes.txt").read_text() == "keep me"


def test_train_unigram_errors(tmp_path):
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"ok\nbad \xff here\n")
    _fails(lambda: train_unigram([bad], 100, show_progress=False), f"{bad}, line 2: not UTF-8 text (byte 0xff)")
    _fails(lambda: train_unigram([tmp_path / "no.txt"], 100), "no such training file")
    (tmp_path / "blank.txt").write_text("  \n\n")
    _fails(lambda: train_unigram([tmp_path / "blank.txt"], 100), "no text to learn from")
    _fails(lambda: train_unigram([bad], 5), "vocab_size=5 must be an integer larger than the 5 special tokens")
    _fails(lambda: train_unigram([bad], 100, character_coverage=0), "character_coverage=0")
