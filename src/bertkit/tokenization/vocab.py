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

SentencePiece unigram (ALBERT):

    train_unigram(files, vocab_size=30000, show_progress=True, *, do_lower_case=True, keep_accents=False,
                  character_coverage=0.99995, model_max_length=512) -> AlbertTokenizer
    unigram_main(files, out, vocab_size=30000, lowercase=True, show_progress=True) -> Path

The lines are normalised as the tokenizer will read them (`` and '' → ", accents stripped, lowercased) and
given to the `sentencepiece` library's unigram trainer, with ALBERT's settings: <pad>=0, <unk>=1, and
[CLS]=2, [SEP]=3, [MASK]=4 as control pieces (not learned from the text), no <s> / </s>, NFKC
normalisation compiled into the model, 99.995% of the characters covered (the rarest become <unk>). It
starts from a large set of candidate pieces and prunes those that add least to the likelihood of the text
until `vocab_size` are left (fewer when the text does not have that many). The trainer's log is silenced;
with show_progress one line says what is trained. Two runs on the same files (and the same number of
cores: the trainer sums over threads) give the same spiece.model.

All six functions are also importable from `bertkit.tokenization`.
"""
from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Iterable

from ..errors import TokenizerError
from .bpe import RobertaTokenizer
from .sentencepiece import ALBERT_SPECIALS, AlbertTokenizer, SentencePieceModel
from .wordpiece import DEFAULT_SPECIALS, BertTokenizer

__all__ = ["train_vocab", "vocab_main", "train_bpe", "bpe_main", "train_unigram", "unigram_main", "BPE_SPECIALS",
           "UNIGRAM_SPECIALS"]

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


# ALBERT's special tokens in id order: <pad> and <unk>, then the control pieces
UNIGRAM_SPECIALS = ALBERT_SPECIALS


def _normalised_lines(paths: list[str], normalizer) -> list[str]:
    """The non-blank lines of `paths` (split on "\n" only, a "\r" before it dropped), each normalised.
    Raises TokenizerError naming the file and line of text that is not UTF-8."""
    out = []
    for path in paths:
        try:
            data = Path(path).read_bytes()
        except OSError as err:
            raise TokenizerError(f"{path}: cannot read the training file ({err.strerror or err})") from None
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as err:
            line = data.count(b"\n", 0, err.start) + 1
            raise TokenizerError(f"{path}, line {line}: not UTF-8 text (byte {data[err.start]:#04x}); convert the "
                                 f"file to UTF-8") from None
        for line in text.split("\n"):
            line = line[:-1] if line.endswith("\r") else line
            if line.strip():
                out.append(normalizer.normalize_str(line))
    return out


def train_unigram(files: str | os.PathLike | Iterable[str | os.PathLike], vocab_size: int = 30000,
                  show_progress: bool = True, *, do_lower_case: bool = True, keep_accents: bool = False,
                  character_coverage: float = 0.99995, model_max_length: int | None = 512) -> AlbertTokenizer:
    """Learn a SentencePiece unigram model from `files` (plain text, one sentence or paragraph per line) and
    return ALBERT's tokenizer on it: <pad>=0, <unk>=1, [CLS]=2, [SEP]=3, [MASK]=4, then the learned pieces
    (at most `vocab_size` in all). Save it with `.save_pretrained(folder)` (spiece.model, tokenizer.json,
    ...). Raises TokenizerError for missing, non-UTF-8 or empty files, or a vocab_size that cannot hold the
    special tokens and the text's characters."""
    import io
    import sys

    import sentencepiece as spm

    paths = _check_files(files)
    if not isinstance(vocab_size, int) or isinstance(vocab_size, bool) or vocab_size <= len(UNIGRAM_SPECIALS):
        raise TokenizerError(f"vocab_size={vocab_size!r} must be an integer larger than the "
                             f"{len(UNIGRAM_SPECIALS)} special tokens")
    if not isinstance(character_coverage, (int, float)) or not 0 < character_coverage <= 1:
        raise TokenizerError(f"character_coverage={character_coverage!r} must be a number in (0, 1]")
    # the normaliser the tokenizer runs before the model's own table (which the trainer applies itself)
    from tokenizers import normalizers
    steps = [normalizers.Replace("``", '"'), normalizers.Replace("''", '"')]
    if not keep_accents:
        steps += [normalizers.NFKD(), normalizers.StripAccents()]
    if do_lower_case:
        steps.append(normalizers.Lowercase())
    lines = _normalised_lines(paths, normalizers.Sequence(steps))
    if not lines:
        raise TokenizerError(f"{', '.join(paths)}: no text to learn from (the files are empty or only whitespace)")
    if show_progress:
        print(f"training a SentencePiece unigram model of up to {vocab_size} pieces on {len(lines)} lines",
              file=sys.stderr)
    model = io.BytesIO()
    try:
        spm.SentencePieceTrainer.train(
            sentence_iterator=iter(lines), model_writer=model, model_type="unigram", vocab_size=vocab_size,
            pad_id=0, unk_id=1, bos_id=-1, eos_id=-1, pad_piece=UNIGRAM_SPECIALS[0], unk_piece=UNIGRAM_SPECIALS[1],
            control_symbols=list(UNIGRAM_SPECIALS[2:]), hard_vocab_limit=False,
            character_coverage=float(character_coverage), max_sentence_length=1 << 16,
            input_sentence_size=10_000_000, shuffle_input_sentence=True,
            num_threads=max(1, min(16, os.cpu_count() or 1)), minloglevel=2)
    except (RuntimeError, OSError) as err:  # sentencepiece's checks: too small a vocab_size, ...
        text = str(err).strip()
        small = re.search(r"smaller than required_chars\. (\d+) vs (\d+)", text)
        if small:
            raise TokenizerError(f"vocab_size={vocab_size}: too small for the {len(UNIGRAM_SPECIALS)} special tokens "
                                 f"and the characters of {', '.join(paths)}; use at least {small.group(2)}") from None
        # "INTERNAL: src/x.cc(638) [check] message": keep the message
        message = re.sub(r"^.*?\) \[.*?\] ", "", text.splitlines()[-1]) if text else type(err).__name__
        raise TokenizerError(f"{', '.join(paths)}: cannot learn a unigram model ({message})") from None
    tok = AlbertTokenizer(SentencePieceModel(model.getvalue(), "the trained unigram model"),
                          do_lower_case=do_lower_case, keep_accents=keep_accents, model_max_length=model_max_length)
    assert tok.convert_ids_to_tokens(list(range(len(UNIGRAM_SPECIALS)))) == list(UNIGRAM_SPECIALS)
    return tok


def unigram_main(files: str | os.PathLike | Iterable[str | os.PathLike], out: str | os.PathLike,
                 vocab_size: int = 30000, lowercase: bool = True, show_progress: bool = True) -> Path:
    """Train a unigram model on `files` and write the ALBERT tokenizer folder `out`; returns its path.
    lowercase=False keeps case and accents."""
    tok = train_unigram(files, vocab_size=vocab_size, show_progress=show_progress, do_lower_case=lowercase,
                        keep_accents=not lowercase)
    tok.save_pretrained(out)
    return Path(out)
