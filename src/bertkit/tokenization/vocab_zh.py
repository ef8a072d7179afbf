"""Chinese and multilingual WordPiece vocabularies, script detection and the [UNK] rate.

    detect_language(path) -> (lang, share)              "zh" or "en", and the share of CJK among the letters
    train_cjk_vocab(files, vocab_size=21128, *, zh_share=None, do_lower_case=True, min_frequency=2,
                    limit_alphabet=1000, show_progress=True) -> (BertTokenizer, stats)
    unk_rate(tokenizer, lines) -> (unk_tokens / tokens, unk_chars / chars)
    split_by_hash(lines, fraction=0.02) -> (kept, held_out)   a held-out part chosen by each line's hash

How a Chinese vocabulary is built. BERT's basic tokenizer makes every CJK ideograph a word of its own
(tokenize_chinese_chars, as bert-base-chinese and bert-base-multilingual do), so an ideograph is either in
the vocabulary as a token or becomes [UNK]: WordPiece never splits or joins them. The vocabulary is
therefore built in two parts:

1. the CJK characters: every ideograph seen at least `min_frequency` times in the normalised text (the text
   the tokenizer will see: cleaned, lowercased and accent-stripped unless cased), most frequent first
   (ties by code point), directly after the special tokens;
2. WordPiece for everything else (Latin words, digits, full-width digits and letters, punctuation, kana,
   Hangul, emoji...): the `tokenizers` WordPiece trainer learns from the same normalised text with the CJK
   ideographs taken out, with the room that is left (`vocab_size` minus the specials and part 1).

No "##" forms of CJK characters are added (bert-base-chinese has one for each of its characters, 7,322 rows
of its 21,128): with tokenize_chinese_chars=True, the setting these vocabularies are saved with, an
ideograph is always a whole word, so "##字" can never be produced and would be a dead embedding row.

`--lang zh` (zh_share=None) keeps every CJK character that reaches min_frequency; a `vocab_size` too small
for them and the specials is a TokenizerError "vocab_size=N: ..." naming the count needed.
`--lang multi` (zh_share=s, 0 < s < 1) gives the CJK characters at most round(s * (vocab_size - specials))
rows, the most frequent first, and the rest to WordPiece. The split is by character script, not by file:
Chinese files' punctuation, digits and Latin words are WordPiece pieces like the English files' text, and
CJK characters are counted wherever they appear. When fewer characters reach min_frequency than the
Chinese share allows, the unused rows go to WordPiece (the stats say how many each part got).

The WordPiece trainer always keeps every single character of its text (up to `limit_alphabet` of them) and
their "##" forms, even past its target size; when that does not fit in the room left, the TokenizerError
"vocab_size=N: ..." names the size needed. The trainer stops early when the text has no more merges to
offer, so a small text gives a smaller vocabulary than asked for.

`stats` (also written as vocab_stats.json by `bertkit vocab`) records the language, the sizes of both parts,
the CJK characters seen and kept, and, when held-out text is given, its [UNK] rates.
"""
from __future__ import annotations

import os
import re
import sys
import warnings
from pathlib import Path
from typing import Iterable, Sequence

from ..errors import TokenizerError
from ._unicode import _CJK_RANGES
from .vocab import _check_files, _normalised_lines
from .wordpiece import DEFAULT_SPECIALS, BertTokenizer

__all__ = ["detect_language", "cjk_letter_share", "train_cjk_vocab", "unk_rate", "ZH_THRESHOLD",
           "ZH_VOCAB_SIZE", "CJK_RE", "split_by_hash"]

# the ideographs BERT's basic tokenizer isolates (the Rust tokenizers library's ranges)
CJK_RE = re.compile("[" + "".join(f"{chr(lo)}-{chr(hi)}" for lo, hi in _CJK_RANGES) + "]")
# a file is Chinese when at least this share of its letters are CJK ideographs
ZH_THRESHOLD = 0.3
# bert-base-chinese's size: the default upper bound for --lang zh and multi
ZH_VOCAB_SIZE = 21128
# detection reads this much of each file
_DETECT_CHARS = 2_000_000


def cjk_letter_share(text: str) -> tuple[int, int]:
    """(CJK ideographs, letters) in `text`: letters are characters str.isalpha() accepts, the ideographs
    included; digits, punctuation, symbols and spaces do not count."""
    cjk = len(CJK_RE.findall(text))
    letters = sum(1 for ch in text if ch.isalpha())
    return cjk, letters


def detect_language(path: str | os.PathLike) -> tuple[str, float]:
    """("zh", share) when at least ZH_THRESHOLD (30%) of the letters in the first 2M characters of the
    UTF-8 file `path` are CJK ideographs, else ("en", share); share is that fraction (0.0 for a file with no
    letters). Raises TokenizerError for a file that cannot be read or is not UTF-8."""
    try:
        with open(path, encoding="utf-8", newline="") as f:
            text = f.read(_DETECT_CHARS)
    except OSError as err:
        raise TokenizerError(f"{path}: cannot read the file ({err.strerror or err})") from None
    except UnicodeDecodeError as err:
        raise TokenizerError(f"{path}: not UTF-8 text (byte {err.object[err.start]:#04x}); convert the file "
                             f"to UTF-8") from None
    cjk, letters = cjk_letter_share(text)
    share = cjk / letters if letters else 0.0
    return ("zh" if letters and share >= ZH_THRESHOLD else "en"), share


def train_cjk_vocab(files: str | os.PathLike | Iterable[str | os.PathLike], vocab_size: int = ZH_VOCAB_SIZE,
                    *, zh_share: float | None = None, do_lower_case: bool = True, min_frequency: int = 2,
                    limit_alphabet: int = 1000, show_progress: bool = True,
                    model_max_length: int | None = 512) -> tuple[BertTokenizer, dict]:
    """A WordPiece vocabulary with the CJK characters as whole tokens (see the module docstring).

    zh_share None keeps every CJK character seen `min_frequency` times or more (--lang zh); a float in
    (0, 1) caps them at that share of the non-special rows (--lang multi). Returns the tokenizer
    (tokenize_chinese_chars=True; uncased and accent-stripped unless do_lower_case=False) and a stats dict.
    Raises TokenizerError for missing, non-UTF-8 or empty files, a bad argument, or a vocab_size too small
    ("vocab_size=N: ...", naming the size needed).
    """
    from tokenizers import Tokenizer, normalizers, pre_tokenizers, trainers
    from tokenizers.models import WordPiece

    paths = _check_files(files)
    specials = list(DEFAULT_SPECIALS.values())
    if not isinstance(vocab_size, int) or isinstance(vocab_size, bool) or vocab_size <= len(specials):
        raise TokenizerError(f"vocab_size={vocab_size!r}: must be an integer larger than the {len(specials)} "
                             f"special tokens")
    if not isinstance(min_frequency, int) or isinstance(min_frequency, bool) or min_frequency < 0:
        raise TokenizerError(f"min_frequency={min_frequency!r}: must be a non-negative integer")
    if zh_share is not None and (isinstance(zh_share, bool) or not isinstance(zh_share, (int, float))
                                 or not 0 < zh_share < 1):
        raise TokenizerError(f"zh_share={zh_share!r}: must be a number between 0 and 1 (exclusive)")

    normalizer = normalizers.BertNormalizer(clean_text=True, handle_chinese_chars=True, strip_accents=None,
                                            lowercase=do_lower_case)
    lines = _normalised_lines(paths, normalizer)  # TokenizerError naming file and line if not UTF-8
    if not lines:
        raise TokenizerError(f"{', '.join(paths)}: no text to learn from (the files are empty or only whitespace)")

    # part 1: the CJK characters, counted in the text the tokenizer will see
    counts: dict[str, int] = {}
    rest = []
    for line in lines:
        for ch in CJK_RE.findall(line):
            counts[ch] = counts.get(ch, 0) + 1
        rest.append(CJK_RE.sub(" ", line))
    ranked = sorted(counts, key=lambda c: (-counts[c], ord(c)))
    frequent = [c for c in ranked if counts[c] >= max(min_frequency, 1)]
    room = vocab_size - len(specials)
    if zh_share is None:
        if len(frequent) > room:
            raise TokenizerError(f"vocab_size={vocab_size}: too small for the {len(specials)} special tokens and the "
                                 f"{len(frequent)} CJK characters seen at least {min_frequency} times; use at least "
                                 f"{len(specials) + len(frequent)} plus room for the other characters "
                                 f"(or a higher min_frequency)")
        cap = len(frequent)
    else:
        cap = round(zh_share * room)
    cjk = frequent[:cap]

    # part 2: WordPiece over the rest of the text (the trainer's target counts the specials it is given)
    wp_target = vocab_size - len(cjk)
    rust = Tokenizer(WordPiece(unk_token="[UNK]", continuing_subword_prefix="##", max_input_chars_per_word=100))
    rust.normalizer = normalizer  # idempotent on normalised text
    rust.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    trainer = trainers.WordPieceTrainer(vocab_size=wp_target, min_frequency=min_frequency,
                                        limit_alphabet=limit_alphabet, special_tokens=specials,
                                        show_progress=show_progress, continuing_subword_prefix="##")
    if show_progress:
        print(f"{len(cjk)} CJK characters as tokens ({len(counts)} seen, {len(frequent)} at least "
              f"{min_frequency} times); WordPiece for the rest in up to {wp_target - len(specials)} tokens",
              file=sys.stderr)
    rust.train_from_iterator(rest, trainer, length=len(rest))
    learned = rust.get_vocab(with_added_tokens=True)
    pieces = [t for t in sorted(learned, key=learned.get) if t not in specials]
    total = len(specials) + len(cjk) + len(pieces)
    if total > vocab_size:  # the trainer kept its whole alphabet past its target
        raise TokenizerError(f"vocab_size={vocab_size}: too small for the {len(specials)} special tokens, "
                             f"{len(cjk)} CJK characters and the {len(pieces)} other characters (and their ## "
                             f"forms) of the text; use at least {total}"
                             + (" (or a smaller zh_share)" if zh_share is not None else
                                " (or a higher min_frequency)"))
    vocab = {tok: i for i, tok in enumerate(specials + cjk + pieces)}
    tok = BertTokenizer(vocab, do_lower_case=do_lower_case, tokenize_chinese_chars=True,
                        model_max_length=model_max_length)
    non_special = len(cjk) + len(pieces)
    stats = {
        "lang": "zh" if zh_share is None else "multi",
        "vocab_size": len(vocab), "vocab_size_asked": vocab_size, "special_tokens": len(specials),
        "cjk_tokens": len(cjk), "wordpiece_tokens": len(pieces),
        "zh_share_asked": zh_share,
        "zh_share": round(len(cjk) / (vocab_size - len(specials)), 6),  # of the rows asked for
        "zh_share_of_vocab": round(len(cjk) / non_special, 6) if non_special else 0.0,  # of the rows filled
        "cjk_chars_seen": len(counts), "cjk_chars_at_min_frequency": len(frequent),
        "cjk_chars_dropped": len(counts) - len(cjk), "min_frequency": min_frequency,
        "do_lower_case": do_lower_case, "cjk_continuation_tokens": False,
        "files": [str(p) for p in paths], "lines": len(lines),
    }
    return tok, stats


def unk_rate(tokenizer, lines: Sequence[str], batch_size: int = 256) -> tuple[float, float]:
    """The [UNK] rate of `tokenizer` on `lines`: (unknown tokens / tokens, unknown characters / characters).

    Tokens are counted without [CLS] / [SEP]; characters are the non-whitespace characters of the lines,
    and a character is unknown when it lies in the span (offset mapping) of an [UNK] token: a CJK character
    outside the vocabulary is one [UNK] covering one character, a word WordPiece cannot spell is one [UNK]
    covering the whole word. Both are 0.0 when there is nothing to count. Works for any tokenizer with the
    transformers call signature and offsets (bertkit's or transformers' fast tokenizers).
    """
    unk = tokenizer.unk_token_id
    n_tok = n_unk_tok = n_chars = n_unk_chars = 0
    lines = [line for line in lines if line.strip()]
    for start in range(0, len(lines), batch_size):
        batch = lines[start:start + batch_size]
        with warnings.catch_warnings():  # a long line is counted whole; no model will see it
            warnings.filterwarnings("ignore", message=".*longer than .*max_length")
            enc = tokenizer(batch, add_special_tokens=False, return_offsets_mapping=True)
        for text, ids, offsets in zip(batch, enc["input_ids"], enc["offset_mapping"]):
            n_tok += len(ids)
            n_chars += sum(1 for ch in text if not ch.isspace())
            covered = set()
            for tid, (a, b) in zip(ids, offsets):
                if tid == unk:
                    n_unk_tok += 1
                    covered.update(i for i in range(a, b) if not text[i].isspace())
            n_unk_chars += len(covered)
    return (n_unk_tok / n_tok if n_tok else 0.0), (n_unk_chars / n_chars if n_chars else 0.0)


def split_by_hash(lines: Iterable[str], fraction: float = 0.02) -> tuple[list[str], list[str]]:
    """(kept, held_out): a line is held out when the first 8 bytes of the SHA-1 of its UTF-8 text, as a
    number, fall in the lowest `fraction` of the range. The same line always lands on the same side (so a
    repeated line never sits on both), on every machine, whatever the order or the other lines."""
    import hashlib
    if not 0 < fraction < 1:
        raise TokenizerError(f"fraction={fraction!r}: must be between 0 and 1 (exclusive)")
    bound = fraction * 2 ** 64
    kept, held = [], []
    for line in lines:
        h = int.from_bytes(hashlib.sha1(line.encode("utf-8")).digest()[:8], "big")
        (held if h < bound else kept).append(line)
    return kept, held
