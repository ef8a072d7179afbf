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


def tune(base: Path, out: Path, task: str, train: Path, *extra) -> Path:
    """`bertkit finetune` one epoch of `train` from `base` into `out`, quietly."""
    from bertkit.cli import main
    main(["finetune", "--task", task, "--model", str(base), "--train", str(train), "--out", str(out),
          "--epochs", "1", "--batch-size", "4", "--quiet", *extra])
    return out


def task_folders(root: Path) -> dict:
    """A tiny base folder and, fine-tuned from it on a few lines, a classifier on single texts, one on
    sentence pairs, an NER tagger and a QA model (max_length 64, doc_stride 16), with their training files."""
    base = tiny_folder(root / "base")
    single = write_jsonl(root / "single.jsonl", [{"text": "good movie", "label": "pos"},
                                                 {"text": "bad film", "label": "neg"}] * 2)
    pairs = write_jsonl(root / "pairs.jsonl", [{"text": "good movie", "text_pair": "great", "label": "pos"},
                                               {"text": "bad film", "text_pair": "awful", "label": "neg"}] * 2)
    conll = root / "train.conll"
    conll.write_text("john B-PER\nvisited O\nparis B-LOC\n\nmary B-PER\nworks O\nat O\ngoogle B-ORG\n",
                     encoding="utf-8")
    squad = root / "train.json"
    squad.write_text(json.dumps({"version": "v2.0", "data": [{"title": "t", "paragraphs": [{
        "context": "john visited paris and mary works at google .",
        "qas": [{"id": "q1", "question": "who visited paris ?",
                 "answers": [{"text": "john", "answer_start": 0}]}]}]}]}), encoding="utf-8")
    return {"base": base, "single": single, "pairs": pairs,
            "classify": tune(base, root / "clf", "classify", single),
            "pair_classify": tune(base, root / "pclf", "classify", pairs),
            "ner": tune(base, root / "ner", "ner", conll),
            "qa": tune(base, root / "qa", "qa", squad, "--max-length", "64", "--doc-stride", "16")}
