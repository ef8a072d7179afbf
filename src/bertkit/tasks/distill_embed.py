"""`bertkit distill --task embed`: a smaller sentence-embedding model that reproduces a teacher's vectors.

The student learns the teacher's mean-pooled sentence vectors on unlabelled text (MSE plus 1 − cosine;
Reimers & Gurevych, 2020, §2 train a student on the teacher's vectors by MSE). Sentences come from the
corpus files (paragraphs split into sentences, duplicates dropped); `--holdout` of them, chosen by a hash
of the text (so the split does not depend on the files' order), are never trained on and score the
student: the mean cosine of its vectors to the teacher's, and how often its nearest neighbour among the
held-out sentences is the teacher's. The output folder is a bare encoder that `bertkit embed` reads.
"""
from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import torch
from torch import nn

from ..data.batching import indexed_batches as make_batches

from ..errors import DataError, OptionError
from ..train.objectives.distill import freeze

Tensor = torch.Tensor


def read_sentences(files: list[str], min_words: int = 3) -> list[str]:
    """The distinct sentences of the corpus files (data.corpus.read_documents, then split_sentences), in
    order of first appearance; shorter than `min_words` words are dropped. CorpusError names a bad file."""
    from ..data.corpus import read_documents, split_sentences
    seen: set[str] = set()
    out = []
    for f in files:
        for doc in read_documents(f):
            for para in doc:
                for s in split_sentences(para):
                    if len(s.split()) >= min_words and s not in seen:
                        seen.add(s)
                        out.append(s)
    return out


def holdout_split(sentences: list[str], n: int, limit: int | None = None) -> tuple[list[str], list[str]]:
    """(train, held-out), each in corpus order: the `n` sentences with the smallest sha256 of their text are
    held out; with `limit`, the training set is the next `limit` by that order (a uniform sample of every
    file, not the first file's sentences)."""
    def key(s: str) -> str:
        return hashlib.sha256(s.encode("utf-8")).hexdigest()
    ranked = sorted(sentences, key=key)
    held = set(ranked[:n])
    train = set(ranked[n:n + limit] if limit else ranked[n:])
    return [s for s in sentences if s in train], [s for s in sentences if s in held]


def encode(tok, sentences: list[str], max_length: int) -> list[dict]:
    enc = tok(sentences, truncation=True, max_length=max_length, return_token_type_ids=True)
    types = enc.get("token_type_ids") or [None] * len(sentences)
    return [{"input_ids": ids, "token_type_ids": tt} for ids, tt in zip(enc["input_ids"], types)]


def pooled(model: nn.Module, batch: dict, hidden_states: bool = False):
    """Mean-pooled last hidden states (B, C) of a bare encoder, unnormalised; with `hidden_states`, also
    every layer's states (a tuple of (B, T, C))."""
    from ..inference import mean_pool
    inputs = {k: batch[k] for k in ("input_ids", "attention_mask", "token_type_ids") if batch.get(k) is not None}
    out = model(**inputs, output_hidden_states=hidden_states)
    vec = mean_pool(out.last_hidden_state.float(), batch["attention_mask"])
    return (vec, out.hidden_states) if hidden_states else vec


@torch.no_grad()
def vectors(model: nn.Module, batches: list[dict], n: int, device, autocast, desc: str | None = None) -> Tensor:
    """(n, C) pooled vectors of every sentence, in sentence order (a progress bar named `desc` if given)."""
    from tqdm.auto import tqdm
    out = None
    for b in tqdm(batches, desc=desc, unit="batch", disable=desc is None):
        b = {k: v.to(device) for k, v in b.items()}
        with autocast():
            v = pooled(model, b).float().cpu()
        if out is None:
            out = torch.zeros(n, v.size(1))
        out[b["features"].cpu()] = v
    return out


def agreement(student: Tensor, teacher: Tensor) -> dict:
    """Mean cosine between each sentence's two vectors, and the share of sentences whose nearest neighbour
    (by cosine, itself excluded) is the same for both: (n, C) and (n, C') → {"cosine", "nn_agreement"}.
    The cosine needs C == C'."""
    s = torch.nn.functional.normalize(student.float(), dim=-1)
    t = torch.nn.functional.normalize(teacher.float(), dim=-1)
    out = {}
    if s.shape == t.shape:
        out["cosine"] = round(float((s * t).sum(-1).mean()), 6)
    def nearest(x: Tensor) -> Tensor:
        sim = x @ x.T
        sim.fill_diagonal_(float("-inf"))
        return sim.argmax(-1)
    out["nn_agreement"] = round(float((nearest(s) == nearest(t)).double().mean()), 6)
    return out


class EmbeddingObjective:
    """(loss, metrics) for the loop: the student's pooled vectors (through the Distiller's projection when
    the widths differ) against the teacher's, live or from a cache (n, C) indexed by `features`; with
    `hidden` > 0, plus that weight × the hidden-state MSE of every matched layer (TinyBERT's uniform map,
    train/objectives/distill.py), which needs the live teacher."""

    def __init__(self, teacher: nn.Module | None, cache: Tensor | None, mse: float, cosine: float,
                 hidden: float = 0.0):
        self.teacher, self.cache, self.mse, self.cosine, self.hidden = teacher, cache, mse, cosine, hidden
        if hidden and cache is not None:
            raise ValueError("the hidden-state loss needs the teacher's layers; a cache holds its vectors only")
        if teacher is not None:
            freeze(teacher)

    def __call__(self, model: nn.Module, batch: dict):
        from ..train.objectives.distill import embedding_loss, hidden_mse, layer_map
        distiller = getattr(model, "module", model)
        want = bool(self.hidden)
        s = pooled(distiller.student, batch, want)
        s_vec, s_h = (s if want else (s, None))
        s_vec = distiller.project(s_vec)
        if self.cache is not None:
            t_vec, t_h = self.cache[batch["features"].cpu()].to(s_vec.device), None
        else:
            with torch.no_grad():
                t = pooled(self.teacher, batch, want)
            t_vec, t_h = (t if want else (t, None))
        loss, parts = embedding_loss(s_vec, t_vec, self.mse, self.cosine)
        if want:
            mask = batch["attention_mask"].bool()
            pairs = list(enumerate(layer_map(len(s_h) - 1, len(t_h) - 1)))
            parts["hidden"] = sum(hidden_mse(distiller.project(s_h[m]), t_h[n], mask) for m, n in pairs) / len(pairs)
            loss = loss + self.hidden * parts["hidden"]
            parts["hidden"] = parts["hidden"].detach()
        return loss, {"loss": loss.detach(), **parts}


def distill_embeddings(a) -> dict:
    """`bertkit distill --task embed` (a: DistillArgs). Returns the summary; writes the student folder with
    distillation.json (held-out cosine, nearest-neighbour agreement, throughput) and distill.png."""
    from ..registry import AutoModel
    from ..train.objectives.distill import Distiller
    from ..train.optim import OptimConfig
    from ..train.precision import autocast, resolve_dtype
    from ..train.trainer import OutputFolder, TrainConfig, train
    from .distill import (_check_same_vocab, _count, best_eval, cache_path, load_or_compute, make_student,
                          parse_student, plot_distillation, throughput)
    from .finetune import load_tokenizer

    for opt in ("train", "dev", "test"):
        if getattr(a, opt):
            raise OptionError(f"--{opt}: --task embed learns from the corpus files given as arguments; drop --{opt}")
    for opt in ("alpha_attention", "alpha_relation", "augment", "unlabeled"):
        if getattr(a, opt):
            raise OptionError(f"--{opt.replace('_', '-')}: not for --task embed (it takes --alpha-mse, --alpha-cos "
                              "and --alpha-hidden)")
    if not a.files:
        raise OptionError("--task embed: give the corpus files to distil on (text, one sentence or paragraph per "
                          "line, or JSONL with 'text')")
    if a.cache_teacher and a.alpha_hidden:
        raise OptionError("--cache-teacher: the cache holds the teacher's sentence vectors only, and --alpha-hidden "
                          "needs its layers at every step; drop one of them")
    kind, _ = parse_student(a.student)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    dtype = resolve_dtype(a.dtype, device)
    OutputFolder.check(a.out, a.resume)
    teacher_dir = Path(a.teacher)
    sentences = read_sentences(a.files)
    if len(sentences) <= a.holdout + 1:
        raise DataError(f"{', '.join(a.files)}: {len(sentences)} distinct sentences of 3 words or more; --holdout "
                        f"{a.holdout} leaves too few to train on; give more text or a smaller --holdout")
    train_s, held = holdout_split(sentences, a.holdout, a.limit)
    tok = load_tokenizer(teacher_dir)
    teacher = AutoModel.from_pretrained(teacher_dir, fresh=[]).to(device).eval()
    torch.manual_seed(a.seed)
    if kind == "folder":
        student_tok = load_tokenizer(a.student)
        _check_same_vocab(tok, student_tok, f"--student {a.student}")
        student = AutoModel.from_pretrained(a.student, fresh=[])
    else:
        student = make_student(a.student, teacher, a.seed)
    student.to(device)
    max_length = a.max_length or min(128, teacher.config.max_sequence_length or 512)
    if max_length > (student.config.max_sequence_length or max_length):
        raise OptionError(f"--max-length {max_length}: the student reads at most {student.config.max_sequence_length} "
                          "tokens; give a smaller --max-length")
    feats = {"train": encode(tok, train_s, max_length), "held": encode(tok, held, max_length)}
    pad = tok.pad_token_id
    amp = lambda: autocast(device, dtype)  # noqa: E731
    cache = None
    if a.cache_teacher:
        key = {"dtype": dtype, "max_length": max_length, "inputs": [[f["input_ids"], f["token_type_ids"]] for f in feats["train"]]}
        cache = load_or_compute(cache_path(teacher_dir, "sentence-vectors", key),
                                lambda: vectors(teacher, make_batches(feats["train"], a.batch_size * 2, pad, None),
                                                len(train_s), device, amp, None if a.quiet else "teacher"))
    held_batches = make_batches(feats["held"], a.batch_size * 2, pad, None)
    t_held = vectors(teacher, held_batches, len(held), device, amp)
    distiller = Distiller(student, student.config.hidden_size, teacher.config.hidden_size, project=True).to(device)
    if a.alpha_kd != 0.5 or a.alpha_hard != 0.5 or a.temperature != 2.0:
        print("note: --alpha-kd, --alpha-hard and --temperature are for the task distillation; --task embed uses "
              "--alpha-mse, --alpha-cos and --alpha-hidden", file=sys.stderr)

    def evaluate(m):
        s_held = vectors(m.student, held_batches, len(held), device, amp)
        if m.projection is not None:
            s_held = m.projection(s_held.to(device)).cpu()
        return agreement(s_held, t_held)

    def save(m, folder):
        m.student.save_pretrained(folder)
        tok.save_pretrained(folder)

    objective = EmbeddingObjective(teacher if cache is None else None, cache, a.alpha_mse, a.alpha_cos,
                                   a.alpha_hidden)
    epochs = 1.0 if a.epochs is None else a.epochs
    options = {"task": "embed", "teacher": str(teacher_dir.absolute()), "student": a.student,
               "files": [str(Path(f).absolute()) for f in a.files], "holdout": a.holdout, "limit": a.limit,
               "max_length": max_length, "batch_size": a.batch_size, "alpha_mse": a.alpha_mse,
               "alpha_cos": a.alpha_cos, "alpha_hidden": a.alpha_hidden, "cache_teacher": a.cache_teacher}
    cfg = TrainConfig(out=a.out, epochs=epochs, dtype=dtype, seed=a.seed, eval_every=a.eval_every, metric="cosine",
                      greater_is_better=True, patience=a.patience, progress=not a.quiet, resume=a.resume,
                      save_every=a.save_every, options=options)
    optim = OptimConfig(lr=a.lr, weight_decay=a.weight_decay, warmup=a.warmup)
    folder = OutputFolder(a.out, resume=a.resume)
    try:
        summary = train(distiller, lambda epoch, gen: make_batches(feats["train"], a.batch_size, pad, gen), evaluate,
                        save, optim, cfg, folder=folder, objective=objective)
        # the kept student's held-out scores, as evaluated in training (train() leaves it in eval mode)
        scores = best_eval(folder.tmp / "metrics.jsonl", summary["best_step"])
        dev_batches = [{k: v.to(device) for k, v in b.items()} for b in held_batches]

        def runner(model):
            def run(b):
                with amp():
                    pooled(model, b)
            return run
        speed = throughput({"teacher": runner(teacher), "student": runner(student)}, dev_batches, len(held))
        report = {"teacher": str(teacher_dir), "student": a.student, "task": "embed",
                  "sentences": {"train": len(train_s), "held_out": len(held)},
                  "held_out": scores, "throughput": {"split": "held-out", "unit": "sentences/s", **speed,
                                                     "speedup": round(speed["student"] / speed["teacher"], 2)},
                  "parameters": {"teacher": _count(teacher), "student": _count(student)},
                  "weights": {"alpha_mse": a.alpha_mse, "alpha_cos": a.alpha_cos, "alpha_hidden": a.alpha_hidden}}
        (folder.tmp / "distillation.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
        plot_distillation(folder.tmp / "metrics.jsonl", "cosine", None, folder.tmp / "distill.png",
                          label="held-out cosine to the teacher")
        folder.commit()
    except BaseException:
        folder.discard()
        raise
    summary["distillation"] = report
    summary["out"] = str(a.out)
    return summary
