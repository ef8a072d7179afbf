"""Helpers for the fine-tuning tests: a tiny vocabulary and a random tiny BERT folder in tmp_path."""
from __future__ import annotations

import json
from pathlib import Path

import torch

from bertkit import BertConfig, BertModel
from bertkit.tokenization import BertTokenizer

SPECIAL = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
WORDS = ("the a an is was good bad great awful movie film plot actor cat dog sat on mat river bank paris london "
         "john mary visited works at google apple in and of to it this that very not . , ! ? ' - "
         "who where what which person place company mentioned").split()
FILLER = [f"w{i}" for i in range(40)]


def tiny_folder(path: Path, words=(), max_positions: int = 64, seed: int = 0, hidden: int = 64) -> Path:
    """A bare random tiny encoder (2 layers, hidden 64 by default, FFN 2 × hidden) plus a tokenizer, as a
    Hugging Face folder. No dropout: the learning tests then do not depend on how a fast path draws its
    dropout masks."""
    vocab = SPECIAL + [w for w in dict.fromkeys(list(WORDS) + FILLER + list(words))] + list("abcdefghijklmnopqrstuvwxyz")
    vocab = list(dict.fromkeys(vocab))
    tok = BertTokenizer({w: i for i, w in enumerate(vocab)})
    torch.manual_seed(seed)
    cfg = BertConfig(vocab_size=len(vocab), hidden_size=hidden, num_hidden_layers=2, num_attention_heads=2,
                     intermediate_size=2 * hidden, max_position_embeddings=max_positions,
                     hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
    BertModel(cfg).save_pretrained(path)
    tok.save_pretrained(path)
    return path


def write_jsonl(path: Path, rows) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def leftovers(out: Path) -> list[str]:
    """Anything the run left beside `out` (the folder itself or a temporary sibling)."""
    return sorted(p.name for p in out.parent.iterdir() if p.name == out.name or p.name.startswith(f".{out.name}."))


def cli_error(argv: list[str], capsys, stdout_empty: bool = False) -> str:
    """Run `bertkit ...` in-process; it must stop with exit code 2 and one line on stderr, no traceback
    and no Rust panic text (and, with stdout_empty, nothing on stdout). Returns that line, which starts
    `bertkit <command>: `."""
    import pytest
    from bertkit.cli import main
    with pytest.raises(SystemExit) as e:  # any other exception escaping main fails the test
        main(argv)
    out, err = capsys.readouterr()
    assert e.value.code == 2, (e.value.code, err)
    assert "Traceback" not in out and not (stdout_empty and out), out
    assert "Traceback" not in err and "panicked" not in err, err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith(f"bertkit {argv[0]}: "), err
    return lines[0]
