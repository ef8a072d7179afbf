"""Byte-level BPE (RobertaTokenizer), DistilBertTokenizer and AutoTokenizer: save/load round trips with
transformers both ways, the dispatch on a folder, bad folders' one-line errors, `bertkit vocab --algorithm
bpe` end to end, and the continuation table whole-word masking reads. The oracle is transformers (and its
Rust `tokenizers`); a small BPE is trained on the synthetic corpus of conftest (`pretrain_text`).
tests/parity/test_tokenizer_bpe_parity.py compares the tokenizers on real text.
"""
from __future__ import annotations

import json
import shutil

import pytest

from bertkit.cli import main
from bertkit.data.masking import continuation_table
from bertkit.errors import TokenizerError
from bertkit.tokenization import (AutoTokenizer, BertTokenizer, DistilBertTokenizer, RobertaTokenizer,
                                  TOKENIZER_FOR_MODEL_TYPE)

transformers = pytest.importorskip("transformers")

TEXTS = ["The river city was built early.", " leading space and  two spaces", "naïve café 😀 日本語\tok",
         "a <mask> b", "x<mask>y <mask>", "<s> written </s> in text", "", "don't stop"]
PAIRS = ["the king", "x", "", "second <mask>", "q", "w", "z", "e"]


@pytest.fixture(scope="module")
def bpe_dir(pretrain_text, tmp_path_factory):
    """A byte-level BPE folder of 400 tokens written by `bertkit vocab --algorithm bpe`."""
    out = tmp_path_factory.mktemp("bpe") / "tok"
    main(["vocab", str(pretrain_text), "--algorithm", "bpe", "--vocab-size", "400", "--out", str(out)])
    return out


def _same(tok, hf, *args, **kwargs):
    """The same call through both: every key equal, and the tokens, word ids and sequence ids of each row."""
    kwargs.setdefault("return_offsets_mapping", True)
    ours, theirs = tok(*args, **kwargs), hf(*args, **kwargs)
    assert dict(ours) == dict(theirs.data), kwargs
    for row in range(len(theirs["input_ids"])):
        assert ours.tokens(row) == theirs.tokens(row)
        assert ours.word_ids(row) == theirs.word_ids(row)
        assert ours.sequence_ids(row) == theirs.sequence_ids(row)


def _all_calls(tok, hf):
    _same(tok, hf, TEXTS)
    _same(tok, hf, TEXTS, PAIRS, return_special_tokens_mask=True)
    _same(tok, hf, TEXTS, PAIRS, truncation=True, max_length=9, padding=True, return_token_type_ids=True)
    _same(tok, hf, TEXTS, truncation=True, max_length=6, stride=2, return_overflowing_tokens=True)
    _same(tok, hf, TEXTS, add_special_tokens=False)
    ids = tok(TEXTS, PAIRS)["input_ids"]
    for skip in (False, True):
        assert tok.batch_decode(ids, skip_special_tokens=skip) == hf.batch_decode(ids, skip_special_tokens=skip)


def test_vocab_bpe_command_writes_a_folder_transformers_reads(bpe_dir):
    """`bertkit vocab --algorithm bpe`: RoBERTa's specials at 0-3, <mask> last, the files RoBERTa's
    tokenizer has; transformers' AutoTokenizer reads it as a RobertaTokenizer with the same ids."""
    assert {p.name for p in bpe_dir.iterdir()} == {"vocab.json", "merges.txt", "tokenizer.json",
                                                   "tokenizer_config.json", "special_tokens_map.json"}
    config = json.loads((bpe_dir / "tokenizer_config.json").read_text(encoding="utf-8"))
    assert config["tokenizer_class"] == "RobertaTokenizer" and config["add_prefix_space"] is False
    vocab = json.loads((bpe_dir / "vocab.json").read_text(encoding="utf-8"))
    assert [vocab[t] for t in ("<s>", "<pad>", "</s>", "<unk>")] == [0, 1, 2, 3]
    assert vocab["<mask>"] == len(vocab) - 1 == 399
    assert (bpe_dir / "merges.txt").read_text(encoding="utf-8").startswith("#version: 0.2\n")
    hf = transformers.AutoTokenizer.from_pretrained(bpe_dir)
    assert type(hf).__name__ == "RobertaTokenizer" and len(hf) == 400 and hf.mask_token_id == 399
    assert hf.added_tokens_decoder[399].lstrip is True
    tok = AutoTokenizer.from_pretrained(bpe_dir)
    assert isinstance(tok, RobertaTokenizer) and len(tok) == 400
    _all_calls(tok, hf)
    # built from the two files alone, transformers' RobertaTokenizer agrees as well
    from tokenizers import AddedToken
    hf_files = transformers.RobertaTokenizer(vocab=str(bpe_dir / "vocab.json"), merges=str(bpe_dir / "merges.txt"),
                                             mask_token=AddedToken("<mask>", lstrip=True, special=True,
                                                                   normalized=False))
    _all_calls(tok, hf_files)


def test_roberta_defaults_are_transformers(bpe_dir):
    tok = AutoTokenizer.from_pretrained(bpe_dir)
    enc = tok("a b", "c")
    assert set(enc) == {"input_ids", "attention_mask"}  # RoBERTa takes no token types
    assert tok("a b", "c", return_token_type_ids=True)["token_type_ids"] == [0] * len(enc["input_ids"])
    ids = enc["input_ids"]
    assert ids[0] == tok.cls_token_id == tok.bos_token_id == 0
    assert ids.count(tok.sep_token_id) == 3  # <s> A </s></s> B </s>
    assert tok.num_special_tokens_to_add(True) == 4 and tok.num_special_tokens_to_add() == 2
    assert tok.build_inputs_with_special_tokens([7], [8]) == [0, 7, 2, 2, 8, 2]
    assert tok.get_special_tokens_mask([7], [8]) == [1, 0, 1, 1, 0, 1]
    assert tok.create_token_type_ids_from_sequences([7], [8]) == [0] * 6
    assert tok.add_prefix_space is False and tok.trim_offsets is True
    with pytest.raises(TokenizerError, match="byte-level BPE runs on the Rust tokenizers library only"):
        RobertaTokenizer.from_pretrained(bpe_dir, engine="python")
    # stride and max_length are checked against RoBERTa's 4 special tokens of a pair
    with pytest.raises(TokenizerError, match=r"smaller than the 4 special tokens of <s> A </s></s> B </s>"):
        tok("a", "b", truncation=True, max_length=3)


def test_add_prefix_space_and_trim_offsets_as_transformers(bpe_dir):
    from tokenizers import AddedToken
    for options in ({"add_prefix_space": True}, {"trim_offsets": False}, {"add_prefix_space": True,
                                                                           "trim_offsets": False}):
        tok = AutoTokenizer.from_pretrained(bpe_dir, **options)
        hf = transformers.RobertaTokenizer(vocab=str(bpe_dir / "vocab.json"), merges=str(bpe_dir / "merges.txt"),
                                           mask_token=AddedToken("<mask>", lstrip=True, special=True,
                                                                 normalized=False), **options)
        _same(tok, hf, TEXTS, PAIRS)
        _same(tok, hf, [t.split() for t in TEXTS if t.split()], is_split_into_words=True)


def test_round_trip_bertkit_to_transformers_with_added_tokens(bpe_dir, tmp_path):
    """bertkit saves (added and special tokens included); transformers loads the folder and tokenizes the
    same; bertkit loads it back the same."""
    tok = AutoTokenizer.from_pretrained(bpe_dir)
    tok.add_tokens(["riverking"])
    tok.add_special_tokens({"additional_special_tokens": ["<e1>", "</e1>"]})
    tok.save_pretrained(tmp_path / "saved")
    hf = transformers.AutoTokenizer.from_pretrained(tmp_path / "saved")
    assert type(hf).__name__ == "RobertaTokenizer"
    texts = TEXTS + ["the riverking <e1>city</e1> was"]
    assert hf.convert_tokens_to_ids(["riverking", "<e1>", "</e1>"]) == tok.convert_tokens_to_ids(
        ["riverking", "<e1>", "</e1>"]) == [400, 401, 402]
    _same(tok, hf, texts, texts[::-1])
    again = AutoTokenizer.from_pretrained(tmp_path / "saved")
    _same(again, hf, texts, texts[::-1])
    assert again.additional_special_tokens == ["<e1>", "</e1>"]


def test_round_trip_transformers_to_bertkit(bpe_dir, tmp_path):
    """transformers saves a RobertaTokenizer built from the files (it writes tokenizer.json and
    tokenizer_config.json only); bertkit loads that folder and tokenizes the same, and saves a folder
    transformers loads again the same."""
    from tokenizers import AddedToken
    hf = transformers.RobertaTokenizer(vocab=str(bpe_dir / "vocab.json"), merges=str(bpe_dir / "merges.txt"),
                                       mask_token=AddedToken("<mask>", lstrip=True, special=True, normalized=False))
    hf.add_tokens(["riverking"])
    hf.add_special_tokens({"additional_special_tokens": ["<e1>"]})
    hf.save_pretrained(tmp_path / "hf")
    assert not (tmp_path / "hf" / "vocab.json").exists()  # transformers 5 writes tokenizer.json alone
    tok = AutoTokenizer.from_pretrained(tmp_path / "hf")
    assert isinstance(tok, RobertaTokenizer)
    texts = TEXTS + ["the riverking <e1> city"]
    _same(tok, hf, texts, texts[::-1])
    _same(tok, hf, texts, truncation=True, max_length=7, stride=2, return_overflowing_tokens=True, padding=True)
    tok.save_pretrained(tmp_path / "again")
    _same(tok, transformers.AutoTokenizer.from_pretrained(tmp_path / "again"), texts, texts[::-1])


def test_distilbert_tokenizer_is_bert_without_token_types(pretrain_vocab, tmp_path):
    """DistilBertTokenizer: BERT's WordPiece, input_ids and attention_mask only; transformers reads the
    folder it saves as a DistilBertTokenizer, and AutoTokenizer reads transformers' DistilBERT folder."""
    tok = DistilBertTokenizer.from_pretrained(pretrain_vocab)
    assert set(tok("a b", "c")) == {"input_ids", "attention_mask"}
    assert tok("a b", "c", return_token_type_ids=True)["token_type_ids"] == [0, 0, 0, 0, 1, 1]
    assert tok("a b", "c")["input_ids"] == BertTokenizer.from_pretrained(pretrain_vocab)("a b", "c")["input_ids"]
    tok.save_pretrained(tmp_path / "ours")
    assert json.loads((tmp_path / "ours" / "tokenizer_config.json").read_text())["tokenizer_class"] == \
        "DistilBertTokenizer"
    hf = transformers.AutoTokenizer.from_pretrained(tmp_path / "ours")
    assert type(hf).__name__ == "DistilBertTokenizer"
    _same(tok, hf, TEXTS, PAIRS)
    hf_made = transformers.DistilBertTokenizer(vocab=str(pretrain_vocab / "vocab.txt"))
    hf_made.save_pretrained(tmp_path / "theirs")
    back = AutoTokenizer.from_pretrained(tmp_path / "theirs")
    assert type(back) is DistilBertTokenizer
    _same(back, hf_made, TEXTS, PAIRS)


def _folder(tmp_path, name, files: dict):
    folder = tmp_path / name
    folder.mkdir()
    for file, content in files.items():
        (folder / file).write_text(content if isinstance(content, str) else json.dumps(content), encoding="utf-8")
    return folder


def test_auto_tokenizer_dispatch(pretrain_vocab, bpe_dir, tmp_path):
    """tokenizer_class first ("Fast" ignored), then config.json's model_type, then the files present."""
    vocab_txt = (pretrain_vocab / "vocab.txt").read_text(encoding="utf-8")
    bpe_files = {"vocab.json": (bpe_dir / "vocab.json").read_text(encoding="utf-8"),
                 "merges.txt": (bpe_dir / "merges.txt").read_text(encoding="utf-8")}
    cases = [
        ({"vocab.txt": vocab_txt, "tokenizer_config.json": {"tokenizer_class": "BertTokenizerFast"}}, BertTokenizer),
        ({"vocab.txt": vocab_txt, "tokenizer_config.json": {"tokenizer_class": "DistilBertTokenizerFast"}},
         DistilBertTokenizer),
        ({**bpe_files, "tokenizer_config.json": {"tokenizer_class": "RobertaTokenizerFast"}}, RobertaTokenizer),
        ({"vocab.txt": vocab_txt, "config.json": {"model_type": "distilbert"}}, DistilBertTokenizer),
        ({"vocab.txt": vocab_txt, "config.json": {"model_type": "bert"}}, BertTokenizer),
        ({**bpe_files, "config.json": {"model_type": "roberta"}}, RobertaTokenizer),
        ({"vocab.txt": vocab_txt}, BertTokenizer),
        (bpe_files, RobertaTokenizer),
        ({"tokenizer.json": (bpe_dir / "tokenizer.json").read_text(encoding="utf-8")}, RobertaTokenizer),
        ({"tokenizer.json": (pretrain_vocab / "tokenizer.json").read_text(encoding="utf-8")}, BertTokenizer),
    ]
    for k, (files, cls) in enumerate(cases):
        tok = AutoTokenizer.from_pretrained(_folder(tmp_path, f"case{k}", files))
        assert type(tok) is cls, (k, files.keys())
    assert type(AutoTokenizer.from_pretrained(pretrain_vocab)) is BertTokenizer
    from bertkit.tokenization import AlbertTokenizer
    assert TOKENIZER_FOR_MODEL_TYPE == {"bert": BertTokenizer, "distilbert": DistilBertTokenizer,
                                        "roberta": RobertaTokenizer, "albert": AlbertTokenizer,
                                        "electra": BertTokenizer}
    # the lazy names of the package
    import bertkit
    assert bertkit.AutoTokenizer is AutoTokenizer and bertkit.RobertaTokenizer is RobertaTokenizer
    assert bertkit.DistilBertTokenizer is DistilBertTokenizer


def _one_line_error(folder, match: str):
    with pytest.raises(TokenizerError) as e:
        AutoTokenizer.from_pretrained(folder)
    message = str(e.value)
    assert "\n" not in message and match in message, message


def test_bad_folders_are_one_line_errors(bpe_dir, tmp_path):
    vocab = (bpe_dir / "vocab.json").read_text(encoding="utf-8")
    merges = (bpe_dir / "merges.txt").read_text(encoding="utf-8")
    empty = _folder(tmp_path, "empty", {"notes.txt": "hi"})
    _one_line_error(empty, f"{empty}: not a tokenizer folder (found ['notes.txt']); expected vocab.txt (WordPiece), "
                           f"vocab.json + merges.txt (byte-level BPE), spiece.model (SentencePiece) or "
                           f"tokenizer.json")
    _one_line_error(tmp_path / "absent", f"{tmp_path / 'absent'}: no such folder")
    odd = _folder(tmp_path, "odd", {"vocab.txt": "[PAD]\n", "tokenizer_config.json": {"tokenizer_class": "XLNetTokenizer"}})
    _one_line_error(odd, f"{odd / 'tokenizer_config.json'}: tokenizer_class 'XLNetTokenizer' is not one bertkit has; "
                         f"use one of BertTokenizer, DistilBertTokenizer, RobertaTokenizer, AlbertTokenizer, ElectraTokenizer")
    gpt = _folder(tmp_path, "gpt", {"vocab.json": vocab, "merges.txt": merges, "config.json": {"model_type": "gpt2"}})
    _one_line_error(gpt, f"{gpt / 'config.json'}: model_type 'gpt2' has no tokenizer in bertkit")
    # a RobertaTokenizer folder missing its merges, with a bad merges line, with broken JSON
    lone = _folder(tmp_path, "lone", {"vocab.json": vocab, "tokenizer_config.json": {"tokenizer_class": "RobertaTokenizer"}})
    _one_line_error(lone, f"{lone}: no vocab.json + merges.txt (found ['vocab.json']) nor tokenizer.json")
    bad_merge = _folder(tmp_path, "badmerge", {"vocab.json": vocab, "merges.txt": "#version: 0.2\nĠ t\nabc\n"})
    _one_line_error(bad_merge, f"{bad_merge / 'merges.txt'}, line 3: expected two pieces separated by one space, "
                               f"found 'abc'")
    unknown = _folder(tmp_path, "unknownpiece", {"vocab.json": vocab, "merges.txt": "#version: 0.2\nzzq qqz\n"})
    _one_line_error(unknown, "the merges use pieces that are not in the vocabulary, e.g. ['qqz', 'zzq']")
    broken = _folder(tmp_path, "broken", {"vocab.json": '{"a": 0,\n', "merges.txt": merges})
    _one_line_error(broken, f"{broken / 'vocab.json'}, line 2: invalid JSON")
    wordpiece_json = _folder(tmp_path, "wpjson", {"tokenizer.json": (bpe_dir / "tokenizer.json").read_text(),
                                                  "tokenizer_config.json": {"tokenizer_class": "BertTokenizer"}})
    _one_line_error(wordpiece_json, f"{wordpiece_json / 'tokenizer.json'}: not a WordPiece tokenizer (model type "
                                    f"'BPE'), and there is no vocab.txt")


def test_vocab_bpe_bad_options_are_one_line(pretrain_text, tmp_path, capsys):
    for argv, expected in [
        (["--algorithm", "sentencepiece"], "bertkit vocab: --algorithm 'sentencepiece': use one of wordpiece, bpe"),
        (["--algorithm", "bpe", "--cased"], "bertkit vocab: --cased: byte-level BPE always keeps case and accents"),
        (["--algorithm", "bpe", "--vocab-size", "100"],
         "bertkit vocab: --vocab-size 100: byte-level BPE needs at least 261"),
    ]:
        with pytest.raises(SystemExit) as e:
            main(["vocab", str(pretrain_text), "--out", str(tmp_path / "v"), *argv])
        assert e.value.code == 2
        err = capsys.readouterr().err
        assert len(err.splitlines()) == 1 and err.startswith(expected), err
    assert not (tmp_path / "v").exists()


def test_continuation_table_for_both_algorithms(bpe_dir, minilm_dir):
    """Whole-word masking's table: WordPiece's "##" pieces; BPE's pieces without a leading "Ġ"; never a
    special or added token."""
    bpe = AutoTokenizer.from_pretrained(bpe_dir)
    bpe.add_tokens(["zzz"])
    table = continuation_table(bpe)
    assert table.shape == (len(bpe),) and table.dtype == bool
    tokens = bpe.convert_ids_to_tokens(list(range(len(bpe))))
    for i, token in enumerate(tokens):
        expected = i not in bpe.all_special_ids and token != "zzz" and not token.startswith("Ġ")
        assert table[i] == expected, token
    enc = bpe(" the river city and the rivers")
    starts = [not table[i] for i in enc["input_ids"][1:-1]]
    assert sum(starts) == 6 and starts[0]  # each word starts with a piece that is not a continuation
    bert = BertTokenizer.from_pretrained(minilm_dir)
    wp = continuation_table(bert)
    assert wp.sum() == sum(t.startswith("##") for t in bert.ids_to_tokens)
    assert (wp == continuation_table(bert.ids_to_tokens)).all()  # the list form is unchanged


def test_gpt2_files_load_as_roberta(roberta_bpe_dir, tmp_path):
    """The roberta-bpe folder (GPT-2's files with RoBERTa's specials) round-trips through transformers."""
    tok = AutoTokenizer.from_pretrained(roberta_bpe_dir)
    tok.save_pretrained(tmp_path / "saved")
    assert (tmp_path / "saved" / "merges.txt").read_text(encoding="utf-8") == \
        (roberta_bpe_dir / "merges.txt").read_text(encoding="utf-8")
    hf = transformers.AutoTokenizer.from_pretrained(tmp_path / "saved")
    _same(tok, hf, TEXTS, PAIRS)
    shutil.rmtree(tmp_path / "saved")


def test_bpe_on_a_text_with_no_repeated_pair_is_the_bytes_alone(tmp_path):
    """A tiny text (or vocab_size 261) learns no merge: the vocabulary is the specials and the 256 bytes,
    and it still tokenizes, byte by byte, as transformers' RobertaTokenizer does with the same files."""
    from bertkit.tokenization.vocab import train_bpe
    transformers = pytest.importorskip("transformers")
    text = tmp_path / "tiny.txt"
    text.write_text("tiny corpus\n", encoding="utf-8")
    tok = train_bpe(text, vocab_size=500, show_progress=False)
    assert len(tok) == 261 and tok.mask_token_id == 260
    tok.save_pretrained(tmp_path / "v")
    theirs = transformers.AutoTokenizer.from_pretrained(tmp_path / "v")
    assert tok("tiny corpus")["input_ids"] == theirs("tiny corpus")["input_ids"]
