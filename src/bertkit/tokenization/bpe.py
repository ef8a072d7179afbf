"""Byte-level BPE (GPT-2's, and RoBERTa's): `RobertaTokenizer`, on the shared machinery of encoding.py.

A text is read as UTF-8 bytes, each byte shown as one printable character (so a space is "Ġ", a newline
"Ċ"), and split GPT-2's way into words that carry their leading space ("Ġworld"), numbers, punctuation runs
and whitespace runs. Each word is cut by the merges of merges.txt (pairs of pieces, in order of priority:
the highest-priority adjacent pair is merged until none is left) into pieces of vocab.json. Nothing is
unknown: every byte is in the vocabulary. Then `<s> A </s>` / `<s> A </s></s> B </s>` around the
sequences, and truncation, padding and overflow windows as for every tokenizer.

The engine is the Rust `tokenizers` library, set up as `transformers` sets up its RobertaTokenizer (which in
transformers 5 is the Rust-backed one): BPE model, ByteLevel pre-tokenizer (add_prefix_space), ByteLevel
decoder, RobertaProcessing post-processor (trim_offsets: a piece's offsets leave out the space it carries).
bertkit has no pure-Python engine for BPE: engine="fast" only.

    tok = RobertaTokenizer.from_pretrained(folder)      # vocab.json + merges.txt, or tokenizer.json alone
    tok("Hello world", "A pair", return_offsets_mapping=True)

Differences from transformers are those of the base class (see encoding.py).
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Mapping, Sequence

from ..errors import TokenizerError
from .encoding import (TOKENIZER_FILE, AddedToken, PreTrainedTokenizer, TokenizerTypeError, _as_added_token,
                       _id_list, _rust_added_tokens, vocab_argument)

VOCAB_JSON = "vocab.json"
MERGES_FILE = "merges.txt"
ROBERTA_SPECIALS = {"bos_token": "<s>", "pad_token": "<pad>", "eos_token": "</s>", "unk_token": "<unk>",
                    "mask_token": "<mask>"}
SPACE_MARK = "Ġ"  # how byte-level BPE shows the space byte: a piece starting with it starts a word


def _byte_chars() -> dict[int, str]:
    """byte → the character byte-level BPE shows it as: the printable Latin-1 bytes as themselves, the other
    68 (controls, space, DEL, NBSP, soft hyphen) as U+0100 onwards, in byte order (GPT-2's table)."""
    printable = [*range(ord("!"), ord("~") + 1), *range(0xA1, 0xAC + 1), *range(0xAE, 0xFF + 1)]
    table = {b: chr(b) for b in printable}
    others = [b for b in range(256) if b not in table]
    table.update({b: chr(256 + k) for k, b in enumerate(others)})
    return table


BYTE_CHARS = _byte_chars()
CHAR_BYTES = {c: b for b, c in BYTE_CHARS.items()}


def load_vocab_json(path: str | os.PathLike) -> dict[str, int]:
    """vocab.json → {token: id}. Raises TokenizerError for a file that is not a JSON object of ids."""
    path = Path(path)
    try:
        with open(path, encoding="utf-8") as f:
            vocab = json.load(f)
    except FileNotFoundError:
        raise TokenizerError(f"{path}: vocabulary file not found; pass the path of a vocab.json") from None
    except json.JSONDecodeError as err:
        raise TokenizerError(f"{path}, line {err.lineno}: invalid JSON ({err.msg})") from None
    except UnicodeDecodeError as err:
        raise TokenizerError(f"{path}: not UTF-8 text ({err})") from None
    except OSError as err:
        raise TokenizerError(f"{path}: cannot read the vocabulary file ({err.strerror or err})") from None
    _check_vocab(vocab, str(path))
    return vocab


def _check_vocab(vocab: Any, where: str) -> None:
    if not isinstance(vocab, dict) or not vocab:
        raise TokenizerError(f"{where}: expected a non-empty JSON object {{token: id}}, found "
                             f"{type(vocab).__name__}")
    bad = next(((t, i) for t, i in vocab.items() if not isinstance(i, int) or isinstance(i, bool)), None)
    if bad is not None:
        raise TokenizerError(f"{where}: the id of {bad[0]!r} is {bad[1]!r}; ids are integers")


def load_merges(path: str | os.PathLike) -> list[tuple[str, str]]:
    """merges.txt → [(left, right), ...] in priority order: a "#version" first line is skipped, then one merge
    per line, two pieces separated by one space. Raises TokenizerError naming the line of a bad entry."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise TokenizerError(f"{path}: merges file not found; a byte-level BPE folder needs {MERGES_FILE} beside "
                             f"{VOCAB_JSON}") from None
    except UnicodeDecodeError as err:
        raise TokenizerError(f"{path}: not UTF-8 text ({err})") from None
    except OSError as err:
        raise TokenizerError(f"{path}: cannot read the merges file ({err.strerror or err})") from None
    merges = []
    # split on "\n" only: str.splitlines() would also split on characters that can be pieces
    for number, line in enumerate(text.split("\n"), 1):
        line = line[:-1] if line.endswith("\r") else line
        if not line or (number == 1 and line.startswith("#version")):
            continue
        parts = line.split(" ")
        if len(parts) != 2 or not all(parts):
            raise TokenizerError(f"{path}, line {number}: expected two pieces separated by one space, found "
                                 f"{line!r:.80}")
        merges.append((parts[0], parts[1]))
    return merges


def _merges_from_json(merges: Any, where: str) -> list[tuple[str, str]]:
    """tokenizer.json's model.merges: [[a, b], ...] (tokenizers >= 0.20) or ["a b", ...] (older)."""
    if not isinstance(merges, list):
        raise TokenizerError(f"{where}: model.merges is {type(merges).__name__}; expected a list")
    out = []
    for k, m in enumerate(merges):
        pair = m.split(" ") if isinstance(m, str) else m
        if not isinstance(pair, list) or len(pair) != 2 or not all(isinstance(p, str) and p for p in pair):
            raise TokenizerError(f"{where}: model.merges[{k}] is {m!r:.60}; expected two pieces")
        out.append((pair[0], pair[1]))
    return out


class RobertaTokenizer(PreTrainedTokenizer):
    """RoBERTa's byte-level BPE tokenizer with the `transformers` call signature.

    Args:
        vocab_file_or_dict: path to vocab.json, or a {token: id} dict with ids 0..n-1.
        merges_file_or_list: path to merges.txt, or a list of (left, right) pairs in priority order.
        model_max_length: the model's limit; `truncation=True` without max_length cuts to it (None: no limit).
        engine: "fast" only (the Rust `tokenizers` library).
        add_prefix_space: put a space before the text, so that its first word is cut as any other word
            ("Hello" becomes "ĠHello"). Default False, as transformers. With is_split_into_words=True each
            word is encoded on its own, so every word is cut as a first word unless this is True.
        trim_offsets: offsets leave out the space a piece carries ("Ġworld" covers "world").
        bos_token, eos_token, sep_token, cls_token, unk_token, pad_token, mask_token: RoBERTa's <s>, </s>,
            </s>, <s>, <unk>, <pad>, <mask>. <mask> takes in the spaces on its left (lstrip), so that "a <mask>"
            puts the masked word where "a Ġword" had it. A special token missing from the vocabulary is added
            after it, as transformers does.
        additional_special_tokens, padding_side, truncation_side, model_input_names, split_special_tokens,
            clean_up_tokenization_spaces: as for every tokenizer (see BertTokenizer). model_input_names
            defaults to input_ids and attention_mask (RoBERTa has one token type; return_token_type_ids=True
            gives zeros).
    All of these are read from tokenizer_config.json (and tokenizer.json) by from_pretrained.
    """

    tokenizer_class = "RobertaTokenizer"
    default_model_input_names = ("input_ids", "attention_mask")
    vocab_files = (VOCAB_JSON, MERGES_FILE)
    _algorithm = "byte-level BPE"
    _one_token_type = True  # as RobertaProcessing, also with add_special_tokens=False

    def __init__(self, vocab_file_or_dict: str | os.PathLike | Mapping[str, int],
                 merges_file_or_list: str | os.PathLike | Sequence[tuple[str, str]],
                 model_max_length: int | None = 512, engine: str = "fast", *, add_prefix_space: bool = False,
                 trim_offsets: bool = True, errors: str = "replace", clean_up_tokenization_spaces: bool = False,
                 bos_token: str = "<s>", eos_token: str = "</s>", sep_token: str = "</s>", cls_token: str = "<s>",
                 unk_token: str = "<unk>", pad_token: str = "<pad>", mask_token: str | AddedToken = "<mask>",
                 additional_special_tokens: Sequence[str | AddedToken] | None = None,
                 padding_side: str = "right", truncation_side: str = "right",
                 model_input_names: Sequence[str] | None = None, split_special_tokens: bool = False,
                 _source: str | None = None):
        vocab, where, given = vocab_argument("RobertaTokenizer", vocab_file_or_dict, "vocab.json", load_vocab_json,
                                             _source)
        if given:  # a file is checked as it is read
            _check_vocab(vocab, where)
        if isinstance(merges_file_or_list, (str, os.PathLike)):
            merges = load_merges(merges_file_or_list)
        elif isinstance(merges_file_or_list, Sequence):
            merges = _merges_from_json([list(m) if isinstance(m, tuple) else m for m in merges_file_or_list],
                                       "merges_file_or_list")
        else:
            raise TokenizerTypeError(f"merges_file_or_list must be a path to merges.txt or a list of pairs, "
                                     f"not {type(merges_file_or_list).__name__}")
        if engine != "fast":
            raise TokenizerError(f"engine={engine!r}: byte-level BPE runs on the Rust tokenizers library only; "
                                 f"use engine='fast'")
        for name, flag in (("add_prefix_space", add_prefix_space), ("trim_offsets", trim_offsets)):
            if not isinstance(flag, bool):
                raise TokenizerTypeError(f"{name} must be True or False, not {flag!r}")
        missing = sorted({p for pair in merges for p in pair} - set(vocab))
        if missing:
            raise TokenizerError(f"{where}: the merges use pieces that are not in the vocabulary, e.g. "
                                 f"{missing[:3]}; vocab.json and merges.txt must come from the same training")
        mask = _as_added_token(mask_token, "mask_token", special=True)
        if isinstance(mask_token, str):
            mask = AddedToken(mask.content, lstrip=True, normalized=False, special=True)
        roles = {"bos_token": bos_token, "eos_token": eos_token, "sep_token": sep_token, "cls_token": cls_token,
                 "unk_token": unk_token, "pad_token": pad_token, "mask_token": mask.content}
        self._init_base(vocab, where, model_max_length=model_max_length, engine=engine,
                        clean_up_tokenization_spaces=clean_up_tokenization_spaces, roles=roles,
                        padding_side=padding_side, truncation_side=truncation_side,
                        model_input_names=model_input_names, split_special_tokens=split_special_tokens)
        self.merges: list[tuple[str, str]] = merges
        self.add_prefix_space = add_prefix_space
        self.trim_offsets = trim_offsets
        self.errors = errors
        named = [mask if t == mask.content else t for t in self._named_special_tokens()]
        self._finish_init(additional_special_tokens, named)

    # -- the Rust pipeline ---------------------------------------------------------------------------------

    def _build_rust_tokenizer(self):
        """The `tokenizers.Tokenizer` transformers' RobertaTokenizer builds: BPE (no unknown token, no
        prefixes), ByteLevel pre-tokenizer and decoder, RobertaProcessing; then the added tokens, in order."""
        from tokenizers import Tokenizer as RustTokenizer, decoders, pre_tokenizers, processors
        from tokenizers.models import BPE

        rust = RustTokenizer(BPE(vocab=self.vocab, merges=self.merges, dropout=None, continuing_subword_prefix="",
                                 end_of_word_suffix="", fuse_unk=False))
        rust.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=self.add_prefix_space)
        rust.decoder = decoders.ByteLevel()
        rust.post_processor = processors.RobertaProcessing(
            (self.sep_token, self.sep_token_id), (self.cls_token, self.cls_token_id),
            trim_offsets=self.trim_offsets, add_prefix_space=self.add_prefix_space)
        rust.add_tokens(_rust_added_tokens(self._added_log))
        return rust

    def _plain_post_processor(self):
        """add_special_tokens=False: no <s> / </s>, but offsets still trimmed, as RobertaProcessing does."""
        from tokenizers import processors
        return processors.ByteLevel(add_prefix_space=self.add_prefix_space, trim_offsets=self.trim_offsets)

    # -- the special-token template: <s> A </s> and <s> A </s></s> B </s> -----------------------------------

    def num_special_tokens_to_add(self, pair: bool = False) -> int:
        """<s> A </s> adds 2; <s> A </s></s> B </s> adds 4."""
        return 4 if pair else 2

    def _template_text(self, pair: bool) -> str:
        cls, sep = self.cls_token, self.sep_token
        return f"{cls} A {sep}{sep} B {sep}" if pair else f"{cls} A {sep}"

    def build_inputs_with_special_tokens(self, token_ids_0, token_ids_1=None) -> list[int]:
        """<s> A </s> or <s> A </s></s> B </s>, on ids (as transformers' RobertaTokenizer)."""
        a = [self.cls_token_id, *_id_list(token_ids_0), self.sep_token_id]
        if token_ids_1 is None:
            return a
        return a + [self.sep_token_id, *_id_list(token_ids_1), self.sep_token_id]

    def create_token_type_ids_from_sequences(self, token_ids_0, token_ids_1=None) -> list[int]:
        """Zeros over build_inputs_with_special_tokens(A, B): RoBERTa has one token type."""
        return [0] * len(self.build_inputs_with_special_tokens(token_ids_0, token_ids_1))

    def get_special_tokens_mask(self, token_ids_0, token_ids_1=None, already_has_special_tokens: bool = False
                                ) -> list[int]:
        """1 for a special token, 0 for a text token (see PreTrainedTokenizer.get_special_tokens_mask)."""
        if already_has_special_tokens:
            return super().get_special_tokens_mask(token_ids_0, token_ids_1, True)
        mask = [1] + [0] * len(_id_list(token_ids_0)) + [1]
        return mask if token_ids_1 is None else mask + [1] + [0] * len(_id_list(token_ids_1)) + [1]

    # -- text back from tokens -----------------------------------------------------------------------------

    def _decode_tokens(self, tokens: list[str]) -> str:
        """As the Rust ByteLevel decoder: each token's characters back to bytes (a token with a character
        outside the byte table, such as an added "é", as its own UTF-8), all bytes decoded as UTF-8, a
        broken sequence becoming U+FFFD."""
        out = bytearray()
        for token in tokens:
            try:
                out += bytes(CHAR_BYTES[c] for c in token)
            except KeyError:
                out += token.encode("utf-8")
        return out.decode("utf-8", errors="replace")

    def continuation_mask(self) -> list[bool]:
        """For each id 0..len(self)-1: True when its piece continues the word of the piece before it: a
        vocabulary piece that does not start with "Ġ" (a space), never an added or special token. What
        whole-word masking reads."""
        added = set(self._added_tokens)
        return [i not in added and not t.startswith(SPACE_MARK) for i, t in enumerate(self.ids_to_tokens)] + \
            [False] * (len(self) - len(self.ids_to_tokens))

    # -- loading and saving --------------------------------------------------------------------------------

    @classmethod
    def from_pretrained(cls, folder: str | os.PathLike, engine: str = "fast", **overrides) -> RobertaTokenizer:
        """Load a RoBERTa / GPT-2-style tokenizer folder: vocab.json + merges.txt, or (as transformers 5 writes
        it) tokenizer.json alone; add_prefix_space / trim_offsets from tokenizer_config.json, else from
        tokenizer.json; special and added tokens as every tokenizer reads them. Keyword arguments override."""
        return super().from_pretrained(folder, engine, **overrides)

    @classmethod
    def _folder_kwargs(cls, folder: Path, config: dict, rust_json: dict | None, overrides: dict
                       ) -> tuple[tuple, dict[str, Any]]:
        if (folder / VOCAB_JSON).is_file() and (folder / MERGES_FILE).is_file():
            args: tuple = (folder / VOCAB_JSON, folder / MERGES_FILE)
        elif rust_json is not None:
            where = folder / TOKENIZER_FILE
            model = rust_json.get("model") or {}
            if model.get("type") != "BPE":
                raise TokenizerError(f"{where}: not a BPE tokenizer (model type {model.get('type')!r}), and there "
                                     f"is no {VOCAB_JSON} + {MERGES_FILE}")
            _check_vocab(model.get("vocab"), f"{where}: model.vocab")
            args = (model["vocab"], _merges_from_json(model.get("merges"), str(where)))
            overrides.setdefault("_source", str(where))
        else:
            found = [name for name in cls.vocab_files if (folder / name).is_file()]
            raise TokenizerError(f"{folder}: no {VOCAB_JSON} + {MERGES_FILE} (found {found or 'neither'}) nor "
                                 f"{TOKENIZER_FILE}; this is not a byte-level BPE tokenizer folder")
        pre = (rust_json or {}).get("pre_tokenizer") or {}
        post = (rust_json or {}).get("post_processor") or {}
        kwargs: dict[str, Any] = {}
        for key, default in (("add_prefix_space", pre.get("add_prefix_space", post.get("add_prefix_space"))),
                             ("trim_offsets", post.get("trim_offsets"))):
            value = config.get(key, default)
            if value is not None:
                if not isinstance(value, bool):
                    raise TokenizerError(f"{folder / 'tokenizer_config.json'}: {key} is {value!r}, expected "
                                         f"true or false")
                kwargs[key] = value
        if isinstance(config.get("errors"), str):
            kwargs["errors"] = config["errors"]
        return args, kwargs

    @classmethod
    def _vocab_of(cls, args: tuple) -> dict[str, int]:
        return args[0] if isinstance(args[0], dict) else load_vocab_json(args[0])

    def _model_files(self) -> dict[str, str]:
        merges = "#version: 0.2\n" + "".join(f"{a} {b}\n" for a, b in self.merges)
        return {VOCAB_JSON: json.dumps(self.vocab, ensure_ascii=False) + "\n", MERGES_FILE: merges}

    def _config_fields(self) -> dict[str, Any]:
        return {"add_prefix_space": self.add_prefix_space, "trim_offsets": self.trim_offsets,
                "errors": self.errors}

    def __repr__(self) -> str:
        return (f"RobertaTokenizer({self.name_or_path!r}, vocab_size={self.vocab_size}, "
                f"add_prefix_space={self.add_prefix_space}, model_max_length={self.model_max_length})")
