"""BERT's WordPiece tokenizer: a readable pure-Python reference and a fast `tokenizers` engine.

Text goes through four steps, the same in both engines:

1. **Added tokens in the text.** "[MASK]", "[SEP]", ... written literally in the input are kept whole
   (matched case-sensitively on the raw text), as `transformers` does; so are the tokens added with
   `add_tokens` / `add_special_tokens` (or listed by a loaded folder): those with normalized=False on the raw
   text, the others on the normalised text of step 2, anywhere (inside words too, unless single_word).
   Each is one token and one word. Everything between them goes on.
2. **Normalise** (BasicTokenizer): drop NUL, U+FFFD and control/format characters; turn every kind of
   whitespace into a space; put spaces around CJK ideographs (Chinese has no spaces, so each character
   becomes a word); optionally strip accents (NFD, then drop non-spacing marks) and lowercase.
3. **Pre-tokenize**: split on whitespace, and make every punctuation character a word of its own.
4. **WordPiece** (WordpieceTokenizer): cut each word into the longest vocabulary pieces, left to right;
   pieces after the first carry a "##" prefix. A word that cannot be cut (or is over 100 characters)
   becomes a single [UNK].

Then the sequence (or pair) is truncated, wrapped as `[CLS] A [SEP]` / `[CLS] A [SEP] B [SEP]`, and padded.

`BertTokenizer` is the user-facing class, with the call signature `transformers` users know::

    tok = BertTokenizer.from_pretrained("path/to/model")
    enc = tok(["a question", "another"], ["its context", "..."], padding=True, truncation="only_second",
              max_length=384, stride=128, return_overflowing_tokens=True, return_offsets_mapping=True)
    enc.input_ids, enc["attention_mask"], enc.word_ids(0), enc.sequence_ids(0), enc.token_to_chars(0, 5)

    # NER data: pre-split words; word_ids() index the given words, offsets count within each word
    enc = tok([["EU", "rejects", "German", "call"]], is_split_into_words=True, truncation=True)

Every keyword of the call means what it means in transformers (None means its default, for every one of
them), and the options transformers reads from tokenizer_config.json are read too (padding_side,
truncation_side, model_input_names, split_special_tokens, model_max_length / max_len,
clean_up_tokenization_spaces, the normaliser settings and the special tokens). The BatchEncoding alignment
helpers (word_to_tokens, token_to_chars, token_to_word, char_to_token, char_to_word, word_to_chars,
token_to_sequence) behave as the Rust library's, in both engines.

`engine="fast"` (the default) runs the Rust `tokenizers` library; `engine="python"` runs the reference
below. Both give identical ids, offsets, word ids and errors, and both match `transformers.BertTokenizer`
(tests/parity checks this on real text).

Where bertkit differs from transformers, it is on purpose, to fail early and say why: max_length below the
number of special tokens is an error (transformers quietly skips truncation); stride is checked up front
against max_length minus the special tokens (transformers fails only when a window is cut, with a Rust
panic, whose text bertkit never lets reach the terminal); with add_special_tokens=False no special token
is counted (transformers still counts [CLS] and [SEP] in its stride check, and refuses, say, max_length=4,
stride=3); an impossible only_first / only_second names the batch item; an empty batch gives empty lists;
word_to_chars of a word with no token returns None (transformers raises TypeError). Added tokens: one that
normalises to nothing, or two that normalise to the same text, are refused (transformers would split
every word into letters, or panic; or pick one of the two at random); a new [CLS] / [SEP] given by
add_special_tokens is used at once (transformers 5 uses it after a reload). Every error is a
bertkit.errors.TokenizerError (a ValueError); wrong argument types are TokenizerTypeError, also a
TypeError, as transformers raises TypeError for them. One known gap in the Python engine: it decomposes
accents one character at a time and so does not put adjacent combining marks into canonical order, which
matters only when two such marks survive accent stripping (a few spacing marks such as U+1D165..U+1D172,
or marks newer than Unicode 8) and sit out of order.

Vocabulary training lives in `bertkit.vocab` and is re-exported here:
    train_vocab(files, vocab_size=30522, do_lower_case=True, min_frequency=2, limit_alphabet=1000,
                special_tokens=("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"), show_progress=True) -> BertTokenizer
    vocab_main(files, out, vocab_size=30522, lowercase=True, min_frequency=2, show_progress=True) -> Path

Why a Unicode table lives at the bottom of this file: the Rust library classifies characters
(punctuation, control, non-spacing mark) with Unicode 8.0 tables, while Python's `unicodedata` is newer.
A character added since (say a new punctuation mark) would split in one engine and not the other, so the
reference carries the tables the Rust engine uses. tests/test_tokenization.py checks them against the
Rust library, code point by code point.

This module imports no torch; `return_tensors="pt"` imports it when asked.
"""
from __future__ import annotations

import json
import os
import re
import unicodedata
import warnings
from bisect import bisect_right
from itertools import chain, repeat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping, NamedTuple, Sequence

from .errors import TokenizerError
from .io import atomic_write_text, writing

__all__ = ["BasicTokenizer", "WordpieceTokenizer", "BertTokenizer", "Tokenizer", "BatchEncoding",
           "Word", "AddedToken", "load_vocab", "train_vocab", "vocab_main", "TokenSpan", "CharSpan",
           "TokenizerError", "TokenizerTypeError", "TokenizerIndexError"]

VOCAB_FILE = "vocab.txt"
TOKENIZER_FILE = "tokenizer.json"
CONFIG_FILE = "tokenizer_config.json"
SPECIAL_TOKENS_FILE = "special_tokens_map.json"

# the five roles every BERT vocabulary fills, with their usual names
SPECIAL_ROLES = ("pad_token", "unk_token", "cls_token", "sep_token", "mask_token")
# every named role transformers knows, in the order of its all_special_tokens (bos/eos are unused by BERT)
ALL_ROLES = ("bos_token", "eos_token", "unk_token", "sep_token", "pad_token", "cls_token", "mask_token")
DEFAULT_SPECIALS = {"pad_token": "[PAD]", "unk_token": "[UNK]", "cls_token": "[CLS]",
                    "sep_token": "[SEP]", "mask_token": "[MASK]"}

PADDING_STRATEGIES = ("longest", "max_length", "do_not_pad")
TRUNCATION_STRATEGIES = ("longest_first", "only_first", "only_second", "do_not_truncate")
SIDES = ("right", "left")  # padding_side / truncation_side
MODEL_INPUT_NAMES = ("input_ids", "token_type_ids", "attention_mask")  # BERT's, as in transformers


class TokenizerTypeError(TokenizerError, TypeError):
    """An argument of the wrong type (a number where text goes, ...): a TokenizerError, and a TypeError as
    transformers raises for the same mistake, so either `except` catches it."""


class TokenizerIndexError(TokenizerError, IndexError):
    """A batch index out of range in a BatchEncoding helper: a TokenizerError and an IndexError."""


class TokenSpan(NamedTuple):
    """Tokens start..end-1 of an encoded row (`BatchEncoding.word_to_tokens`), as in transformers."""
    start: int
    end: int


class CharSpan(NamedTuple):
    """Characters start..end-1 of the original text (`BatchEncoding.token_to_chars`, `word_to_chars`)."""
    start: int
    end: int


# ---------------------------------------------------------------------------------------------------------
# Character classes
# ---------------------------------------------------------------------------------------------------------

def _is_whitespace(ch: str) -> bool:
    """Spaces, tabs, newlines and the other Unicode White_Space characters.

    \\t, \\n and \\r are technically control characters, but they separate words, so they count here.
    """
    return ch in _WHITESPACE


def _is_control(ch: str) -> bool:
    """Characters that carry no text and are deleted: C0/C1 controls, format characters (zero-width
    space, joiners, BOM, bidi marks...), private use, and NUL / U+FFFD (the replacement character that
    a bad decode leaves behind)."""
    if ch in "\t\n\r":
        return False  # whitespace, see above
    return ch == "\ufffd" or _in_table(ord(ch), _CONTROL)


def _is_chinese_char(cp: int) -> bool:
    """CJK Unified Ideographs (and extensions, and compatibility ideographs).

    Only ideographs: Hangul, Hiragana and Katakana are written with spaces between words and are
    left alone. The ranges are those of the Rust `tokenizers` library (which, unlike Google's original,
    starts its Extension E+F range at U+2B920 rather than U+2B820).
    """
    return any(lo <= cp <= hi for lo, hi in _CJK_RANGES)


def _is_punctuation(ch: str) -> bool:
    """Unicode punctuation (categories P*), plus every non-alphanumeric printable ASCII character.

    "$", "^", "`", "+", "<", ... are symbols to Unicode (S*), but BERT splits them off like punctuation.
    """
    cp = ord(ch)
    if 33 <= cp <= 47 or 58 <= cp <= 64 or 91 <= cp <= 96 or 123 <= cp <= 126:
        return True
    return cp > 127 and _in_table(cp, _PUNCTUATION)


def _is_nonspacing_mark(ch: str) -> bool:
    """Combining marks that sit on the previous letter (category Mn): the accents NFD splits off."""
    return _in_table(ord(ch), _NONSPACING_MARKS)


def _nfd(ch: str) -> str:
    """Canonical decomposition of one character ("é" → "e" + U+0301)."""
    return _NFD_EXCEPTIONS.get(ch) or unicodedata.normalize("NFD", ch)


def _lower(ch: str) -> str:
    """Lowercase one character. Character by character on purpose: the Rust engine does not apply the
    context-dependent final-sigma rule, so "Σ" is always "σ" (Python's "ΟΔΟΣ".lower() gives "οδος")."""
    return _LOWER_EXCEPTIONS.get(ch) or ch.lower()


# ---------------------------------------------------------------------------------------------------------
# BasicTokenizer: normalisation and splitting into words, with offsets into the original text
# ---------------------------------------------------------------------------------------------------------

class Word(NamedTuple):
    """One word after normalisation. `origin[i]` is the index in the original text of the character
    that produced `text[i]` (accents stripped, lowercasing and removed controls change lengths, so the
    two strings do not line up)."""
    text: str
    origin: Sequence[int]

    @property
    def start(self) -> int:
        return self.origin[0]

    @property
    def end(self) -> int:
        return self.origin[-1] + 1


class _CharTable(dict):
    """ord(ch) → what ch becomes, filled on first sight. A dict so that `str.translate` can use it:
    normalising a text is one C-level pass instead of a Python loop over characters."""

    def __init__(self, normalize_char):
        super().__init__()
        self._normalize_char = normalize_char
        self.resizing: set[str] = set()  # characters that become 0 or 2+ characters

    def __missing__(self, cp: int) -> str:
        out = self._normalize_char(chr(cp))
        if len(out) != 1:
            self.resizing.add(chr(cp))
        self[cp] = out
        return out


class BasicTokenizer:
    """Normalise text and split it into words: whitespace, punctuation and CJK ideographs separate words.

    `strip_accents=None` follows `do_lower_case` (an uncased model also strips accents), as in BERT.
    """

    def __init__(self, do_lower_case: bool = True, tokenize_chinese_chars: bool = True,
                 strip_accents: bool | None = None):
        self.do_lower_case = do_lower_case
        self.tokenize_chinese_chars = tokenize_chinese_chars
        self.strip_accents = strip_accents
        self._strip = do_lower_case if strip_accents is None else strip_accents
        self._table = _CharTable(self.normalize_char)

    def normalize_char(self, ch: str) -> str:
        """What one character of the input becomes: nothing, one character, or several.

        Every step works on one character at a time, which is what makes offsets easy: each output
        character comes from exactly one input character. The order is the Rust engine's (it strips
        accents before lowercasing; Google's original lowercases first, which differs for a few letters
        such as "İ").
        """
        if _is_control(ch):
            return ""
        if _is_whitespace(ch):
            return " "
        out = ch
        if self._strip:
            out = "".join(c for c in _nfd(out) if not _is_nonspacing_mark(c))
        if self.do_lower_case:
            out = "".join(_lower(c) for c in out)
        if self.tokenize_chinese_chars and _is_chinese_char(ord(ch)):
            out = f" {out} "
        return out

    def normalize(self, text: str) -> str:
        """The whole normalised text (spaces around ideographs included)."""
        return text.translate(self._table)

    def split(self, text: str) -> list[Word]:
        """Normalise `text` and split it into words, each with its offsets into `text`."""
        origin, words = self.split_spans(text)
        return [Word(word, origin[start:end]) for word, start, end in words]

    def split_spans(self, text: str) -> tuple[Sequence[int], list[tuple[str, int, int]]]:
        """(origin, [(word, start, end), ...]): the words with their spans in the normalised text, and
        `origin[i]`, the index in `text` of the character that produced normalised character i."""
        normalized, origin = self.normalize_spans(text)
        return origin, [(m.group(), m.start(), m.end()) for m in _WORD_RE.finditer(normalized)]

    def normalize_spans(self, text: str) -> tuple[str, Sequence[int]]:
        """(normalised text, origin): `origin[i]` is the index in `text` of the character that produced
        normalised character i."""
        table = self._table
        normalized = text.translate(table)
        if table.resizing.isdisjoint(text):
            origin: Sequence[int] = range(len(text))  # one character in, one out: offsets are unchanged
        else:
            # character i of `text` became len(table[ord(text[i])]) characters; repeat i that many times
            # (the same as [i for i, ch in enumerate(text) for _ in table[ord(ch)]], at C speed)
            lengths = map(len, map(table.__getitem__, map(ord, text)))
            origin = list(chain.from_iterable(map(repeat, range(len(text)), lengths)))
        return normalized, origin

    def tokenize(self, text: str) -> list[str]:
        """The words of `text`, normalised."""
        return _WORD_RE.findall(text.translate(self._table))


# ---------------------------------------------------------------------------------------------------------
# WordpieceTokenizer: words → vocabulary pieces
# ---------------------------------------------------------------------------------------------------------

class WordpieceTokenizer:
    """Greedy longest-match-first segmentation of words into vocabulary pieces.

    "unaffable" → ["un", "##aff", "##able"]: take the longest prefix in the vocabulary, then the longest
    "##"-prefixed piece of the rest, and so on. If some remainder matches nothing, the whole word becomes
    one unknown token (not "un" + [UNK]: a partial split would pretend to know more than it does).
    """

    def __init__(self, vocab: Mapping[str, int], unk_token: str = "[UNK]", max_input_chars_per_word: int = 100,
                 prefix: str = "##"):
        self.vocab = vocab
        self.unk_token = unk_token
        self.max_input_chars_per_word = max_input_chars_per_word
        self.prefix = prefix
        # no vocabulary entry is longer than this, so longer candidates need not be looked up
        self._longest = max((len(t) for t in vocab), default=0)

    def split_word(self, word: str) -> list[tuple[str, int, int]]:
        """(piece, start, end) for one word; start/end are character positions in `word`."""
        if len(word) > self.max_input_chars_per_word:
            return [(self.unk_token, 0, len(word))]
        pieces = []
        start = 0
        while start < len(word):
            prefix = self.prefix if start > 0 else ""
            end = min(len(word), start + self._longest - len(prefix))
            while end > start and prefix + word[start:end] not in self.vocab:
                end -= 1
            if end == start:  # nothing in the vocabulary starts here: the word is unknown
                return [(self.unk_token, 0, len(word))]
            pieces.append((prefix + word[start:end], start, end))
            start = end
        return pieces

    def tokenize(self, text: str) -> list[str]:
        """Pieces of already normalised, whitespace-separated text."""
        return [piece for word in text.split() for piece, _, _ in self.split_word(word)]


# ---------------------------------------------------------------------------------------------------------
# Added tokens: words kept whole, matched in the text before WordPiece sees it
# ---------------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class AddedToken:
    """A token added on top of the WordPiece vocabulary, with the flags of `tokenizers.AddedToken`.

    content: the token's text. special: skipped by decode(skip_special_tokens=True) (and, added with
    add_special_tokens, listed in all_special_tokens). normalized: matched on the normalised text (so an
    uncased tokenizer finds "covid19" in "COVID19"); None means `not special`, as in `tokenizers`.
    single_word: only matched when no letter, digit, mark or "_" touches it on either side. lstrip / rstrip:
    the match takes in the whitespace on its left / right.
    """
    content: str
    single_word: bool = False
    lstrip: bool = False
    rstrip: bool = False
    normalized: bool | None = None
    special: bool = False

    def __post_init__(self):
        # like tokenizers' AddedToken, an unset `normalized` follows `special` even when special is set later
        object.__setattr__(self, "_normalized_unset", self.normalized is None)
        if self.normalized is None:
            object.__setattr__(self, "normalized", not self.special)

    def __str__(self) -> str:
        return self.content

    def to_dict(self) -> dict:
        """The fields as tokenizer.json / tokenizer_config.json write them."""
        return {"content": self.content, "single_word": self.single_word, "lstrip": self.lstrip,
                "rstrip": self.rstrip, "normalized": self.normalized, "special": self.special}


_ADDED_FLAGS = ("single_word", "lstrip", "rstrip", "normalized", "special")


def _as_added_token(value: Any, where: str, special: bool = False) -> AddedToken:
    """A str, a bertkit / `tokenizers` AddedToken, or a JSON dict → AddedToken. special=True forces the
    special flag (as add_special_tokens does); a str then defaults to normalized=False."""
    from .errors import TokenizerError
    if isinstance(value, str):
        return AddedToken(value, special=special)
    if isinstance(value, Mapping):
        fields = dict(value)
        fields.pop("id", None)
        fields.pop("__type", None)
        unknown = set(fields) - {"content", *_ADDED_FLAGS}
        if unknown or not isinstance(fields.get("content"), str):
            raise TokenizerError(f"{where}: expected an added token {{\"content\": str, \"single_word\": bool, "
                                 f"\"lstrip\": bool, \"rstrip\": bool, \"normalized\": bool, \"special\": bool}}, "
                                 f"found {value!r:.120}; fix or remove this entry")
    elif isinstance(value, AddedToken):
        fields = {"content": value.content, **{f: getattr(value, f) for f in _ADDED_FLAGS}}
        if special and not value.special and getattr(value, "_normalized_unset", False):
            fields["normalized"] = None
    elif isinstance(getattr(value, "content", None), str):  # tokenizers' AddedToken
        fields = {"content": value.content, **{f: getattr(value, f) for f in _ADDED_FLAGS if hasattr(value, f)}}
        if special and not value.special:
            # its `normalized`, if never set, follows `special`: read it as add_special_tokens will see it
            try:
                value.special = True
                fields["normalized"] = value.normalized
            finally:
                value.special = False
    else:
        raise TokenizerError(f"{where}: {_describe(value)} is not a token; pass a str or an AddedToken")
    for flag in _ADDED_FLAGS:
        unset = flag == "normalized" and fields.get(flag) is None
        if flag in fields and not isinstance(fields[flag], bool) and not unset:
            raise TokenizerError(f"{where}: {flag} of token {fields['content']!r} is {fields[flag]!r}; "
                                 f"use true or false")
    if special:
        fields["special"] = True
    return AddedToken(**fields)


def _is_word_char(ch: str) -> bool:
    """`\\w` of the Rust regex crate, which decides single_word matches: letters and other alphabetic
    characters, marks, decimal digits, connector punctuation ("_") and the zero-width (non-)joiners."""
    category = unicodedata.category(ch)
    if category[0] in "LM" or category in ("Nd", "Nl", "Pc") or ch in "\u200c\u200d":
        return True
    cp = ord(ch)  # circled and squared Latin letters are symbols but Other_Alphabetic
    if 0x24B6 <= cp <= 0x24E9 or 0x1F130 <= cp <= 0x1F149 or 0x1F150 <= cp <= 0x1F169 or 0x1F170 <= cp <= 0x1F189:
        return True
    return category == "Cn" and _in_table(cp, _WORD_NEWER)


class _AddedMatcher:
    """Finds added tokens in a string the way `tokenizers` does: leftmost-longest, non-overlapping matches,
    then each token's single_word / lstrip / rstrip rules. `patterns` maps the text to find to a token id."""

    def __init__(self, patterns: Mapping[str, int], tokens: Mapping[int, AddedToken]):
        self.ids = dict(patterns)
        self.tokens = tokens
        # an alternation tried longest first picks, at the leftmost position that matches, the longest token
        ordered = sorted(self.ids, key=len, reverse=True)
        self.regex = re.compile("|".join(map(re.escape, ordered))) if ordered else None

    def split(self, s: str) -> list[tuple[int, int, int | None]]:
        """[(start, end, token id or None), ...] covering `s`: the added tokens and the text between."""
        if self.regex is None or not s:
            return [(0, len(s), None)] if s else []
        out: list[tuple[int, int, int | None]] = []
        pos = 0
        n = len(s)
        for m in self.regex.finditer(s):
            start, stop = m.span()
            token_id = self.ids[m.group()]
            token = self.tokens[token_id]
            if token.single_word and ((start > 0 and _is_word_char(s[start - 1]))
                                      or (stop < n and _is_word_char(s[stop]))):
                continue
            if token.lstrip:
                left = start
                while left > 0 and s[left - 1] in _WHITESPACE:
                    left -= 1
                start = max(left, pos)  # spaces an earlier token took stay with it
            if token.rstrip:
                while stop < n and s[stop] in _WHITESPACE:
                    stop += 1
            if pos < start:
                out.append((pos, start, None))
            out.append((start, stop, token_id))
            pos = stop
        if pos != n:
            out.append((pos, n, None))
        return out


# ---------------------------------------------------------------------------------------------------------
# Encodings: one row of model input, for the Python engine (mirrors `tokenizers.Encoding`)
# ---------------------------------------------------------------------------------------------------------

@dataclass
class _Encoding:
    """Token-aligned lists for one sequence, pair or overflow window. Same attribute names as
    `tokenizers.Encoding`, so BatchEncoding reads either engine's output the same way."""
    ids: list[int] = field(default_factory=list)
    tokens: list[str] = field(default_factory=list)
    offsets: list[tuple[int, int]] = field(default_factory=list)
    word_ids: list[int | None] = field(default_factory=list)
    type_ids: list[int] = field(default_factory=list)
    special_tokens_mask: list[int] = field(default_factory=list)
    attention_mask: list[int] = field(default_factory=list)
    sequence_ids: list[int | None] = field(default_factory=list)
    overflowing: list[_Encoding] = field(default_factory=list)
    n_sequences: int = 1  # 1 for a single text, 2 for a pair (set once the row is complete)

    FIELDS = ("ids", "tokens", "offsets", "word_ids", "type_ids", "special_tokens_mask", "attention_mask",
              "sequence_ids")  # the token-aligned lists, in constructor order

    def __len__(self) -> int:
        return len(self.ids)

    def slice(self, start: int, stop: int) -> _Encoding:
        return _Encoding(self.ids[start:stop], self.tokens[start:stop], self.offsets[start:stop],
                         self.word_ids[start:stop], self.type_ids[start:stop], self.special_tokens_mask[start:stop],
                         self.attention_mask[start:stop], self.sequence_ids[start:stop])

    def concat(self, other: _Encoding) -> _Encoding:
        """This row followed by `other` (overflow windows are not carried; see _merge)."""
        return _Encoding(self.ids + other.ids, self.tokens + other.tokens, self.offsets + other.offsets,
                         self.word_ids + other.word_ids, self.type_ids + other.type_ids,
                         self.special_tokens_mask + other.special_tokens_mask,
                         self.attention_mask + other.attention_mask, self.sequence_ids + other.sequence_ids)

    # -- alignment, with the semantics of `tokenizers.Encoding` (see BatchEncoding for the user-facing side) --

    def _sequence_range(self, sequence_index: int) -> tuple[int, int]:
        """[start, stop) of the tokens of sequence `sequence_index`. As in the Rust library, a row knows one
        range per input sequence (empty when the text gave no tokens), and an index it does not know
        (1 for a single text) means the whole row."""
        if not 0 <= sequence_index < self.n_sequences:
            return 0, len(self.ids)
        return self._lookup("ranges").get(sequence_index, (0, 0))

    def _lookup(self, name: str) -> dict:
        """Tables built once per row (rows are complete when users see them; a change of length, as padding
        makes, rebuilds them): "ranges" {sequence: (start, stop)}, ("words", s) {word: (first, stop)} and
        ("chars", s) {char: token} for sequence s."""
        cache = self.__dict__.get("_tables")
        if cache is None or cache[0] != len(self.ids):
            cache = (len(self.ids), {})
            self.__dict__["_tables"] = cache
        table = cache[1].get(name)
        if table is not None:
            return table
        if name == "ranges":
            found: dict[int, list[int]] = {}
            for i, s in enumerate(self.sequence_ids):
                if s is not None:
                    found.setdefault(s, [i, i])[1] = i
            table = {s: (a, b + 1) for s, (a, b) in found.items()}
        elif name[0] == "words":
            # what the Rust library finds scanning the range in order and stopping at the first larger word:
            # a token counts for its word only while no earlier token had a larger one
            table, highest = {}, None
            for i in range(*self._sequence_range(name[1])):
                w = self.word_ids[i]
                if w is None:
                    continue
                if highest is None or highest <= w:
                    table[w] = (table[w][0] if w in table else i, i + 1)
                    highest = w
        else:  # ("chars", s): the first token of the range whose offsets hold the character
            table = {}
            for i in range(*self._sequence_range(name[1])):
                start, end = self.offsets[i]
                for c in range(start, end):
                    table.setdefault(c, i)
        cache[1][name] = table
        return table

    def token_to_sequence(self, token_index: int) -> int | None:
        return self.sequence_ids[token_index] if 0 <= token_index < len(self.ids) else None

    def token_to_word(self, token_index: int) -> int | None:
        return self.word_ids[token_index] if self.token_to_sequence(token_index) is not None else None

    def token_to_chars(self, token_index: int) -> tuple[int, int] | None:
        return tuple(self.offsets[token_index]) if self.token_to_sequence(token_index) is not None else None

    def word_to_tokens(self, word_index: int, sequence_index: int = 0) -> tuple[int, int] | None:
        return self._lookup(("words", sequence_index)).get(word_index)

    def word_to_chars(self, word_index: int, sequence_index: int = 0) -> tuple[int, int] | None:
        span = self.word_to_tokens(word_index, sequence_index)
        return None if span is None else (self.offsets[span[0]][0], self.offsets[span[1] - 1][1])

    def char_to_token(self, char_pos: int, sequence_index: int = 0) -> int | None:
        return self._lookup(("chars", sequence_index)).get(char_pos)

    def char_to_word(self, char_pos: int, sequence_index: int = 0) -> int | None:
        token = self.char_to_token(char_pos, sequence_index)
        return None if token is None else self.token_to_word(token)


def _special_row(token: str, token_id: int, type_id: int) -> _Encoding:
    return _Encoding([token_id], [token], [(0, 0)], [None], [type_id], [1], [1], [None])


def _windows(n: int, max_len: int, stride: int, direction: str = "right") -> list[tuple[int, int]]:
    """[start, stop) of the windows `_truncate_to` cuts a sequence of n tokens into: from the start
    (direction "right": what is cut is on the right), or from the end ("left"), as the Rust library does."""
    windows = []
    if direction == "left":
        for stop in range(n, 0, -(max_len - stride)):
            windows.append((max(0, stop - max_len), stop))
            if windows[-1][0] == 0:
                break
        return windows
    for start in range(0, n, max_len - stride):
        windows.append((start, min(start + max_len, n)))
        if windows[-1][1] == n:
            break
    return windows


def _truncate_to(enc: _Encoding, max_len: int, stride: int, overflow: bool = True,
                 direction: str = "right") -> _Encoding:
    """`enc` cut to its first `max_len` tokens (its last, with direction="left"), the rest as overflow windows
    of `max_len` tokens starting `max_len - stride` apart: consecutive windows share `stride` tokens of
    context, so that (in QA on long documents) an answer lies whole inside some window. overflow=False skips
    making the windows."""
    n = len(enc)
    if max_len >= n:
        return enc
    if max_len == 0:  # nothing fits: the whole sequence is one overflow
        out = _Encoding()
        out.overflowing = [enc.slice(0, n)] if overflow else []
        return out
    if not overflow:
        return enc.slice(n - max_len, n) if direction == "left" else enc.slice(0, max_len)
    parts = [enc.slice(a, b) for a, b in _windows(n, max_len, stride, direction)]
    parts[0].overflowing = parts[1:]
    return parts[0]


def _join(parts: list[_Encoding]) -> _Encoding:
    """Rows without overflow windows, one after the other."""
    return _Encoding(*(list(chain.from_iterable(getattr(p, name) for p in parts)) for name in _Encoding.FIELDS))


def _merge(a: _Encoding, b: _Encoding) -> _Encoding:
    """a followed by b, where either may have overflow windows.

    The windows combine the way the Rust library combines them, so the rows come out in the same order:
    each overflow of `a` with `b` and then with each overflow of `b`; then `a` with each overflow of `b`.
    """
    over = []
    for ao in a.overflowing:
        over.append(ao.concat(b))
        over.extend(ao.concat(bo) for bo in b.overflowing)
    over.extend(a.concat(bo) for bo in b.overflowing)
    out = a.concat(b)
    out.overflowing = over
    return out


def _pad(enc: _Encoding, length: int, pad_id: int, pad_token: str, side: str = "right") -> None:
    """Pad `enc` and its overflow windows to `length` tokens, on the right or the left (no-op when already
    that long)."""
    for o in enc.overflowing:
        _pad(o, length, pad_id, pad_token, side)
    k = length - len(enc)
    if k <= 0:
        return
    pads = (("ids", pad_id), ("tokens", pad_token), ("offsets", (0, 0)), ("word_ids", None), ("type_ids", 0),
            ("special_tokens_mask", 1), ("attention_mask", 0), ("sequence_ids", None))
    for name, value in pads:
        values = getattr(enc, name)
        if side == "left":
            values[:0] = [value] * k
        else:
            values += [value] * k


# ---------------------------------------------------------------------------------------------------------
# Truncation and padding plans (shared by both engines, so that they agree on lengths and on errors)
# ---------------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Truncation:
    max_length: int  # whole row, special tokens included
    strategy: str  # longest_first | only_first | only_second
    stride: int
    direction: str = "right"  # the side that is cut off (truncation_side)


@dataclass(frozen=True)
class _Padding:
    length: int | None  # None: pad to the longest row of the batch
    multiple: int | None
    side: str = "right"  # padding_side


def _plan_truncation(n_a: int, n_b: int | None, budget: int, trunc: _Truncation, index: int
                     ) -> tuple[int, int | None] | None:
    """How many tokens of A (and B) to keep so that they fit in `budget` (max_length minus the special
    tokens), or None when they already fit. Raises TokenizerError, naming the batch item, when the strategy
    cannot make them fit or the stride does not fit in a window.

    longest_first on a pair: the shorter sequence keeps all it can; if both must be cut, each gets half the
    budget (the longer one, or the second if they are as long, gets the odd token).
    """
    if budget == 0:
        return 0, (0 if n_b is not None else None)
    total = n_a + (n_b or 0)
    if total <= budget:
        return None
    to_remove = total - budget
    where = f"batch item {index}"
    if trunc.strategy == "longest_first":
        if n_b is None:
            keep: tuple[int, int | None] = (budget, None)
        else:
            short, long_ = sorted((n_a, n_b))
            long_keep = short if short > budget else max(short, budget - short)
            short_keep = short
            if short_keep + long_keep > budget:
                short_keep, long_keep = budget // 2, budget // 2 + budget % 2
            keep = (short_keep, long_keep) if n_a <= n_b else (long_keep, short_keep)
    elif trunc.strategy == "only_first":
        if n_a <= to_remove:
            raise TokenizerError(
                f"{where}: truncation='only_first' cannot fit max_length={trunc.max_length}: the text has "
                f"{n_a} tokens but {to_remove} must go, because the text_pair alone ({n_b} tokens) nearly fills "
                f"it. Use truncation='longest_first' or 'only_second', or a larger max_length.")
        keep = (n_a - to_remove, n_b)
    else:  # only_second
        if n_b is None:
            raise TokenizerError(
                f"{where}: truncation='only_second' cuts the text_pair, but this item has no text_pair and its "
                f"{n_a} tokens do not fit max_length={trunc.max_length}. Use truncation='only_first' or "
                f"'longest_first'.")
        if n_b <= to_remove:
            raise TokenizerError(
                f"{where}: truncation='only_second' cannot fit max_length={trunc.max_length}: the text_pair has "
                f"{n_b} tokens but {to_remove} must go, because the first text alone ({n_a} tokens) nearly fills "
                f"it. Use truncation='longest_first', or a larger max_length.")
        keep = (n_a, n_b - to_remove)
    for name, n, k in (("text", n_a, keep[0]), ("text_pair", n_b, keep[1])):
        if n is not None and k is not None and 0 < k < n and trunc.stride >= k:
            raise TokenizerError(
                f"{where}: stride={trunc.stride} must be smaller than the {k} tokens the {name} is cut to "
                f"(max_length={trunc.max_length}, truncation='{trunc.strategy}'); lower stride or raise "
                f"max_length.")
    return keep


# ---------------------------------------------------------------------------------------------------------
# The two engines
# ---------------------------------------------------------------------------------------------------------

class _PythonEngine:
    """Runs the readable reference: BasicTokenizer + WordpieceTokenizer, then truncation, special tokens
    and padding, step for step as the Rust engine does them."""

    _CACHE_LIMIT = 200_000

    def __init__(self, tok: BertTokenizer):
        self.tok = tok
        self.basic = BasicTokenizer(tok.do_lower_case, tok.tokenize_chinese_chars, tok.strip_accents)
        self.wordpiece = WordpieceTokenizer(tok.vocab, tok.unk_token)
        self.split_special = False  # split_special_tokens of the current call: specials are plain text
        self.added_tokens_changed([])
        # word → its pieces as ([ids], [pieces], [(start, end)]); words repeat a lot, so this is a cache
        self._pieces: dict[str, tuple[list[int], list[str], list[tuple[int, int]]]] = {}

    def added_tokens_changed(self, new: list[AddedToken]) -> None:
        """Rebuild the two matchers: tokens with normalized=False are found in the raw text (the special
        tokens, case-sensitively), the others in the normalised text between them."""
        raw, normalized = {}, {}
        for token_id, token in self.tok._added_tokens.items():
            if token.normalized:
                normalized[self.tok._added_patterns[token_id]] = token_id
            else:
                raw[token.content] = token_id
        self._raw = _AddedMatcher(raw, self.tok._added_tokens)
        self._raw_plain = _AddedMatcher({content: token_id for content, token_id in raw.items()
                                         if not self.tok._added_tokens[token_id].special}, self.tok._added_tokens)
        self._normalized = _AddedMatcher(normalized, self.tok._added_tokens)

    def _word_pieces(self, word: str) -> tuple[list[int], list[str], list[tuple[int, int]]]:
        hit = self._pieces.get(word)
        if hit is None:
            split = self.wordpiece.split_word(word)
            hit = ([self.tok.vocab[p] for p, _, _ in split], [p for p, _, _ in split], [(s, e) for _, s, e in split])
            if len(self._pieces) >= self._CACHE_LIMIT:
                self._pieces.clear()
            self._pieces[word] = hit
        return hit

    def encode_sequence(self, text: str, type_id: int) -> _Encoding:
        """One text → tokens with ids, offsets into `text` and word indices (no special tokens).

        Added tokens are found first (normalized=False ones in the raw text, then the others in the
        normalised text between those); each is a word of its own. The rest is split into words and
        WordPiece pieces."""
        enc = _Encoding()
        word_index = 0
        # with split_special_tokens the special tokens are plain text; other added tokens still match
        matcher = self._raw_plain if self.split_special else self._raw
        for start, end, token_id in matcher.split(text):
            if token_id is not None:
                enc.ids.append(token_id)
                enc.tokens.append(text[start:end])
                enc.offsets.append((start, end))
                enc.word_ids.append(word_index)
                word_index += 1
                continue
            normalized, origin = self.basic.normalize_spans(text[start:end])
            for n_start, n_end, token_id in self._normalized.split(normalized):
                if token_id is not None:
                    enc.ids.append(token_id)
                    enc.tokens.append(normalized[n_start:n_end])
                    enc.offsets.append((start + origin[n_start], start + origin[n_end - 1] + 1))
                    enc.word_ids.append(word_index)
                    word_index += 1
                    continue
                words = [(m.group(), m.start(), m.end()) for m in _WORD_RE.finditer(normalized, n_start, n_end)]
                for word, word_start, word_end in words:
                    ids, pieces, spans = self._word_pieces(word)
                    enc.ids += ids
                    enc.tokens += pieces
                    # normalised characters s..e-1 of the word → characters of the original text
                    if len(ids) == 1:  # most words: one piece (or [UNK]) covering the whole word
                        enc.offsets.append((start + origin[word_start], start + origin[word_end - 1] + 1))
                    else:
                        enc.offsets += [(start + origin[word_start + s], start + origin[word_start + e - 1] + 1)
                                        for s, e in spans]
                    enc.word_ids += [word_index] * len(ids)
                    word_index += 1
        n = len(enc.ids)
        enc.type_ids = [type_id] * n
        enc.special_tokens_mask = [0] * n
        enc.attention_mask = [1] * n
        enc.sequence_ids = [type_id] * n
        return enc

    def encode_words(self, words: Sequence[str], type_id: int) -> _Encoding:
        """Pre-split words (is_split_into_words=True), as the Rust library encodes them: each word is
        tokenized on its own (it may still split, "don't" → don ' t), all its tokens carry the word's index
        in `words`, and offsets count characters within the word."""
        parts = []
        for i, word in enumerate(words):
            enc = self.encode_sequence(word, type_id)
            enc.word_ids = [i] * len(enc.ids)
            parts.append(enc)
        return _join(parts)

    def encode_batch(self, items: list[tuple[Any, Any]], add_special_tokens: bool, trunc: _Truncation | None,
                     pad: _Padding | None, overflow: bool = True, *, pretokenized: bool = False,
                     split_special_tokens: bool = False) -> list[_Encoding]:
        """Encodings of (text, pair) items (lists of words if pretokenized); overflow=False skips the overflow
        windows nobody will read."""
        tok = self.tok
        self.split_special = split_special_tokens
        encode = self.encode_words if pretokenized else self.encode_sequence
        out = []
        for index, (text, pair) in enumerate(items):
            a = encode(text, 0)
            b = encode(pair, 1) if pair is not None else None
            if trunc is not None:
                n_special = tok.num_special_tokens_to_add(pair is not None) if add_special_tokens else 0
                keep = _plan_truncation(len(a), len(b) if b is not None else None,
                                        trunc.max_length - n_special, trunc, index)
                if keep is not None:
                    a = _truncate_to(a, keep[0], trunc.stride, overflow, trunc.direction)
                    if b is not None:
                        b = _truncate_to(b, keep[1], trunc.stride, overflow, trunc.direction)
            # [CLS] A [SEP] (B [SEP]): merge left to right, as the Rust template processor does
            parts = [a] if b is None else [a, b]
            if add_special_tokens:
                cls = _special_row(tok.cls_token, tok.cls_token_id, 0)
                parts = [cls, a, _special_row(tok.sep_token, tok.sep_token_id, 0)]
                if b is not None:
                    parts += [b, _special_row(tok.sep_token, tok.sep_token_id, 1)]
            if any(part.overflowing for part in parts):
                enc = _Encoding()
                for part in parts:
                    enc = _merge(enc, part)
            else:
                enc = _join(parts)
            for row in (enc, *enc.overflowing):
                row.n_sequences = 1 if b is None else 2
            out.append(enc)
        if pad is not None and out:
            length = pad.length if pad.length is not None else max(len(e) for e in out)
            if pad.multiple and length % pad.multiple:
                length += pad.multiple - length % pad.multiple
            for enc in out:
                _pad(enc, length, tok.pad_token_id, tok.pad_token, pad.side)
        return out


def _rust_added_tokens(tokens: Iterable[AddedToken]) -> list:
    from tokenizers import AddedToken as RustAddedToken
    return [RustAddedToken(t.content, single_word=t.single_word, lstrip=t.lstrip, rstrip=t.rstrip,
                           normalized=t.normalized, special=t.special) for t in tokens]


class _FastEngine:
    """The same pipeline in the Rust `tokenizers` library (what `transformers.BertTokenizer` runs)."""

    def __init__(self, tok: BertTokenizer):
        from tokenizers import processors

        self.tok = tok
        self.rust = tok._build_rust_tokenizer()
        self._settings: tuple | None = None
        # with add_special_tokens=False a template that adds nothing: the output is the same, but the Rust
        # library then no longer counts [CLS]/[SEP] against max_length when it checks the stride
        self._template = self.rust.post_processor
        self._plain = processors.TemplateProcessing(single="$A:0", pair="$A:0 $B:1", special_tokens=[])

    def added_tokens_changed(self, new: list[AddedToken]) -> None:
        """Add the same tokens to the Rust tokenizer (which then holds the same ids)."""
        if new:
            self.rust.add_tokens(_rust_added_tokens(new))

    def _configure(self, trunc: _Truncation | None, pad: _Padding | None, add_special_tokens: bool = True,
                   split_special_tokens: bool = False) -> None:
        settings = (trunc, pad, add_special_tokens, split_special_tokens)
        if settings == self._settings:
            return
        self._settings = None  # until done: a failure below must not leave a half-configured cache
        self.rust.encode_special_tokens = split_special_tokens
        self.rust.post_processor = self._template if add_special_tokens else self._plain
        if trunc is None:
            self.rust.no_truncation()
        else:
            self.rust.enable_truncation(trunc.max_length, stride=trunc.stride, strategy=trunc.strategy,
                                        direction=trunc.direction)
        if pad is None:
            self.rust.no_padding()
        else:
            self.rust.enable_padding(direction=pad.side, pad_id=self.tok.pad_token_id, pad_type_id=0,
                                     pad_token=self.tok.pad_token, length=pad.length,
                                     pad_to_multiple_of=pad.multiple)
        self._settings = settings

    def encode_batch(self, items: list[tuple[Any, Any]], add_special_tokens: bool, trunc: _Truncation | None,
                     pad: _Padding | None, overflow: bool = True, *, pretokenized: bool = False,
                     split_special_tokens: bool = False):
        inputs = [text if pair is None else (text, pair) for text, pair in items]
        if trunc is not None and trunc.stride and items[0][1] is not None:
            # a window the stride does not fit makes the Rust library panic, and its panic text goes to the
            # terminal even when the exception is caught: find such an item first (single texts cannot
            # have one: the stride was checked against max_length up front)
            self._check_pair_windows(items, add_special_tokens, trunc, pretokenized, split_special_tokens)
        self._configure(trunc, pad, add_special_tokens, split_special_tokens)
        try:
            return self.rust.encode_batch(inputs, add_special_tokens=add_special_tokens,
                                          is_pretokenized=pretokenized)
        except BaseException as err:  # only_first/only_second that cannot fit: an error from Rust
            if not (isinstance(err, Exception) or type(err).__name__ == "PanicException"):
                raise  # KeyboardInterrupt & co.
            problem = (self._find_problem(items, add_special_tokens, trunc, pretokenized, split_special_tokens)
                       if trunc is not None else None)
            if problem is None:
                raise TokenizerError(f"the Rust tokenizers library failed on this batch "
                                     f"({str(err).splitlines()[0] if str(err) else type(err).__name__}); "
                                     f"engine='python' runs the same steps in Python") from None
        raise problem from None  # the same TokenizerError the Python engine raises, naming the item

    def _lengths(self, texts: list, pretokenized: bool, split_special_tokens: bool) -> list[int]:
        """Untruncated token counts, without special tokens."""
        self._configure(None, None, False, split_special_tokens)
        return [len(e) for e in self.rust.encode_batch(texts, add_special_tokens=False,
                                                       is_pretokenized=pretokenized)]

    def _check_pair_windows(self, items, add_special_tokens: bool, trunc: _Truncation, pretokenized: bool,
                            split_special_tokens: bool) -> None:
        """Raise the Python engine's error for the first pair that the truncation cannot cut into windows.
        For only_second (QA) the questions are counted first and the contexts only where a question is long
        enough to matter; the other strategies count both sides."""
        budget = trunc.max_length - (self.tok.num_special_tokens_to_add(True) if add_special_tokens else 0)
        n_a = self._lengths([a for a, _ in items], pretokenized, split_special_tokens)
        if trunc.strategy == "only_second":
            # the context keeps budget - n_a tokens; with a fitting stride it cannot panic whatever its length
            suspects = [i for i in range(len(items)) if budget - n_a[i] <= trunc.stride]
        else:
            suspects = list(range(len(items)))
        n_b = dict(zip(suspects, self._lengths([items[i][1] for i in suspects], pretokenized,
                                               split_special_tokens)))
        for i in suspects:
            _plan_truncation(n_a[i], n_b[i], budget, trunc, i)

    def _find_problem(self, items, add_special_tokens: bool, trunc: _Truncation, pretokenized: bool = False,
                      split_special_tokens: bool = False) -> TokenizerError | None:
        """The error the Python engine would raise for this batch: found from the untruncated lengths."""
        flat = [t for text, pair in items for t in ((text,) if pair is None else (text, pair))]
        lengths = iter(self._lengths(flat, pretokenized, split_special_tokens))
        for index, (_, pair) in enumerate(items):
            n_a = next(lengths)
            n_b = next(lengths) if pair is not None else None
            n_special = self.tok.num_special_tokens_to_add(pair is not None) if add_special_tokens else 0
            try:
                _plan_truncation(n_a, n_b, trunc.max_length - n_special, trunc, index)
            except TokenizerError as problem:
                return problem
        return None


# ---------------------------------------------------------------------------------------------------------
# BatchEncoding: what a call returns
# ---------------------------------------------------------------------------------------------------------

class BatchEncoding(dict):
    """A dict of model inputs ("input_ids", "token_type_ids", "attention_mask", ...) that also reads as
    attributes (`enc.input_ids`) and knows, per row, which word, sequence and characters each token came from.

    Rows are the batch items, or with `return_overflowing_tokens=True` their windows
    (`enc["overflow_to_sample_mapping"][row]` says which item a window belongs to).

    The alignment helpers take transformers' arguments: `enc.token_to_chars(i)` reads row 0,
    `enc.token_to_chars(row, i)` another row; the word and character helpers also take `sequence_index`
    (0: the text, 1: the text_pair). They return None where there is no answer (a special or padding token,
    a space, a word cut off), TokenSpan / CharSpan named tuples (start, end) for spans. `enc[i]` (an int) is
    row i's encoding, `enc[a:b]` the rows a..b-1 of every key.
    """

    def __init__(self, data: dict | None = None, encodings: list | None = None, n_sequences: int | None = None,
                 tensor_type: str | None = None):
        super().__init__(data or {})
        self._encodings = list(encodings or [])
        if n_sequences is None and self._encodings:
            n_sequences = self._encodings[0].n_sequences
        self._n_sequences = n_sequences
        if tensor_type is not None:
            self.convert_to_tensors(tensor_type)

    def __getattr__(self, name: str):
        if name.startswith("_"):
            raise AttributeError(name)
        try:
            return self[name]
        except KeyError:
            raise AttributeError(f"BatchEncoding has no key or method {name!r}; keys: {list(self)}") from None

    def __getitem__(self, item):
        """enc["input_ids"]: a key; enc[i]: row i's encoding (tokenizers.Encoding or the Python engine's);
        enc[a:b]: {key: rows a..b-1}."""
        if isinstance(item, str):
            return dict.__getitem__(self, item)
        if isinstance(item, slice):
            return {key: value[item] for key, value in self.items()}
        if _is_int(item):
            return self._row(int(item))
        return dict.__getitem__(self, item)

    @property
    def data(self) -> dict:
        """The keys and values (as transformers' BatchEncoding.data); this BatchEncoding is that dict."""
        return self

    @property
    def encodings(self) -> list:
        """One encoding per row (`tokenizers.Encoding` or the Python engine's equivalent)."""
        return self._encodings

    @property
    def is_fast(self) -> bool:
        """True when the rows carry alignment information (a call of either engine), as in transformers."""
        return bool(self._encodings)

    @property
    def n_sequences(self) -> int | None:
        """1 for single texts, 2 for pairs, None when unknown (an empty batch, or built by hand)."""
        return self._n_sequences

    def _row(self, batch_index: int):
        if not self._encodings:
            raise TokenizerError("this BatchEncoding carries no per-token information (it was built by hand); "
                                 "call the tokenizer to get one that does")
        if not _is_int(batch_index):
            raise TokenizerTypeError(f"batch_index must be an integer, not {_describe(batch_index)}")
        if not -len(self._encodings) <= batch_index < len(self._encodings):
            raise TokenizerIndexError(f"batch_index {batch_index} is out of range: there are "
                                      f"{len(self._encodings)} rows")
        return self._encodings[batch_index]

    def _locate(self, batch_or_index, index, what: str):
        """(row, index) from transformers' two calling conventions: (index) for row 0, (row, index)."""
        if index is None:
            batch_index, index = 0, batch_or_index
        else:
            batch_index = batch_or_index
        if type(index) is not int:
            if not _is_int(index):
                raise TokenizerTypeError(f"{what} must be an integer, not {_describe(index)}")
            index = int(index)
        rows = self._encodings
        if type(batch_index) is int and -len(rows) <= batch_index < len(rows):  # the usual case, quickly
            return rows[batch_index], index
        return self._row(batch_index), index

    def tokens(self, batch_index: int = 0) -> list[str]:
        """The token strings of one row."""
        return list(self._row(batch_index).tokens)

    def word_ids(self, batch_index: int = 0) -> list[int | None]:
        """For each token, the index of the word it belongs to in its own sequence (None for special and
        padding tokens). Words are counted per sequence: in a pair, the second text starts again at 0. With
        is_split_into_words=True, the words are the ones given."""
        return list(self._row(batch_index).word_ids)

    def sequence_ids(self, batch_index: int = 0) -> list[int | None]:
        """For each token: 0 (first text), 1 (text_pair) or None (special or padding)."""
        return list(self._row(batch_index).sequence_ids)

    def token_to_sequence(self, batch_or_token_index: int, token_index: int | None = None) -> int | None:
        """0 or 1: the sequence token `token_index` comes from (None for special and padding tokens). A
        negative token index counts from the end of the row."""
        row, token = self._locate(batch_or_token_index, token_index, "token_index")
        return row.token_to_sequence(token + len(row) if token < 0 else token)

    def token_to_word(self, batch_or_token_index: int, token_index: int | None = None) -> int | None:
        """The index of the word token `token_index` belongs to, in its sequence (None for special and
        padding tokens)."""
        row, token = self._locate(batch_or_token_index, token_index, "token_index")
        return row.token_to_word(token + len(row) if token < 0 else token)

    def token_to_chars(self, batch_or_token_index: int, token_index: int | None = None) -> CharSpan | None:
        """CharSpan(start, end) of token `token_index` in its text (in its word, for pre-split words); None
        for special and padding tokens."""
        row, token = self._locate(batch_or_token_index, token_index, "token_index")
        span = row.token_to_chars(token + len(row) if token < 0 else token)
        return CharSpan(*span) if span is not None else None

    def word_to_tokens(self, batch_or_word_index: int, word_index: int | None = None,
                       sequence_index: int = 0) -> TokenSpan | None:
        """TokenSpan(start, end) of the tokens of word `word_index` of sequence `sequence_index`; None when
        the word has no token in this row (cut off, in another window, or nothing left after cleaning)."""
        row, word = self._locate(batch_or_word_index, word_index, "word_index")
        span = row.word_to_tokens(word, sequence_index) if word >= 0 else None
        return TokenSpan(*span) if span is not None else None

    def word_to_chars(self, batch_or_word_index: int, word_index: int | None = None,
                      sequence_index: int = 0) -> CharSpan | None:
        """CharSpan(start, end) of word `word_index` of sequence `sequence_index` in its text (None when the
        word has no token in this row; transformers raises TypeError there)."""
        row, word = self._locate(batch_or_word_index, word_index, "word_index")
        span = row.word_to_chars(word, sequence_index) if word >= 0 else None
        return CharSpan(*span) if span is not None else None

    def char_to_token(self, batch_or_char_index: int, char_index: int | None = None,
                      sequence_index: int = 0) -> int | None:
        """The token covering character `char_index` of sequence `sequence_index` (None if it is a space
        or was cut off). `enc.char_to_token(c)` for row 0, `enc.char_to_token(row, c)` otherwise."""
        row, char = self._locate(batch_or_char_index, char_index, "char_index")
        return row.char_to_token(char, sequence_index) if char >= 0 else None

    def char_to_word(self, batch_or_char_index: int, char_index: int | None = None,
                     sequence_index: int = 0) -> int | None:
        """The word containing character `char_index` of sequence `sequence_index` (None for a space or a
        character that was cut off)."""
        row, char = self._locate(batch_or_char_index, char_index, "char_index")
        return row.char_to_word(char, sequence_index) if char >= 0 else None

    def convert_to_tensors(self, tensor_type: str | None) -> BatchEncoding:
        """Turn every value into a torch tensor ("pt") or numpy array ("np"), in place."""
        if tensor_type is None:
            return self
        if tensor_type not in ("pt", "np"):
            raise TokenizerError(f"return_tensors={tensor_type!r} is not supported; use 'pt', 'np' or None")
        for key, value in self.items():
            rows = value if value and isinstance(value[0], list) else None
            if rows is not None and len({len(r) for r in rows}) > 1:
                raise TokenizerError(
                    f"return_tensors={tensor_type!r} needs rows of one length, but {key!r} has rows of lengths "
                    f"{sorted({len(r) for r in rows})}; pass padding=True (and truncation=True for texts over "
                    f"max_length)")
            if tensor_type == "np":
                import numpy as np
                array = np.asarray(value, dtype=np.int64)
            else:
                import torch
                array = torch.tensor(value, dtype=torch.long)
            if rows is not None and not rows[0] and key == "offset_mapping":
                array = array.reshape(len(rows), 0, 2)
            self[key] = array
        return self

    def to(self, device) -> BatchEncoding:
        """Move the torch tensors to `device` (returns self, like transformers)."""
        for key, value in self.items():
            if hasattr(value, "to") and type(value).__module__.startswith("torch"):
                self[key] = value.to(device)
        return self


# ---------------------------------------------------------------------------------------------------------
# BertTokenizer
# ---------------------------------------------------------------------------------------------------------

def load_vocab(path: str | os.PathLike) -> dict[str, int]:
    """vocab.txt → {token: id}: one token per line, the line number is the id."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise TokenizerError(f"{path}: vocabulary file not found; pass the path of a vocab.txt, or a "
                             f"tokenizer folder to BertTokenizer.from_pretrained") from None
    except UnicodeDecodeError as err:
        raise TokenizerError(f"{path}: not UTF-8 text ({err})") from None
    except OSError as err:  # a folder, no permission, ...
        raise TokenizerError(f"{path}: cannot read the vocabulary file ({err.strerror or err})") from None
    # split on "\n" only: str.splitlines() would also split on characters that can be tokens (U+2028, ...)
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    vocab: dict[str, int] = {}
    for i, line in enumerate(lines):
        token = line[:-1] if line.endswith("\r") else line
        if token in vocab:
            raise TokenizerError(f"{path}, line {i + 1}: token {token!r} already appears on line {vocab[token] + 1}; "
                                 f"each token must appear once (its line number is its id)")
        vocab[token] = i
    if not vocab:
        raise TokenizerError(f"{path}: the vocabulary file is empty")
    return vocab


def _read_json(path: Path) -> dict:
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except json.JSONDecodeError as err:
        raise TokenizerError(f"{path}, line {err.lineno}: invalid JSON ({err.msg})") from None
    except UnicodeDecodeError as err:
        raise TokenizerError(f"{path}: not UTF-8 text ({err})") from None
    except OSError as err:
        raise TokenizerError(f"{path}: cannot read it ({err.strerror or err})") from None
    if not isinstance(data, dict):
        raise TokenizerError(f"{path}: expected a JSON object, found {type(data).__name__}")
    return data


def _token_str(value: Any, where: str) -> str:
    """Special tokens are written as "[CLS]" or, by older transformers, as {"content": "[CLS]", ...}."""
    if isinstance(value, dict) and isinstance(value.get("content"), str):
        return value["content"]
    if isinstance(value, str):
        return value
    raise TokenizerError(f"{where}: expected a token string, found {value!r}")



def _call_options(folder: Path, config: dict, rust_json: dict | None) -> dict[str, Any]:
    """What transformers reads from a tokenizer folder besides the vocabulary and the normaliser settings:
    padding_side, truncation_side, model_input_names and split_special_tokens from tokenizer_config.json,
    the sides also from tokenizer.json's "padding" / "truncation" sections when the config is silent (the
    rest of those sections transformers resets on every call); and max_len, the old name of
    model_max_length. Values are checked, naming the file and key."""
    where = folder / CONFIG_FILE
    out: dict[str, Any] = {}
    sections = {"padding_side": ("padding", "direction"), "truncation_side": ("truncation", "direction")}
    for key, (section, field_name) in sections.items():
        value = config.get(key)
        if value is None and isinstance((rust_json or {}).get(section), dict):
            value = rust_json[section].get(field_name)
            if isinstance(value, str):
                value = value.lower()  # "Left" / "Right" in tokenizer.json
        if value is not None:
            if value not in SIDES:
                raise TokenizerError(f"{where}: {key} is {value!r}; use \"right\" or \"left\"")
            out[key] = value
    names = config.get("model_input_names")
    if names is not None:
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            raise TokenizerError(f"{where}: model_input_names is {names!r}, expected a list of strings such as "
                                 f"{list(MODEL_INPUT_NAMES)}")
        out["model_input_names"] = names
    split = config.get("split_special_tokens")
    if split is not None:
        if not isinstance(split, bool):
            raise TokenizerError(f"{where}: split_special_tokens is {split!r}, expected true or false")
        out["split_special_tokens"] = split
    if config.get("model_max_length") is None and config.get("max_len") is not None:
        max_len = config["max_len"]
        if not _is_int(max_len) or max_len <= 0:
            raise TokenizerError(f"{where}: max_len is {max_len!r}, expected a positive integer")
        out["model_max_length"] = None if max_len > 1e18 else max_len
    return out


class BertTokenizer:
    """BERT's WordPiece tokenizer with the `transformers` call signature.

    Args:
        vocab_file_or_dict: path to vocab.txt, or a {token: id} dict with ids 0..n-1.
        do_lower_case: lowercase (and, unless strip_accents says otherwise, strip accents): uncased models.
        tokenize_chinese_chars: make every CJK ideograph a word of its own.
        strip_accents: None follows do_lower_case.
        model_max_length: the model's limit; `truncation=True` without max_length cuts to it (None: no limit).
        engine: "fast" (Rust `tokenizers`) or "python" (the readable reference in this module).
        clean_up_tokenization_spaces: default for decode(); transformers 5 defaults to False for BERT.
        pad_token, unk_token, cls_token, sep_token, mask_token: the special tokens' strings (bos_token and
            eos_token, unused by BERT, are kept and listed when given, as in transformers).
        additional_special_tokens: more special tokens ("[E1]", ...): kept whole in the text, skipped by
            decode(skip_special_tokens=True), listed in all_special_tokens; added after the vocabulary.
        do_basic_tokenize, never_split: accepted and saved, and have no effect, exactly as in transformers 5,
            whose BertTokenizer (Rust-backed) ignores both: text is always normalised and split on
            whitespace and punctuation. To keep a word whole, add it with add_tokens() (transformers' way).
        padding_side, truncation_side: "right" (the default) or "left": where padding goes, and which end
            of a text truncation cuts off.
        model_input_names: the inputs the model takes; a call returns token_type_ids / attention_mask by
            default only when they are listed (default: input_ids, token_type_ids, attention_mask).
        split_special_tokens: True tokenizes "[MASK]" & co. written in the text as ordinary text.
    All of these are read from tokenizer_config.json by from_pretrained, as transformers reads them.

    Added tokens (add_tokens, add_special_tokens, or those of a loaded folder) get ids after the vocabulary:
    `len(tok)` counts them, `vocab_size` does not (as in transformers). Both engines find them in the text
    as the Rust `tokenizers` library does: tokens with normalized=False (the special ones, by default) in
    the raw text, case-sensitively; the others in the normalised text (lowercased, for an uncased model),
    anywhere, inside words too (unless single_word=True). Each found token is a word of its own.
    """

    def __init__(self, vocab_file_or_dict: str | os.PathLike | Mapping[str, int], do_lower_case: bool = True,
                 tokenize_chinese_chars: bool = True, strip_accents: bool | None = None,
                 model_max_length: int | None = 512, engine: str = "fast", *,
                 clean_up_tokenization_spaces: bool = False, pad_token: str = "[PAD]", unk_token: str = "[UNK]",
                 cls_token: str = "[CLS]", sep_token: str = "[SEP]", mask_token: str = "[MASK]",
                 bos_token: str | None = None, eos_token: str | None = None,
                 additional_special_tokens: Sequence[str | AddedToken] | None = None,
                 do_basic_tokenize: bool = True, never_split: Iterable[str] | None = None,
                 padding_side: str = "right", truncation_side: str = "right",
                 model_input_names: Sequence[str] | None = None, split_special_tokens: bool = False,
                 _source: str | None = None):
        if isinstance(vocab_file_or_dict, Mapping):
            where = _source or "the vocabulary dict"
            vocab = dict(vocab_file_or_dict)
            ids = sorted(vocab.values())
            if ids != list(range(len(ids))):
                raise TokenizerError(f"{where}: ids must be 0..{len(ids) - 1}, each used once")
        elif isinstance(vocab_file_or_dict, (str, os.PathLike)):
            path = Path(vocab_file_or_dict)
            if path.is_dir():
                raise TokenizerError(f"{path} is a folder; use BertTokenizer.from_pretrained({str(path)!r})")
            where = str(path)
            vocab = load_vocab(path)
        else:
            raise TokenizerTypeError(f"vocab_file_or_dict must be a path to vocab.txt or a dict, "
                                     f"not {type(vocab_file_or_dict).__name__}")
        if engine not in ("fast", "python"):
            raise TokenizerError(f"engine={engine!r}: use 'fast' (Rust tokenizers) or 'python' (the reference)")
        if model_max_length is not None and (not isinstance(model_max_length, int) or model_max_length <= 0):
            raise TokenizerError(f"model_max_length={model_max_length!r} must be a positive integer or None")
        for name, flag in (("do_lower_case", do_lower_case), ("tokenize_chinese_chars", tokenize_chinese_chars)):
            if not isinstance(flag, bool):
                raise TokenizerTypeError(f"{name} must be True or False, not {flag!r}")
        if strip_accents is not None and not isinstance(strip_accents, bool):
            raise TokenizerTypeError(f"strip_accents must be True, False or None, not {strip_accents!r}")

        specials = {"pad_token": pad_token, "unk_token": unk_token, "cls_token": cls_token,
                    "sep_token": sep_token, "mask_token": mask_token}
        missing = [tok for tok in specials.values() if tok not in vocab]
        if missing:
            raise TokenizerError(f"{where}: the special tokens {missing} are not in the vocabulary; a BERT vocabulary "
                                 f"needs all of {list(specials.values())}")

        self.vocab: dict[str, int] = vocab
        self.ids_to_tokens: list[str] = sorted(vocab, key=vocab.__getitem__)
        self.do_lower_case = do_lower_case
        self.tokenize_chinese_chars = tokenize_chinese_chars
        self.strip_accents = strip_accents
        self.model_max_length = model_max_length
        self.clean_up_tokenization_spaces = clean_up_tokenization_spaces
        self.engine = engine
        self.pad_token, self.unk_token, self.cls_token = pad_token, unk_token, cls_token
        self.sep_token, self.mask_token = sep_token, mask_token
        self.bos_token, self.eos_token = bos_token, eos_token
        self.name_or_path = where
        self._warned_long = False
        self._set_call_options(padding_side, truncation_side, model_input_names, split_special_tokens)
        self._set_ignored_options(do_basic_tokenize, never_split, where)

        # the added vocabulary, as the Rust library keeps it (tokenizers' AddedVocabulary)
        self._added_ids: dict[str, int] = {}  # content → id
        self._added_tokens: dict[int, AddedToken] = {}  # id → token, with its flags
        self._added_patterns: dict[int, str] = {}  # normalized=True tokens: what is matched (content normalised)
        self._added_display: dict[int, str] = {}  # id → what convert_ids_to_tokens and decode show
        self._special_contents: set[str] = set()  # every content ever added as special (decode skips these)
        self._added_log: list[AddedToken] = []  # every token accepted, in order, to replay in the Rust engine
        self._extra_special_tokens: list[str] = []  # additional_special_tokens
        self._normalizer = BasicTokenizer(do_lower_case, tokenize_chinese_chars, strip_accents)
        self._engine = None
        self._add([AddedToken(t, special=True) for t in self._named_special_tokens()], where)
        if additional_special_tokens:
            self.add_special_tokens({"additional_special_tokens": list(additional_special_tokens)})
        self._engine = _FastEngine(self) if engine == "fast" else _PythonEngine(self)

    def _set_call_options(self, padding_side, truncation_side, model_input_names, split_special_tokens) -> None:
        """The settings transformers keeps beside the vocabulary (see the class docstring), checked."""
        self.padding_side = _side("padding_side", padding_side)
        self.truncation_side = _side("truncation_side", truncation_side)
        if model_input_names is None:
            model_input_names = MODEL_INPUT_NAMES
        if isinstance(model_input_names, str) or not all(isinstance(n, str) for n in model_input_names):
            raise TokenizerTypeError(f"model_input_names={model_input_names!r} must be a list of names such as "
                                     f"{list(MODEL_INPUT_NAMES)}")
        self.model_input_names = list(model_input_names)
        self.split_special_tokens = _flag("split_special_tokens", split_special_tokens, False)

    # -- loading and saving ------------------------------------------------------------------------------

    @classmethod
    def from_pretrained(cls, folder: str | os.PathLike, engine: str = "fast", **overrides) -> BertTokenizer:
        """Load a Hugging Face tokenizer folder: vocab.txt (or, as transformers 5 writes, only
        tokenizer.json) and tokenizer_config.json (do_lower_case, strip_accents, tokenize_chinese_chars,
        model_max_length, special tokens, do_basic_tokenize / never_split, which have no effect, as in
        transformers 5). Added tokens are read as transformers reads them (tokenizer_config.json's
        added_tokens_decoder, else tokenizer.json's added_tokens, with their flags; additional_special_tokens
        or extra_special_tokens). Keyword arguments override the config."""
        folder = Path(folder)
        if not folder.is_dir():
            raise TokenizerError(f"{folder}: no such folder (expected a tokenizer folder with {VOCAB_FILE})")
        config = _read_json(folder / CONFIG_FILE) if (folder / CONFIG_FILE).is_file() else {}
        special_map = (_read_json(folder / SPECIAL_TOKENS_FILE) if (folder / SPECIAL_TOKENS_FILE).is_file()
                       else {})
        rust_json = _read_json(folder / TOKENIZER_FILE) if (folder / TOKENIZER_FILE).is_file() else None

        if (folder / VOCAB_FILE).is_file():
            vocab: str | os.PathLike | dict = folder / VOCAB_FILE
        elif rust_json is not None:
            model = rust_json.get("model") or {}
            if model.get("type") != "WordPiece" or not isinstance(model.get("vocab"), dict):
                raise TokenizerError(f"{folder / TOKENIZER_FILE}: not a WordPiece tokenizer (model type "
                                     f"{model.get('type')!r}), and there is no {VOCAB_FILE}")
            vocab = model["vocab"]
            overrides.setdefault("_source", str(folder / TOKENIZER_FILE))
        else:
            raise TokenizerError(f"{folder}: no {VOCAB_FILE} (nor {TOKENIZER_FILE}); this is not a BERT "
                                 f"tokenizer folder")

        # settings the config leaves out are read from tokenizer.json's normalizer, then defaulted
        normalizer = (rust_json or {}).get("normalizer") or {}
        if normalizer.get("type") != "BertNormalizer":
            normalizer = {}
        kwargs: dict[str, Any] = {
            "do_lower_case": config.get("do_lower_case", normalizer.get("lowercase", True)),
            "strip_accents": config.get("strip_accents", normalizer.get("strip_accents")),
            "tokenize_chinese_chars": config.get("tokenize_chinese_chars",
                                                 normalizer.get("handle_chinese_chars", True)),
            # transformers treats a missing model_max_length as "no limit"
            "model_max_length": config.get("model_max_length"),
            "clean_up_tokenization_spaces": bool(config.get("clean_up_tokenization_spaces", False)),
        }
        for key, kinds in (("do_lower_case", (bool,)), ("strip_accents", (bool, type(None))),
                           ("tokenize_chinese_chars", (bool,)), ("model_max_length", (int, type(None)))):
            if not isinstance(kwargs[key], kinds) or (key == "model_max_length" and kwargs[key] is not None
                                                      and (isinstance(kwargs[key], bool) or kwargs[key] <= 0)):
                raise TokenizerError(f"{folder / CONFIG_FILE}: {key} is {kwargs[key]!r}, expected "
                                     f"{' or '.join('null' if k is type(None) else k.__name__ for k in kinds)}")
        if kwargs["model_max_length"] is not None and kwargs["model_max_length"] > 1e18:
            kwargs["model_max_length"] = None  # transformers writes int(1e30) for "no limit"
        for role in ALL_ROLES:
            for source, name in ((config, CONFIG_FILE), (special_map, SPECIAL_TOKENS_FILE)):
                if source.get(role) is not None:
                    kwargs[role] = _token_str(source[role], f"{folder / name}: {role}")
                    break
        for key in ("do_basic_tokenize", "never_split"):
            if key in config:
                kwargs[key] = config[key]
        added, extras = cls._read_added_tokens(folder, config, special_map, rust_json)
        kwargs.update(_call_options(folder, config, rust_json))
        kwargs.update(overrides)
        extras = kwargs.pop("additional_special_tokens", kwargs.pop("extra_special_tokens", extras))
        # bos/eos (not part of BERT), and roles given to added tokens (add_special_tokens({"cls_token": "<cls>"})
        # in transformers), are set once the folder's added tokens are in
        listed = {token.content for _, token in added}
        candidates = [role for role in SPECIAL_ROLES if role != "unk_token" and kwargs.get(role) in listed]
        base = (vocab if isinstance(vocab, dict) else load_vocab(vocab)) if candidates else {}
        late_roles = {role: kwargs.pop(role) for role in list(kwargs) if role in ("bos_token", "eos_token")
                      or (role in candidates and kwargs[role] not in base)}
        tok = cls(vocab, engine=engine, **kwargs)
        tok.name_or_path = str(folder)
        tok._load_added_tokens(added, extras or [], late_roles, folder)
        return tok

    @staticmethod
    def _read_added_tokens(folder: Path, config: dict, special_map: dict, rust_json: dict | None
                           ) -> tuple[list[tuple[int, AddedToken]], list]:
        """The folder's added tokens [(id, AddedToken)] and additional special tokens, where transformers
        reads them: tokenizer_config.json's added_tokens_decoder, else tokenizer.json's added_tokens; the
        list from tokenizer_config.json's extra_special_tokens / additional_special_tokens, else from
        special_tokens_map.json."""
        from .errors import TokenizerError
        entries: list[tuple[Any, Any, str]] = []
        decoder = config.get("added_tokens_decoder")
        if decoder is not None:
            where = f"{folder / CONFIG_FILE}: added_tokens_decoder"
            if not isinstance(decoder, dict):
                raise TokenizerError(f"{where} is {_describe(decoder)}; expected {{\"id\": {{\"content\": ...}}}}")
            entries = [(key, value, f"{where}[{key!r}]") for key, value in decoder.items()]
        elif rust_json is not None and rust_json.get("added_tokens") is not None:
            where = f"{folder / TOKENIZER_FILE}: added_tokens"
            listed = rust_json["added_tokens"]
            if not isinstance(listed, list):
                raise TokenizerError(f"{where} is {_describe(listed)}; expected a list of tokens")
            entries = [(item.get("id") if isinstance(item, dict) else None, item, f"{where}[{i}]")
                       for i, item in enumerate(listed)]
        added = []
        for key, value, where in entries:
            try:
                token_id = int(key)
            except (TypeError, ValueError):
                raise TokenizerError(f"{where}: the id {key!r} is not an integer; fix or remove this entry"
                                     ) from None
            added.append((token_id, _as_added_token(value, where)))
        added.sort(key=lambda item: item[0])
        extras: Any = None
        for source, name in ((config, CONFIG_FILE), (special_map, SPECIAL_TOKENS_FILE)):
            for key in ("extra_special_tokens", "additional_special_tokens"):
                if source.get(key):
                    extras, extras_where = source[key], f"{folder / name}: {key}"
                    break
            if extras is not None:
                break
        if extras is not None:
            if not isinstance(extras, list):
                raise TokenizerError(f"{extras_where} is {_describe(extras)}; expected a list of tokens")
            extras = [_as_added_token(t, f"{extras_where}[{i}]", special=True) for i, t in enumerate(extras)]
        return added, extras or []

    def _load_added_tokens(self, added: list[tuple[int, AddedToken]], extras: list, late_roles: dict,
                           folder: Path) -> None:
        """Add a folder's tokens the way transformers 5 does when it loads one: the listed tokens in id order
        (each keeps its vocabulary id, or takes the next free one; a named special token is made special),
        then the named and the additional special tokens again, as special tokens (with the flags the
        folder lists for them, if it does). A listed id that comes
        out different (ids with gaps) is a warning: a model saved with those ids would look up the wrong
        embeddings."""
        def as_special(token: AddedToken) -> AddedToken:
            return AddedToken(token.content, token.single_word, token.lstrip, token.rstrip, token.normalized, True)

        named_contents = set(self._named_special_tokens()) | set(late_roles.values())
        listed = [as_special(t) if t.content in named_contents else t for _, t in added]
        self._add(listed, str(folder))
        changed = [role for role, token in late_roles.items() if getattr(self, role) != token]
        for role, token in late_roles.items():
            setattr(self, role, token)
        if set(changed) & set(SPECIAL_ROLES):
            self._engine = type(self._engine)(self)  # the template uses the new [CLS] / [SEP]
        from_file = {token.content: token for token in listed}
        self._add([as_special(from_file[t]) if t in from_file else AddedToken(t, special=True)
                   for t in self._named_special_tokens()], str(folder))
        if extras:  # a token the folder lists keeps its flags
            extras = [_as_added_token(t, f"{folder}: additional_special_tokens", special=True) for t in extras]
            self.add_special_tokens({"additional_special_tokens": [
                as_special(from_file[t.content]) if t.content in from_file else t for t in extras]})
        moved = [(token.content, token_id, self._added_ids.get(token.content)) for token_id, token in added
                 if self._added_ids.get(token.content) != token_id]
        if moved:
            content, old, new = moved[0]
            warnings.warn(f"{folder}: {len(moved)} added token(s) get another id than the folder lists, e.g. "
                          f"{content!r} {old} → {new} (transformers renumbers them the same way); a model saved "
                          f"with the old ids needs its embeddings re-ordered", stacklevel=3)

    def _build_rust_tokenizer(self):
        """The `tokenizers.Tokenizer` equivalent to this tokenizer (as transformers builds it)."""
        from tokenizers import Tokenizer as RustTokenizer, decoders, normalizers, pre_tokenizers
        from tokenizers import processors
        from tokenizers.models import WordPiece

        rust = RustTokenizer(WordPiece(self.vocab, unk_token=self.unk_token, continuing_subword_prefix="##",
                                       max_input_chars_per_word=100))
        rust.normalizer = normalizers.BertNormalizer(clean_text=True,
                                                     handle_chinese_chars=self.tokenize_chinese_chars,
                                                     strip_accents=self.strip_accents,
                                                     lowercase=self.do_lower_case)
        rust.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
        cls, sep = self.cls_token, self.sep_token
        rust.post_processor = processors.TemplateProcessing(
            single=f"{cls}:0 $A:0 {sep}:0", pair=f"{cls}:0 $A:0 {sep}:0 $B:1 {sep}:1",
            special_tokens=[(cls, self.cls_token_id), (sep, self.sep_token_id)])
        rust.decoder = decoders.WordPiece(prefix="##")
        # every add_tokens / add_special_tokens call, replayed in order: the same ids and the same flags
        rust.add_tokens(_rust_added_tokens(self._added_log))
        return rust

    def save_pretrained(self, folder: str | os.PathLike) -> tuple[str, ...]:
        """Write vocab.txt, tokenizer.json, tokenizer_config.json and special_tokens_map.json; transformers'
        AutoTokenizer/BertTokenizer.from_pretrained loads the folder and tokenizes identically, added tokens
        included (tokenizer.json's added_tokens and tokenizer_config.json's added_tokens_decoder carry them
        with their flags; additional_special_tokens lists the extra special ones). Each file
        is written to a temporary name and renamed, so a failure never leaves a half-written file."""
        folder = Path(folder)
        with writing(folder):
            folder.mkdir(parents=True, exist_ok=True)
        specials: dict[str, Any] = self.special_tokens_map
        if self._extra_special_tokens:
            specials["additional_special_tokens"] = list(self._extra_special_tokens)
        config = {
            "tokenizer_class": "BertTokenizer",
            "do_lower_case": self.do_lower_case,
            "strip_accents": self.strip_accents,
            "tokenize_chinese_chars": self.tokenize_chinese_chars,
            "do_basic_tokenize": self.do_basic_tokenize,
            "never_split": self.never_split,
            "clean_up_tokenization_spaces": self.clean_up_tokenization_spaces,
            **specials,
            # the added tokens with their flags (also in tokenizer.json), as transformers 4 writes them
            "added_tokens_decoder": {str(i): token.to_dict() for i, token in self.added_tokens_decoder.items()},
        }
        if self.model_max_length is not None:
            config["model_max_length"] = self.model_max_length
        config.update(padding_side=self.padding_side, truncation_side=self.truncation_side,
                      split_special_tokens=self.split_special_tokens)
        if self.model_input_names != list(MODEL_INPUT_NAMES):
            config["model_input_names"] = self.model_input_names
        files = {
            VOCAB_FILE: "".join(t + "\n" for t in self.ids_to_tokens),
            TOKENIZER_FILE: self._build_rust_tokenizer().to_str(pretty=True),
            CONFIG_FILE: json.dumps(config, indent=2, ensure_ascii=False) + "\n",
            SPECIAL_TOKENS_FILE: json.dumps(specials, indent=2, ensure_ascii=False) + "\n",
        }
        for name, text in files.items():
            atomic_write_text(folder / name, text)
        return tuple(str(folder / name) for name in files)

    # -- vocabulary --------------------------------------------------------------------------------------

    @property
    def vocab_size(self) -> int:
        """The WordPiece vocabulary's size, without added tokens (as in transformers)."""
        return len(self.vocab)

    def __len__(self) -> int:
        """The vocabulary and the added tokens: the number of rows the model's embedding needs."""
        return len(self.vocab) + sum(1 for t in self._added_ids if t not in self.vocab)

    def get_vocab(self) -> dict[str, int]:
        """{token: id} for the vocabulary and the added tokens."""
        return {**self.vocab, **self._added_ids}

    def get_added_vocab(self) -> dict[str, int]:
        """{token: id} of the added tokens (the special tokens included), by id."""
        return {self._added_tokens[i].content: i for i in sorted(self._added_tokens)}

    @property
    def added_tokens_encoder(self) -> dict[str, int]:
        return self.get_added_vocab()

    @property
    def added_tokens_decoder(self) -> dict[int, AddedToken]:
        """{id: AddedToken} of the added tokens, with their flags, by id."""
        return {i: self._added_tokens[i] for i in sorted(self._added_tokens)}

    def _named_special_tokens(self) -> list[str]:
        out = []
        for role in ALL_ROLES:
            token = getattr(self, role, None)
            if token is not None and token not in out:
                out.append(token)
        return out

    @property
    def additional_special_tokens(self) -> list[str]:
        """The special tokens beyond the named roles ("[E1]", ...), as add_special_tokens set them
        (transformers 5 calls them extra_special_tokens)."""
        return list(self._extra_special_tokens)

    extra_special_tokens = additional_special_tokens

    @property
    def additional_special_tokens_ids(self) -> list[int]:
        return self.convert_tokens_to_ids(self.additional_special_tokens)

    @property
    def special_tokens_map(self) -> dict[str, str]:
        """{role: token} for the named roles that are set."""
        return {role: getattr(self, role) for role in ALL_ROLES if getattr(self, role, None) is not None}

    @property
    def all_special_tokens(self) -> list[str]:
        """The named special tokens (bos, eos, unk, sep, pad, cls, mask, when set), then the additional ones."""
        out = self._named_special_tokens()
        out += [t for t in dict.fromkeys(self._extra_special_tokens) if t not in out]
        return out

    @property
    def all_special_ids(self) -> list[int]:
        return self.convert_tokens_to_ids(self.all_special_tokens)

    def _token_id(self, token: str) -> int:
        token_id = self._added_ids.get(token)
        return self.vocab[token] if token_id is None else token_id

    @property
    def pad_token_id(self) -> int:
        return self._token_id(self.pad_token)

    @property
    def unk_token_id(self) -> int:
        return self._token_id(self.unk_token)

    @property
    def cls_token_id(self) -> int:
        return self._token_id(self.cls_token)

    @property
    def sep_token_id(self) -> int:
        return self._token_id(self.sep_token)

    @property
    def mask_token_id(self) -> int:
        return self._token_id(self.mask_token)

    @property
    def bos_token_id(self) -> int | None:
        return None if self.bos_token is None else self._token_id(self.bos_token)

    @property
    def eos_token_id(self) -> int | None:
        return None if self.eos_token is None else self._token_id(self.eos_token)

    def num_special_tokens_to_add(self, pair: bool = False) -> int:
        """[CLS] A [SEP] adds 2; [CLS] A [SEP] B [SEP] adds 3."""
        return 3 if pair else 2

    @property
    def max_len_single_sentence(self) -> int | None:
        """How many tokens of one text fit in model_max_length beside [CLS] and [SEP] (None: no limit)."""
        return None if self.model_max_length is None else self.model_max_length - 2

    @property
    def max_len_sentences_pair(self) -> int | None:
        """How many tokens of a pair fit in model_max_length beside [CLS] A [SEP] B [SEP] (None: no limit)."""
        return None if self.model_max_length is None else self.model_max_length - 3

    @property
    def pad_token_type_id(self) -> int:
        """The token type id of padding (0, as in transformers)."""
        return 0

    def build_inputs_with_special_tokens(self, token_ids_0: Iterable[int],
                                         token_ids_1: Iterable[int] | None = None) -> list[int]:
        """[CLS] A [SEP] or [CLS] A [SEP] B [SEP], on ids (as transformers' BertTokenizer)."""
        a = _id_list(token_ids_0)
        if token_ids_1 is None:
            return [self.cls_token_id, *a, self.sep_token_id]
        return [self.cls_token_id, *a, self.sep_token_id, *_id_list(token_ids_1), self.sep_token_id]

    def create_token_type_ids_from_sequences(self, token_ids_0: Iterable[int],
                                             token_ids_1: Iterable[int] | None = None) -> list[int]:
        """The token_type_ids of build_inputs_with_special_tokens(A, B): 0 for [CLS] A [SEP], 1 for B [SEP]."""
        n_a = len(_id_list(token_ids_0)) + 2
        return [0] * n_a if token_ids_1 is None else [0] * n_a + [1] * (len(_id_list(token_ids_1)) + 1)

    def get_special_tokens_mask(self, token_ids_0: Iterable[int], token_ids_1: Iterable[int] | None = None,
                                already_has_special_tokens: bool = False) -> list[int]:
        """1 for a special token, 0 for a text token. Without already_has_special_tokens: the mask of
        build_inputs_with_special_tokens(A, B) (A and B are ids without special tokens); with it: whether
        each id of the (already wrapped) A is a special token's id, and B must be None."""
        if already_has_special_tokens:
            if token_ids_1 is not None:
                raise TokenizerError("get_special_tokens_mask: token_ids_1 must be None when "
                                     "already_has_special_tokens=True (the ids already hold both sequences)")
            special = set(self.all_special_ids)
            return [1 if i in special else 0 for i in _id_list(token_ids_0)]
        mask = [1] + [0] * len(_id_list(token_ids_0)) + [1]
        return mask if token_ids_1 is None else mask + [0] * len(_id_list(token_ids_1)) + [1]

    def convert_tokens_to_string(self, tokens: Iterable[str]) -> str:
        """Token strings → text, as transformers' BertTokenizer (the Rust WordPiece decoder) does it: "##"
        pieces join the previous token, other tokens get a space, and " ." " ," " n't" ... are tightened.
        A leading "##" piece is kept as is."""
        parts = []
        for k, token in enumerate(tokens):
            if not isinstance(token, str):
                raise TokenizerTypeError(f"convert_tokens_to_string: token {k} is {_describe(token)}, expected "
                                         f"a string")
            if k > 0:
                token = token[2:] if token.startswith("##") else " " + token
            parts.append(_cleanup_piece(token))
        return "".join(parts)

    def convert_tokens_to_ids(self, tokens: str | Iterable[str]) -> int | list[int]:
        """Token string(s) → id(s), added tokens included; unknown tokens give the [UNK] id."""
        unk = self.unk_token_id
        added, vocab = self._added_ids, self.vocab
        if isinstance(tokens, str):
            return added.get(tokens, vocab.get(tokens, unk))
        return [added.get(t, vocab.get(t, unk)) for t in tokens]

    def convert_ids_to_tokens(self, ids: int | Iterable[int], skip_special_tokens: bool = False
                              ) -> str | None | list[str]:
        """Id(s) → token string(s); an id outside the vocabulary gives None (or is dropped from a list).
        An added token with normalized=True shows as normalised ("COVID19" added to an uncased tokenizer
        reads "covid19"), as the Rust library shows it."""
        if _is_int(ids):
            return self._id_to_token(int(ids))
        skip = set(self.all_special_ids) if skip_special_tokens else ()
        out = []
        for i in _id_list(ids):
            if i in skip:
                continue
            token = self._id_to_token(i)
            if token is not None:
                out.append(token)
        return out

    def _id_to_token(self, i: int) -> str | None:
        token = self._added_tokens.get(i)
        if token is not None:
            return self._added_display.get(i, token.content)
        return self.ids_to_tokens[i] if 0 <= i < len(self.ids_to_tokens) else None

    # -- added tokens ------------------------------------------------------------------------------------

    def add_tokens(self, new_tokens: str | AddedToken | Sequence[str | AddedToken],
                   special_tokens: bool = False) -> int:
        """Add tokens to keep whole; returns how many were added, as transformers counts them.

        A str becomes AddedToken(str): normalized (matched in the normalised text, so "covid19" added to an
        uncased tokenizer is found in "COVID19" and inside words), not special. Pass AddedToken (bertkit's
        or `tokenizers`') for other flags. special_tokens=True makes them special (and, for str, not
        normalized), without listing them in additional_special_tokens (use add_special_tokens for that).
        A token not in the vocabulary gets the next id (len(tok) before the call); one in the vocabulary
        keeps its id. A token already added with the same flags is not counted; with other flags, its flags
        change. The model needs `resize_token_embeddings(len(tok))` after new ids.

        Raises TokenizerError for a token that is not a str/AddedToken, a normalized token that normalises
        to nothing (transformers would split every word into characters, or panic), or two normalized
        tokens that normalise to the same text ("COVID19" and "covid19" in an uncased tokenizer:
        transformers picks one of the two at random in each process).
        """
        if isinstance(new_tokens, (str, AddedToken)) or hasattr(new_tokens, "content"):
            new_tokens = [new_tokens]
        if not new_tokens:
            return 0
        tokens = [_as_added_token(t, f"add_tokens: new_tokens[{i}]", special=special_tokens)
                  for i, t in enumerate(new_tokens)]
        return self._add(tokens, "add_tokens")

    def add_special_tokens(self, special_tokens_dict: Mapping[str, Any],
                           replace_additional_special_tokens: bool = True, *,
                           replace_extra_special_tokens: bool | None = None) -> int:
        """Add special tokens: {"additional_special_tokens": ["[E1]", "[/E1]"]} (transformers 5 also says
        "extra_special_tokens"), and/or named roles {"cls_token": ..., "pad_token": ..., "bos_token": ...}.

        Special tokens are matched in the raw text (case-sensitively, not normalised, unless an AddedToken
        says otherwise), never split, and skipped by decode(skip_special_tokens=True). The list given
        replaces additional_special_tokens (replace_additional_special_tokens=False extends it); replaced
        tokens stay added tokens. Returns how many tokens were added (see add_tokens).

        A new role takes effect at once (transformers 5 keeps using the old [CLS]/[SEP] in its template
        until the tokenizer is saved and loaded again). Raises TokenizerError for an unknown role, a value
        that is not a token, or an unk_token outside the WordPiece vocabulary (WordPiece needs it there).
        """
        from .errors import TokenizerError
        if not special_tokens_dict:
            return 0
        replace = replace_additional_special_tokens if replace_extra_special_tokens is None \
            else replace_extra_special_tokens
        items = dict(special_tokens_dict)
        if "additional_special_tokens" in items and not items.get("extra_special_tokens"):
            items["extra_special_tokens"] = items.pop("additional_special_tokens")
        tokens: list[AddedToken] = []
        roles: dict[str, str] = {}
        extras: list[str] | None = None
        for key, value in items.items():
            where = f"add_special_tokens: {key}"
            if key == "extra_special_tokens":
                if isinstance(value, (str, AddedToken)) or not isinstance(value, (list, tuple)):
                    raise TokenizerError(f"{where} is {_describe(value)}; pass a list of tokens, e.g. "
                                         f"{{'additional_special_tokens': ['[E1]', '[/E1]']}}")
                new = [_as_added_token(t, f"{where}[{i}]", special=True) for i, t in enumerate(value)]
                new = [t for t in new if replace or t.content not in self._extra_special_tokens]
                if replace and new:
                    extras = [t.content for t in new]
                else:
                    extras = self._extra_special_tokens + [t.content for t in new]
                tokens += new
            elif key in ALL_ROLES:
                if isinstance(value, (list, tuple)) or value is None:
                    raise TokenizerError(f"{where} is {_describe(value)}; pass one token (str or AddedToken)")
                token = _as_added_token(value, where, special=True)
                if key == "unk_token" and token.content not in self.vocab:
                    raise TokenizerError(f"{where}: {token.content!r} is not in the WordPiece vocabulary, which "
                                         f"needs its unknown token; use a token of {VOCAB_FILE}")
                roles[key] = token.content
                tokens.append(token)
            else:
                raise TokenizerError(f"add_special_tokens: {key!r} is not a special-token role; use "
                                     f"'additional_special_tokens' or one of {', '.join(ALL_ROLES)}")
        added = self._add(tokens, "add_special_tokens")
        if extras is not None:
            self._extra_special_tokens = extras
        changed = {role for role, token in roles.items() if getattr(self, role) != token}
        for role, token in roles.items():
            setattr(self, role, token)
        if changed & set(SPECIAL_ROLES) and self._engine is not None:
            self._engine = type(self._engine)(self)  # the template and WordPiece's [UNK] change
        return added

    def _add(self, tokens: list[AddedToken], where: str) -> int:
        """Add `tokens` as the Rust library's AddedVocabulary.add_tokens does; returns the count it returns.
        Checks every token first, so that an error leaves the tokenizer as it was."""
        from .errors import TokenizerError
        ids, by_id = dict(self._added_ids), dict(self._added_tokens)
        patterns, display = dict(self._added_patterns), dict(self._added_display)
        specials = set(self._special_contents)
        next_id = max(max(by_id, default=-1) + 1, len(self.vocab))
        accepted, ignored = [], 0
        for token in tokens:
            token_id = ids.get(token.content)
            if not token.content or (token_id is not None and by_id.get(token_id) == token):
                ignored += 1
                continue
            if token_id is None:
                token_id = self.vocab.get(token.content)
            if token_id is None:
                token_id, next_id = next_id, next_id + 1
            patterns.pop(token_id, None)
            if token.normalized:
                pattern = self._normalizer.normalize(token.content)
                if not pattern:
                    raise TokenizerError(
                        f"{where}: {token.content!r} normalises to nothing (control or format characters only), "
                        f"so it can never be found in a text; add it as AddedToken(..., normalized=False)")
                twin = next((i for i, p in patterns.items() if p == pattern), None)
                if twin is not None:
                    raise TokenizerError(
                        f"{where}: {token.content!r} and the added token {by_id[twin].content!r} both normalise to "
                        f"{pattern!r}, so either could match (transformers picks one at random); add only one")
                patterns[token_id] = pattern
                if pattern != token.content:
                    display[token_id] = pattern
            ids[token.content] = token_id
            by_id[token_id] = token
            if token.special:
                specials.add(token.content)
            accepted.append(token)
        self._added_ids, self._added_tokens, self._added_patterns = ids, by_id, patterns
        self._added_display, self._special_contents = display, specials
        self._added_log += accepted
        if self._engine is not None:
            self._engine.added_tokens_changed(accepted)
        return len(tokens) - ignored

    def _set_ignored_options(self, do_basic_tokenize, never_split, where: str) -> None:
        """do_basic_tokenize / never_split: checked, kept (save_pretrained writes them back), not used."""
        from .errors import TokenizerError
        if not isinstance(do_basic_tokenize, bool):
            raise TokenizerError(f"{where}: do_basic_tokenize is {do_basic_tokenize!r}; use true or false")
        if isinstance(never_split, str) or (never_split is not None and (
                not isinstance(never_split, Iterable) or not all(isinstance(t, str) for t in never_split))):
            raise TokenizerError(f"{where}: never_split is {_describe(never_split)}; use a list of strings or null")
        self.do_basic_tokenize = do_basic_tokenize
        self.never_split = None if never_split is None else list(never_split)
        if not do_basic_tokenize or self.never_split:
            what = "do_basic_tokenize=False" if not do_basic_tokenize else f"never_split={self.never_split!r:.60}"
            warnings.warn(f"{where}: {what} has no effect: transformers 5's BertTokenizer ignores it too, and "
                          f"bertkit matches it; to keep words whole, use tok.add_tokens([...])", stacklevel=3)

    # -- encoding ----------------------------------------------------------------------------------------

    def tokenize(self, text: str | Sequence[str], pair: str | Sequence[str] | None = None,
                 add_special_tokens: bool = False, *, text_pair: str | Sequence[str] | None = None,
                 **kwargs) -> list[str]:
        """Token strings of `text` (and `pair`, also accepted as `text_pair`), by default without [CLS]/[SEP].

        With is_split_into_words=True, `text` is a list of words. Other keywords (split_special_tokens, ...)
        go to the call, as in transformers. Raises TokenizerTypeError for a batch: call the tokenizer and use
        `.tokens(i)` instead.
        """
        if text_pair is not None:
            if pair is not None:
                raise TokenizerTypeError("tokenize() got both pair and text_pair; pass one of them")
            pair = text_pair
        words = bool(kwargs.get("is_split_into_words"))
        single = (isinstance(text, (list, tuple)) and not (text and isinstance(text[0], (list, tuple)))
                  if words else isinstance(text, str))
        if not single:
            what = "one list of words" if words else "one string"
            raise TokenizerTypeError(f"tokenize() takes {what}, not {_describe(text)}; for a batch, call the "
                                     f"tokenizer and use .tokens(i)")
        enc = self(text, pair, add_special_tokens=add_special_tokens, **kwargs)
        return enc.tokens()

    def encode(self, text: str | Sequence[str], text_pair: str | Sequence[str] | None = None,
               add_special_tokens: bool | None = True, padding: bool | str | None = False,
               truncation: bool | str | None = None, max_length: int | None = None, stride: int | None = 0,
               padding_side: str | None = None, return_tensors: str | None = None, **kwargs):
        """Just the input ids of `self(text, text_pair, ...)`: a list of ints (a list of lists for a batch, a
        tensor with return_tensors). The arguments are transformers' `encode`, in its order; other keywords
        (is_split_into_words, pad_to_multiple_of, ...) go to the call."""
        return self(text, text_pair, add_special_tokens=add_special_tokens, padding=padding, truncation=truncation,
                    max_length=max_length, stride=stride, padding_side=padding_side, return_tensors=return_tensors,
                    **kwargs)["input_ids"]

    def __call__(self, text: str | Sequence[str] | Sequence[Sequence[str]],
                 text_pair: str | Sequence[str] | Sequence[Sequence[str]] | None = None, *,
                 add_special_tokens: bool | None = True, padding: bool | str | None = False,
                 truncation: bool | str | None = None, max_length: int | None = None, stride: int | None = 0,
                 is_split_into_words: bool | None = False, pad_to_multiple_of: int | None = None,
                 padding_side: str | None = None, return_tensors: str | None = None,
                 return_token_type_ids: bool | None = None, return_attention_mask: bool | None = None,
                 return_overflowing_tokens: bool | None = False, return_special_tokens_mask: bool | None = False,
                 return_offsets_mapping: bool | None = False, return_length: bool | None = False,
                 verbose: bool | None = True, split_special_tokens: bool | None = None) -> BatchEncoding:
        """Tokenize a text, a pair, or a batch (lists) of them into model inputs.

        text / text_pair: a string, or a list of strings (a batch). With is_split_into_words=True, a list of
            words is one text and a list of such lists is a batch (NER data); every word is tokenized on its
            own, word_ids() count the given words, and offsets count characters within each word (as in
            transformers).
        padding: False/"do_not_pad", True/"longest" (to the longest row), "max_length"; on the
            `padding_side` ("right", or "left"; default: the tokenizer's padding_side).
        truncation: False/None/"do_not_truncate", True/"longest_first" (cut the longer of a pair first),
            "only_first", "only_second" (cut only the context in QA). `max_length` alone turns on
            "longest_first"; truncation without max_length cuts to model_max_length. What is cut is on the
            tokenizer's truncation_side.
        stride: with truncation and return_overflowing_tokens, the overflow becomes more rows, windows that
            overlap by `stride` tokens; "overflow_to_sample_mapping" says which item each row came from.
            The stride must be smaller than max_length minus the special tokens added (none with
            add_special_tokens=False).
        return_token_type_ids / return_attention_mask: None (the default) returns them when they are among
            the tokenizer's model_input_names (both are, for BERT).
        return_length: adds "length", the number of tokens of each row (padding included).
        verbose: False silences the warning about a text longer than model_max_length.
        split_special_tokens: True tokenizes "[MASK]" & co. written in the text as ordinary text (default:
            the tokenizer's setting, False).
        Every keyword given as None means its default.

        Returns a BatchEncoding: lists for a batch, one level less for a single text (unless tensors or
        overflow windows are asked for). Raises TokenizerError (a ValueError) for a bad argument or a text
        the truncation cannot fit, TokenizerTypeError (also a TypeError) for input of the wrong type.
        """
        add_special_tokens = _flag("add_special_tokens", add_special_tokens, True)
        is_split_into_words = _flag("is_split_into_words", is_split_into_words, False)
        return_token_type_ids = _flag("return_token_type_ids", return_token_type_ids,
                                      "token_type_ids" in self.model_input_names)
        return_attention_mask = _flag("return_attention_mask", return_attention_mask,
                                      "attention_mask" in self.model_input_names)
        return_overflowing_tokens = _flag("return_overflowing_tokens", return_overflowing_tokens, False)
        return_special_tokens_mask = _flag("return_special_tokens_mask", return_special_tokens_mask, False)
        return_offsets_mapping = _flag("return_offsets_mapping", return_offsets_mapping, False)
        return_length = _flag("return_length", return_length, False)
        verbose = _flag("verbose", verbose, True)
        split_special_tokens = _flag("split_special_tokens", split_special_tokens, self.split_special_tokens)
        padding_side = _side("padding_side", self.padding_side if padding_side is None else padding_side)

        is_batched, items = self._validate_inputs(text, text_pair, is_split_into_words)
        has_pair = bool(items) and items[0][1] is not None
        trunc, pad = self._strategies(padding, truncation, max_length, stride, pad_to_multiple_of,
                                      add_special_tokens, has_pair, padding_side)
        if return_tensors not in (None, "pt", "np"):
            raise TokenizerError(f"return_tensors={return_tensors!r} is not supported; use 'pt', 'np' or None")

        encodings = (self._engine.encode_batch(items, add_special_tokens, trunc, pad, return_overflowing_tokens,
                                               pretokenized=is_split_into_words,
                                               split_special_tokens=split_special_tokens)
                     if items else [])

        data: dict[str, list] = {"input_ids": []}
        if return_token_type_ids:
            data["token_type_ids"] = []
        if return_attention_mask:
            data["attention_mask"] = []
        if return_special_tokens_mask:
            data["special_tokens_mask"] = []
        if return_offsets_mapping:
            data["offset_mapping"] = []
        # the Rust engine hands out fresh lists on each access; the Python engine's lists are copied so
        # that editing the output cannot change what word_ids() & co. report
        copy = list if isinstance(self._engine, _PythonEngine) else _same
        rows, sample_of_row = [], []
        for index, enc in enumerate(encodings):
            for row in [enc, *enc.overflowing] if return_overflowing_tokens else [enc]:
                rows.append(row)
                sample_of_row.append(index)
                data["input_ids"].append(copy(row.ids))
                if return_token_type_ids:
                    data["token_type_ids"].append(copy(row.type_ids))
                if return_attention_mask:
                    data["attention_mask"].append(copy(row.attention_mask))
                if return_special_tokens_mask:
                    data["special_tokens_mask"].append(copy(row.special_tokens_mask))
                if return_offsets_mapping:
                    data["offset_mapping"].append(copy(row.offsets))
        if return_length:
            data["length"] = [len(ids) for ids in data["input_ids"]]
        if return_overflowing_tokens:
            data["overflow_to_sample_mapping"] = sample_of_row
        if verbose:
            self._warn_if_too_long(data["input_ids"], trunc)

        if not is_batched and return_tensors is None and not return_overflowing_tokens:
            # one level less for a single text; "length" stays a list of one number, as in transformers
            data = {key: value[0] if key != "length" else value for key, value in data.items()}
        out = BatchEncoding(data, rows, n_sequences=(2 if has_pair else 1) if items else None)
        if return_tensors is not None:
            out.convert_to_tensors(return_tensors)
        return out

    def _validate_inputs(self, text, text_pair, is_split_into_words: bool = False
                         ) -> tuple[bool, list[tuple[Any, Any]]]:
        """(is it a batch, [(text, pair or None), ...]) or a TokenizerTypeError/TokenizerError that names the
        item. With is_split_into_words, texts and pairs are lists of words."""
        if is_split_into_words:
            return self._validate_words(text, text_pair)
        if isinstance(text, str):
            if text_pair is not None and not isinstance(text_pair, str):
                raise TokenizerTypeError(f"text is a single string, so text_pair must be a string too, not "
                                         f"{type(text_pair).__name__}")
            # as transformers does, an empty text_pair "" means no pair for a single text
            return False, [(text, text_pair or None)]
        if text is None:
            raise TokenizerTypeError("text is None; pass a string or a list of strings")
        if not isinstance(text, (list, tuple)):
            raise TokenizerTypeError(f"text must be a string or a list of strings, not {type(text).__name__}")
        for i, t in enumerate(text):
            if not isinstance(t, str):
                hint = ("; pass pairs as tokenizer(texts, text_pairs), and words with is_split_into_words=True"
                        if isinstance(t, (list, tuple)) else "")
                raise TokenizerTypeError(f"text[{i}] is {_describe(t)}, expected a string{hint}")
        if text_pair is None:
            return True, [(t, None) for t in text]
        if not isinstance(text_pair, (list, tuple)):
            raise TokenizerTypeError(f"text is a batch (list), so text_pair must be a list of the same length, "
                                     f"not {type(text_pair).__name__}")
        if len(text_pair) != len(text):
            raise TokenizerError(f"text has {len(text)} items but text_pair has {len(text_pair)}; they are paired "
                                 f"item by item")
        for i, t in enumerate(text_pair):
            if not isinstance(t, str):
                raise TokenizerTypeError(f"text_pair[{i}] is {_describe(t)}, expected a string")
        return True, list(zip(text, text_pair))

    @staticmethod
    def _validate_words(text, text_pair) -> tuple[bool, list[tuple[list[str], list[str] | None]]]:
        """is_split_into_words=True: a list of words is one text, a list of lists of words is a batch (as in
        transformers); for a single text, an empty text_pair ([] or "") means no pair."""
        def words(x, what: str) -> list[str]:
            if not isinstance(x, (list, tuple)):
                raise TokenizerTypeError(f"{what} is {_describe(x)}; with is_split_into_words=True it must be a "
                                         f"list of words (strings), e.g. text.split()")
            for j, w in enumerate(x):
                if not isinstance(w, str):
                    raise TokenizerTypeError(f"{what}[{j}] is {_describe(w)}, expected a word (a string)")
            return list(x)

        if isinstance(text, str) or text is None or not isinstance(text, (list, tuple)):
            words(text, "text")  # raises, naming what was given
        if not (text and isinstance(text[0], (list, tuple))):  # one text
            pair = words(text_pair, "text_pair") if text_pair else None
            return False, [(words(text, "text"), pair)]
        batch = [words(t, f"text[{i}]") for i, t in enumerate(text)]
        if text_pair is None:
            return True, [(t, None) for t in batch]
        if not isinstance(text_pair, (list, tuple)):
            raise TokenizerTypeError(f"text is a batch of word lists, so text_pair must be a list of the same "
                                     f"length, not {_describe(text_pair)}")
        if len(text_pair) != len(batch):
            raise TokenizerError(f"text has {len(batch)} items but text_pair has {len(text_pair)}; they are "
                                 f"paired item by item")
        return True, list(zip(batch, (words(t, f"text_pair[{i}]") for i, t in enumerate(text_pair))))

    def _strategies(self, padding, truncation, max_length, stride, pad_to_multiple_of, add_special_tokens,
                    has_pair, padding_side: str = "right") -> tuple[_Truncation | None, _Padding | None]:
        """Resolve padding/truncation arguments the way transformers does, and check them."""
        if max_length is not None and (not _is_int(max_length) or max_length < 0):
            raise TokenizerError(f"max_length={max_length!r} must be a non-negative integer")
        max_length = None if max_length is None else int(max_length)
        stride = 0 if stride is None else int(stride) if _is_int(stride) else stride
        if not _is_int(stride) or stride < 0:
            raise TokenizerError(f"stride={stride!r} must be a non-negative integer")
        if pad_to_multiple_of is not None and (not _is_int(pad_to_multiple_of) or pad_to_multiple_of <= 0):
            raise TokenizerError(f"pad_to_multiple_of={pad_to_multiple_of!r} must be a positive integer")

        # transformers: max_length on its own turns truncation on
        if max_length is not None and padding is False and truncation is None:
            truncation = "longest_first"
        if padding is True:
            pad_strategy = "longest"
        elif padding is False or padding is None:
            pad_strategy = "do_not_pad"
        elif isinstance(padding, str) and padding in PADDING_STRATEGIES:
            pad_strategy = str(padding.value if hasattr(padding, "value") else padding)
        else:
            raise TokenizerError(f"padding={padding!r} is not a padding strategy; use True/'longest', "
                                 f"'max_length', or False/'do_not_pad'")
        if truncation is True:
            trunc_strategy = "longest_first"
        elif truncation is False or truncation is None:
            trunc_strategy = "do_not_truncate"
        elif isinstance(truncation, str) and truncation in TRUNCATION_STRATEGIES:
            trunc_strategy = str(truncation.value if hasattr(truncation, "value") else truncation)
        else:
            raise TokenizerError(f"truncation={truncation!r} is not a truncation strategy; use "
                                 f"True/'longest_first', 'only_first', 'only_second', or False/'do_not_truncate'")

        if max_length is None:
            if pad_strategy == "max_length":
                if self.model_max_length is None:
                    pad_strategy = "do_not_pad"  # nothing to pad to (transformers does the same)
                else:
                    max_length = self.model_max_length
            if trunc_strategy != "do_not_truncate":
                if self.model_max_length is None:
                    trunc_strategy = "do_not_truncate"
                else:
                    max_length = self.model_max_length

        trunc = None
        if trunc_strategy != "do_not_truncate":
            n_special = self.num_special_tokens_to_add(has_pair) if add_special_tokens else 0
            if max_length < n_special:
                what = "[CLS] A [SEP] B [SEP]" if has_pair else "[CLS] A [SEP]"
                raise TokenizerError(f"max_length={max_length} is smaller than the {n_special} special tokens of "
                                     f"{what}; use max_length >= {n_special}")
            # checked up front: each window must move on. Only the special tokens actually added count (the
            # Rust library also counts them with add_special_tokens=False; bertkit does not)
            if stride and stride >= max_length - n_special:
                if n_special:
                    raise TokenizerError(f"stride={stride} must be smaller than max_length={max_length} minus the "
                                         f"{n_special} special tokens, {max_length - n_special}")
                raise TokenizerError(f"stride={stride} must be smaller than max_length={max_length} (no special "
                                     f"tokens are added); lower stride or raise max_length")
            trunc = _Truncation(max_length, trunc_strategy, stride, self.truncation_side)
        pad = None
        if pad_strategy != "do_not_pad":
            if (trunc is not None and pad_to_multiple_of is not None and max_length is not None
                    and max_length % pad_to_multiple_of):
                raise TokenizerError(f"truncation and padding are both on, but max_length={max_length} is not a "
                                     f"multiple of pad_to_multiple_of={pad_to_multiple_of}")
            pad = _Padding(max_length if pad_strategy == "max_length" else None, pad_to_multiple_of, padding_side)
        return trunc, pad

    def _warn_if_too_long(self, rows: list[list[int]], trunc: _Truncation | None) -> None:
        if trunc is None and self.model_max_length is not None and not self._warned_long:
            longest = max((len(r) for r in rows), default=0)
            if longest > self.model_max_length:
                self._warned_long = True
                warnings.warn(f"a sequence of {longest} tokens is longer than model_max_length="
                              f"{self.model_max_length}; the model will reject it. Pass truncation=True.",
                              stacklevel=3)

    # -- padding encoded inputs ----------------------------------------------------------------------------

    def pad(self, encoded_inputs, padding: bool | str = True, max_length: int | None = None,
            pad_to_multiple_of: int | None = None, padding_side: str | None = None,
            return_attention_mask: bool | None = None, return_tensors: str | None = None,
            verbose: bool = True) -> BatchEncoding:
        """Pad inputs that are already encoded, as transformers' `tokenizer.pad` (what its
        DataCollatorWithPadding calls): a list of examples ({"input_ids": [...], ...}) or a dict of lists
        (one example, or a batch). input_ids are padded with [PAD], token_type_ids with 0,
        attention_mask with 0 (made when absent, if "attention_mask" is a model input), special_tokens_mask
        with 1; other keys are left as they are. padding: True/"longest", "max_length" (to max_length, or
        model_max_length), False/"do_not_pad"; pad_to_multiple_of rounds the length up. Returns a
        BatchEncoding (tensors with return_tensors="pt" or "np"). Raises TokenizerError for input without
        input_ids or an unknown padding strategy."""
        if isinstance(encoded_inputs, (list, tuple)):
            if not encoded_inputs:
                return BatchEncoding({"input_ids": []})
            if not all(isinstance(x, Mapping) for x in encoded_inputs):
                raise TokenizerTypeError("pad() takes a list of examples (dicts with 'input_ids') or a dict of lists")
            encoded_inputs = {k: [x[k] for x in encoded_inputs] for k in encoded_inputs[0]}
        if not isinstance(encoded_inputs, Mapping) or "input_ids" not in encoded_inputs:
            raise TokenizerError("pad() needs 'input_ids': pass the tokenizer's output, or a list of examples with "
                                 "'input_ids'")
        data = {k: (v.tolist() if hasattr(v, "tolist") else v) for k, v in encoded_inputs.items()}
        single = not data["input_ids"] or not isinstance(data["input_ids"][0], (list, tuple))
        if single:
            data = {k: [v] for k, v in data.items()}
        data = {k: [list(row) for row in v] if k in _PAD_VALUES else v for k, v in data.items()}
        if padding is True:
            padding = "longest"
        elif padding is False or padding is None:
            padding = "do_not_pad"
        if padding not in PADDING_STRATEGIES:
            raise TokenizerError(f"padding={padding!r} is not a padding strategy; use True/'longest', 'max_length', "
                                 f"or False/'do_not_pad'")
        rows = data["input_ids"]
        if padding == "longest":
            length = max((len(r) for r in rows), default=0)
        elif padding == "max_length":
            length = max_length if max_length is not None else self.model_max_length
        else:
            length = None
        if length is not None and pad_to_multiple_of and length % pad_to_multiple_of:
            length += pad_to_multiple_of - length % pad_to_multiple_of
        if return_attention_mask is None:
            return_attention_mask = "attention_mask" in self.model_input_names
        if return_attention_mask and "attention_mask" not in data:
            data["attention_mask"] = [[1] * len(r) for r in rows]
        side = _side("padding_side", padding_side if padding_side is not None else self.padding_side)
        values = {**_PAD_VALUES, "input_ids": self.pad_token_id, "token_type_ids": self.pad_token_type_id}
        for key, value in values.items():
            if key not in data or length is None:
                continue
            data[key] = [row + [value] * (length - len(row)) if side == "right" else [value] * (length - len(row)) + row
                         for row in data[key]]
        if single and return_tensors is None:
            data = {k: v[0] for k, v in data.items()}
        out = BatchEncoding(data)
        if return_tensors is not None:
            out.convert_to_tensors(return_tensors)
        return out

    # -- decoding ----------------------------------------------------------------------------------------

    def decode(self, token_ids, skip_special_tokens: bool = False,
               clean_up_tokenization_spaces: bool | None = None) -> str | list[str]:
        """Ids → text: "##" pieces join the previous piece, other tokens are separated by spaces, and
        , . ! ? lose the space before them (as the Rust WordPiece decoder does). A 2-D input (a batch)
        gives a list of strings. Lowercasing and stripped accents cannot be undone. Added tokens are kept
        (skip_special_tokens=True drops the special ones: [CLS], [PAD], ..., and additional ones like [E1]).

        clean_up_tokenization_spaces (default: the tokenizer's setting, False as in transformers 5) also
        joins contractions ("isn ' t" → "isn't").
        """
        ids = _id_rows(token_ids)
        if ids and isinstance(ids[0], list):
            return [self.decode(row, skip_special_tokens, clean_up_tokenization_spaces) for row in ids]
        # as the Rust decoder does: a token is skipped when its string is one added as special
        skip = self._special_contents if skip_special_tokens else ()
        tokens = []
        for position, i in enumerate(ids):
            if i < 0:
                raise TokenizerError(f"token id {i} at position {position} is negative; labels use -100 for "
                                     f"ignored positions, drop those before decoding")
            token = self._id_to_token(i)
            if token is not None and token not in skip:
                tokens.append(token)
        parts = []
        for k, token in enumerate(tokens):
            if k > 0:
                token = token[2:] if token.startswith("##") else " " + token
            parts.append(_cleanup_piece(token))
        text = "".join(parts)
        if clean_up_tokenization_spaces is None:
            clean_up_tokenization_spaces = self.clean_up_tokenization_spaces
        if clean_up_tokenization_spaces:
            text = (text.replace(" .", ".").replace(" ?", "?").replace(" !", "!").replace(" ,", ",")
                    .replace(" ' ", "'").replace(" n't", "n't").replace(" 'm", "'m").replace(" 's", "'s")
                    .replace(" 've", "'ve").replace(" 're", "'re"))
        return text

    def batch_decode(self, sequences, skip_special_tokens: bool = False,
                     clean_up_tokenization_spaces: bool | None = None) -> list[str]:
        return [self.decode(row, skip_special_tokens, clean_up_tokenization_spaces) for row in _id_rows(sequences)]

    def __repr__(self) -> str:
        return (f"BertTokenizer({self.name_or_path!r}, vocab_size={self.vocab_size}, "
                f"do_lower_case={self.do_lower_case}, model_max_length={self.model_max_length}, "
                f"engine={self.engine!r})")


Tokenizer = BertTokenizer


def _cleanup_piece(token: str) -> str:
    """The Rust WordPiece decoder's cleanup, applied to each (space-prefixed) token on its own."""
    return (token.replace(" .", ".").replace(" ?", "?").replace(" !", "!").replace(" ,", ",")
            .replace(" ' ", "'").replace(" n't", "n't").replace(" 'm", "'m").replace(" do not", " don't")
            .replace(" 's", "'s").replace(" 've", "'ve").replace(" 're", "'re"))


# what `pad` fills each padded input with (input_ids and token_type_ids: the tokenizer's own ids)
_PAD_VALUES = {"input_ids": 0, "token_type_ids": 0, "attention_mask": 0, "special_tokens_mask": 1}


def _same(x):
    return x


def _is_int(x) -> bool:
    return isinstance(x, int) and not isinstance(x, bool) or type(x).__name__ in ("int64", "int32")


def _flag(name: str, value, default: bool) -> bool:
    """A True/False keyword; None means `default` (transformers' convention for the return_* flags, which
    bertkit extends to every keyword)."""
    if value is None:
        return default
    if isinstance(value, bool) or type(value).__name__ == "bool_":  # numpy booleans too
        return bool(value)
    raise TokenizerTypeError(f"{name}={value!r} must be True, False or None (the default)")


def _side(name: str, value) -> str:
    if value not in SIDES:
        raise TokenizerError(f"{name}={value!r} must be 'right' or 'left'")
    return value


def _describe(x) -> str:
    return "None" if x is None else f"a {type(x).__name__} ({x!r:.40})"


def _id_list(ids) -> list[int]:
    if hasattr(ids, "tolist"):  # torch tensors, numpy arrays
        ids = ids.tolist()
    return [int(i) for i in ids]


def _id_rows(ids) -> list:
    """int / list / tensor / array → list of ints, or list of lists for 2-D input."""
    if hasattr(ids, "tolist"):
        ids = ids.tolist()
    if isinstance(ids, int):
        return [ids]
    ids = list(ids)
    if ids and isinstance(ids[0], (list, tuple)) or (ids and hasattr(ids[0], "tolist") and
                                                     not isinstance(ids[0].tolist(), int)):
        return [_id_list(row) for row in ids]
    return [int(i) for i in ids]


def __getattr__(name: str):
    # vocabulary training lives in bertkit.vocab (which imports this module); re-exported lazily
    if name in ("train_vocab", "vocab_main"):
        from . import vocab
        return getattr(vocab, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# ---------------------------------------------------------------------------------------------------------
# Unicode tables: the character classes the Rust engine uses (Unicode 8.0 categories), so that the
# reference splits exactly where it does. Ranges of code points in hex; tests re-derive them from Rust.
# ---------------------------------------------------------------------------------------------------------

def _parse_ranges(spec: str) -> tuple[list[int], list[int]]:
    starts, ends = [], []
    for item in spec.split():
        lo, _, hi = item.partition("-")
        starts.append(int(lo, 16))
        ends.append(int(hi or lo, 16))
    return starts, ends


def _in_table(cp: int, table: tuple[list[int], list[int]]) -> bool:
    starts, ends = table
    i = bisect_right(starts, cp) - 1
    return i >= 0 and cp <= ends[i]


def _regex_class(table: tuple[list[int], list[int]]) -> str:
    return "".join(re.escape(chr(lo)) if lo == hi else f"{re.escape(chr(lo))}-{re.escape(chr(hi))}"
                   for lo, hi in zip(*table))


# Rust's char::is_whitespace (the Unicode White_Space property) plus \t \n \r
_WHITESPACE = frozenset("\t\n\x0b\x0c\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007"
                        "\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000")

_CJK_RANGES = ((0x3400, 0x4DBF), (0x4E00, 0x9FFF), (0xF900, 0xFAFF), (0x20000, 0x2A6DF),
               (0x2A700, 0x2B73F), (0x2B740, 0x2B81F), (0x2B920, 0x2CEAF), (0x2F800, 0x2FA1F))

# deleted while cleaning: controls (Cc), format characters (Cf), private use (Co)
_CONTROL = _parse_ranges("""
0000-0008 000B-000C 000E-001F 007F-009F 00AD 0600-0605 061C 06DD 070F 180E 200B-200F 202A-202E
2060-2064 2066-206F E000-F8FF FEFF FFF9-FFFB 110BD 1BCA0-1BCA3 1D173-1D17A E0001 E0020-E007F
F0000-FFFFD 100000-10FFFD""")

# punctuation (P*) beyond ASCII. Two differ from today's Unicode: U+166D (now a symbol) and U+111C9
# (now a mark) were punctuation in 8.0; and marks added since 8.0 are missing.
_PUNCTUATION = _parse_ranges("""
00A1 00A7 00AB 00B6-00B7 00BB 00BF 037E 0387 055A-055F 0589-058A 05BE 05C0 05C3 05C6 05F3-05F4
0609-060A 060C-060D 061B 061E-061F 066A-066D 06D4 0700-070D 07F7-07F9 0830-083E 085E 0964-0965
0970 0AF0 0DF4 0E4F 0E5A-0E5B 0F04-0F12 0F14 0F3A-0F3D 0F85 0FD0-0FD4 0FD9-0FDA 104A-104F 10FB
1360-1368 1400 166D-166E 169B-169C 16EB-16ED 1735-1736 17D4-17D6 17D8-17DA 1800-180A 1944-1945
1A1E-1A1F 1AA0-1AA6 1AA8-1AAD 1B5A-1B60 1BFC-1BFF 1C3B-1C3F 1C7E-1C7F 1CC0-1CC7 1CD3 2010-2027
2030-2043 2045-2051 2053-205E 207D-207E 208D-208E 2308-230B 2329-232A 2768-2775 27C5-27C6
27E6-27EF 2983-2998 29D8-29DB 29FC-29FD 2CF9-2CFC 2CFE-2CFF 2D70 2E00-2E2E 2E30-2E42 3001-3003
3008-3011 3014-301F 3030 303D 30A0 30FB A4FE-A4FF A60D-A60F A673 A67E A6F2-A6F7 A874-A877
A8CE-A8CF A8F8-A8FA A8FC A92E-A92F A95F A9C1-A9CD A9DE-A9DF AA5C-AA5F AADE-AADF AAF0-AAF1 ABEB
FD3E-FD3F FE10-FE19 FE30-FE52 FE54-FE61 FE63 FE68 FE6A-FE6B FF01-FF03 FF05-FF0A FF0C-FF0F
FF1A-FF1B FF1F-FF20 FF3B-FF3D FF3F FF5B FF5D FF5F-FF65 10100-10102 1039F 103D0 1056F 10857 1091F
1093F 10A50-10A58 10A7F 10AF0-10AF6 10B39-10B3F 10B99-10B9C 11047-1104D 110BB-110BC 110BE-110C1
11140-11143 11174-11175 111C5-111C9 111CD 111DB 111DD-111DF 11238-1123D 112A9 114C6 115C1-115D7
11641-11643 1173C-1173E 12470-12474 16A6E-16A6F 16AF5 16B37-16B3B 16B44 1BC9F 1DA87-1DA8B""")

# non-spacing marks (Mn), removed when stripping accents
_NONSPACING_MARKS = _parse_ranges("""
0300-036F 0483-0487 0591-05BD 05BF 05C1-05C2 05C4-05C5 05C7 0610-061A 064B-065F 0670 06D6-06DC
06DF-06E4 06E7-06E8 06EA-06ED 0711 0730-074A 07A6-07B0 07EB-07F3 0816-0819 081B-0823 0825-0827
0829-082D 0859-085B 08E3-0902 093A 093C 0941-0948 094D 0951-0957 0962-0963 0981 09BC 09C1-09C4
09CD 09E2-09E3 0A01-0A02 0A3C 0A41-0A42 0A47-0A48 0A4B-0A4D 0A51 0A70-0A71 0A75 0A81-0A82 0ABC
0AC1-0AC5 0AC7-0AC8 0ACD 0AE2-0AE3 0B01 0B3C 0B3F 0B41-0B44 0B4D 0B56 0B62-0B63 0B82 0BC0 0BCD
0C00 0C3E-0C40 0C46-0C48 0C4A-0C4D 0C55-0C56 0C62-0C63 0C81 0CBC 0CBF 0CC6 0CCC-0CCD 0CE2-0CE3
0D01 0D41-0D44 0D4D 0D62-0D63 0DCA 0DD2-0DD4 0DD6 0E31 0E34-0E3A 0E47-0E4E 0EB1 0EB4-0EB9
0EBB-0EBC 0EC8-0ECD 0F18-0F19 0F35 0F37 0F39 0F71-0F7E 0F80-0F84 0F86-0F87 0F8D-0F97 0F99-0FBC
0FC6 102D-1030 1032-1037 1039-103A 103D-103E 1058-1059 105E-1060 1071-1074 1082 1085-1086 108D
109D 135D-135F 1712-1714 1732-1734 1752-1753 1772-1773 17B4-17B5 17B7-17BD 17C6 17C9-17D3 17DD
180B-180D 18A9 1920-1922 1927-1928 1932 1939-193B 1A17-1A18 1A1B 1A56 1A58-1A5E 1A60 1A62
1A65-1A6C 1A73-1A7C 1A7F 1AB0-1ABD 1B00-1B03 1B34 1B36-1B3A 1B3C 1B42 1B6B-1B73 1B80-1B81
1BA2-1BA5 1BA8-1BA9 1BAB-1BAD 1BE6 1BE8-1BE9 1BED 1BEF-1BF1 1C2C-1C33 1C36-1C37 1CD0-1CD2
1CD4-1CE0 1CE2-1CE8 1CED 1CF4 1CF8-1CF9 1DC0-1DF5 1DFC-1DFF 20D0-20DC 20E1 20E5-20F0 2CEF-2CF1
2D7F 2DE0-2DFF 302A-302D 3099-309A A66F A674-A67D A69E-A69F A6F0-A6F1 A802 A806 A80B A825-A826
A8C4 A8E0-A8F1 A926-A92D A947-A951 A980-A982 A9B3 A9B6-A9B9 A9BC A9E5 AA29-AA2E AA31-AA32
AA35-AA36 AA43 AA4C AA7C AAB0 AAB2-AAB4 AAB7-AAB8 AABE-AABF AAC1 AAEC-AAED AAF6 ABE5 ABE8 ABED
FB1E FE00-FE0F FE20-FE2F 101FD 102E0 10376-1037A 10A01-10A03 10A05-10A06 10A0C-10A0F 10A38-10A3A
10A3F 10AE5-10AE6 11001 11038-11046 1107F-11081 110B3-110B6 110B9-110BA 11100-11102 11127-1112B
1112D-11134 11173 11180-11181 111B6-111BE 111CA-111CC 1122F-11231 11234 11236-11237 112DF
112E3-112EA 11300-11301 1133C 11340 11366-1136C 11370-11374 114B3-114B8 114BA 114BF-114C0
114C2-114C3 115B2-115B5 115BC-115BD 115BF-115C0 115DC-115DD 11633-1163A 1163D 1163F-11640 116AB
116AD 116B0-116B5 116B7 1171D-1171F 11722-11725 11727-1172B 16AF0-16AF4 16B30-16B36 16F8F-16F92
1BC9D-1BC9E 1D167-1D169 1D17B-1D182 1D185-1D18B 1D1AA-1D1AD 1D242-1D244 1DA00-1DA36 1DA3B-1DA6C
1DA75 1DA84 1DA9B-1DA9F 1DAA1-1DAAF 1E8D0-1E8D6 E0100-E01EF""")

# Lowercasing and NFD use Python's own tables, except where Rust's (newer, or older) disagree:
# capitals added in Unicode 16 (Rust lowercases them; Python < 3.14 does not know them) ...
_LOWER_EXCEPTIONS = {chr(upper): chr(lower) for upper, lower in (
    (0x1C89, 0x1C8A), (0xA7CB, 0x0264), (0xA7CC, 0xA7CD), (0xA7CE, 0xA7CF), (0xA7D2, 0xA7D3), (0xA7D4, 0xA7D5),
    (0xA7DA, 0xA7DB), (0xA7DC, 0x019B),
    *((cp, cp + 0x20) for cp in range(0x10D50, 0x10D66)),  # Garay
    *((cp, cp + 0x1B) for cp in range(0x16EA0, 0x16EB9)),  # Beria Erfe
)}
# ... and a decomposition (Unicode 13) that the Rust engine does not apply
_NFD_EXCEPTIONS = {"\U00011938": "\U00011938"}

# word characters (regex `\\w`) that the Rust engine knows and this Python's unicodedata does not yet
# (Unicode 15 and 16): they decide single_word matches of added tokens
_WORD_NEWER = _parse_ranges("""
0897 0CF3 0ECE 1C89-1C8A A7CB-A7CD A7DA-A7DC 105C0-105F3 10D40-10D65 10D69-10D6D 10D6F-10D85 10EC2-10EC4
10EFC-10EFF 1123F-11241 11380-11389 1138B 1138E 11390-113B5 113B7-113C0 113C2 113C5 113C7-113CA 113CC-113D3
113E1-113E2 116D0-116E3 11BC0-11BE0 11BF0-11BF9 11F00-11F10 11F12-11F3A 11F3E-11F42 11F50-11F5A 1342F
13440-13455 13460-143FA 16100-16139 16D40-16D6C 16D70-16D79 18CFF 1B132 1B155 1CCF0-1CCF9 1DF25-1DF2A
1E030-1E06D 1E08F 1E4D0-1E4F9 1E5D0-1E5FA 2B739 2EBF0-2EE5D 31350-323AF""")

_PUNCT_CLASS = "!-/:-@\\[-`{-~" + _regex_class(_PUNCTUATION)
_SPACE_CLASS = "".join(re.escape(c) for c in sorted(_WHITESPACE))
# a word: a run of characters that are neither space nor punctuation, or one punctuation character
_WORD_RE = re.compile(f"[^{_SPACE_CLASS}{_PUNCT_CLASS}]+|[{_PUNCT_CLASS}]")
