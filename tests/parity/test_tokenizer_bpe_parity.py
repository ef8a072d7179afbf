"""bertkit's byte-level BPE (RobertaTokenizer) against transformers' RobertaTokenizer on real text.

The oracle is transformers' RobertaTokenizer (the Rust-backed one of transformers 5) built from the same
vocab.json and merges.txt, with RoBERTa's <mask> (lstrip=True); bertkit loads the folder with AutoTokenizer.
Two folders: GPT-2's BPE with RoBERTa's special tokens (`make data`: roberta-bpe) and one trained here by
`bertkit vocab --algorithm bpe` on a slice of the Wikipedia text.

The corpus is tests/parity/test_tokenizer_parity.py's 10,000 lines (Wikipedia chunks, Chinese, messy
variants with controls, emoji, long words and random code points), plus lines with RoBERTa's literal
special tokens (<mask>, <s>, </s>) at random places. Compared row by row: input_ids, attention_mask,
offset_mapping, special_tokens_mask, tokens, word_ids, sequence_ids; on single texts and pairs, and on a
sample: truncation (longest_first, only_first, only_second), padding (longest, max_length, multiple, left),
overflow windows with a stride (single texts and QA-style pairs), no special tokens, token_type_ids,
pre-split words and decoding. The full 10,000 lines (variants on 3,500) are marked slow; the default tier
runs 300 of them (variants on 120).
"""
from __future__ import annotations

import random

import pytest

transformers = pytest.importorskip("transformers")

from bertkit.cli import main  # noqa: E402
from bertkit.tokenization import AutoTokenizer, RobertaTokenizer  # noqa: E402
# the 10,000-line corpus builder of the WordPiece parity tests (a session fixture)
from test_tokenizer_parity import corpus  # noqa: E402, F401

pytestmark = [pytest.mark.filterwarnings("ignore:a sequence of .* tokens is longer than model_max_length"),
              pytest.mark.filterwarnings("ignore:Token indices sequence length")]

FAST_LINES = 300
ROWS = ("tokens", "word_ids", "sequence_ids")


def _oracle(folder):
    """transformers' RobertaTokenizer from the folder's vocab.json and merges.txt, with RoBERTa's <mask>."""
    from tokenizers import AddedToken
    return transformers.RobertaTokenizer(vocab=str(folder / "vocab.json"), merges=str(folder / "merges.txt"),
                                         mask_token=AddedToken("<mask>", lstrip=True, rstrip=False,
                                                               normalized=False, special=True))


@pytest.fixture(scope="module")
def trained_dir(tmp_path_factory, wiki_txt):
    """A byte-level BPE folder written by `bertkit vocab --algorithm bpe` on 3,000 Wikipedia lines."""
    folder = tmp_path_factory.mktemp("bpe")
    text = folder / "train.txt"
    lines = [line for line in wiki_txt.read_text(encoding="utf-8").split("\n") if line.strip()]
    text.write_text("\n".join(lines[:3000]) + "\n", encoding="utf-8")
    main(["vocab", str(text), "--algorithm", "bpe", "--vocab-size", "4000", "--out", str(folder / "tok")])
    return folder / "tok"


@pytest.fixture(scope="module", params=["roberta-bpe", "trained"])
def pair(request):
    """(bertkit tokenizer, transformers tokenizer) on one folder."""
    folder = request.getfixturevalue("roberta_bpe_dir" if request.param == "roberta-bpe" else "trained_dir")
    return AutoTokenizer.from_pretrained(folder), _oracle(folder)


@pytest.fixture(scope="module")
def lines(corpus):
    """The corpus, plus 500 lines with RoBERTa's special tokens written in the text (seeded)."""
    rng = random.Random(14)
    extra = []
    for _ in range(500):
        words = rng.choice(corpus).split(" ")
        for _ in range(rng.randint(1, 3)):
            words.insert(rng.randint(0, len(words)), rng.choice(["<mask>", " <mask>", "<mask> ", "<s>", "</s>",
                                                                 "x<mask>y", "<pad>", "<unk>", "<MASK>"]))
        extra.append(" ".join(words))
    return corpus + extra


def _same(ours, theirs, what: str) -> None:
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


def _compare(tok, hf, texts, pairs=None, what="", **kwargs):
    kwargs.setdefault("return_offsets_mapping", True)
    kwargs.setdefault("return_special_tokens_mask", True)
    ours, theirs = tok(texts, pairs, **kwargs), hf(texts, pairs, **kwargs)
    _same(ours, theirs, what or str(kwargs))
    return ours


def _singles_and_pairs(tok, hf, texts):
    _compare(tok, hf, texts, what="singles")
    _compare(tok, hf, texts[: len(texts) // 2], texts[len(texts) // 2: 2 * (len(texts) // 2)][::-1], what="pairs")


def _variants(tok, hf, texts):
    """Truncation, padding, overflow and the other options, on `texts`."""
    half = len(texts) // 2
    a, b = texts[:half], texts[half:2 * half][::-1]
    _compare(tok, hf, a, b, truncation=True, max_length=48, padding=True)
    _compare(tok, hf, a, b, truncation="longest_first", max_length=40, padding="max_length",
             return_token_type_ids=True)
    _compare(tok, hf, texts, truncation=True, max_length=32, padding=True, pad_to_multiple_of=8)
    _compare(tok, hf, texts, add_special_tokens=False, return_token_type_ids=True)
    _compare(tok, hf, a, b, add_special_tokens=False, return_token_type_ids=True)
    _compare(tok, hf, texts, truncation=True, max_length=24, stride=6, return_overflowing_tokens=True,
             padding=True)
    # which side is padded / cut
    for side in ("left", "right"):
        tok.padding_side = hf.padding_side = side
        tok.truncation_side = hf.truncation_side = side
        try:
            _compare(tok, hf, texts, truncation=True, max_length=20, padding="max_length")
        finally:
            tok.padding_side = hf.padding_side = "right"
            tok.truncation_side = hf.truncation_side = "right"
    # only_first / only_second and QA-style windows, where the strategy can fit (transformers refuses a whole
    # batch otherwise): short questions (the first words of a line) against whole lines
    lengths = {t: len(x) for t, x in zip(texts, tok(texts, add_special_tokens=False)["input_ids"])}
    questions = [" ".join(t.split(" ")[:6]) for t in texts]
    q_len = tok(questions, add_special_tokens=False)["input_ids"]
    keep = [i for i in range(len(texts)) if len(q_len[i]) <= 20 and lengths[texts[i]] > 0]
    qs, ctx = [questions[i] for i in keep], [texts[i] for i in keep]
    _compare(tok, hf, qs, ctx, truncation="only_second", max_length=40, padding=True)
    _compare(tok, hf, qs, ctx, truncation="only_second", max_length=48, stride=12,
             return_overflowing_tokens=True, padding=True)
    _compare(tok, hf, ctx, qs, truncation="only_first", max_length=40)
    # decoding: the text back from ids, with and without the special tokens
    ids = tok(texts, texts[::-1])["input_ids"]
    for skip in (False, True):
        assert tok.batch_decode(ids, skip_special_tokens=skip) == hf.batch_decode(ids, skip_special_tokens=skip)


def _pretokenized(folder, texts):
    from tokenizers import AddedToken
    tok = AutoTokenizer.from_pretrained(folder, add_prefix_space=True)
    hf = transformers.RobertaTokenizer(vocab=str(folder / "vocab.json"), merges=str(folder / "merges.txt"),
                                       add_prefix_space=True,
                                       mask_token=AddedToken("<mask>", lstrip=True, normalized=False, special=True))
    words = [t.split() for t in texts if t.split()]
    _compare(tok, hf, words, is_split_into_words=True, what="pre-split words")
    _compare(tok, hf, words[: len(words) // 2], words[len(words) // 2: 2 * (len(words) // 2)],
             is_split_into_words=True, truncation=True, max_length=40, padding=True, what="pre-split pairs")
    _compare(tok, hf, texts, what="add_prefix_space=True")


def test_bpe_matches_transformers_on_300_lines(pair, lines):
    tok, hf = pair
    _singles_and_pairs(tok, hf, lines[:FAST_LINES] + lines[-100:])  # 300 corpus lines, 100 with <mask> & co.
    _variants(tok, hf, lines[:80] + lines[-40:])


def test_bpe_pre_split_words_on_300_lines(roberta_bpe_dir, lines):
    _pretokenized(roberta_bpe_dir, lines[:FAST_LINES])


def test_bpe_pieces_are_the_ones_transformers_uses(roberta_bpe_dir):
    """RoBERTa's ids: the specials first, <mask> last, a space carried by the next word, <mask> taking in
    the space before it, and the pair template <s> A </s></s> B </s>."""
    tok, hf = AutoTokenizer.from_pretrained(roberta_bpe_dir), _oracle(roberta_bpe_dir)
    assert isinstance(tok, RobertaTokenizer)
    assert [tok.bos_token_id, tok.pad_token_id, tok.eos_token_id, tok.unk_token_id] == [0, 1, 2, 3]
    assert tok.mask_token_id == len(tok) - 1 == hf.mask_token_id == 50261
    enc = tok("Hello world <mask>.", "A pair")
    assert enc.tokens() == ["<s>", "Hello", "Ġworld", " <mask>", ".", "</s>", "</s>", "A", "Ġpair", "</s>"]
    assert enc["input_ids"] == hf("Hello world <mask>.", "A pair")["input_ids"]
    assert set(enc) == {"input_ids", "attention_mask"}


@pytest.mark.slow
def test_bpe_matches_transformers_on_10000_lines(pair, lines):
    tok, hf = pair
    _singles_and_pairs(tok, hf, lines)
    _variants(tok, hf, lines[:3000] + lines[-500:])


@pytest.mark.slow
def test_bpe_pre_split_words_on_10000_lines(roberta_bpe_dir, lines):
    _pretokenized(roberta_bpe_dir, lines)
