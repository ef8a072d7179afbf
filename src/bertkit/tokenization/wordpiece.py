"""BERT's WordPiece tokenizer: a readable pure-Python reference and a fast `tokenizers` engine.

The machinery every algorithm shares (the call, truncation, padding, overflow windows, added tokens,
BatchEncoding, loading and saving the config files) is in encoding.py; this module is what is WordPiece's:
the normaliser, the pre-tokenizer, WordPiece itself, its Python engine and its Rust pipeline.

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

The call's keywords and where bertkit differs from transformers on purpose are described in encoding.py.
One known gap in the Python engine: it decomposes
accents one character at a time and so does not put adjacent combining marks into canonical order, which
matters only when two such marks survive accent stripping (a few spacing marks such as U+1D165..U+1D172,
or marks newer than Unicode 8) and sit out of order.

Vocabulary training lives in `bertkit.tokenization.vocab` (also importable as `bertkit.vocab`):
    train_vocab(files, vocab_size=30522, do_lower_case=True, min_frequency=2, limit_alphabet=1000,
                special_tokens=("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"), show_progress=True) -> BertTokenizer
    vocab_main(files, out, vocab_size=30522, lowercase=True, min_frequency=2, show_progress=True) -> Path

Why the reference carries its own Unicode tables (_unicode.py): the Rust library classifies characters
(punctuation, control, non-spacing mark) with Unicode 8.0 tables, while Python's `unicodedata` is newer.
A character added since (say a new punctuation mark) would split in one engine and not the other, so the
reference carries the tables the Rust engine uses. tests/test_tokenization.py checks them against the
Rust library, code point by code point.

This module imports no torch; `return_tensors="pt"` imports it when asked.
"""
from __future__ import annotations

import os
import warnings
from itertools import chain, repeat
from pathlib import Path
from typing import Any, Iterable, Mapping, NamedTuple, Sequence

from ..errors import TokenizerError
from ._unicode import _WORD_RE, _is_chinese_char, _is_control, _is_nonspacing_mark, _is_whitespace, _lower, _nfd
from .encoding import (TOKENIZER_FILE, AddedToken, PreTrainedTokenizer, TokenizerTypeError, _AddedMatcher,
                       _Encoding, _FastEngine, _join, _merge, _pad, _Padding, _plan_truncation, _special_row,
                       _Truncation, _truncate_to, _describe, _rust_added_tokens, vocab_argument)

VOCAB_FILE = "vocab.txt"
DEFAULT_SPECIALS = {"pad_token": "[PAD]", "unk_token": "[UNK]", "cls_token": "[CLS]",
                    "sep_token": "[SEP]", "mask_token": "[MASK]"}


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
# The Python engine (the Rust one, _FastEngine, is shared: see encoding.py)
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



class BertTokenizer(PreTrainedTokenizer):
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

    tokenizer_class = "BertTokenizer"
    vocab_files = (VOCAB_FILE,)
    _unk_must_be_in_vocab = True
    _algorithm = "WordPiece"

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
        vocab, where, _ = vocab_argument(type(self).__name__, vocab_file_or_dict, "vocab.txt", load_vocab, _source)
        if engine not in ("fast", "python"):
            raise TokenizerError(f"engine={engine!r}: use 'fast' (Rust tokenizers) or 'python' (the reference)")
        for name, flag in (("do_lower_case", do_lower_case), ("tokenize_chinese_chars", tokenize_chinese_chars)):
            if not isinstance(flag, bool):
                raise TokenizerTypeError(f"{name} must be True or False, not {flag!r}")
        if strip_accents is not None and not isinstance(strip_accents, bool):
            raise TokenizerTypeError(f"strip_accents must be True, False or None, not {strip_accents!r}")
        roles = {"pad_token": pad_token, "unk_token": unk_token, "cls_token": cls_token,
                 "sep_token": sep_token, "mask_token": mask_token, "bos_token": bos_token, "eos_token": eos_token}
        self._init_base(vocab, where, model_max_length=model_max_length, engine=engine,
                        clean_up_tokenization_spaces=clean_up_tokenization_spaces, roles=roles,
                        padding_side=padding_side, truncation_side=truncation_side,
                        model_input_names=model_input_names, split_special_tokens=split_special_tokens)
        specials = [pad_token, unk_token, cls_token, sep_token, mask_token]
        missing = [tok for tok in specials if tok not in vocab]
        if missing:
            raise TokenizerError(f"{where}: the special tokens {missing} are not in the vocabulary; a BERT vocabulary "
                                 f"needs all of {specials}")
        self.do_lower_case = do_lower_case
        self.tokenize_chinese_chars = tokenize_chinese_chars
        self.strip_accents = strip_accents
        self._set_ignored_options(do_basic_tokenize, never_split, where)
        self._normalizer = BasicTokenizer(do_lower_case, tokenize_chinese_chars, strip_accents)
        self._finish_init(additional_special_tokens)

    def _make_engine(self):
        return _FastEngine(self) if self.engine == "fast" else _PythonEngine(self)

    def _normalize_added(self, content: str) -> str:
        return self._normalizer.normalize(content)

    # -- loading and saving ------------------------------------------------------------------------------

    @classmethod
    def from_pretrained(cls, folder: str | os.PathLike, engine: str = "fast", **overrides) -> BertTokenizer:
        """Load a Hugging Face tokenizer folder: vocab.txt (or, as transformers 5 writes, only
        tokenizer.json) and tokenizer_config.json (do_lower_case, strip_accents, tokenize_chinese_chars,
        model_max_length, special tokens, do_basic_tokenize / never_split, which have no effect, as in
        transformers 5). Added tokens are read as transformers reads them (tokenizer_config.json's
        added_tokens_decoder, else tokenizer.json's added_tokens, with their flags; additional_special_tokens
        or extra_special_tokens). Keyword arguments override the config."""
        return super().from_pretrained(folder, engine, **overrides)

    @classmethod
    def _folder_kwargs(cls, folder: Path, config: dict, rust_json: dict | None, overrides: dict
                       ) -> tuple[tuple, dict[str, Any]]:
        """vocab.txt (else tokenizer.json's WordPiece vocabulary), and the normaliser settings from
        tokenizer_config.json, else tokenizer.json's BertNormalizer, else the defaults."""
        kwargs: dict[str, Any] = {}
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
        normalizer = (rust_json or {}).get("normalizer") or {}
        if normalizer.get("type") != "BertNormalizer":
            normalizer = {}
        kwargs.update({
            "do_lower_case": config.get("do_lower_case", normalizer.get("lowercase", True)),
            "strip_accents": config.get("strip_accents", normalizer.get("strip_accents")),
            "tokenize_chinese_chars": config.get("tokenize_chinese_chars",
                                                 normalizer.get("handle_chinese_chars", True)),
        })
        for key, kinds in (("do_lower_case", (bool,)), ("strip_accents", (bool, type(None))),
                           ("tokenize_chinese_chars", (bool,))):
            if not isinstance(kwargs[key], kinds):
                raise TokenizerError(f"{folder / 'tokenizer_config.json'}: {key} is {kwargs[key]!r}, expected "
                                     f"{' or '.join('null' if k is type(None) else k.__name__ for k in kinds)}")
        for key in ("do_basic_tokenize", "never_split"):
            if key in config:
                kwargs[key] = config[key]
        return (vocab,), kwargs

    @classmethod
    def _vocab_of(cls, args: tuple) -> dict[str, int]:
        return args[0] if isinstance(args[0], dict) else load_vocab(args[0])

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

    def _model_files(self) -> dict[str, str]:
        return {VOCAB_FILE: "".join(t + "\n" for t in self.ids_to_tokens)}

    def _config_fields(self) -> dict[str, Any]:
        return {"do_lower_case": self.do_lower_case, "strip_accents": self.strip_accents,
                "tokenize_chinese_chars": self.tokenize_chinese_chars, "do_basic_tokenize": self.do_basic_tokenize,
                "never_split": self.never_split}

    def _set_ignored_options(self, do_basic_tokenize, never_split, where: str) -> None:
        """do_basic_tokenize / never_split: checked, kept (save_pretrained writes them back), not used."""
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

    # -- text back from tokens -----------------------------------------------------------------------------

    def _decode_tokens(self, tokens: list[str]) -> str:
        """As transformers' BertTokenizer (the Rust WordPiece decoder) does it: "##" pieces join the previous
        token, other tokens get a space, and " ." " ," " n't" ... are tightened. A leading "##" piece is kept
        as is."""
        parts = []
        for k, token in enumerate(tokens):
            if k > 0:
                token = token[2:] if token.startswith("##") else " " + token
            parts.append(_cleanup_piece(token))
        return "".join(parts)

    def continuation_mask(self) -> list[bool]:
        """For each id 0..len(self)-1: True when its piece continues the word of the piece before it (a
        "##" piece of the vocabulary; never an added or special token). What whole-word masking reads."""
        added = set(self._added_tokens)
        return [i not in added and t.startswith("##") for i, t in enumerate(self.ids_to_tokens)] + \
            [False] * (len(self) - len(self.ids_to_tokens))

    def __repr__(self) -> str:
        return (f"{type(self).__name__}({self.name_or_path!r}, vocab_size={self.vocab_size}, "
                f"do_lower_case={self.do_lower_case}, model_max_length={self.model_max_length}, "
                f"engine={self.engine!r})")


class DistilBertTokenizer(BertTokenizer):
    """DistilBERT's tokenizer: BERT's WordPiece, whose model takes no token types, so a call returns
    input_ids and attention_mask only (model_input_names, as in transformers; return_token_type_ids=True
    still gives them). save_pretrained writes tokenizer_class "DistilBertTokenizer"."""

    tokenizer_class = "DistilBertTokenizer"
    default_model_input_names = ("input_ids", "attention_mask")


Tokenizer = BertTokenizer


def _cleanup_piece(token: str) -> str:
    """The Rust WordPiece decoder's cleanup, applied to each (space-prefixed) token on its own."""
    return (token.replace(" .", ".").replace(" ?", "?").replace(" !", "!").replace(" ,", ",")
            .replace(" ' ", "'").replace(" n't", "n't").replace(" 'm", "'m").replace(" do not", " don't")
            .replace(" 's", "'s").replace(" 've", "'ve").replace(" 're", "'re"))


