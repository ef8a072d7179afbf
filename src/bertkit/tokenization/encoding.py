"""The machinery every tokenizer shares, whatever cuts words into pieces (WordPiece, byte-level BPE, ...).

What lives here:

- `PreTrainedTokenizer`, the base class with the `transformers` call signature: `__call__`, `encode`,
  `tokenize`, `pad`, `decode`, `convert_*`, added and special tokens, and the reading and writing of the
  files every Hugging Face tokenizer folder has (tokenizer_config.json, special_tokens_map.json,
  tokenizer.json's added tokens). A subclass (`BertTokenizer` in wordpiece.py, `RobertaTokenizer` in
  bpe.py) brings the vocabulary files, the Rust pipeline (`_build_rust_tokenizer`), the special-token
  template ([CLS] A [SEP] / <s> A </s></s> B </s>) and how tokens read back as text.
- The planning both engines follow: truncation (`_plan_truncation`: longest_first / only_first /
  only_second, errors that name the batch item), overflow windows with a stride (`_windows`,
  `_truncate_to`, `_merge`), padding (`_pad`), all on `_Encoding` rows that mirror `tokenizers.Encoding`.
- `_FastEngine`: runs a subclass's Rust `tokenizers.Tokenizer` with those plans (what transformers runs).
- `AddedToken` and `_AddedMatcher`: tokens kept whole, found in the text as the Rust library finds them.
- `BatchEncoding`, what a call returns, with the alignment helpers (word_ids, token_to_chars, ...), and
  `TokenSpan` / `CharSpan`.

Every keyword of the call means what it means in transformers (None means its default, for every one of
them), and the options transformers reads from tokenizer_config.json are read too (padding_side,
truncation_side, model_input_names, split_special_tokens, model_max_length / max_len,
clean_up_tokenization_spaces and the special tokens). The BatchEncoding alignment helpers (word_to_tokens,
token_to_chars, token_to_word, char_to_token, char_to_word, word_to_chars, token_to_sequence) behave as the
Rust library's, in every engine.

Where bertkit differs from transformers, it is on purpose, to fail early and say why: max_length below the
number of special tokens is an error (transformers quietly skips truncation); stride is checked up front
against max_length minus the special tokens (transformers fails only when a window is cut, with a Rust
panic, whose text bertkit never lets reach the terminal); with add_special_tokens=False no special token
is counted (transformers still counts them in its stride check); an impossible only_first / only_second
names the batch item; an empty batch gives empty lists; word_to_chars of a word with no token returns None
(transformers raises TypeError). Added tokens: one that normalises to nothing, or two that normalise to the
same text, are refused (transformers would split every word into letters, or panic; or pick one of the two
at random); a new cls / sep token given by add_special_tokens is used at once (transformers 5 uses it after
a reload). Every error is a bertkit.errors.TokenizerError (a ValueError); wrong argument types are
TokenizerTypeError, also a TypeError, as transformers raises TypeError for them.

This module imports no torch; `return_tensors="pt"` imports it when asked.
"""
from __future__ import annotations

import json
import os
import re
import unicodedata
import warnings
from itertools import chain
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, NamedTuple, Sequence

from ..errors import TokenizerError
from ..io import atomic_write_text, writing
from ._unicode import _WHITESPACE, _WORD_NEWER, _in_table

TOKENIZER_FILE = "tokenizer.json"
CONFIG_FILE = "tokenizer_config.json"
SPECIAL_TOKENS_FILE = "special_tokens_map.json"

# the five roles every BERT-family vocabulary fills
SPECIAL_ROLES = ("pad_token", "unk_token", "cls_token", "sep_token", "mask_token")
# every named role transformers knows, in the order of its all_special_tokens
ALL_ROLES = ("bos_token", "eos_token", "unk_token", "sep_token", "pad_token", "cls_token", "mask_token")

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
# Added tokens: words kept whole, matched in the text before the model's algorithm sees it
# ---------------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class AddedToken:
    """A token added on top of the model vocabulary, with the flags of `tokenizers.AddedToken`.

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


def _rust_added_tokens(tokens: Iterable[AddedToken]) -> list:
    from tokenizers import AddedToken as RustAddedToken
    return [RustAddedToken(t.content, single_word=t.single_word, lstrip=t.lstrip, rstrip=t.rstrip,
                           normalized=t.normalized, special=t.special) for t in tokens]


class _FastEngine:
    """A tokenizer's pipeline in the Rust `tokenizers` library (what transformers runs), with bertkit's
    truncation checks in front, so that errors name the batch item instead of surfacing as a Rust panic."""

    def __init__(self, tok: PreTrainedTokenizer):
        self.tok = tok
        self.rust = tok._build_rust_tokenizer()
        self._settings: tuple | None = None
        # with add_special_tokens=False a template that adds nothing: the output is the same, but the Rust
        # library then no longer counts [CLS]/[SEP] against max_length when it checks the stride
        self._template = self.rust.post_processor
        self._plain = tok._plain_post_processor()

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
def vocab_argument(tokenizer: str, value: Any, file_name: str, load: Callable[[Path], dict[str, int]],
                   source: str | None = None) -> tuple[dict[str, int], str, bool]:
    """The vocabulary a tokenizer's constructor was given: a {token: id} mapping, or a path to its
    `file_name` read by `load`. Returns (vocab, where it came from, whether it was a mapping). A folder is
    a TokenizerError pointing `tokenizer`.from_pretrained at it; anything else a TokenizerTypeError."""
    if isinstance(value, Mapping):
        return dict(value), source or "the vocabulary dict", True
    if isinstance(value, (str, os.PathLike)):
        path = Path(value)
        if path.is_dir():
            raise TokenizerError(f"{path} is a folder; use {tokenizer}.from_pretrained({str(path)!r})")
        return load(path), str(path), False
    raise TokenizerTypeError(f"vocab_file_or_dict must be a path to {file_name} or a dict, "
                             f"not {type(value).__name__}")


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


class PreTrainedTokenizer:
    """The base class of bertkit's tokenizers (transformers' name): everything that does not depend on how
    words are cut into pieces. A subclass sets up its vocabulary and calls `_init_base`, then
    `_finish_init`; it provides `_build_rust_tokenizer` (the `tokenizers.Tokenizer` transformers builds for
    it), `_make_engine`, `_folder_kwargs` (what from_pretrained reads from the model's own files),
    `_model_files` and `_config_fields` (what save_pretrained writes), and `_decode_tokens` (tokens → text).
    The special-token template defaults to BERT's ([CLS] A [SEP] / [CLS] A [SEP] B [SEP]); a subclass with
    another one overrides num_special_tokens_to_add, build_inputs_with_special_tokens,
    create_token_type_ids_from_sequences, get_special_tokens_mask and `_template_text`.

    Added tokens (add_tokens, add_special_tokens, or those of a loaded folder) get ids after the vocabulary:
    `len(tok)` counts them, `vocab_size` does not (as in transformers). They are found in the text as the
    Rust `tokenizers` library finds them: tokens with normalized=False (the special ones, by default) in the
    raw text, case-sensitively; the others in the normalised text, anywhere, inside words too (unless
    single_word=True). Each found token is a word of its own.
    """

    tokenizer_class = "PreTrainedTokenizer"  # what save_pretrained writes as tokenizer_class
    default_model_input_names: tuple[str, ...] = MODEL_INPUT_NAMES
    vocab_files: tuple[str, ...] = ()  # the model's own files in a folder
    _unk_must_be_in_vocab = False  # WordPiece needs its unknown token in the vocabulary
    _algorithm = ""  # "WordPiece", "byte-level BPE": for messages
    _one_token_type = False  # True: token_type_ids are all 0 (RoBERTa), whatever the engine's rows say

    def _init_base(self, vocab: dict[str, int], where: str, *, model_max_length: int | None, engine: str,
                   clean_up_tokenization_spaces: bool, roles: Mapping[str, str | None], padding_side: str,
                   truncation_side: str, model_input_names: Sequence[str] | None,
                   split_special_tokens: bool) -> None:
        """Set what every tokenizer has: the vocabulary ({token: id}, ids 0..n-1), the special tokens'
        roles, the limits and call options, and an empty added vocabulary. Raises TokenizerError for ids
        with gaps or a bad model_max_length."""
        ids = sorted(vocab.values())
        if ids != list(range(len(ids))):
            raise TokenizerError(f"{where}: ids must be 0..{len(ids) - 1}, each used once")
        if model_max_length is not None and (not isinstance(model_max_length, int) or model_max_length <= 0):
            raise TokenizerError(f"model_max_length={model_max_length!r} must be a positive integer or None")
        self.vocab: dict[str, int] = vocab
        self.ids_to_tokens: list[str] = sorted(vocab, key=vocab.__getitem__)
        self.model_max_length = model_max_length
        self.clean_up_tokenization_spaces = clean_up_tokenization_spaces
        self.engine = engine
        for role in ALL_ROLES:
            setattr(self, role, roles.get(role))
        self.name_or_path = where
        self._warned_long = False
        self._set_call_options(padding_side, truncation_side, model_input_names, split_special_tokens)
        # the added vocabulary, as the Rust library keeps it (tokenizers' AddedVocabulary)
        self._added_ids: dict[str, int] = {}  # content → id
        self._added_tokens: dict[int, AddedToken] = {}  # id → token, with its flags
        self._added_patterns: dict[int, str] = {}  # normalized=True tokens: what is matched (content normalised)
        self._added_display: dict[int, str] = {}  # id → what convert_ids_to_tokens and decode show
        self._special_contents: set[str] = set()  # every content ever added as special (decode skips these)
        self._added_log: list[AddedToken] = []  # every token accepted, in order, to replay in the Rust engine
        self._extra_special_tokens: list[str] = []  # additional_special_tokens
        self._engine = None

    def _finish_init(self, additional_special_tokens: Sequence[str | AddedToken] | None,
                     named: Sequence[str | AddedToken] | None = None) -> None:
        """Add the named special tokens (`named`, default: the roles' strings) and the additional ones as
        special added tokens, then start the engine."""
        tokens = named if named is not None else self._named_special_tokens()
        self._add([_as_added_token(t, str(self.name_or_path), special=True) for t in tokens], self.name_or_path)
        if additional_special_tokens:
            self.add_special_tokens({"additional_special_tokens": list(additional_special_tokens)})
        self._engine = self._make_engine()

    # -- what a subclass provides ------------------------------------------------------------------------

    def _make_engine(self):
        """The engine that encodes batches (default: the Rust pipeline of `_build_rust_tokenizer`)."""
        return _FastEngine(self)

    def _build_rust_tokenizer(self):
        """The `tokenizers.Tokenizer` equivalent to this tokenizer, added tokens included."""
        raise NotImplementedError(f"{type(self).__name__} does not define its Rust pipeline")

    def _plain_post_processor(self):
        """The post-processor for add_special_tokens=False: adds nothing (and so the Rust library no longer
        counts special tokens against max_length when it checks the stride)."""
        from tokenizers import processors
        return processors.TemplateProcessing(single="$A:0", pair="$A:0 $B:1", special_tokens=[])

    def _normalize_added(self, content: str) -> str:
        """What a normalized=True added token is matched as (its content, normalised as the text is)."""
        return content

    def _decode_tokens(self, tokens: list[str]) -> str:
        """Token strings → text (the Rust decoder's rule for this algorithm)."""
        raise NotImplementedError(f"{type(self).__name__} does not define its decoder")

    def _template_text(self, pair: bool) -> str:
        """The special-token template, for messages."""
        return f"{self.cls_token} A {self.sep_token} B {self.sep_token}" if pair else \
            f"{self.cls_token} A {self.sep_token}"

    @classmethod
    def _folder_kwargs(cls, folder: Path, config: dict, rust_json: dict | None, overrides: dict
                       ) -> tuple[tuple, dict[str, Any]]:
        """(positional arguments, keyword arguments) for the constructor, from the folder's model files and
        the algorithm's settings in tokenizer_config.json / tokenizer.json."""
        raise NotImplementedError

    @classmethod
    def _vocab_of(cls, args: tuple) -> dict[str, int]:
        """The {token: id} vocabulary the positional arguments of `_folder_kwargs` describe."""
        raise NotImplementedError

    def _model_files(self) -> dict[str, str]:
        """{file name: text} of the model's own files, for save_pretrained."""
        return {}

    def _config_fields(self) -> dict[str, Any]:
        """The algorithm's settings for tokenizer_config.json."""
        return {}

    def _set_call_options(self, padding_side, truncation_side, model_input_names, split_special_tokens) -> None:
        """The settings transformers keeps beside the vocabulary (see the class docstring), checked."""
        self.padding_side = _side("padding_side", padding_side)
        self.truncation_side = _side("truncation_side", truncation_side)
        if model_input_names is None:
            model_input_names = self.default_model_input_names
        if isinstance(model_input_names, str) or not all(isinstance(n, str) for n in model_input_names):
            raise TokenizerTypeError(f"model_input_names={model_input_names!r} must be a list of names such as "
                                     f"{list(self.default_model_input_names)}")
        self.model_input_names = list(model_input_names)
        self.split_special_tokens = _flag("split_special_tokens", split_special_tokens, False)

    # -- loading and saving ------------------------------------------------------------------------------

    @classmethod
    def from_pretrained(cls, folder: str | os.PathLike, engine: str = "fast", **overrides):
        """Load a Hugging Face tokenizer folder: the model's own files (see the subclass), and
        tokenizer_config.json / special_tokens_map.json (model_max_length, the special tokens, the call
        options). Added tokens are read as transformers reads them (tokenizer_config.json's
        added_tokens_decoder, else tokenizer.json's added_tokens, with their flags; additional_special_tokens
        or extra_special_tokens). Keyword arguments override the config. Raises TokenizerError, naming the
        file and key, for a folder that is not one."""
        folder = Path(folder)
        if not folder.is_dir():
            raise TokenizerError(f"{folder}: no such folder (expected a tokenizer folder with "
                                 f"{' + '.join(cls.vocab_files) or TOKENIZER_FILE})")
        config = _read_json(folder / CONFIG_FILE) if (folder / CONFIG_FILE).is_file() else {}
        special_map = (_read_json(folder / SPECIAL_TOKENS_FILE) if (folder / SPECIAL_TOKENS_FILE).is_file()
                       else {})
        rust_json = _read_json(folder / TOKENIZER_FILE) if (folder / TOKENIZER_FILE).is_file() else None

        args, kwargs = cls._folder_kwargs(folder, config, rust_json, overrides)
        kwargs.update({
            # transformers treats a missing model_max_length as "no limit"
            "model_max_length": config.get("model_max_length"),
            "clean_up_tokenization_spaces": bool(config.get("clean_up_tokenization_spaces", False)),
        })
        max_len = kwargs["model_max_length"]
        if max_len is not None and (not isinstance(max_len, int) or isinstance(max_len, bool) or max_len <= 0):
            raise TokenizerError(f"{folder / CONFIG_FILE}: model_max_length is {max_len!r}, expected int or null")
        if max_len is not None and max_len > 1e18:
            kwargs["model_max_length"] = None  # transformers writes int(1e30) for "no limit"
        for role in ALL_ROLES:
            for source, name in ((config, CONFIG_FILE), (special_map, SPECIAL_TOKENS_FILE)):
                if source.get(role) is not None:
                    kwargs[role] = _token_str(source[role], f"{folder / name}: {role}")
                    break
        added, extras = cls._read_added_tokens(folder, config, special_map, rust_json)
        kwargs.update(_call_options(folder, config, rust_json))
        kwargs.update(overrides)
        extras = kwargs.pop("additional_special_tokens", kwargs.pop("extra_special_tokens", extras))
        # bos/eos, and roles given to added tokens (add_special_tokens({"cls_token": "<cls>"}) in
        # transformers), are set once the folder's added tokens are in
        listed = {token.content for _, token in added}
        candidates = [role for role in SPECIAL_ROLES if role != "unk_token" and kwargs.get(role) in listed]
        base = cls._vocab_of(args) if candidates else {}
        late_roles = {role: kwargs.pop(role) for role in list(kwargs) if role in ("bos_token", "eos_token")
                      or (role in candidates and kwargs[role] not in base)}
        tok = cls(*args, engine=engine, **kwargs)
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
        # a named token the folder does not list keeps the flags the tokenizer gave it (RoBERTa's <mask>)
        current = {t.content: t for t in self._added_tokens.values() if t.special}
        self._add([as_special(from_file[t]) if t in from_file else current.get(t) or AddedToken(t, special=True)
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

    def save_pretrained(self, folder: str | os.PathLike) -> tuple[str, ...]:
        """Write the model's own files (see the subclass), tokenizer.json, tokenizer_config.json and
        special_tokens_map.json; transformers' AutoTokenizer loads the folder and tokenizes identically, added
        tokens included (tokenizer.json's added_tokens and tokenizer_config.json's added_tokens_decoder carry
        them with their flags; additional_special_tokens lists the extra special ones). Each file is written
        to a temporary name and renamed, so a failure never leaves a half-written file."""
        folder = Path(folder)
        with writing(folder):
            folder.mkdir(parents=True, exist_ok=True)
        specials: dict[str, Any] = self.special_tokens_map
        if self._extra_special_tokens:
            specials["additional_special_tokens"] = list(self._extra_special_tokens)
        config = {
            "tokenizer_class": self.tokenizer_class,
            **self._config_fields(),
            "clean_up_tokenization_spaces": self.clean_up_tokenization_spaces,
            **specials,
            # the added tokens with their flags (also in tokenizer.json), as transformers 4 writes them
            "added_tokens_decoder": {str(i): token.to_dict() for i, token in self.added_tokens_decoder.items()},
        }
        if self.model_max_length is not None:
            config["model_max_length"] = self.model_max_length
        config.update(padding_side=self.padding_side, truncation_side=self.truncation_side,
                      split_special_tokens=self.split_special_tokens)
        if self.model_input_names != list(self.default_model_input_names):
            config["model_input_names"] = self.model_input_names
        files = {
            **self._model_files(),
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
        """The model vocabulary's size, without added tokens (as in transformers)."""
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
        """How many tokens of one text fit in model_max_length beside the special tokens (None: no limit)."""
        return None if self.model_max_length is None else self.model_max_length - self.num_special_tokens_to_add()

    @property
    def max_len_sentences_pair(self) -> int | None:
        """How many tokens of a pair fit in model_max_length beside the special tokens (None: no limit)."""
        return None if self.model_max_length is None else self.model_max_length - self.num_special_tokens_to_add(True)

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
        """Token strings → text, as the subclass's Rust decoder reads them (see `_decode_tokens`)."""
        tokens = list(tokens)
        for k, token in enumerate(tokens):
            if not isinstance(token, str):
                raise TokenizerTypeError(f"convert_tokens_to_string: token {k} is {_describe(token)}, expected "
                                         f"a string")
        return self._decode_tokens(tokens)

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
        that is not a token, or (WordPiece) an unk_token outside the vocabulary, which WordPiece needs.
        """
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
                if key == "unk_token" and self._unk_must_be_in_vocab and token.content not in self.vocab:
                    raise TokenizerError(f"{where}: {token.content!r} is not in the {self._algorithm} vocabulary, "
                                         f"which needs its unknown token; use a token of {self.vocab_files[0]}")
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
                pattern = self._normalize_added(token.content)
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
        copy = _same if isinstance(self._engine, _FastEngine) else list
        rows, sample_of_row = [], []
        for index, enc in enumerate(encodings):
            for row in [enc, *enc.overflowing] if return_overflowing_tokens else [enc]:
                rows.append(row)
                sample_of_row.append(index)
                data["input_ids"].append(copy(row.ids))
                if return_token_type_ids:
                    data["token_type_ids"].append([0] * len(row.ids) if self._one_token_type else copy(row.type_ids))
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
                what = self._template_text(has_pair)
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
        """Ids → text, as the algorithm's Rust decoder does it (WordPiece: "##" pieces join the previous
        piece, other tokens are separated by spaces, and , . ! ? lose the space before them; byte-level BPE:
        the bytes back, as UTF-8). A 2-D input (a batch) gives a list of strings. Lowercasing and stripped
        accents cannot be undone. Added tokens are kept (skip_special_tokens=True drops the special ones:
        [CLS], [PAD], ..., and additional ones like [E1]).

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
        text = self._decode_tokens(tokens)
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
        return (f"{type(self).__name__}({self.name_or_path!r}, vocab_size={self.vocab_size}, "
                f"model_max_length={self.model_max_length}, engine={self.engine!r})")




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


