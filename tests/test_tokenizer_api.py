"""The tokenizer's call API as transformers users write it (issue 13, section 4): pre-split words, None meaning
the default, windows without special tokens, padding and truncation sides, the options tokenizer_config.json
carries, the BatchEncoding alignment helpers, the helper methods tutorials call, and the error types.

Both engines run every test (the `tiny` fixture is parametrised); the expected values are read off the tiny
vocabulary below. tests/parity/test_tokenizer_parity.py checks the same features against transformers on
real text.
"""
from __future__ import annotations

import json
import pickle

import pytest

from bertkit.errors import BertkitError, TokenizerError
from bertkit.tokenization import (BatchEncoding, BertTokenizer, CharSpan, TokenizerIndexError, TokenizerTypeError,
                                  TokenSpan)

# the tiny vocabulary, its ids and the two-engine fixtures of the tokenizer's unit tests
from test_tokenization import CLS, MASK, PAD, SEP, TINY, UNK, engine, tid, tiny  # noqa: E402, F401

VOCAB = {t: i for i, t in enumerate(TINY)}


def tokens(enc: BatchEncoding, row: int | None = None) -> list[str]:
    ids = enc["input_ids"] if row is None else enc["input_ids"][row]
    return [TINY[i] for i in ids]


# ---------------------------------------------------------------------------------------------------------
# is_split_into_words
# ---------------------------------------------------------------------------------------------------------

def test_split_into_words_single(tiny):
    words = ["Hello", "unwanted,", "\u200b", "[MASK]", "world"]
    enc = tiny(words, is_split_into_words=True, return_offsets_mapping=True)
    assert tokens(enc) == ["[CLS]", "hello", "un", "##want", "##ed", ",", "[MASK]", "world", "[SEP]"]
    # word ids are the indices of the given words; the zero-width space (word 2) gives no token
    assert enc.word_ids() == [None, 0, 1, 1, 1, 1, 3, 4, None]
    # offsets count characters within each word, as in transformers
    assert enc.offset_mapping == [(0, 0), (0, 5), (0, 2), (2, 6), (6, 8), (8, 9), (0, 6), (0, 5), (0, 0)]
    assert enc.word_to_tokens(1) == TokenSpan(2, 6) and enc.word_to_tokens(2) is None
    assert enc.word_to_chars(1) == CharSpan(0, 9) and enc.token_to_word(6) == 3
    assert tiny.tokenize(["un", "wanted"], is_split_into_words=True) == ["un", "want", "##ed"]
    assert tiny.encode(["a", "b"], is_split_into_words=True) == [CLS, tid("a"), tid("b"), SEP]
    # an empty list is one empty text; an empty text_pair for a single text means no pair (as transformers)
    assert tiny([], is_split_into_words=True).input_ids == [CLS, SEP]
    assert tiny(["a"], [], is_split_into_words=True).input_ids == [CLS, tid("a"), SEP]


def test_split_into_words_batches_and_pairs(tiny):
    enc = tiny([["a", "b"], ("c",)], [["d"], []], is_split_into_words=True, padding=True,
               return_offsets_mapping=True)
    assert enc.input_ids == [[CLS, tid("a"), tid("b"), SEP, tid("d"), SEP], [CLS, tid("c"), SEP, SEP, PAD, PAD]]
    assert enc.token_type_ids == [[0, 0, 0, 0, 1, 1], [0, 0, 0, 1, 0, 0]]
    assert enc.word_ids(0) == [None, 0, 1, None, 0, None] and enc.sequence_ids(0) == [None, 0, 0, None, 1, None]
    assert enc.word_ids(1) == [None, 0, None, None, None, None]
    assert enc.offset_mapping[0] == [(0, 0), (0, 1), (0, 1), (0, 0), (0, 1), (0, 0)]
    # NER-style: truncated windows keep the word ids of the words they hold
    words = list("abcdefgh")
    enc = tiny([words], is_split_into_words=True, truncation=True, max_length=6, stride=1,
               return_overflowing_tokens=True)
    assert [enc.word_ids(i)[1:-1] for i in range(len(enc.input_ids))] == [[0, 1, 2, 3], [3, 4, 5, 6], [6, 7]]


def test_split_into_words_errors(tiny):
    with pytest.raises(TokenizerTypeError, match="with is_split_into_words=True it must be a list of words"):
        tiny("a b", is_split_into_words=True)
    with pytest.raises(TypeError, match=r"text\[1\]\[0\] is a int"):
        tiny([["a"], [1]], is_split_into_words=True)
    with pytest.raises(TypeError, match=r"text\[1\] is a str"):
        tiny([["a"], "b"], is_split_into_words=True)
    with pytest.raises(TokenizerError, match="text has 2 items but text_pair has 1"):
        tiny([["a"], ["b"]], [["c"]], is_split_into_words=True)
    with pytest.raises(TypeError, match=r"text_pair\[0\] is a str"):
        tiny([["a"], ["b"]], ["x", "y"], is_split_into_words=True)
    with pytest.raises(TypeError, match="pass pairs as .* and words with is_split_into_words=True"):
        tiny([["a", "b"]])


# ---------------------------------------------------------------------------------------------------------
# None means the default; model_input_names
# ---------------------------------------------------------------------------------------------------------

KEYWORDS = ["add_special_tokens", "truncation", "max_length", "stride", "is_split_into_words", "pad_to_multiple_of",
            "padding_side", "return_tensors", "return_token_type_ids", "return_attention_mask",
            "return_overflowing_tokens", "return_special_tokens_mask", "return_offsets_mapping", "return_length",
            "verbose", "split_special_tokens"]


def test_none_means_the_default(tiny):
    texts, pairs = ["a b c", "a"], ["d", "e f"]
    default = tiny(texts, pairs, padding=True)
    # the example: return_attention_mask=None used to drop the mask (and the model attended to padding)
    assert tiny(texts, pairs, padding=True, return_attention_mask=None).attention_mask == [[1] * 7, [1] * 6 + [0]]
    for name in KEYWORDS:
        assert dict(tiny(texts, pairs, padding=True, **{name: None})) == dict(default), name
    assert dict(tiny(texts, pairs, padding=None)) == dict(tiny(texts, pairs))
    assert tiny.encode("a", None, None, None, None, None, None, None, None) == [CLS, tid("a"), SEP]
    with pytest.raises(TypeError, match="return_attention_mask='yes' must be True, False or None"):
        tiny("a", return_attention_mask="yes")


def test_model_input_names_decide_the_default_outputs(engine):
    tok = BertTokenizer(VOCAB, model_input_names=["input_ids", "attention_mask"], engine=engine)
    assert list(tok("a")) == ["input_ids", "attention_mask"]
    assert list(tok("a", return_token_type_ids=True)) == ["input_ids", "token_type_ids", "attention_mask"]
    assert list(BertTokenizer(VOCAB, model_input_names=["input_ids"], engine=engine)("a")) == ["input_ids"]
    with pytest.raises(TypeError, match="model_input_names='input_ids' must be a list"):
        BertTokenizer(VOCAB, model_input_names="input_ids")


def test_return_length(tiny):
    assert tiny(["a b", "c"], padding=True, return_length=True).length == [4, 4]
    assert tiny(["a b", "c"], return_length=True).length == [4, 3]
    assert tiny("a b", return_length=True).length == [4]  # a list even for one text, as in transformers


@pytest.mark.filterwarnings("error")
def test_verbose_false_silences_the_length_warning(tiny):
    tiny(" ".join("abcdefghijklmnopqrst"), verbose=False)
    assert not tiny._warned_long


@pytest.mark.slow
def test_padded_row_is_unchanged_when_the_mask_is_left_to_its_default(minilm_dir):
    """The issue's example: with return_attention_mask=None the [CLS] vector of a padded row moved by 0.29."""
    torch = pytest.importorskip("torch")
    from bertkit import BertModel
    tok = BertTokenizer.from_pretrained(minilm_dir)
    model = BertModel.from_pretrained(minilm_dir).eval()
    with torch.no_grad():
        alone = model(**tok(["a short one"], return_tensors="pt")).last_hidden_state[0, 0]
        padded = model(**tok(["a short one", "and a much longer second sentence, padded against"], padding=True,
                             return_attention_mask=None, return_tensors="pt")).last_hidden_state[0, 0]
    assert (alone - padded).abs().max().item() < 1e-5


# ---------------------------------------------------------------------------------------------------------
# stride without special tokens; padding and truncation sides
# ---------------------------------------------------------------------------------------------------------

def test_stride_without_special_tokens_counts_none(tiny):
    # the example: max_length=4, stride=2 on a 7-word text gives 3 windows, as in transformers
    enc = tiny("a b c d e f g", max_length=4, stride=2, add_special_tokens=False, return_overflowing_tokens=True)
    assert [tokens(enc, i) for i in range(len(enc.input_ids))] == [list("abcd"), list("cdef"), list("efg")]
    assert enc.overflow_to_sample_mapping == [0, 0, 0]
    assert enc.word_ids(1) == [2, 3, 4, 5]
    # windows one token apart (transformers refuses this one: it counts [CLS] and [SEP] that are not added)
    enc = tiny("a b c d e f g", max_length=4, stride=3, add_special_tokens=False, return_overflowing_tokens=True)
    assert [tokens(enc, i) for i in range(len(enc.input_ids))] == [list("abcd"), list("bcde"), list("cdef"),
                                                                     list("defg")]
    with pytest.raises(TokenizerError, match=r"stride=4 must be smaller than max_length=4 \(no special tokens"):
        tiny("a b c d e f g", max_length=4, stride=4, add_special_tokens=False)
    # with special tokens the two count, as before
    with pytest.raises(TokenizerError, match="stride=2 must be smaller than max_length=4 minus the 2 special"):
        tiny("a b c d e f g", max_length=4, stride=2)


def test_padding_and_truncation_sides(engine):
    tok = BertTokenizer(VOCAB, model_max_length=16, engine=engine, padding_side="left", truncation_side="left")
    enc = tok(["a b c", "a"], padding=True, return_offsets_mapping=True)
    assert enc.input_ids[1] == [PAD, PAD, CLS, tid("a"), SEP] and enc.attention_mask[1] == [0, 0, 1, 1, 1]
    assert enc.word_ids(1) == [None, None, None, 0, None] and enc.offset_mapping[1][3] == (0, 1)
    assert enc.word_to_tokens(1, 0) == TokenSpan(3, 4) and enc.char_to_token(1, 0) == 3
    # the call's padding_side wins over the tokenizer's
    assert tok(["a b c", "a"], padding=True, padding_side="right").input_ids[1] == [CLS, tid("a"), SEP, PAD, PAD]
    # truncation_side="left" keeps the end of the text; the overflow windows then run backwards
    enc = tok(" ".join("abcdefghij"), truncation=True, max_length=6, stride=2, return_overflowing_tokens=True)
    assert [tokens(enc, i)[1:-1] for i in range(4)] == [list("ghij"), list("efgh"), list("cdef"), list("abcd")]
    assert tokens(tok(" ".join("abcdefghij"), truncation=True, max_length=5)) == ["[CLS]", "h", "i", "j", "[SEP]"]
    with pytest.raises(TokenizerError, match="padding_side='middle' must be 'right' or 'left'"):
        tok("a", padding=True, padding_side="middle")
    with pytest.raises(TokenizerError, match="truncation_side='up'"):
        BertTokenizer(VOCAB, truncation_side="up")


def test_split_special_tokens(engine):
    tok = BertTokenizer(VOCAB, engine=engine)
    assert tokens(tok("a [MASK]")) == ["[CLS]", "a", "[MASK]", "[SEP]"]
    assert tokens(tok("a [MASK]", split_special_tokens=True)) == ["[CLS]", "a", "[UNK]", "[UNK]", "[UNK]", "[SEP]"]
    assert tok.tokenize("[SEP]", split_special_tokens=True) == ["[UNK]", "[UNK]", "[UNK]"]
    split = BertTokenizer(VOCAB, engine=engine, split_special_tokens=True)
    assert split.tokenize("[SEP] a") == ["[UNK]", "[UNK]", "[UNK]", "a"]
    assert split.tokenize("[SEP] a", split_special_tokens=False) == ["[SEP]", "a"]


def test_tokenizer_config_options_are_read_and_saved(tmp_path, engine):
    BertTokenizer(VOCAB).save_pretrained(tmp_path)
    config = json.loads((tmp_path / "tokenizer_config.json").read_text(encoding="utf-8"))
    del config["model_max_length"]
    config.update(padding_side="left", truncation_side="left", split_special_tokens=True, max_len=8,
                  model_input_names=["input_ids", "attention_mask"])
    (tmp_path / "tokenizer_config.json").write_text(json.dumps(config), encoding="utf-8")
    tok = BertTokenizer.from_pretrained(tmp_path, engine=engine)
    settings = ("left", "left", ["input_ids", "attention_mask"], True, 8)
    assert (tok.padding_side, tok.truncation_side, tok.model_input_names, tok.split_special_tokens,
            tok.model_max_length) == settings
    enc = tok(["a [MASK]", "b"], padding=True)
    assert list(enc) == ["input_ids", "attention_mask"]
    assert tokens(enc, 0) == ["[CLS]", "a", "[UNK]", "[UNK]", "[UNK]", "[SEP]"]
    assert enc.input_ids[1] == [PAD, PAD, PAD, CLS, tid("b"), SEP]
    assert tokens(tok(" ".join("abcdefghij"), truncation=True)) == ["[CLS]"] + list("efghij") + ["[SEP]"]
    # saved and read back
    tok.save_pretrained(tmp_path / "again")
    again = BertTokenizer.from_pretrained(tmp_path / "again", engine=engine)
    assert (again.padding_side, again.truncation_side, again.model_input_names, again.split_special_tokens,
            again.model_max_length) == settings
    transformers = pytest.importorskip("transformers")
    hf = transformers.BertTokenizer.from_pretrained(str(tmp_path / "again"))
    assert (hf.padding_side, hf.truncation_side, hf.model_input_names, hf.split_special_tokens) == settings[:4]
    assert dict(hf(["a [MASK]", "b"], padding=True)) == dict(enc)


def test_sides_from_tokenizer_json_and_bad_values(tmp_path):
    BertTokenizer(VOCAB).save_pretrained(tmp_path)
    rust = json.loads((tmp_path / "tokenizer.json").read_text(encoding="utf-8"))
    rust["padding"] = {"strategy": "BatchLongest", "direction": "Left", "pad_to_multiple_of": None, "pad_id": 0,
                       "pad_type_id": 0, "pad_token": "[PAD]"}
    rust["truncation"] = {"direction": "Left", "max_length": 4, "strategy": "LongestFirst", "stride": 0}
    (tmp_path / "tokenizer.json").write_text(json.dumps(rust), encoding="utf-8")
    config = json.loads((tmp_path / "tokenizer_config.json").read_text(encoding="utf-8"))
    del config["padding_side"], config["truncation_side"]  # the config, when it has them, wins
    (tmp_path / "tokenizer_config.json").write_text(json.dumps(config), encoding="utf-8")
    tok = BertTokenizer.from_pretrained(tmp_path)
    assert (tok.padding_side, tok.truncation_side) == ("left", "left")
    assert len(tok(" ".join("abcdefghij")).input_ids) == 12  # the rest of the sections is not a default
    transformers = pytest.importorskip("transformers")
    hf = transformers.BertTokenizer.from_pretrained(str(tmp_path))
    assert (hf.padding_side, hf.truncation_side) == ("left", "left")
    for key, value, message in [("padding_side", "middle", "padding_side is 'middle'; use \"right\" or \"left\""),
                                ("model_input_names", "input_ids", "model_input_names is 'input_ids', expected a"),
                                ("split_special_tokens", "yes", "split_special_tokens is 'yes', expected true")]:
        (tmp_path / "tokenizer_config.json").write_text(json.dumps({**config, key: value}), encoding="utf-8")
        with pytest.raises(TokenizerError, match=f"tokenizer_config.json: {message}"):
            BertTokenizer.from_pretrained(tmp_path)


# ---------------------------------------------------------------------------------------------------------
# BatchEncoding alignment helpers
# ---------------------------------------------------------------------------------------------------------

def test_alignment_helpers(tiny):
    enc = tiny(["hello unwanted world", "a"], ["b c", "d"], padding=True)
    # row 0: [CLS] hello un ##want ##ed world [SEP] b c [SEP]
    assert enc.token_to_chars(0, 3) == CharSpan(8, 12) and isinstance(enc.token_to_chars(0, 3), CharSpan)
    assert enc.token_to_chars(3) == (8, 12)  # one argument: row 0
    assert enc.token_to_chars(0, 0) is None and enc.token_to_chars(0, 6) is None  # [CLS], [SEP]
    assert enc.token_to_word(0, 4) == 1 and enc.token_to_word(0, 0) is None
    assert enc.token_to_sequence(0, 7) == 1 and enc.token_to_sequence(0, 6) is None
    assert enc.word_to_tokens(0, 1) == TokenSpan(2, 5) and isinstance(enc.word_to_tokens(0, 1), TokenSpan)
    assert enc.word_to_tokens(0, 1, sequence_index=1) == TokenSpan(8, 9)  # "c" of the text_pair
    assert enc.word_to_tokens(0, 3) is None
    assert enc.word_to_chars(0, 1) == CharSpan(6, 14) and enc.word_to_chars(0, 0, 1) == CharSpan(0, 1)
    assert enc.char_to_word(0, 10) == 1 and enc.char_to_word(0, 5) is None
    assert enc.char_to_token(0, 2, sequence_index=1) == 8 and enc.char_to_word(0, 2, sequence_index=1) == 1
    # row 1 is padded: [CLS] a [SEP] d [SEP] [PAD] ...; a negative token index counts from the end
    assert enc.token_to_chars(1, -1) is None and enc.token_to_word(0, -2) == 1
    assert enc.char_to_token(1, -1) is None and enc.word_to_tokens(1, -1) is None
    assert enc.n_sequences == 2 and enc.is_fast
    assert enc[1] is enc.encodings[1] and enc[0:1]["input_ids"] == [enc.input_ids[0]]
    # a single text: a sequence_index it does not have means the whole row, as in transformers
    one = tiny("hello world")
    assert one.n_sequences == 1 and one.word_to_tokens(0, sequence_index=1) == TokenSpan(1, 2)
    assert one.char_to_token(7, sequence_index=1) == 2


def test_alignment_helper_errors(tiny):
    enc = tiny(["a b", "c"])
    with pytest.raises(TokenizerIndexError, match="batch_index 5 is out of range: there are 2 rows") as info:
        enc.token_to_chars(5, 0)
    assert isinstance(info.value, IndexError)
    with pytest.raises(TokenizerTypeError, match="word_index must be an integer"):
        enc.word_to_tokens(0, "a")
    with pytest.raises(TokenizerError, match="carries no per-token information"):
        BatchEncoding({"input_ids": [[1]]}).token_to_chars(0)
    with pytest.raises(AttributeError, match="no key or method 'token_to_charz'"):
        enc.token_to_charz  # noqa: B018


def test_batch_encoding_pickles(tiny):
    enc = tiny(["a b", "c"], return_offsets_mapping=True)
    again = pickle.loads(pickle.dumps(enc))
    assert dict(again) == dict(enc) and again.word_ids(1) == [None, 0, None]
    assert again.token_to_chars(0, 2) == CharSpan(2, 3) and again.n_sequences == 1


# ---------------------------------------------------------------------------------------------------------
# helper methods (tutorials, data collators, transformers' own tests)
# ---------------------------------------------------------------------------------------------------------

def test_special_token_helpers(tiny):
    a, b = [tid("a"), tid("b")], [tid("c")]
    assert tiny.build_inputs_with_special_tokens(a) == [CLS, *a, SEP]
    assert tiny.build_inputs_with_special_tokens(a, b) == [CLS, *a, SEP, *b, SEP] == tiny.encode("a b", "c")
    assert tiny.create_token_type_ids_from_sequences(a) == [0, 0, 0, 0]
    assert tiny.create_token_type_ids_from_sequences(a, b) == [0, 0, 0, 0, 1, 1] == tiny("a b", "c").token_type_ids
    assert tiny.get_special_tokens_mask(a, b) == [1, 0, 0, 1, 0, 1]
    assert tiny.get_special_tokens_mask([CLS, tid("a"), SEP, PAD, MASK], already_has_special_tokens=True) == \
        [1, 0, 1, 1, 1]
    with pytest.raises(TokenizerError, match="token_ids_1 must be None when already_has_special_tokens=True"):
        tiny.get_special_tokens_mask(a, b, already_has_special_tokens=True)
    assert tiny.convert_tokens_to_string(["hello", ",", "un", "##want", "##ed", "isn", "'", "t"]) == \
        "hello, unwanted isn ' t"  # (the cleanup joins " n't", not "n ' t", as transformers' decoder)
    assert tiny.convert_tokens_to_string(["##ed", "a"]) == "##ed a" and tiny.convert_tokens_to_string([]) == ""
    assert (tiny.max_len_single_sentence, tiny.max_len_sentences_pair, tiny.pad_token_type_id) == (14, 13, 0)


def test_special_token_helpers_match_transformers(minilm_dir):
    transformers = pytest.importorskip("transformers")
    from transformers.models.bert.tokenization_bert_legacy import BertTokenizerLegacy
    hf = transformers.BertTokenizer.from_pretrained(str(minilm_dir))
    legacy = BertTokenizerLegacy(str(minilm_dir / "vocab.txt"))  # transformers' Python BertTokenizer has them
    ours = BertTokenizer.from_pretrained(minilm_dir)
    texts = ["Hello, world! isn't it [MASK] ok? don't ñandú 東京 ##x", "a . b ? c ! d , e ' f 've", ""]
    for first in texts:
        for second in texts:
            a, b = hf.encode(first, add_special_tokens=False), hf.encode(second, add_special_tokens=False)
            expected = legacy.build_inputs_with_special_tokens(a, b)
            assert ours.build_inputs_with_special_tokens(a, b) == expected
            assert expected == hf.encode(first, second) or not second  # transformers drops an empty text_pair
            assert ours.build_inputs_with_special_tokens(a) == legacy.build_inputs_with_special_tokens(a)
            assert ours.create_token_type_ids_from_sequences(a, b) == \
                legacy.create_token_type_ids_from_sequences(a, b)
            assert ours.get_special_tokens_mask(a, b) == legacy.get_special_tokens_mask(a, b)
            with_specials = hf.encode(first, second)
            assert ours.get_special_tokens_mask(with_specials, already_has_special_tokens=True) == \
                hf.get_special_tokens_mask(with_specials, already_has_special_tokens=True)
        tokens_ = hf.tokenize(first)
        assert ours.convert_tokens_to_string(tokens_) == hf.convert_tokens_to_string(tokens_)
        assert ours.convert_tokens_to_string(["##a"] + tokens_) == hf.convert_tokens_to_string(["##a"] + tokens_)


# ---------------------------------------------------------------------------------------------------------
# errors keep the types users catch
# ---------------------------------------------------------------------------------------------------------

def test_error_types(tmp_path, tiny):
    for call in (lambda: BertTokenizer(tmp_path / "vocab.txt"),
                 lambda: BertTokenizer.from_pretrained(tmp_path / "nope"),
                 lambda: BertTokenizer.from_pretrained(tmp_path)):
        with pytest.raises(TokenizerError) as info:
            call()
        assert isinstance(info.value, ValueError) and isinstance(info.value, BertkitError)
        assert not isinstance(info.value, FileNotFoundError)
    with pytest.raises(TokenizerError, match="vocab.txt: vocabulary file not found"):
        BertTokenizer(tmp_path / "vocab.txt")
    with pytest.raises(TokenizerError, match="vocabulary file is empty"):
        (tmp_path / "empty.txt").write_text("", encoding="utf-8")
        BertTokenizer(tmp_path / "empty.txt")
    # wrong argument types are TypeErrors, as in transformers, and TokenizerErrors
    for call in (lambda: tiny(5), lambda: tiny(["a", None]), lambda: tiny.tokenize(["a"]),
                 lambda: BertTokenizer(VOCAB, do_lower_case="yes"), lambda: BertTokenizer(42)):
        with pytest.raises(TypeError) as info:
            call()
        assert isinstance(info.value, TokenizerError)
    for call in (lambda: tiny("a", padding="foo"), lambda: tiny("a", max_length=-1),
                 lambda: tiny("a", return_tensors="tf"), lambda: tiny.decode([CLS, -100]),
                 lambda: tiny(["a", "b"], ["c"]), lambda: tiny("a b c", truncation="only_second", max_length=3)):
        with pytest.raises(TokenizerError):
            call()


def test_write_failure_is_a_write_error(tmp_path, tiny):
    """A failed save is the one WriteError of every writer (a BertkitError and an OSError), naming the path."""
    from bertkit.errors import BertkitError, WriteError
    (tmp_path / "file").write_text("x", encoding="utf-8")
    with pytest.raises(WriteError, match="file/sub: cannot write \\(Not a directory\\); a part of the path is a file") as e:
        tiny.save_pretrained(tmp_path / "file" / "sub")
    assert isinstance(e.value, BertkitError) and isinstance(e.value, OSError)


def test_rust_panic_text_never_reaches_the_terminal(engine, capfd):
    tok = BertTokenizer(VOCAB, engine=engine)
    long_ = " ".join("abcdefgh")
    # longest_first cuts each side of item 1 to 3 tokens, which a stride of 3 fills
    with pytest.raises(TokenizerError, match="batch item 1: stride=3 must be smaller than the 3 tokens the text is"):
        tok(["a", long_], ["b", long_], truncation=True, max_length=9, stride=3, return_overflowing_tokens=True)
    # QA: item 1's question leaves 1 token of context per window, less than the stride
    with pytest.raises(TokenizerError, match="batch item 1: stride=2 must be smaller than the 1 tokens the "
                                             "text_pair is cut to"):
        tok(["a", "a b c d e"], ["b c d e f g", "f g h i j"], truncation="only_second", max_length=9, stride=2,
            return_overflowing_tokens=True)
    with pytest.raises(TokenizerError, match="batch item 0: truncation='only_second' cannot fit"):
        tok(["a b c d e f"], ["g"], truncation="only_second", max_length=6, stride=1)
    out, err = capfd.readouterr()
    assert "panic" not in err and "panic" not in out
    # and the engine still works afterwards, with the same settings
    enc = tok(["a", "a b"], ["b c d e f g", "f g h i j"], truncation="only_second", max_length=7, stride=1,
              return_overflowing_tokens=True)
    assert enc.overflow_to_sample_mapping == [0, 0, 0, 1, 1, 1, 1]
