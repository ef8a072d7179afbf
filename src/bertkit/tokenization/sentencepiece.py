"""SentencePiece (unigram) tokenization, ALBERT's: `AlbertTokenizer`, on the shared machinery of encoding.py.

The model file is `spiece.model`, a SentencePiece model, read with the `sentencepiece` library: its pieces
(words and parts of words, a piece that starts a word begins with "▁"), their scores (log-probabilities),
and its normalisation table (NFKC and friends, compiled into the file). ALBERT's specials are pieces of it:
<pad>=0, <unk>=1, [CLS]=2, [SEP]=3, [MASK]=4 (`bertkit vocab --algorithm unigram` trains such a file).

A text is read as transformers 5's AlbertTokenizer reads it (which is backed by the Rust `tokenizers`
library, converted from spiece.model): `` and '' become ", accents are stripped (NFKD, then the combining
marks dropped; not with keep_accents=True), lowercased (do_lower_case), then the model's own normalisation
table; split on whitespace (so runs of spaces count as one: remove_space), "▁" put before each word
(add_prefix_space), and each word cut by the unigram model into the pieces of highest total score (Viterbi).
A character the model has no piece for is <unk>. Then `[CLS] A [SEP]` / `[CLS] A [SEP] B [SEP]`, with
token types 0 / 1, and truncation, padding and overflow windows as for every tokenizer. As transformers'
AlbertTokenizer, the call returns input_ids and attention_mask; return_token_type_ids=True adds the types.

The engine is the Rust `tokenizers` library with that pipeline (Unigram model, normaliser sequence with the
Precompiled table, WhitespaceSplit + Metaspace pre-tokenizers, Metaspace decoder, TemplateProcessing),
built here from spiece.model; the `sentencepiece` library stays the reference for pieces and ids (the tests
check that both cut the corpus the same). engine="fast" only.

    tok = AlbertTokenizer.from_pretrained(folder)       # spiece.model (+ tokenizer_config.json)
    tok("Hello world", "A pair", return_offsets_mapping=True)

save_pretrained writes spiece.model, tokenizer.json (transformers reads the pipeline from it: without the
`protobuf` package it cannot read spiece.model itself), tokenizer_config.json and special_tokens_map.json.
Differences from transformers are those of the base class (see encoding.py), and: the unknown token's id is
the vocabulary's (transformers 5 assumes 1, which is where ALBERT has it); remove_space=False is refused
(transformers 5 ignores it and always splits on whitespace). Where transformers differs from the
sentencepiece library, bertkit follows transformers: the text is split on every Unicode White_Space
character (U+0085, U+2028, ...), where sentencepiece splits only on the spaces its table makes; and a
control piece the normalised text spells ("<PAD>" → "<pad>") is that piece's id, where sentencepiece never
emits a control piece; and the model's table is applied to whole grapheme clusters (an ideographic space
followed by a combining accent loses the accent).
"""
from __future__ import annotations

import os
import struct
from pathlib import Path
from typing import Any, Sequence

from ..errors import TokenizerError
from ..io import atomic_write_bytes, writing
from .encoding import TOKENIZER_FILE, AddedToken, PreTrainedTokenizer, TokenizerTypeError

SPIECE_FILE = "spiece.model"
WORD_MARK = "▁"  # U+2581: a piece starting with it starts a word
# ALBERT's special tokens, in the ids its spiece.model gives them
ALBERT_SPECIALS = ("<pad>", "<unk>", "[CLS]", "[SEP]", "[MASK]")
_UNIGRAM = 1  # TrainerSpec.ModelType


# ---------------------------------------------------------------------------------------------------------
# spiece.model: the pieces through the sentencepiece library, the two fields it does not expose from the file
# ---------------------------------------------------------------------------------------------------------

def _varint(data: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if pos >= len(data):
            raise ValueError("truncated varint")
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, pos
        shift += 7


def _fields(data: bytes):
    """(field number, wire type, value) of a protobuf message: the wire format, nothing model-specific."""
    pos = 0
    while pos < len(data):
        key, pos = _varint(data, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _varint(data, pos)
        elif wire == 1:
            value, pos = data[pos:pos + 8], pos + 8
        elif wire == 2:
            length, pos = _varint(data, pos)
            value, pos = data[pos:pos + length], pos + length
        elif wire == 5:
            value, pos = data[pos:pos + 4], pos + 4
        else:
            raise ValueError(f"wire type {wire}")
        if pos > len(data):
            raise ValueError("truncated field")
        yield number, wire, value


def _model_settings(data: bytes) -> tuple[int, bytes]:
    """(TrainerSpec.model_type, NormalizerSpec.precompiled_charsmap) of a serialised ModelProto (fields 2 and
    3 of sentencepiece_model.proto); what `SentencePieceProcessor` does not expose. Model type 1 (unigram) is
    the default when the file does not say."""
    model_type, charsmap = _UNIGRAM, b""
    for number, wire, value in _fields(data):
        if number == 2 and wire == 2:
            for n, w, v in _fields(value):
                if n == 3 and w == 0:
                    model_type = v
        elif number == 3 and wire == 2:
            for n, w, v in _fields(value):
                if n == 2 and w == 2:
                    charsmap = v
    return model_type, charsmap


def _key(number: int, wire: int) -> bytes:
    return _put_varint(number << 3 | wire)


def _put_varint(value: int) -> bytes:
    value &= (1 << 64) - 1  # negative int32 fields are written as 10-byte two's complement
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _put_bytes(number: int, data: bytes) -> bytes:
    return _key(number, 2) + _put_varint(len(data)) + data


def _put_int(number: int, value: int) -> bytes:
    return _key(number, 0) + _put_varint(value)


def _model_proto(pieces: Sequence[tuple[str, float]], unk_id: int, control: set[int], charsmap: bytes) -> bytes:
    """A serialised sentencepiece ModelProto for a unigram model given by its pieces and scores (as
    tokenizer.json holds it): piece types (normal, unknown, control), the trainer fields the processor
    reads (model type unigram, the unknown id, no <s> / </s>) and the normaliser (the Precompiled table,
    a dummy "▁" prefix, extra whitespace removed, spaces escaped as "▁")."""
    out = bytearray()
    for i, (piece, score) in enumerate(pieces):
        kind = 2 if i == unk_id else 3 if i in control else 1
        out += _put_bytes(1, _put_bytes(1, piece.encode("utf-8")) + _key(2, 5) + struct.pack("<f", score)
                          + _put_int(3, kind))
    pad = next((i for i in sorted(control) if pieces[i][0] == "<pad>"), -1)
    out += _put_bytes(2, _put_int(3, _UNIGRAM) + _put_int(40, unk_id) + _put_int(41, -1) + _put_int(42, -1)
                      + _put_int(43, pad) + _put_bytes(45, pieces[unk_id][0].encode("utf-8")))
    out += _put_bytes(3, (_put_bytes(2, charsmap) if charsmap else b"") + _put_int(3, 1) + _put_int(4, 1)
                      + _put_int(5, 1))
    return bytes(out)


def _from_tokenizer_json(rust_json: dict, where: str) -> bytes:
    """The spiece.model bytes a transformers-written tokenizer.json (a Unigram model, no spiece.model beside
    it) describes: its pieces and scores, unk_id, the special added tokens as control pieces, and the
    Precompiled table of its normaliser. Raises TokenizerError for one that is not a unigram tokenizer."""
    import base64

    model = rust_json.get("model") or {}
    if model.get("type") != "Unigram":
        raise TokenizerError(f"{where}: not a SentencePiece unigram tokenizer (model type {model.get('type')!r}), "
                             f"and there is no {SPIECE_FILE}")
    vocab, unk_id = model.get("vocab"), model.get("unk_id")
    if (not isinstance(vocab, list) or not vocab
            or not all(isinstance(v, list) and len(v) == 2 and isinstance(v[0], str)
                       and isinstance(v[1], (int, float)) for v in vocab)):
        raise TokenizerError(f"{where}: model.vocab is not a list of [piece, score] pairs")
    if not isinstance(unk_id, int) or not 0 <= unk_id < len(vocab):
        raise TokenizerError(f"{where}: model.unk_id is {unk_id!r}; expected the id of the unknown piece")
    ids = {piece: i for i, (piece, _) in enumerate(vocab)}
    control = {ids[t["content"]] for t in rust_json.get("added_tokens") or []
               if isinstance(t, dict) and t.get("special") and t.get("content") in ids} - {unk_id}
    charsmap = b""
    stack = [rust_json.get("normalizer")]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            if node.get("type") == "Precompiled" and isinstance(node.get("precompiled_charsmap"), str):
                charsmap = base64.b64decode(node["precompiled_charsmap"])
            stack.extend(node.get("normalizers") or [])
    return _model_proto([(p, float(s)) for p, s in vocab], unk_id, control, charsmap)


class SentencePieceModel:
    """A spiece.model as the `sentencepiece` library reads it: `processor` (a SentencePieceProcessor, the
    reference for pieces and ids), `pieces` and `scores` by id, `control` (ids of control pieces such as
    [CLS]), `unk_id`, and `charsmap` (the compiled normalisation table). Raises TokenizerError naming the
    file for one that is missing or not a SentencePiece unigram model."""

    def __init__(self, source: str | os.PathLike | bytes, where: str | None = None):
        import sentencepiece as spm

        if isinstance(source, (bytes, bytearray)):
            data, where = bytes(source), where or "the spiece.model bytes"
        else:
            path = Path(source)
            where = where or str(path)
            if path.is_dir():
                raise TokenizerError(f"{path} is a folder; use AlbertTokenizer.from_pretrained({str(path)!r})")
            try:
                data = path.read_bytes()
            except FileNotFoundError:
                raise TokenizerError(f"{path}: SentencePiece model not found; pass the path of a "
                                     f"{SPIECE_FILE}") from None
            except OSError as err:
                raise TokenizerError(f"{path}: cannot read the SentencePiece model ({err.strerror or err})"
                                     ) from None
        processor = spm.SentencePieceProcessor()
        try:
            processor.LoadFromSerializedProto(data)
            model_type, charsmap = _model_settings(data)
        except Exception as err:  # sentencepiece raises RuntimeError/OSError for a file it cannot parse
            reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
            raise TokenizerError(f"{where}: not a SentencePiece model ({reason}); pass a spiece.model written by "
                                 f"sentencepiece or `bertkit vocab --algorithm unigram`") from None
        if model_type != _UNIGRAM:
            kind = {2: "BPE", 3: "word", 4: "char"}.get(model_type, str(model_type))
            raise TokenizerError(f"{where}: a SentencePiece {kind} model; ALBERT's tokenizer reads unigram "
                                 f"models (train one with `bertkit vocab --algorithm unigram`)")
        n = processor.GetPieceSize()
        self.data = data
        self.processor = processor
        self.pieces: list[str] = [processor.IdToPiece(i) for i in range(n)]
        self.scores: list[float] = [processor.GetScore(i) for i in range(n)]
        self.control: set[int] = {i for i in range(n) if processor.IsControl(i)}
        self.unk_id: int = processor.unk_id()
        self.charsmap: bytes = charsmap
        self.where = where


# ---------------------------------------------------------------------------------------------------------
# the tokenizer
# ---------------------------------------------------------------------------------------------------------

class AlbertTokenizer(PreTrainedTokenizer):
    """ALBERT's SentencePiece (unigram) tokenizer with the `transformers` call signature.

    Args:
        vocab_file: path to spiece.model (or its bytes, or a SentencePieceModel).
        do_lower_case: lowercase the text (default True, as ALBERT's released models).
        remove_space: runs of whitespace count as one, leading and trailing whitespace is dropped. Only True
            (transformers 5 always does it); False is a TokenizerError.
        keep_accents: keep accents (default False: NFKD, then combining marks dropped).
        model_max_length: the model's limit; `truncation=True` without max_length cuts to it (None: no limit).
        engine: "fast" only (the Rust `tokenizers` library).
        add_prefix_space: put "▁" before the first word too, so that it is cut as any other word (default
            True, as transformers).
        bos_token, eos_token, unk_token, sep_token, pad_token, cls_token, mask_token: ALBERT's [CLS], [SEP],
            <unk>, [SEP], <pad>, [CLS], [MASK]. A special token missing from the model is added after it.
        additional_special_tokens, padding_side, truncation_side, model_input_names, split_special_tokens,
            clean_up_tokenization_spaces: as for every tokenizer (see BertTokenizer). model_input_names
            defaults to input_ids and attention_mask, as transformers' AlbertTokenizer.
    All of these are read from tokenizer_config.json by from_pretrained.
    """

    tokenizer_class = "AlbertTokenizer"
    default_model_input_names = ("input_ids", "attention_mask")
    vocab_files = (SPIECE_FILE,)
    _algorithm = "SentencePiece unigram"

    def __init__(self, vocab_file: str | os.PathLike | bytes | SentencePieceModel, do_lower_case: bool = True,
                 remove_space: bool = True, keep_accents: bool = False, model_max_length: int | None = 512,
                 engine: str = "fast", *, add_prefix_space: bool = True, clean_up_tokenization_spaces: bool = False,
                 bos_token: str = "[CLS]", eos_token: str = "[SEP]", unk_token: str = "<unk>",
                 sep_token: str = "[SEP]", pad_token: str = "<pad>", cls_token: str = "[CLS]",
                 mask_token: str | AddedToken = "[MASK]",
                 additional_special_tokens: Sequence[str | AddedToken] | None = None,
                 padding_side: str = "right", truncation_side: str = "right",
                 model_input_names: Sequence[str] | None = None, split_special_tokens: bool = False):
        if isinstance(vocab_file, SentencePieceModel):
            model = vocab_file
        elif isinstance(vocab_file, (str, os.PathLike, bytes, bytearray)):
            model = SentencePieceModel(vocab_file)
        else:
            raise TokenizerTypeError(f"vocab_file must be a path to {SPIECE_FILE}, not {type(vocab_file).__name__}")
        if engine != "fast":
            raise TokenizerError(f"engine={engine!r}: SentencePiece runs on the Rust tokenizers library only; "
                                 f"use engine='fast'")
        for name, flag in (("do_lower_case", do_lower_case), ("remove_space", remove_space),
                           ("keep_accents", keep_accents), ("add_prefix_space", add_prefix_space)):
            if not isinstance(flag, bool):
                raise TokenizerTypeError(f"{name} must be True or False, not {flag!r}")
        if not remove_space:
            raise TokenizerError("remove_space=False is not supported: transformers' AlbertTokenizer always "
                                 "splits the text on whitespace; use remove_space=True")
        vocab = {piece: i for i, piece in enumerate(model.pieces)}
        mask = mask_token.content if isinstance(mask_token, AddedToken) else mask_token
        roles = {"bos_token": bos_token, "eos_token": eos_token, "unk_token": unk_token, "sep_token": sep_token,
                 "pad_token": pad_token, "cls_token": cls_token, "mask_token": mask}
        self._init_base(vocab, model.where, model_max_length=model_max_length, engine=engine,
                        clean_up_tokenization_spaces=clean_up_tokenization_spaces, roles=roles,
                        padding_side=padding_side, truncation_side=truncation_side,
                        model_input_names=model_input_names, split_special_tokens=split_special_tokens)
        self.sp_model = model
        self.do_lower_case = do_lower_case
        self.remove_space = remove_space
        self.keep_accents = keep_accents
        self.add_prefix_space = add_prefix_space
        self._normalizer = self._build_normalizer()
        named = [mask_token if t == mask else t for t in self._named_special_tokens()]
        self._finish_init(additional_special_tokens, named)

    # -- the Rust pipeline ---------------------------------------------------------------------------------

    def _build_normalizer(self):
        """transformers 5's AlbertTokenizer normaliser: `` and '' → ", NFKD + StripAccents (unless
        keep_accents), Lowercase (do_lower_case), then the model's Precompiled table."""
        from tokenizers import normalizers
        steps = [normalizers.Replace("``", '"'), normalizers.Replace("''", '"')]
        if not self.keep_accents:
            steps += [normalizers.NFKD(), normalizers.StripAccents()]
        if self.do_lower_case:
            steps.append(normalizers.Lowercase())
        if self.sp_model.charsmap:
            steps.append(normalizers.Precompiled(self.sp_model.charsmap))
        return normalizers.Sequence(steps)

    def _build_rust_tokenizer(self):
        """The `tokenizers.Tokenizer` transformers' AlbertTokenizer builds from spiece.model: Unigram over the
        pieces and scores (no byte fallback), the normaliser above, WhitespaceSplit then Metaspace ("▁",
        prepended to every word with add_prefix_space), Metaspace decoder, [CLS] A [SEP] / [CLS] A [SEP]
        B [SEP] with types 0 / 1; then the added tokens, in order."""
        from tokenizers import Tokenizer as RustTokenizer, decoders, pre_tokenizers, processors
        from tokenizers.models import Unigram

        from .encoding import _rust_added_tokens
        scheme = "always" if self.add_prefix_space else "never"
        rust = RustTokenizer(Unigram(list(zip(self.sp_model.pieces, self.sp_model.scores)),
                                     unk_id=self.vocab.get(self.unk_token, self.sp_model.unk_id),
                                     byte_fallback=False))
        rust.normalizer = self._build_normalizer()
        rust.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.WhitespaceSplit(),
                                                      pre_tokenizers.Metaspace(replacement=WORD_MARK,
                                                                               prepend_scheme=scheme)])
        rust.decoder = decoders.Metaspace(replacement=WORD_MARK, prepend_scheme=scheme)
        cls, sep = self.cls_token, self.sep_token
        rust.add_tokens(_rust_added_tokens(self._added_log))
        rust.post_processor = processors.TemplateProcessing(
            single=f"{cls}:0 $A:0 {sep}:0", pair=f"{cls}:0 $A:0 {sep}:0 $B:1 {sep}:1",
            special_tokens=[(cls, self.cls_token_id), (sep, self.sep_token_id)])
        return rust

    def _normalize_added(self, content: str) -> str:
        return self._normalizer.normalize_str(content)

    # -- text back from tokens -----------------------------------------------------------------------------

    def _decode_tokens(self, tokens: list[str]) -> str:
        """As the Rust Metaspace decoder: "▁" reads as a space, and the first token loses the space its "▁"
        gave it (with add_prefix_space)."""
        out = []
        for k, token in enumerate(tokens):
            text = token.replace(WORD_MARK, " ")
            if k == 0 and self.add_prefix_space and text.startswith(" "):
                text = text[1:]
            out.append(text)
        return "".join(out)

    def continuation_mask(self) -> list[bool]:
        """For each id 0..len(self)-1: True when its piece continues the word of the piece before it: a
        model piece that does not start with "▁", never a control piece (<pad>, [CLS], ...), the unknown
        piece, or an added or special token. What whole-word masking reads."""
        added = set(self._added_tokens) | self.sp_model.control | {self.sp_model.unk_id}
        return [i not in added and not t.startswith(WORD_MARK) for i, t in enumerate(self.ids_to_tokens)] + \
            [False] * (len(self) - len(self.ids_to_tokens))

    # -- loading and saving --------------------------------------------------------------------------------

    @classmethod
    def from_pretrained(cls, folder: str | os.PathLike, engine: str = "fast", **overrides) -> AlbertTokenizer:
        """Load an ALBERT tokenizer folder: spiece.model (or, as transformers 5 may save it, tokenizer.json
        alone: its pieces, scores and normalisation table make the spiece.model that save_pretrained then
        writes), and from tokenizer_config.json do_lower_case,
        remove_space, keep_accents, add_prefix_space; special and added tokens as every tokenizer reads them.
        Keyword arguments override."""
        return super().from_pretrained(folder, engine, **overrides)

    @classmethod
    def _folder_kwargs(cls, folder: Path, config: dict, rust_json: dict | None, overrides: dict
                       ) -> tuple[tuple, dict[str, Any]]:
        if (folder / SPIECE_FILE).is_file():
            model = SentencePieceModel(folder / SPIECE_FILE)
        elif rust_json is not None:  # as transformers 5 saves a tokenizer it loaded from tokenizer.json
            where = str(folder / TOKENIZER_FILE)
            model = SentencePieceModel(_from_tokenizer_json(rust_json, where), where)
        else:
            raise TokenizerError(f"{folder}: no {SPIECE_FILE} nor {TOKENIZER_FILE}; this is not a SentencePiece "
                                 f"tokenizer folder")
        kwargs: dict[str, Any] = {}
        for key in ("do_lower_case", "remove_space", "keep_accents", "add_prefix_space"):
            value = config.get(key)
            if value is not None:
                if not isinstance(value, bool):
                    raise TokenizerError(f"{folder / 'tokenizer_config.json'}: {key} is {value!r}, expected "
                                         f"true or false")
                kwargs[key] = value
        if kwargs.get("remove_space") is False:
            raise TokenizerError(f"{folder / 'tokenizer_config.json'}: remove_space is false, which transformers' "
                                 f"AlbertTokenizer ignores (it always splits on whitespace); set it to true")
        return (model,), kwargs

    @classmethod
    def _vocab_of(cls, args: tuple) -> dict[str, int]:
        return {piece: i for i, piece in enumerate(args[0].pieces)}

    def _config_fields(self) -> dict[str, Any]:
        return {"do_lower_case": self.do_lower_case, "remove_space": self.remove_space,
                "keep_accents": self.keep_accents, "add_prefix_space": self.add_prefix_space}

    def save_pretrained(self, folder: str | os.PathLike) -> tuple[str, ...]:
        """Write spiece.model, then what every tokenizer writes (tokenizer.json, tokenizer_config.json,
        special_tokens_map.json); each file atomically. transformers' AutoTokenizer loads the folder."""
        folder = Path(folder)
        with writing(folder):
            folder.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(folder / SPIECE_FILE, self.sp_model.data)
        return (str(folder / SPIECE_FILE), *super().save_pretrained(folder))

    def __repr__(self) -> str:
        return (f"AlbertTokenizer({self.name_or_path!r}, vocab_size={self.vocab_size}, "
                f"do_lower_case={self.do_lower_case}, model_max_length={self.model_max_length})")
