"""bertkit's SentencePiece tokenizer (AlbertTokenizer) against transformers' AlbertTokenizer on real text.

The folder is written by `bertkit vocab --algorithm unigram` (a unigram spiece.model trained on a slice of
the Wikipedia and Chinese text); the oracle is transformers' AutoTokenizer on that folder (its
AlbertTokenizer, Rust-backed in transformers 5, which takes the pieces from tokenizer.json and builds its
own normaliser, pre-tokenizer and decoder from tokenizer_config.json). The `sentencepiece` library is the
second oracle, for the pieces: each whitespace-separated word of the text, normalised by
SentencePieceProcessor.normalize, is cut as SentencePieceProcessor.encode cuts it.

The corpus is tests/parity/test_tokenizer_parity.py's 10,000 lines (Wikipedia chunks, Chinese, messy
variants with controls, emoji, long words and random code points), plus 500 lines with ALBERT's literal
special tokens ([MASK], [CLS], <pad>, ...) at random places. Compared row by row: input_ids, token_type_ids,
attention_mask, offset_mapping, special_tokens_mask, tokens, word_ids, sequence_ids and every BatchEncoding
alignment helper (word_to_tokens, token_to_chars, char_to_word, ...; on single texts, pairs, truncated
pairs and pre-split words); on single texts and pairs, and on a sample: truncation (longest_first,
only_first, only_second), padding (longest, max_length, multiple, left),
overflow windows with a stride (single texts and QA-style pairs), no special tokens, pre-split words,
decoding, and the cased settings (do_lower_case=False, keep_accents=True). The full 10,000 lines
(variants on 3,500) are marked slow; the default tier runs 300 of them and 100 with literal specials
(variants on 60, alignment helpers on the single texts).
"""
from __future__ import annotations

import random
import re

import pytest

transformers = pytest.importorskip("transformers")

from bertkit.cli import main  # noqa: E402
from bertkit.tokenization import AlbertTokenizer, AutoTokenizer  # noqa: E402
# the 10,000-line corpus of the WordPiece parity tests (a session fixture) and its alignment check
from test_tokenizer_parity import assert_same_alignment, corpus  # noqa: E402, F401

pytestmark = [pytest.mark.filterwarnings("ignore:a sequence of .* tokens is longer than model_max_length"),
              pytest.mark.filterwarnings("ignore:Token indices sequence length")]

FAST_LINES = 300
ROWS = ("tokens", "word_ids", "sequence_ids")
LITERALS = ["[MASK]", " [MASK]", "[MASK] ", "[CLS]", "[SEP]", "x[MASK]y", "<pad>", "<unk>", "[mask]", "<PAD>",
            "[[MASK]]"]
# Unicode's White_Space: what the Rust WhitespaceSplit pre-tokenizer splits on
_WHITE_SPACE = re.compile("[\t\n\x0b\x0c\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+")


@pytest.fixture(scope="module")
def unigram_dir(tmp_path_factory, wiki_txt, zh_txt):
    """An ALBERT folder written by `bertkit vocab --algorithm unigram` on 300 Wikipedia and 150 Chinese
    lines (2,000 pieces)."""
    folder = tmp_path_factory.mktemp("unigram")
    text = folder / "train.txt"
    wiki = [line for line in wiki_txt.read_text(encoding="utf-8").split("\n") if line.strip()]
    zh = [line for line in zh_txt.read_text(encoding="utf-8").split("\n") if line.strip()]
    text.write_text("\n".join(wiki[:300] + zh[:150]) + "\n", encoding="utf-8")
    main(["vocab", str(text), "--algorithm", "unigram", "--vocab-size", "2000", "--out", str(folder / "tok")])
    return folder / "tok"


@pytest.fixture(scope="module", params=["uncased", "cased"])
def pair(request, unigram_dir, tmp_path_factory):
    """(bertkit tokenizer, transformers tokenizer) on the folder: as trained (uncased), and saved again with
    do_lower_case=False, keep_accents=True (cased)."""
    folder = unigram_dir
    if request.param == "cased":
        folder = tmp_path_factory.mktemp("cased") / "tok"
        AlbertTokenizer.from_pretrained(unigram_dir, do_lower_case=False, keep_accents=True).save_pretrained(folder)
    tok, hf = AutoTokenizer.from_pretrained(folder), transformers.AutoTokenizer.from_pretrained(folder)
    assert type(hf).__name__ == "AlbertTokenizer" and hf.do_lower_case == tok.do_lower_case
    return tok, hf


@pytest.fixture(scope="module")
def lines(corpus):
    """The corpus, plus 500 lines with ALBERT's special tokens written in the text (seeded)."""
    rng = random.Random(15)
    extra = []
    for _ in range(500):
        words = rng.choice(corpus).split(" ")
        for _ in range(rng.randint(1, 3)):
            words.insert(rng.randint(0, len(words)), rng.choice(LITERALS))
        extra.append(" ".join(words))
    return corpus + extra


def _same(ours, theirs, what: str, aligned: bool = False) -> None:
    assert set(ours.keys()) == set(theirs.keys()), what
    for key in theirs.keys():
        mine, ref = ours[key], theirs[key]
        if mine != ref:
            row = next((i for i, (a, b) in enumerate(zip(mine, ref)) if a != b), None)
            raise AssertionError(f"{what}: {key} differs (first at row {row}): {mine[row] if row is not None else mine}"
                                 f" != {ref[row] if row is not None else ref}")
    for row in range(len(theirs["input_ids"])):
        for name in ROWS:
            assert getattr(ours, name)(row) == getattr(theirs, name)(row), f"{what}: {name}({row})"
    if aligned:
        assert_same_alignment(theirs, {"albert": ours}, what)


def _compare(tok, hf, texts, pairs=None, what="", aligned=False, **kwargs):
    kwargs.setdefault("return_offsets_mapping", True)
    kwargs.setdefault("return_special_tokens_mask", True)
    kwargs.setdefault("return_token_type_ids", True)
    ours, theirs = tok(texts, pairs, **kwargs), hf(texts, pairs, **kwargs)
    _same(ours, theirs, what or str(kwargs), aligned)
    return ours


def _singles_and_pairs(tok, hf, texts, aligned_pairs: bool = True):
    _compare(tok, hf, texts, what="singles", aligned=True)
    half = len(texts) // 2
    _compare(tok, hf, texts[:half], texts[half:2 * half][::-1], what="pairs", aligned=aligned_pairs)
    assert set(tok(texts[:2]).keys()) == set(hf(texts[:2]).keys()) == {"input_ids", "attention_mask"}


def _variants(tok, hf, texts, aligned: bool = True):
    """Truncation, padding, overflow, pre-split words and decoding, on `texts`."""
    half = len(texts) // 2
    a, b = texts[:half], texts[half:2 * half][::-1]
    _compare(tok, hf, a, b, truncation=True, max_length=48, padding=True, aligned=aligned)
    _compare(tok, hf, a, b, truncation="longest_first", max_length=40, padding="max_length")
    _compare(tok, hf, texts, truncation=True, max_length=32, padding=True, pad_to_multiple_of=8)
    _compare(tok, hf, texts, add_special_tokens=False)
    _compare(tok, hf, a, b, add_special_tokens=False)
    _compare(tok, hf, texts, truncation=True, max_length=24, stride=6, return_overflowing_tokens=True,
             padding=True)
    for side in ("left", "right"):
        tok.padding_side = hf.padding_side = side
        tok.truncation_side = hf.truncation_side = side
        try:
            _compare(tok, hf, texts, truncation=True, max_length=20, padding="max_length")
        finally:
            tok.padding_side = hf.padding_side = "right"
            tok.truncation_side = hf.truncation_side = "right"
    # only_first / only_second and QA-style windows where the strategy can fit: short questions (the first
    # words of a line) against whole lines
    lengths = [len(x) for x in tok(texts, add_special_tokens=False)["input_ids"]]
    questions = [" ".join(t.split(" ")[:6]) for t in texts]
    q_len = tok(questions, add_special_tokens=False)["input_ids"]
    keep = [i for i in range(len(texts)) if len(q_len[i]) <= 20 and lengths[i] > 0]
    qs, ctx = [questions[i] for i in keep], [texts[i] for i in keep]
    _compare(tok, hf, qs, ctx, truncation="only_second", max_length=40, padding=True)
    _compare(tok, hf, qs, ctx, truncation="only_second", max_length=48, stride=12,
             return_overflowing_tokens=True, padding=True)
    _compare(tok, hf, ctx, qs, truncation="only_first", max_length=40)
    # pre-split words (each word cut on its own, with its "▁")
    words = [t.split() for t in texts if t.split()]
    _compare(tok, hf, words, is_split_into_words=True, what="pre-split words", aligned=aligned)
    w_half = len(words) // 2
    _compare(tok, hf, words[:w_half], words[w_half:2 * w_half], is_split_into_words=True, truncation=True,
             max_length=40, padding=True, what="pre-split pairs")
    # decoding: the text back from ids, with and without the special tokens
    ids = tok(texts, texts[::-1])["input_ids"]
    for skip in (False, True):
        assert tok.batch_decode(ids, skip_special_tokens=skip) == hf.batch_decode(ids, skip_special_tokens=skip)


def _sentencepiece_agrees(tok, texts):
    """Each word's pieces are SentencePieceProcessor.encode's. Left out: text that spells a control piece
    (sentencepiece never emits one, the Rust Unigram model can, see test_tokenizer_spm.py), and the rare
    line where the Rust Precompiled normaliser, which works on grapheme clusters, gives other characters
    than sentencepiece's own (an ideographic space followed by a combining accent loses the accent)."""
    from tokenizers import normalizers
    sp = tok.sp_model.processor
    steps = [normalizers.Replace("``", '"'), normalizers.Replace("''", '"')]
    if not tok.keep_accents:
        steps += [normalizers.NFKD(), normalizers.StripAccents()]
    if tok.do_lower_case:
        steps.append(normalizers.Lowercase())
    before = normalizers.Sequence(steps)
    checked = other_normalisation = 0
    for text in texts:
        normalised = sp.normalize(before.normalize_str(text))
        expected = [i for word in _WHITE_SPACE.split(normalised) if word for i in sp.encode(word)]
        ours = tok(text, add_special_tokens=False, split_special_tokens=True)["input_ids"]
        if any(i in tok.sp_model.control for i in ours):
            continue
        if ours != expected:
            rust_words = [w for w in _WHITE_SPACE.split(tok._normalizer.normalize_str(text)) if w]
            sp_words = [w for w in _WHITE_SPACE.split(normalised.replace("▁", " ")) if w]
            assert rust_words != sp_words, f"{text!r}: {tok.convert_ids_to_tokens(ours)} != " \
                                           f"{[sp.id_to_piece(i) for i in expected]}"
            other_normalisation += 1
            continue
        checked += 1
    assert checked >= len(texts) * 0.9 and other_normalisation <= len(texts) * 0.001


def test_albert_specials_and_template_as_transformers(unigram_dir):
    tok, hf = AutoTokenizer.from_pretrained(unigram_dir), transformers.AutoTokenizer.from_pretrained(unigram_dir)
    assert isinstance(tok, AlbertTokenizer) and len(tok) == len(hf) == 2000
    for name in ("pad", "unk", "cls", "sep", "mask"):
        assert getattr(tok, f"{name}_token_id") == getattr(hf, f"{name}_token_id"), name
    assert [tok.pad_token_id, tok.unk_token_id, tok.cls_token_id, tok.sep_token_id, tok.mask_token_id] == \
        [0, 1, 2, 3, 4]
    enc = tok("Hello World, it's ``1990''", "A pair", return_offsets_mapping=True)
    assert enc.tokens()[0] == "[CLS]" and enc.tokens().count("[SEP]") == 2
    assert dict(enc) == dict(hf("Hello World, it's ``1990''", "A pair", return_offsets_mapping=True))
    assert tok.all_special_tokens == hf.all_special_tokens


def test_folder_transformers_saves_loads_the_same(unigram_dir, tmp_path, lines):
    """transformers saves a tokenizer it loaded from tokenizer.json without spiece.model: bertkit loads that
    folder (the model rebuilt from tokenizer.json) and tokenizes as transformers does."""
    transformers.AutoTokenizer.from_pretrained(unigram_dir).save_pretrained(tmp_path / "hf")
    assert not (tmp_path / "hf" / "spiece.model").exists()
    tok = AutoTokenizer.from_pretrained(tmp_path / "hf")
    hf = transformers.AutoTokenizer.from_pretrained(tmp_path / "hf")
    assert isinstance(tok, AlbertTokenizer)
    assert tok.sp_model.pieces == AutoTokenizer.from_pretrained(unigram_dir).sp_model.pieces
    _compare(tok, hf, lines[:100] + lines[-50:], what="transformers-saved folder")


def test_spm_matches_transformers_on_300_lines(pair, lines):
    """The default tier: alignment helpers on the single texts only, the variants on 60 lines."""
    tok, hf = pair
    _singles_and_pairs(tok, hf, lines[:FAST_LINES] + lines[-100:], aligned_pairs=False)  # + 100 with [MASK] & co.
    _variants(tok, hf, lines[:40] + lines[-20:], aligned=False)


def test_spm_pieces_agree_with_sentencepiece_on_300_lines(pair, lines):
    _sentencepiece_agrees(pair[0], lines[:FAST_LINES])


@pytest.mark.slow
def test_spm_matches_transformers_on_10000_lines(pair, lines):
    tok, hf = pair
    _singles_and_pairs(tok, hf, lines)
    _variants(tok, hf, lines[:3000] + lines[-500:])


@pytest.mark.slow
def test_spm_pieces_agree_with_sentencepiece_on_10000_lines(pair, corpus):
    _sentencepiece_agrees(pair[0], corpus)
