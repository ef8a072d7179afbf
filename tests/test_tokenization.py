"""Tokenizer tests: the pure-Python reference piece by piece, both engines against each other, call
semantics (truncation, padding, overflow windows, tensors), decode, errors, saving and vocabulary training.

Most tests run on a tiny vocabulary built here, so the expected ids can be read off; tests that need the
real vocabulary or transformers use the MiniLM folder fetched by `make data`.
"""
from __future__ import annotations

import json
import random
import string

import pytest

from bertkit.errors import TokenizerError
from bertkit.tokenization import BasicTokenizer, BatchEncoding, BertTokenizer, Tokenizer, WordpieceTokenizer
from bertkit.vocab import train_vocab, vocab_main

SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
WORDS = ["want", "##want", "##ed", "wa", "un", "runn", "##ing", "hello", "world", "isn", "博", "推", "##s"]
TINY = SPECIALS + list(string.ascii_lowercase) + WORDS + list(",.!?'")
PAD, UNK, CLS, SEP, MASK = range(5)

# many tests look at untruncated long texts on purpose (test_long_sequences_warn_once checks the warning)
pytestmark = pytest.mark.filterwarnings("ignore:a sequence of .* tokens is longer than model_max_length")


def tid(token: str) -> int:
    return TINY.index(token)


@pytest.fixture(params=["fast", "python"])
def engine(request) -> str:
    return request.param


@pytest.fixture
def tiny(engine) -> BertTokenizer:
    return BertTokenizer({t: i for i, t in enumerate(TINY)}, model_max_length=16, engine=engine)


@pytest.fixture(scope="module")
def tiny_pair() -> dict[str, BertTokenizer]:
    vocab = {t: i for i, t in enumerate(TINY)}
    return {e: BertTokenizer(vocab, model_max_length=16, engine=e) for e in ("fast", "python")}


def tokens(enc: BatchEncoding, row: int | None = None) -> list[str]:
    ids = enc["input_ids"] if row is None else enc["input_ids"][row]
    return [TINY[i] for i in ids]


# ---------------------------------------------------------------------------------------------------------
# BasicTokenizer
# ---------------------------------------------------------------------------------------------------------

def test_chinese_characters_become_words():
    assert BasicTokenizer().tokenize("ah博推zz") == ["ah", "博", "推", "zz"]
    assert BasicTokenizer(tokenize_chinese_chars=False).tokenize("ah博推zz") == ["ah博推zz"]
    # Hiragana and Hangul are not ideographs: they keep their words (uncased, accent stripping also takes
    # the dakuten off "が", as in BERT)
    assert BasicTokenizer(do_lower_case=False).tokenize("ひらがな 한국어") == ["ひらがな", "한국어"]
    assert BasicTokenizer().tokenize("ひらがな") == ["ひらかな"]
    # the Rust library's range for CJK Extension E/F starts at U+2B920 (Google's at U+2B820)
    assert BasicTokenizer().tokenize("a\U0002B820b a\U0002B920b") == ["a\U0002B820b", "a", "\U0002B920", "b"]


def test_lowercasing_strips_accents_by_default():
    assert BasicTokenizer().tokenize(" \tHeLLo!how  \n Are yoU?  ") == ["hello", "!", "how", "are", "you", "?"]
    assert BasicTokenizer().tokenize("Héllo Ñandú Åland") == ["hello", "nandu", "aland"]
    assert BasicTokenizer(strip_accents=False).tokenize("HäLLo") == ["hällo"]
    assert BasicTokenizer(do_lower_case=False).tokenize("HäLLo") == ["HäLLo"]
    assert BasicTokenizer(do_lower_case=False, strip_accents=True).tokenize("HäLLo") == ["HaLLo"]
    # character by character, as the Rust engine does: no final-sigma rule
    assert BasicTokenizer().tokenize("ΟΔΟΣ") == ["οδοσ"]
    # strip, then lowercase (Google's original lowercases first): "İ" → "I" → "i"
    assert BasicTokenizer().tokenize("İstanbul") == ["istanbul"]


def test_control_characters_are_removed_and_whitespace_normalised():
    assert BasicTokenizer().tokenize("a\x00b\u200bc\x07d\ufffde\ufeff") == ["abcde"]
    assert BasicTokenizer().tokenize("a\tb\nc\rd\u3000e\xa0f\u2028g") == list("abcdefg")
    assert BasicTokenizer().normalize("a\x00\tb") == "a b"


def test_punctuation_is_split_off():
    # ASCII symbols count as punctuation too ($ ^ ` + < are symbols to Unicode)
    assert BasicTokenizer().tokenize("a$b^c`d+e<f") == list("a$b^c`d+e<f")
    assert BasicTokenizer().tokenize("¿qué?—sí…") == ["¿", "que", "?", "—", "si", "…"]
    # Unicode 8.0 classes, as in the Rust engine: U+166D was punctuation then; U+2E43 came later
    assert BasicTokenizer().tokenize("a\u166db a\u2e43b") == ["a", "\u166d", "b", "a\u2e43b"]


def test_offsets_point_into_the_original_text():
    text = "  Héllo,  ab\u200bcd 中文"
    words = BasicTokenizer().split(text)
    assert [(w.text, w.start, w.end) for w in words] == [
        ("hello", 2, 7), (",", 7, 8), ("abcd", 10, 15), ("中", 16, 17), ("文", 17, 18)]
    # NFD makes "é" two characters and stripping makes it one again; "ǅ" lowercases to one character
    assert [list(w.origin) for w in BasicTokenizer().split("ǅé")] == [[0, 1]]


# ---------------------------------------------------------------------------------------------------------
# WordpieceTokenizer
# ---------------------------------------------------------------------------------------------------------

def test_wordpiece_greedy_longest_match_first():
    wp = WordpieceTokenizer({t: i for i, t in enumerate(TINY)})
    assert wp.tokenize("unwanted running") == ["un", "##want", "##ed", "runn", "##ing"]
    # "wa" is in the vocabulary but "want" is longer and matches first
    assert wp.tokenize("want") == ["want"]
    # a remainder that matches nothing makes the whole word unknown, not just the remainder
    assert wp.tokenize("unwantedx running") == ["[UNK]", "runn", "##ing"]
    assert wp.split_word("unwanted") == [("un", 0, 2), ("##want", 2, 6), ("##ed", 6, 8)]
    assert wp.tokenize("") == []


def test_words_over_100_characters_are_unknown():
    wp = WordpieceTokenizer({"[UNK]": 0, "a": 1, "##a": 2})
    assert wp.tokenize("a" * 100) == ["a"] + ["##a"] * 99
    assert wp.tokenize("a" * 101) == ["[UNK]"]
    assert wp.split_word("a" * 150) == [("[UNK]", 0, 150)]


# ---------------------------------------------------------------------------------------------------------
# the two engines agree
# ---------------------------------------------------------------------------------------------------------

TRICKY = ["Hello [MASK] world[SEP]x [mask]", "İstanbul ǅ ﬁ ẞ Σ ΟΔΟΣ", "ab\u200bcd e\u0315\u0300x", "", " \x00 ",
          "迈向充满希望的新世纪——一九九八年（附图片１张）", "naïve café Ａ１ 🥲 " + "x" * 150, "[[MASK]] [MASK",
          "\ufeff\u00ad\u2028 x\u0301y \u0301a", "ＡＢＣ１２３ full width", "tab\there\r\nnew line"]


def test_engines_agree_on_tricky_text(minilm_dir):
    fast = BertTokenizer.from_pretrained(minilm_dir)
    slow = BertTokenizer.from_pretrained(minilm_dir, engine="python")
    kwargs = dict(return_offsets_mapping=True, return_special_tokens_mask=True)
    for first, second in [(TRICKY, None), (TRICKY, TRICKY[::-1])]:
        a, b = fast(first, second, **kwargs), slow(first, second, **kwargs)
        assert dict(a) == dict(b)
        for row in range(len(TRICKY)):
            assert a.word_ids(row) == b.word_ids(row) and a.sequence_ids(row) == b.sequence_ids(row)
            assert a.tokens(row) == b.tokens(row)


@pytest.mark.parametrize("settings", [{}, {"do_lower_case": False, "tokenize_chinese_chars": False}])
def test_reference_matches_rust_on_every_code_point(settings):
    """Normalise and split "a<c>b" for (nearly) every code point c with the reference and with the Rust
    normaliser + pre-tokenizer: same words, same offsets. This is what checks the Unicode tables (uncased:
    controls, whitespace, CJK, accents, lowercasing, punctuation; cased: the same without accents/case)."""
    from tokenizers import normalizers, pre_tokenizers

    lower = settings.get("do_lower_case", True)
    basic = BasicTokenizer(lower, settings.get("tokenize_chinese_chars", True), settings.get("strip_accents"))
    norm = normalizers.BertNormalizer(clean_text=True, lowercase=lower,
                                      handle_chinese_chars=settings.get("tokenize_chinese_chars", True),
                                      strip_accents=settings.get("strip_accents"))
    pre = pre_tokenizers.BertPreTokenizer()
    # planes 0, 1 and 14 whole; the CJK planes 2-3 and private-use planes 15-16 sampled (with range edges)
    cps = [*range(0x20000), *range(0xE0000, 0xE1000), *range(0x20000, 0x40000, 7),
           *range(0xF0000, 0x110000, 251), *(e + d for e in (0x2A6DF, 0x2A700, 0x2B81F, 0x2B920, 0x2CEAF,
                                                              0x2F800, 0x2FA1F) for d in (-1, 0, 1))]
    cps = [cp for cp in cps if not 0xD800 <= cp <= 0xDFFF]
    for i in range(0, len(cps), 4096):
        chunk = cps[i:i + 4096]
        text = "\n".join(f"a{chr(cp)}b" for cp in chunk)
        normalized = norm.normalize_str(text)
        where = f"U+{chunk[0]:04X}..U+{chunk[-1]:04X}"
        assert basic.normalize(text) == normalized, f"normalisation differs in {where}"
        # words with their spans in the normalised text (offsets into the original are compared by the
        # engine tests, which go through the whole Rust pipeline)
        origin, words = basic.split_spans(text)
        assert [(w, (s, e)) for w, s, e in words] == pre.pre_tokenize_str(normalized), f"splits differ in {where}"
        assert len(origin) == len(normalized)


def test_engines_agree_on_random_strings(tiny_pair):
    rng = random.Random(7)
    alphabet = TINY[5:31] + list(" ,.!?'\t\n\x00\u200bÉéüñ博推") + ["[MASK]", "[SEP]", "want", "##"]
    texts = ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 40))) for _ in range(200)]
    for kwargs in [dict(), dict(truncation=True, max_length=9, stride=2, return_overflowing_tokens=True),
                   dict(padding=True, pad_to_multiple_of=4), dict(truncation="only_first", max_length=60)]:
        pairs = [t[:10] for t in texts] if kwargs.get("truncation") == "only_first" else texts[::-1]
        a = tiny_pair["fast"](texts, pairs, return_offsets_mapping=True, **kwargs)
        b = tiny_pair["python"](texts, pairs, return_offsets_mapping=True, **kwargs)
        assert dict(a) == dict(b), kwargs
        assert [a.word_ids(i) for i in range(len(a.encodings))] == [b.word_ids(i) for i in range(len(b.encodings))]


# ---------------------------------------------------------------------------------------------------------
# call semantics
# ---------------------------------------------------------------------------------------------------------

def test_single_and_pair_layout(tiny):
    enc = tiny("hello world", "a b", return_offsets_mapping=True, return_special_tokens_mask=True)
    assert tokens(enc) == ["[CLS]", "hello", "world", "[SEP]", "a", "b", "[SEP]"]
    assert enc.token_type_ids == [0, 0, 0, 0, 1, 1, 1]
    assert enc.attention_mask == [1] * 7
    assert enc.special_tokens_mask == [1, 0, 0, 1, 0, 0, 1]
    assert enc.offset_mapping == [(0, 0), (0, 5), (6, 11), (0, 0), (0, 1), (2, 3), (0, 0)]
    assert enc.word_ids() == [None, 0, 1, None, 0, 1, None]
    assert enc.sequence_ids() == [None, 0, 0, None, 1, 1, None]
    assert enc.char_to_token(7) == 2 and enc.char_to_token(2, sequence_index=1) == 5
    assert tiny.tokenize("unwanted, hello") == ["un", "##want", "##ed", ",", "hello"]
    assert tiny.encode("a", "b") == [CLS, tid("a"), SEP, tid("b"), SEP]
    assert tiny("a", add_special_tokens=False).input_ids == [tid("a")]
    # special tokens written in the text are kept whole (case-sensitively), and count as words
    enc = tiny("a [MASK]b [mask]")
    assert tokens(enc) == ["[CLS]", "a", "[MASK]", "b", "[UNK]", "[UNK]", "[UNK]", "[SEP]"]
    assert enc.word_ids() == [None, 0, 1, 2, 3, 4, 5, None]
    assert Tokenizer is BertTokenizer


def test_batches_are_lists_and_single_texts_are_not(tiny):
    enc = tiny(["a b", "c"])
    assert enc.input_ids == [[CLS, tid("a"), tid("b"), SEP], [CLS, tid("c"), SEP]]
    assert enc.word_ids(1) == [None, 0, None]
    assert tiny(("a", "b")).input_ids == [[CLS, tid("a"), SEP], [CLS, tid("b"), SEP]]
    assert tiny([]).input_ids == []
    # as in transformers, an empty text_pair "" means no pair for a single text (but not in a batch)
    assert tiny("a", "").input_ids == [CLS, tid("a"), SEP]
    assert tiny(["a"], [""]).input_ids == [[CLS, tid("a"), SEP, SEP]]


def test_long_sequences_warn_once(tiny):
    with pytest.warns(UserWarning, match="a sequence of 22 tokens is longer than model_max_length=16"):
        tiny(" ".join("abcdefghijklmnopqrst"))
    assert tiny._warned_long


def test_truncation_semantics(tiny):
    text = " ".join("abcdefghijklmnopqrst")  # 20 words, 20 tokens
    # truncation=True means longest_first; without max_length it cuts to model_max_length (16 here)
    assert len(tiny(text, truncation=True).input_ids) == 16
    assert len(tiny(text, truncation="longest_first", max_length=6).input_ids) == 6
    # max_length on its own turns truncation on, as in transformers
    assert tokens(tiny(text, max_length=5)) == ["[CLS]", "a", "b", "c", "[SEP]"]
    # but not when padding is asked for: then max_length is ignored for padding=True
    assert len(tiny(text, max_length=5, padding=True).input_ids) == 22
    assert len(tiny(text).input_ids) == 22
    # longest_first on a pair: the longer side is cut first; when both must be cut, they share the space
    short, long_ = "a b", " ".join("cdefghij")
    assert tokens(tiny(short, long_, truncation=True, max_length=9)) == \
        ["[CLS]", "a", "b", "[SEP]", "c", "d", "e", "f", "[SEP]"]
    assert tokens(tiny(long_, long_, truncation=True, max_length=10)) == \
        ["[CLS]", "c", "d", "e", "[SEP]", "c", "d", "e", "f", "[SEP]"]
    assert tokens(tiny(long_, short, truncation="only_first", max_length=8)) == \
        ["[CLS]", "c", "d", "e", "[SEP]", "a", "b", "[SEP]"]
    assert tokens(tiny(short, long_, truncation="only_second", max_length=8)) == \
        ["[CLS]", "a", "b", "[SEP]", "c", "d", "e", "[SEP]"]
    # exactly the special tokens: nothing of the text is left
    assert tokens(tiny(text, truncation=True, max_length=2)) == ["[CLS]", "[SEP]"]
    assert tokens(tiny(text, text, truncation=True, max_length=3)) == ["[CLS]", "[SEP]", "[SEP]"]


def test_padding_semantics(tiny):
    enc = tiny(["a b c", "a"], padding=True, return_offsets_mapping=True, return_special_tokens_mask=True)
    assert enc.input_ids[1] == [CLS, tid("a"), SEP, PAD, PAD]
    assert enc.attention_mask[1] == [1, 1, 1, 0, 0]
    assert enc.token_type_ids[1] == [0] * 5
    assert enc.special_tokens_mask[1] == [1, 0, 1, 1, 1]
    assert enc.offset_mapping[1][-2:] == [(0, 0), (0, 0)]
    assert enc.word_ids(1) == [None, 0, None, None, None] and enc.sequence_ids(1)[-1] is None
    assert [len(r) for r in tiny(["a b c", "a"], padding="longest").input_ids] == [5, 5]
    assert [len(r) for r in tiny(["a b c", "a"], padding="max_length").input_ids] == [16, 16]  # model_max_length
    assert [len(r) for r in tiny(["a b c", "a"], padding="max_length", max_length=4).input_ids] == [5, 4]
    assert [len(r) for r in tiny(["a b c", "a"], padding=True, pad_to_multiple_of=8).input_ids] == [8, 8]
    assert len(tiny("a", pad_to_multiple_of=8).input_ids) == 3  # no padding asked: no padding
    for off in (False, "do_not_pad"):
        assert [len(r) for r in tiny(["a b c", "a"], padding=off).input_ids] == [5, 3]


def test_overflow_windows_with_stride(tiny):
    text = " ".join("abcdefghij")
    enc = tiny(text, truncation=True, max_length=6, stride=2, return_overflowing_tokens=True,
               return_offsets_mapping=True)
    assert [tokens(enc, i)[1:-1] for i in range(4)] == [list("abcd"), list("cdef"), list("efgh"), list("ghij")]
    assert enc.overflow_to_sample_mapping == [0, 0, 0, 0]
    assert enc.offset_mapping[1][1] == (4, 5)  # offsets stay offsets into the original text
    assert enc.word_ids(1)[1:-1] == [2, 3, 4, 5]
    # without return_overflowing_tokens the windows are dropped
    assert tokens(tiny(text, truncation=True, max_length=6, stride=2)) == ["[CLS]", "a", "b", "c", "d", "[SEP]"]
    # QA: the question stays whole, the context is windowed, each window tagged with its question
    enc = tiny(["a b", "c"], [text, "d e"], truncation="only_second", max_length=9, stride=1,
               return_overflowing_tokens=True, padding=True)
    assert enc.overflow_to_sample_mapping == [0, 0, 0, 1]
    assert [tokens(enc, i) for i in range(3)] == [
        ["[CLS]", "a", "b", "[SEP]", "a", "b", "c", "d", "[SEP]"],
        ["[CLS]", "a", "b", "[SEP]", "d", "e", "f", "g", "[SEP]"],
        ["[CLS]", "a", "b", "[SEP]", "g", "h", "i", "j", "[SEP]"]]
    assert enc.sequence_ids(1) == [None, 0, 0, None, 1, 1, 1, 1, None]
    assert enc.input_ids[3] == [CLS, tid("c"), SEP, tid("d"), tid("e"), SEP, PAD, PAD, PAD]
    # a single text with overflow windows asked for keeps its batch dimension
    assert tiny("a", return_overflowing_tokens=True).input_ids == [[CLS, tid("a"), SEP]]


def test_tensors(tiny):
    torch = pytest.importorskip("torch")
    enc = tiny(["a b", "c"], padding=True, return_tensors="pt", return_offsets_mapping=True)
    assert enc.input_ids.shape == (2, 4) and enc.input_ids.dtype == torch.long
    assert enc["offset_mapping"].shape == (2, 4, 2)
    assert enc.to("cpu") is enc and enc.attention_mask.device.type == "cpu"
    single = tiny("a b", return_tensors="np")
    assert single["input_ids"].shape == (1, 4) and str(single["input_ids"].dtype) == "int64"
    assert tiny.encode("a b", return_tensors="pt").tolist() == [[CLS, tid("a"), tid("b"), SEP]]


def test_decode(tiny):
    ids = tiny("hello, world! isn't a unwanted?").input_ids
    assert tiny.decode(ids) == "[CLS] hello, world! isn ' t a unwanted? [SEP]"
    assert tiny.decode(ids, skip_special_tokens=True) == "hello, world! isn ' t a unwanted?"
    assert tiny.decode(ids, skip_special_tokens=True, clean_up_tokenization_spaces=True) == \
        "hello, world! isn't a unwanted?"
    assert tiny.decode([tid("##ed"), tid("a")]) == "##ed a"  # a leading "##" piece is left as is
    assert tiny.decode([[CLS, tid("a")], [tid("b")]]) == ["[CLS] a", "b"]
    assert tiny.decode(CLS) == "[CLS]" and tiny.decode([]) == ""
    assert tiny.decode([tid("a"), 10_000, tid("b")]) == "a b"  # unknown ids are dropped
    assert tiny.convert_ids_to_tokens([CLS, 10_000]) == ["[CLS]"] and tiny.convert_ids_to_tokens(10_000) is None
    assert tiny.convert_tokens_to_ids(["a", "nope"]) == [tid("a"), UNK] and tiny.convert_tokens_to_ids("b") == tid("b")
    assert (tiny.pad_token_id, tiny.unk_token_id, tiny.cls_token_id, tiny.sep_token_id, tiny.mask_token_id) == \
        (PAD, UNK, CLS, SEP, MASK)
    assert (tiny.pad_token, tiny.mask_token) == ("[PAD]", "[MASK]")
    assert len(tiny) == tiny.vocab_size == len(TINY) and tiny.get_vocab()["a"] == tid("a")
    assert sorted(tiny.all_special_ids) == [0, 1, 2, 3, 4]


def test_decode_matches_transformers(minilm_dir):
    transformers = pytest.importorskip("transformers")
    hf = transformers.BertTokenizer.from_pretrained(str(minilm_dir))
    ours = BertTokenizer.from_pretrained(minilm_dir)
    texts = ["Hello, world! isn't it [MASK] ok? don't do not 're 's  ñandú ☃ 𝔘", "a . b ? c ! d , e ' f 've"]
    for ids in ours(texts).input_ids:
        for skip in (False, True):
            for clean in (None, False, True):
                assert ours.decode(ids, skip, clean) == hf.decode(ids, skip_special_tokens=skip,
                                                                  clean_up_tokenization_spaces=clean)


# ---------------------------------------------------------------------------------------------------------
# errors say what and where
# ---------------------------------------------------------------------------------------------------------

def test_input_errors(tiny):
    with pytest.raises(TypeError, match="text is None"):
        tiny(None)
    with pytest.raises(TypeError, match=r"text\[1\] is None"):
        tiny(["a", None])
    with pytest.raises(TypeError, match=r"text\[0\] is a int"):
        tiny([5])
    with pytest.raises(TypeError, match="not int"):
        tiny(5)
    with pytest.raises(TypeError, match=r"text_pair\[1\] is None"):
        tiny(["a", "b"], ["c", None])
    with pytest.raises(ValueError, match="2 items but text_pair has 1"):
        tiny(["a", "b"], ["c"])
    with pytest.raises(TypeError, match="text_pair must be a list"):
        tiny(["a"], "b")
    with pytest.raises(TypeError, match="pass pairs as"):
        tiny([("a", "b")])


def test_strategy_errors(tiny):
    with pytest.raises(ValueError, match="padding='foo' is not a padding strategy"):
        tiny("a", padding="foo")
    with pytest.raises(ValueError, match="truncation='bar' is not a truncation strategy"):
        tiny("a", truncation="bar")
    with pytest.raises(ValueError, match="return_tensors='tf'"):
        tiny("a", return_tensors="tf")
    with pytest.raises(ValueError, match="max_length=-1"):
        tiny("a", max_length=-1)
    with pytest.raises(ValueError, match="pad_to_multiple_of=0"):
        tiny("a", padding=True, pad_to_multiple_of=0)
    with pytest.raises(ValueError, match="max_length=6 is not a multiple of pad_to_multiple_of=4"):
        tiny("a", padding=True, truncation=True, max_length=6, pad_to_multiple_of=4)
    with pytest.raises(ValueError, match="needs rows of one length.*input_ids.*padding=True"):
        tiny(["a b", "c"], return_tensors="np")


def test_max_length_too_small_for_special_tokens(tiny):
    with pytest.raises(ValueError, match=r"max_length=1 is smaller than the 2 special tokens of \[CLS\] A \[SEP\]"):
        tiny("a b", truncation=True, max_length=1)
    with pytest.raises(ValueError, match="max_length=2 is smaller than the 3 special tokens"):
        tiny("a", "b", truncation=True, max_length=2)
    assert tiny("a b", truncation=True, max_length=1, add_special_tokens=False).input_ids == [tid("a")]


def test_truncation_errors_name_the_item(tiny):
    with pytest.raises(ValueError, match="batch item 1: truncation='only_first' cannot fit max_length=6"):
        tiny(["a", "a"], ["b", "b c d e f g"], truncation="only_first", max_length=6)
    with pytest.raises(ValueError, match="batch item 0: truncation='only_second' cuts the text_pair, but this item "
                                         "has no text_pair"):
        tiny("a b c d e f g", truncation="only_second", max_length=6)
    with pytest.raises(ValueError, match="batch item 0: truncation='only_second' cannot fit"):
        tiny("a b c d e f", "g", truncation="only_second", max_length=6)
    with pytest.raises(ValueError, match="stride=4 must be smaller than max_length=6 minus the 2 special tokens"):
        tiny("a b c d e f g", truncation=True, max_length=6, stride=4)
    # the pair fits the stride check, but longest_first cuts each side to 3, which the stride of 3 fills
    with pytest.raises(ValueError, match="batch item 0: stride=3 must be smaller than the 3 tokens the text is cut"):
        tiny(" ".join("abcdefgh"), " ".join("abcdefgh"), truncation=True, max_length=9, stride=3,
             return_overflowing_tokens=True)
    assert tiny("a b").input_ids == [CLS, tid("a"), tid("b"), SEP]  # (the Rust engine recovers from its panic)


def test_loading_errors(tmp_path):
    with pytest.raises(TokenizerError, match="no such folder"):
        BertTokenizer.from_pretrained(tmp_path / "nope")
    with pytest.raises(TokenizerError, match=f"{tmp_path}: no vocab.txt"):
        BertTokenizer.from_pretrained(tmp_path)
    (tmp_path / "vocab.txt").write_text("[PAD]\n[UNK]\n[CLS]\nhello\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"vocab.txt: the special tokens \['\[SEP\]', '\[MASK\]'\] are not in"):
        BertTokenizer.from_pretrained(tmp_path)
    (tmp_path / "vocab.txt").write_text("\n".join(SPECIALS + ["a", "b", "a"]) + "\n", encoding="utf-8")
    with pytest.raises(ValueError, match="vocab.txt, line 8: token 'a' already appears on line 6"):
        BertTokenizer.from_pretrained(tmp_path)
    (tmp_path / "vocab.txt").write_text("\n".join(SPECIALS + ["a"]) + "\n", encoding="utf-8")
    (tmp_path / "tokenizer_config.json").write_text('{\n  "do_lower_case": true,\n  oops\n}', encoding="utf-8")
    with pytest.raises(ValueError, match="tokenizer_config.json, line 3: invalid JSON"):
        BertTokenizer.from_pretrained(tmp_path)
    (tmp_path / "tokenizer_config.json").write_text('{"do_lower_case": "yes"}', encoding="utf-8")
    with pytest.raises(ValueError, match="tokenizer_config.json: do_lower_case is 'yes', expected bool"):
        BertTokenizer.from_pretrained(tmp_path)
    (tmp_path / "tokenizer_config.json").write_text('{"model_max_length": 0}', encoding="utf-8")
    with pytest.raises(ValueError, match="tokenizer_config.json: model_max_length is 0"):
        BertTokenizer.from_pretrained(tmp_path)
    (tmp_path / "vocab.txt").unlink()
    (tmp_path / "tokenizer_config.json").unlink()
    (tmp_path / "tokenizer.json").write_text(json.dumps({"model": {"type": "WordPiece", "vocab": {"[PAD]": 0}}}))
    with pytest.raises(ValueError, match=r"tokenizer.json: the special tokens \['\[UNK\]'"):
        BertTokenizer.from_pretrained(tmp_path)
    with pytest.raises(ValueError, match="is a folder; use BertTokenizer.from_pretrained"):
        BertTokenizer(tmp_path)
    with pytest.raises(ValueError, match="engine='rust'"):
        BertTokenizer({t: i for i, t in enumerate(TINY)}, engine="rust")
    with pytest.raises(ValueError, match="ids must be 0..5"):
        BertTokenizer({t: i * 2 for i, t in enumerate(SPECIALS + ["a"])})


def test_decode_rejects_negative_ids(tiny):
    with pytest.raises(ValueError, match="token id -100 at position 1 is negative"):
        tiny.decode([CLS, -100])


# ---------------------------------------------------------------------------------------------------------
# saving and loading: bertkit ↔ transformers
# ---------------------------------------------------------------------------------------------------------

def test_save_pretrained_round_trip(tmp_path, minilm_dir):
    transformers = pytest.importorskip("transformers")
    ours = BertTokenizer.from_pretrained(minilm_dir)
    written = ours.save_pretrained(tmp_path / "tok")
    names = sorted(p.rsplit("/", 1)[-1] for p in written)
    assert names == ["special_tokens_map.json", "tokenizer.json", "tokenizer_config.json", "vocab.txt"]
    assert sorted(p.name for p in (tmp_path / "tok").iterdir()) == names  # no temporary files left behind
    config = json.loads((tmp_path / "tok" / "tokenizer_config.json").read_text())
    assert config["tokenizer_class"] == "BertTokenizer" and config["do_lower_case"] is True
    assert (tmp_path / "tok" / "vocab.txt").read_text(encoding="utf-8") == \
        (minilm_dir / "vocab.txt").read_text(encoding="utf-8")

    texts = TRICKY + ["The quick brown fox.", "Zürich 東京 [SEP] [UNK]"]
    kwargs = dict(return_offsets_mapping=True, truncation=True, max_length=24, padding=True)
    expected = dict(ours(texts, texts[::-1], **kwargs))
    for loaded in (transformers.AutoTokenizer.from_pretrained(str(tmp_path / "tok")),
                   transformers.BertTokenizer.from_pretrained(str(tmp_path / "tok")),
                   BertTokenizer.from_pretrained(tmp_path / "tok"),
                   BertTokenizer.from_pretrained(tmp_path / "tok", engine="python")):
        assert dict(loaded(texts, texts[::-1], **kwargs)) == expected, type(loaded)
        assert loaded.model_max_length == 512


def test_loads_a_folder_saved_by_transformers(tmp_path, minilm_dir):
    """transformers 5 writes tokenizer.json and tokenizer_config.json only (no vocab.txt)."""
    transformers = pytest.importorskip("transformers")
    hf = transformers.BertTokenizer.from_pretrained(str(minilm_dir), do_lower_case=False)
    hf.save_pretrained(str(tmp_path))
    assert not (tmp_path / "vocab.txt").exists()
    ours = BertTokenizer.from_pretrained(tmp_path)
    assert ours.do_lower_case is False and ours.model_max_length == 512
    assert dict(ours(TRICKY, return_offsets_mapping=True)) == dict(hf(TRICKY, return_offsets_mapping=True))


def test_saved_settings_survive(tmp_path, engine):
    tok = BertTokenizer({t: i for i, t in enumerate(TINY)}, do_lower_case=False, strip_accents=True,
                        tokenize_chinese_chars=False, model_max_length=None, engine=engine)
    tok.save_pretrained(tmp_path)
    again = BertTokenizer.from_pretrained(tmp_path, engine=engine)
    assert (again.do_lower_case, again.strip_accents, again.tokenize_chinese_chars, again.model_max_length) == \
        (False, True, False, None)
    # no model_max_length: truncation=True without max_length does not cut (as in transformers)
    assert len(again(" ".join("abcdefghijklmnopqrst"), truncation=True).input_ids) == 22


# ---------------------------------------------------------------------------------------------------------
# vocabulary training
# ---------------------------------------------------------------------------------------------------------

def test_train_vocab_folder_loads_in_transformers(tmp_path, wiki_txt):
    transformers = pytest.importorskip("transformers")
    lines = [line for line in wiki_txt.read_text(encoding="utf-8").split("\n") if line.strip()]
    train, held_out = lines[:1500], lines[1500:1800]
    (tmp_path / "a.txt").write_text("\n".join(train[:700]), encoding="utf-8")
    (tmp_path / "b.txt").write_text("\n".join(train[700:]), encoding="utf-8")
    tok = train_vocab([tmp_path / "a.txt", tmp_path / "b.txt"], vocab_size=3000, show_progress=False)
    assert tok.ids_to_tokens[:5] == SPECIALS and 2500 < len(tok) <= 3000
    assert any(t.startswith("##") for t in tok.vocab)
    out = vocab_main([tmp_path / "a.txt", tmp_path / "b.txt"], tmp_path / "vocab", vocab_size=3000,
                     show_progress=False)
    # (two trainings can differ slightly: the tokenizers trainer breaks ties in hash order, see vocab.py)
    assert (out / "vocab.txt").read_text(encoding="utf-8").split("\n")[:5] == SPECIALS
    hf = transformers.BertTokenizer.from_pretrained(str(out))
    ours = BertTokenizer.from_pretrained(out, engine="python")
    assert ours.vocab == hf.get_vocab()
    kwargs = dict(return_offsets_mapping=True)
    assert dict(ours(held_out, **kwargs)) == dict(hf(held_out, **kwargs))
    unk_rate = sum(i == tok.unk_token_id for row in ours(held_out).input_ids for i in row) / sum(
        len(row) for row in ours(held_out).input_ids)
    assert unk_rate < 0.01


def test_train_vocab_errors(tmp_path):
    with pytest.raises(TokenizerError, match="missing.txt: no such training file"):
        train_vocab([tmp_path / "missing.txt"], show_progress=False)
    with pytest.raises(ValueError, match="is a folder"):
        train_vocab([tmp_path], show_progress=False)
    (tmp_path / "empty.txt").write_text("\n \n", encoding="utf-8")
    with pytest.raises(ValueError, match="no text to learn from"):
        train_vocab([tmp_path / "empty.txt"], show_progress=False)
    (tmp_path / "t.txt").write_text("hello world\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"lack \['\[MASK\]'\]"):
        train_vocab([tmp_path / "t.txt"], special_tokens=SPECIALS[:4], show_progress=False)
    with pytest.raises(ValueError, match="vocab_size=3 must be"):
        train_vocab([tmp_path / "t.txt"], vocab_size=3, show_progress=False)
    # the CLI imports it from bertkit.tokenization
    from bertkit.tokenization import train_vocab as reexported
    assert reexported is train_vocab
