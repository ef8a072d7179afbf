"""`AutoTokenizer.from_pretrained(folder)`: the tokenizer class a folder asks for, as in `transformers`.

The class is chosen by, in order:
1. tokenizer_config.json's `tokenizer_class` (BertTokenizer, DistilBertTokenizer, RobertaTokenizer,
   AlbertTokenizer, ElectraTokenizer = BertTokenizer; a "Fast" suffix is ignored: bertkit's classes run the
   Rust engine by default);
2. config.json's `model_type` (bert, distilbert, roberta, albert, electra: `TOKENIZER_FOR_MODEL_TYPE`, which
   the model registry reads too);
3. the files present: vocab.txt → WordPiece (BertTokenizer); vocab.json + merges.txt → byte-level BPE
   (RobertaTokenizer); spiece.model → SentencePiece unigram (AlbertTokenizer); tokenizer.json alone → its
   model type (WordPiece, BPE or Unigram).
An unknown class, or a folder with none of these, is a TokenizerError naming the folder and what it holds.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

from ..errors import TokenizerError
from .bpe import MERGES_FILE, VOCAB_JSON, RobertaTokenizer
from .sentencepiece import SPIECE_FILE, AlbertTokenizer
from .encoding import CONFIG_FILE, TOKENIZER_FILE, PreTrainedTokenizer, _read_json
from .wordpiece import VOCAB_FILE, BertTokenizer, DistilBertTokenizer

__all__ = ["AutoTokenizer", "TOKENIZER_CLASSES", "TOKENIZER_FOR_MODEL_TYPE", "tokenizer_class_for"]

# tokenizer_config.json's tokenizer_class (without "Fast") → class
TOKENIZER_CLASSES: dict[str, type[PreTrainedTokenizer]] = {
    "BertTokenizer": BertTokenizer,
    "DistilBertTokenizer": DistilBertTokenizer,
    "RobertaTokenizer": RobertaTokenizer,
    "AlbertTokenizer": AlbertTokenizer,
    "ElectraTokenizer": BertTokenizer,  # what transformers 4 wrote for ELECTRA folders: BERT's WordPiece
}
# config.json's model_type → class (what transformers' AutoTokenizer picks for these model types)
TOKENIZER_FOR_MODEL_TYPE: dict[str, type[PreTrainedTokenizer]] = {
    "bert": BertTokenizer,
    "distilbert": DistilBertTokenizer,
    "roberta": RobertaTokenizer,
    "albert": AlbertTokenizer,
    "electra": BertTokenizer,  # ELECTRA uses BERT's WordPiece (transformers' ElectraTokenizer is the same)
}
# tokenizer.json's model.type → class, for a folder with no config and only tokenizer.json
_FOR_RUST_MODEL = {"WordPiece": BertTokenizer, "BPE": RobertaTokenizer, "Unigram": AlbertTokenizer}


def _model_type(folder: Path) -> str | None:
    """config.json's model_type, or None (no config.json, or no model_type in it)."""
    path = folder / "config.json"
    if not path.is_file():
        return None
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except json.JSONDecodeError as err:
        raise TokenizerError(f"{path}, line {err.lineno}: invalid JSON ({err.msg})") from None
    except (OSError, UnicodeDecodeError) as err:
        raise TokenizerError(f"{path}: cannot read it ({err})") from None
    value = data.get("model_type") if isinstance(data, dict) else None
    return value if isinstance(value, str) else None


def tokenizer_class_for(folder: str | os.PathLike) -> type[PreTrainedTokenizer]:
    """The tokenizer class for `folder` (see the module docstring). Raises TokenizerError."""
    folder = Path(folder)
    if not folder.is_dir():
        raise TokenizerError(f"{folder}: no such folder (expected a tokenizer or model folder)")
    if (folder / CONFIG_FILE).is_file():
        name = _read_json(folder / CONFIG_FILE).get("tokenizer_class")
        if name is not None:
            if not isinstance(name, str) or name.removesuffix("Fast") not in TOKENIZER_CLASSES:
                raise TokenizerError(f"{folder / CONFIG_FILE}: tokenizer_class {name!r} is not one bertkit has; "
                                     f"use one of {', '.join(TOKENIZER_CLASSES)}")
            return TOKENIZER_CLASSES[name.removesuffix("Fast")]
    model_type = _model_type(folder)
    if model_type is not None:
        if model_type not in TOKENIZER_FOR_MODEL_TYPE:
            raise TokenizerError(f"{folder / 'config.json'}: model_type {model_type!r} has no tokenizer in bertkit; "
                                 f"known: {', '.join(TOKENIZER_FOR_MODEL_TYPE)}")
        return TOKENIZER_FOR_MODEL_TYPE[model_type]
    if (folder / VOCAB_FILE).is_file():
        return BertTokenizer
    if (folder / VOCAB_JSON).is_file() and (folder / MERGES_FILE).is_file():
        return RobertaTokenizer
    if (folder / SPIECE_FILE).is_file():
        return AlbertTokenizer
    if (folder / TOKENIZER_FILE).is_file():
        kind = (_read_json(folder / TOKENIZER_FILE).get("model") or {}).get("type")
        if kind in _FOR_RUST_MODEL:
            return _FOR_RUST_MODEL[kind]
        raise TokenizerError(f"{folder / TOKENIZER_FILE}: model type {kind!r} is not one bertkit has; "
                             f"known: {', '.join(_FOR_RUST_MODEL)}")
    found = sorted(p.name for p in folder.iterdir())[:8]
    raise TokenizerError(f"{folder}: not a tokenizer folder (found {found or 'nothing'}); expected "
                         f"{VOCAB_FILE} (WordPiece), {VOCAB_JSON} + {MERGES_FILE} (byte-level BPE), "
                         f"{SPIECE_FILE} (SentencePiece) or {TOKENIZER_FILE}")


class AutoTokenizer:
    """Loads a folder with the tokenizer class it asks for, as transformers' AutoTokenizer does:

        tok = AutoTokenizer.from_pretrained("path/to/model")   # BertTokenizer, RobertaTokenizer, ...
    """

    def __init__(self, *args, **kwargs):
        raise TypeError("AutoTokenizer is not instantiated; use AutoTokenizer.from_pretrained(folder)")

    @staticmethod
    def from_pretrained(folder: str | os.PathLike, **kwargs) -> PreTrainedTokenizer:
        """The folder's tokenizer (keyword arguments go to the class's from_pretrained). Raises
        TokenizerError for a folder that is not a tokenizer folder or names a class bertkit does not have."""
        return tokenizer_class_for(folder).from_pretrained(folder, **kwargs)
