"""Inference throughput of a distilled student against its teacher, side by side in one process.

    python benchmarks/distill.py TEACHER STUDENT [STUDENT ...] --data ~/.cache/bertkit/data/rt/test.jsonl
    python benchmarks/distill.py MINILM EMBED-STUDENT --embed --data sentences.txt

Task folders (fine-tuned for classify, ner or qa) are timed on the data file's features exactly as
`bertkit predict` builds them (the folder's saved task options), embedding folders (--embed) on mean-pooled
sentence vectors. Every model runs the same length-sorted batches; the models take turns, `--rounds`
passes each, and the fastest pass of each counts, so a busy machine slows them alike. Prints examples/s and
each student's ratio to the teacher.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

from bertkit.tasks.distill import throughput


def task_runner(folder: Path, data: str, batch_size: int):
    """(run(batch), batches, n_examples) for a fine-tuned classify/ner/qa folder on `data`."""
    from bertkit.data.readers import read_classification, read_conll, read_squad
    from bertkit.tasks.finetune import _task_of, _trained, load_tokenizer
    from bertkit.train.objectives.distill import ADAPTERS
    task, opts = _task_of(folder)
    tok = load_tokenizer(folder, task)
    model = _trained(folder, task).eval()
    if task == "classify":
        from bertkit.tasks.classification import ClassifyOptions, WindowClassifier, encode, make_batches
        from bertkit.tasks.finetune import _known
        copts = ClassifyOptions(**_known(opts, ClassifyOptions))
        xs = read_classification(data, require_label=False)
        batches = make_batches(encode(tok, xs, copts), None, batch_size, tok.pad_token_id, None)
        module, adapter, n = WindowClassifier(model, copts.pool), ADAPTERS[task](model.config.problem_type), len(xs)
    elif task == "ner":
        from bertkit.tasks.ner import NerOptions, encode, load_tagger, make_batches
        xs = read_conll(data, require_tags=False)
        feats = encode(tok, xs, NerOptions(opts.get("max_length", 128), opts.get("stride", 32), None), None)
        batches = make_batches(feats, batch_size, tok.pad_token_id, None)
        module, adapter, n = load_tagger(model, folder), ADAPTERS[task](), len(xs)
    else:
        from bertkit.tasks.qa import QAOptions, encode, make_batches
        from bertkit.tasks.finetune import _known
        xs = read_squad(data)
        feats = encode(tok, xs, QAOptions(**_known(opts, QAOptions)), train=False)
        batches = make_batches(feats, batch_size, tok.pad_token_id, None, train=False)
        module, adapter, n = model, ADAPTERS[task](), len(xs)
    module.eval()
    return (lambda b: adapter.run(module, b, False, False, False)), batches, n


def embed_runner(folder: Path, data: str, batch_size: int):
    from bertkit.data.batching import indexed_batches
    from bertkit.registry import AutoModel
    from bertkit.tasks.distill_embed import encode, pooled
    from bertkit.tasks.finetune import load_tokenizer
    tok = load_tokenizer(folder)
    model = AutoModel.from_pretrained(folder, fresh=[]).eval()
    lines = [ln.strip() for ln in Path(data).read_text(encoding="utf-8").split("\n") if ln.strip()]
    max_length = min(128, model.config.max_sequence_length or 128)  # as distill --task embed trains
    batches = indexed_batches(encode(tok, lines, max_length), batch_size, tok.pad_token_id, None)
    return (lambda b: pooled(model, b)), batches, len(lines)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("teacher")
    p.add_argument("students", nargs="+")
    p.add_argument("--data", required=True, help="the file to time on (the task's format; --embed: one sentence per line)")
    p.add_argument("--embed", action="store_true", help="bare encoders, timed on mean-pooled sentence vectors")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--rounds", type=int, default=5)
    a = p.parse_args()
    make = embed_runner if a.embed else task_runner
    runners, first, n = {}, None, None
    for folder in [a.teacher, *a.students]:
        run, batches, n_ex = make(Path(folder), a.data, a.batch_size)
        runners[folder] = run
        if first is None:
            first, n = batches, n_ex
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {n} examples, {len(first)} batches",
          file=sys.stderr)
    speed = throughput(runners, first, n, rounds=a.rounds)
    base = speed[a.teacher]
    for folder, v in speed.items():
        ratio = "" if folder == a.teacher else f"  {v / base:.2f}x the teacher"
        print(f"{v:10.1f} examples/s  {folder}{ratio}")


if __name__ == "__main__":
    main()
