"""Train a vocabulary on plain-text files: WordPiece (BERT) or byte-level BPE (RoBERTa).

    train_vocab(files, vocab_size=30522, do_lower_case=True, min_frequency=2, limit_alphabet=1000,
                special_tokens=("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"), show_progress=True,
                *, strip_accents=None, tokenize_chinese_chars=True, model_max_length=512) -> BertTokenizer

    vocab_main(files, out, vocab_size=30522, lowercase=True, min_frequency=2, show_progress=True) -> Path
        trains and writes the tokenizer folder `out` (vocab.txt, tokenizer.json, tokenizer_config.json,
        special_tokens_map.json); what `bertkit vocab` runs.

The text is normalised and split into words exactly as the tokenizer will later do it (BertNormalizer +
BertPreTokenizer), then the `tokenizers` WordPiece trainer learns the pieces: it starts from single
characters (at most `limit_alphabet` of them, the most frequent) and merges the pairs that occur most
often, until the vocabulary has `vocab_size` entries. Special tokens come first, so [PAD] is id 0.

Two runs on the same files can give slightly different vocabularies (the order of "##" letters, and a few
tokens at the margin): the `tokenizers` trainer numbers the "##" letters in hash-map order, and that order
breaks ties between merges of equal count (huggingface/tokenizers#1794). Keep the folder you trained.
Byte-level BPE:

    train_bpe(files, vocab_size=50265, min_frequency=2, show_progress=True, *, add_prefix_space=False,
              model_max_length=512) -> RobertaTokenizer
    bpe_main(files, out, vocab_size=50265, min_frequency=2, show_progress=True) -> Path

The text is read as UTF-8 bytes and split into words as the tokenizer will do it (the ByteLevel
pre-tokenizer: words carry their leading space, "Ġworld"); the `tokenizers` BPE trainer starts from the 256
byte characters (so no text is ever unknown) and learns merges of the most frequent adjacent pairs until the
vocabulary has `vocab_size` entries. RoBERTa's special tokens take ids 0-3 (<s>, <pad>, </s>, <unk>), the
learned pieces follow, and <mask> is last, as in roberta-base; merges.txt lists the merges in the order
learned. transformers' RobertaTokenizer loads the folder with the same ids.

All four functions are also importable from `bertkit.tokenization`.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Iterable

from ..errors import TokenizerError
from .bpe import RobertaTokenizer
from .wordpiece import DEFAULT_SPECIALS, BertTokenizer

__all__ = ["train_vocab", "vocab_main", "train_bpe", "bpe_main", "BPE_SPECIALS"]

# RoBERTa's special tokens in id order: four first, <mask> last (after the learned pieces)
BPE_SPECIALS = ("<s>", "<pad>", "</s>", "<unk>", "<mask>")


def _check_files(files: str | os.PathLike | Iterable[str | os.PathLike]) -> list[str]:
    if isinstance(files, (str, os.PathLike)):
        files = [files]
    paths = [Path(f) for f in files]
    if not paths:
        raise TokenizerError("no training files given; pass one or more plain-text files")
    for p in paths:
        if p.is_dir():
            raise TokenizerError(f"{p} is a folder; pass the text files in it")
        if not p.is_file():
            raise TokenizerError(f"{p}: no such training file; check the path")
    return [str(p) for p in paths]


def train_vocab(files: str | os.PathLike | Iterable[str | os.PathLike], vocab_size: int = 30522,
                do_lower_case: bool = True, min_frequency: int = 2, limit_alphabet: int = 1000,
                special_tokens: Iterable[str] = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"),
                show_progress: bool = True, *, strip_accents: bool | None = None,
                tokenize_chinese_chars: bool = True, model_max_length: int | None = 512) -> BertTokenizer:
    """Learn a WordPiece vocabulary from `files` (plain text, any number of lines) and return the tokenizer.

    `special_tokens` must contain [PAD], [UNK], [CLS], [SEP] and [MASK]; they take the first ids, in order.
    Save it with `.save_pretrained(folder)`; transformers' BertTokenizer loads that folder as well.
    """
    from tokenizers import Tokenizer, normalizers, pre_tokenizers, trainers
    from tokenizers.models import WordPiece

    paths = _check_files(files)
    special_tokens = list(special_tokens)
    missing = [t for t in DEFAULT_SPECIALS.values() if t not in special_tokens]
    if missing:
        raise TokenizerError(f"special_tokens {special_tokens} lack {missing}; BERT needs "
                         f"{list(DEFAULT_SPECIALS.values())}")
    if len(set(special_tokens)) != len(special_tokens):
        raise TokenizerError(f"special_tokens {special_tokens} list a token twice")
    if not isinstance(vocab_size, int) or vocab_size <= len(special_tokens):
        raise TokenizerError(f"vocab_size={vocab_size!r} must be an integer larger than the "
                         f"{len(special_tokens)} special tokens")
    if not isinstance(min_frequency, int) or min_frequency < 0:
        raise TokenizerError(f"min_frequency={min_frequency!r} must be a non-negative integer")

    rust = Tokenizer(WordPiece(unk_token="[UNK]", continuing_subword_prefix="##", max_input_chars_per_word=100))
    rust.normalizer = normalizers.BertNormalizer(clean_text=True, handle_chinese_chars=tokenize_chinese_chars,
                                                 strip_accents=strip_accents, lowercase=do_lower_case)
    rust.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    trainer = trainers.WordPieceTrainer(vocab_size=vocab_size, min_frequency=min_frequency,
                                        limit_alphabet=limit_alphabet, special_tokens=special_tokens,
                                        show_progress=show_progress, continuing_subword_prefix="##")
    try:
        rust.train(paths, trainer)
    except Exception as err:  # a file the Rust trainer cannot read (not UTF-8, no permission, ...)
        raise TokenizerError(f"{', '.join(paths)}: cannot learn a vocabulary from these files "
                             f"({str(err).splitlines()[0] if str(err) else type(err).__name__})") from None
    vocab = rust.get_vocab(with_added_tokens=True)
    if len(vocab) <= len(special_tokens):
        raise TokenizerError(f"{', '.join(paths)}: no text to learn from (the files are empty or only whitespace)")
    return BertTokenizer(vocab, do_lower_case=do_lower_case, tokenize_chinese_chars=tokenize_chinese_chars,
                         strip_accents=strip_accents, model_max_length=model_max_length)


def vocab_main(files: str | os.PathLike | Iterable[str | os.PathLike], out: str | os.PathLike,
               vocab_size: int = 30522, lowercase: bool = True, min_frequency: int = 2,
               show_progress: bool = True) -> Path:
    """Train on `files` and write the tokenizer folder `out`; returns its path."""
    tok = train_vocab(files, vocab_size=vocab_size, do_lower_case=lowercase, min_frequency=min_frequency,
                      show_progress=show_progress)
    tok.save_pretrained(out)
    return Path(out)


def train_bpe(files: str | os.PathLike | Iterable[str | os.PathLike], vocab_size: int = 50265,
              min_frequency: int = 2, show_progress: bool = True, *, add_prefix_space: bool = False,
              model_max_length: int | None = 512) -> RobertaTokenizer:
    """Learn a byte-level BPE vocabulary and its merges from `files` (plain text) and return the RoBERTa
    tokenizer: <s>=0, <pad>=1, </s>=2, <unk>=3, the 256 byte characters and the learned pieces, <mask> last
    (id vocab_size - 1 when the text has enough to learn; fewer pieces otherwise). Save it with
    `.save_pretrained(folder)`. Raises TokenizerError for missing or empty files, or a vocab_size that
    cannot hold the special tokens and the 256 bytes."""
    from tokenizers import Tokenizer, pre_tokenizers, trainers
    from tokenizers.models import BPE

    paths = _check_files(files)
    first, mask = list(BPE_SPECIALS[:-1]), BPE_SPECIALS[-1]
    smallest = len(BPE_SPECIALS) + 256
    if not isinstance(vocab_size, int) or isinstance(vocab_size, bool) or vocab_size < smallest:
        raise TokenizerError(f"vocab_size={vocab_size!r} must be an integer of at least {smallest}: the "
                             f"{len(BPE_SPECIALS)} special tokens and the 256 byte characters")
    if not isinstance(min_frequency, int) or min_frequency < 0:
        raise TokenizerError(f"min_frequency={min_frequency!r} must be a non-negative integer")
    rust = Tokenizer(BPE(continuing_subword_prefix="", end_of_word_suffix="", fuse_unk=False))
    rust.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=add_prefix_space)
    trainer = trainers.BpeTrainer(vocab_size=vocab_size - 1, min_frequency=min_frequency, special_tokens=first,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                  show_progress=show_progress)
    try:
        rust.train(paths, trainer)
    except Exception as err:  # a file the Rust trainer cannot read (not UTF-8, no permission, ...)
        raise TokenizerError(f"{', '.join(paths)}: cannot learn a vocabulary from these files "
                             f"({str(err).splitlines()[0] if str(err) else type(err).__name__})") from None
    model = json.loads(rust.to_str())["model"]
    vocab = dict(model["vocab"])
    if not model["merges"] and not any(Path(p).read_bytes().strip() for p in paths):
        raise TokenizerError(f"{', '.join(paths)}: no text to learn from (the files are empty or only whitespace)")
    # with no pair seen min_frequency times (a tiny text, or vocab_size 261) the vocabulary is the bytes alone
    vocab[mask] = len(vocab)
    return RobertaTokenizer(vocab, [tuple(m) if isinstance(m, list) else tuple(m.split(" "))
                                    for m in model["merges"]],
                            add_prefix_space=add_prefix_space, model_max_length=model_max_length)


def bpe_main(files: str | os.PathLike | Iterable[str | os.PathLike], out: str | os.PathLike,
             vocab_size: int = 50265, min_frequency: int = 2, show_progress: bool = True) -> Path:
    """Train a byte-level BPE on `files` and write the RoBERTa tokenizer folder `out`; returns its path."""
    tok = train_bpe(files, vocab_size=vocab_size, min_frequency=min_frequency, show_progress=show_progress)
    tok.save_pretrained(out)
    return Path(out)
