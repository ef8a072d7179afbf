"""`bertkit distill`: a smaller, faster student trained on a teacher's predictions, in one command.

    bertkit distill --teacher rt-clf --student layers:0,2,4 --task classify --train train.jsonl --dev dev.jsonl --out small
    bertkit distill --task embed --teacher all-MiniLM-L6-v2 --student layers:0,2,4 corpus.txt --out small-embed

The student is a folder, a preset (tiny, mini, small, ...: a fresh model of the teacher's family with the
teacher's vocabulary), or `layers:0,2,4`: the teacher with only those layers (DistilBERT's initialisation,
Sanh et al., 2019 §3), keeping its embeddings and its trained head. Task distillation runs the fine-tuning
pipeline (tasks/finetune.py: the same readers, features, evaluation and output folder) with the
distillation objective (train/objectives/distill.py) in place of the head's loss. The output is an
ordinary model folder for `predict`, `embed` and `transformers`, plus distillation.json (teacher and
student scores, parameters and inference throughput measured in the same run) and distill.png.

Embedding distillation (`--task embed`) needs no labels: the student learns the teacher's mean-pooled
sentence vectors on unlabelled text (MSE plus cosine, as sentence-transformers' MSE distillation,
Reimers & Gurevych, 2020), scored on held-out sentences by cosine to the teacher and by agreement of
nearest neighbours.
"""
from __future__ import annotations

import hashlib
import json
import shutil
import sys
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from .. import paths
from ..cliargs import arg as _arg
from ..errors import ConfigError, OptionError
from .finetune import TASKS, FinetuneArgs

DISTILL_TASKS = (*TASKS, "embed")
CRF_FILE = "crf.safetensors"  # tasks/ner.py save_crf


@dataclass
class DistillArgs:
    """Distil a fine-tuned teacher into a smaller, faster student (classify, ner, qa), or a sentence-embedding
    model into a smaller one on unlabelled text (embed). The output is an ordinary model folder."""
    files: list[str] = _arg([], "embed: text or JSONL corpus files (one sentence or paragraph per line)",
                            positional=True, nargs="*")
    teacher: str | None = _arg(None, "required: the teacher, a folder fine-tuned for the task (embed: any model "
                                     "folder, e.g. all-MiniLM-L6-v2)")
    student: str = _arg("layers:0,2,4", "a model folder, a preset (tiny, mini, small, medium, base, large: a fresh model "
                                        "of the teacher's family and vocabulary), or layers:I,J,...: the teacher "
                                        "with only those layers, counted from 0 (DistilBERT's initialisation)")
    task: str | None = _arg(None, "classify | ner | qa | embed (default: the teacher's fine-tuned task)")
    train: str | None = _arg(None, "training file, in the format `bertkit finetune` reads for the task")
    dev: str | None = _arg(None, "evaluation file; picks the best checkpoint and is scored for the teacher too")
    test: str | None = _arg(None, "test file, scored once for the teacher and the student")
    out: str = _arg("distilled", "output folder, written at the end in one step")
    temperature: float = _arg(2.0, "soft-target temperature T (the KL term is scaled by T², Hinton et al. 2015)")
    alpha_kd: float = _arg(0.5, "weight of the soft-target KL")
    alpha_hard: float = _arg(0.5, "weight of the head's loss on the labels")
    alpha_hidden: float = _arg(0.0, "weight of the hidden-state MSE, layer to layer (TinyBERT; embed too); a "
                                    "learned projection when the widths differ")
    alpha_attention: float = _arg(0.0, "weight of the attention-distribution KL, layer to layer (TinyBERT); the "
                                       "head counts must match")
    alpha_relation: float = _arg(0.0, "weight of the last layer's self-attention relation KL (MiniLM: query-key "
                                      "and value-value relations)")
    relation_heads: int | None = _arg(None, "relation heads of --alpha-relation (default: the student's attention "
                                            "heads); must divide both widths")
    augment: int = _arg(0, "classify (single-label): N extra copies of each training example with some pieces "
                           "replaced, labelled by the teacher alone (TinyBERT-style augmentation for small training "
                           "sets)")
    augment_mlm: str | None = _arg(None, "classify --augment: a folder with a masked-LM head whose top predictions "
                                         "replace the pieces (default: the teacher's folder if it holds one; "
                                         "without any, pieces become [MASK], as Tang et al. 2019)")
    augment_prob: float | None = _arg(None, "classify --augment: the chance that a piece is replaced (default 0.4 "
                                            "with a masked LM, as TinyBERT; 0.1 with [MASK], as Tang et al.)")
    augment_top_k: int = _arg(15, "classify --augment with a masked LM: draw the replacement from its top K")
    unlabeled: str | None = _arg(None, "classify (single-label): a file of extra texts (one per line, or CSV/JSONL "
                                       "with 'text') that the teacher labels for the student")
    alpha_mse: float = _arg(1.0, "embed: weight of the MSE to the teacher's sentence vectors")
    alpha_cos: float = _arg(1.0, "embed: weight of 1 − cosine to the teacher's sentence vectors")
    cache_teacher: bool = _arg(False, "compute the teacher's logits (embed: vectors) once and keep them in "
                                      "$BERTKIT_CACHE/teacher, keyed by the teacher's files and the data; only "
                                      "with the logit losses")
    epochs: float | None = _arg(None, "training epochs (default 3; embed 1)")
    batch_size: int = _arg(32, "examples per batch")
    lr: float = _arg(1e-4, "peak learning rate")
    warmup: float = _arg(0.1, "warmup: a fraction of the steps (< 1) or a number of steps")
    weight_decay: float = _arg(0.01, "AdamW weight decay (not on biases and LayerNorm)")
    max_length: int | None = _arg(None, "tokens per window (default: the teacher's own; embed 128)")
    tag_column: int | None = _arg(None, "ner: the CoNLL column that holds the tags, counted from 1, or -1 for the "
                                        "last (default: the last column)")
    holdout: int = _arg(2000, "embed: sentences held out (by a hash of the text) to score the student")
    limit: int | None = _arg(None, "use only the first N training examples (embed: N sentences drawn by a hash of "
                                   "the text, from every file)")
    eval_every: int = _arg(0, "evaluate every N optimizer steps (0 = each epoch)")
    patience: int = _arg(0, "stop after N evaluations without improvement (0 = never)")
    seed: int = _arg(42, "seed of the fresh weights, dropout and batch order")
    dtype: str = _arg("auto", "auto, bf16, fp16 (CUDA) or fp32, for the teacher and the student",
                      choices=("auto", "bf16", "fp16", "fp32"))
    resume: bool = _arg(False, "continue the interrupted run of --out exactly; give the same options")
    save_every: int = _arg(0, "write a checkpoint every N optimizer steps (0 = at each evaluation)")
    quiet: bool = _arg(False, "no progress bar")


# -- the student ----------------------------------------------------------------------------------------

def parse_student(spec: str) -> tuple[str, object]:
    """"layers:0,2,4" → ("layers", [0, 2, 4]); a preset name → ("preset", name); else ("folder", path).
    OptionError for a malformed layers list or a name that is neither a preset nor a folder."""
    from ..config import PRESETS
    if spec.startswith("layers:"):
        body = spec[len("layers:"):]
        try:
            layers = [int(p) for p in body.split(",")]
        except ValueError:
            raise OptionError(f"--student {spec!r}: give layer numbers separated by commas, e.g. layers:0,2,4") from None
        return "layers", layers
    if spec in PRESETS and not Path(spec).exists():
        return "preset", spec
    if not (Path(spec) / "config.json").is_file():
        raise OptionError(f"--student {spec!r}: not a model folder (no config.json), a preset ({', '.join(PRESETS)}) "
                          "or layers:I,J,...; give one of those")
    return "folder", spec


def make_student(spec: str, teacher, seed: int = 42):
    """The student model for `spec` (see parse_student) given the `teacher` model (a Hugging Face-style
    model, bare or with a head): layers → convert.take_layers; preset → a fresh model of the teacher's class
    at that size with the teacher's vocabulary, labels and positions; folder → None (loaded by the caller)."""
    import torch
    kind, value = parse_student(spec)
    if kind == "layers":
        from ..convert import take_layers
        try:
            return take_layers(teacher, value)
        except (OptionError, ConfigError) as e:
            raise type(e)(f"--student {spec}: {e}") from None
    if kind == "preset":
        t = teacher.config
        cfg = type(t).preset(value, vocab_size=t.vocab_size, max_position_embeddings=t.max_position_embeddings,
                             pad_token_id=t.pad_token_id)
        for name in ("id2label", "label2id", "problem_type", "type_vocab_size"):
            if hasattr(t, name):
                setattr(cfg, name, getattr(t, name))
        torch.manual_seed(seed)
        return type(teacher)(cfg)
    return None


def _check_same_vocab(teacher_tok, other_tok, what: str) -> None:
    """`what` (e.g. "--student DIR") must read the teacher's token ids: ConfigError otherwise."""
    if teacher_tok.get_vocab() != other_tok.get_vocab():
        raise ConfigError(f"{what}: its tokenizer's vocabulary differs from the teacher's; both read the same token "
                          "ids, so give a model made from the teacher (layers:..., a preset) or one with the "
                          "teacher's vocabulary")


@contextmanager
def student_folder(spec: str, teacher_folder: str | Path, task: str, seed: int):
    """A model folder holding the student (for layers: and presets, a temporary one written from the
    teacher, with its tokenizer and, for NER, its CRF), removed on exit."""
    from .finetune import _trained, load_tokenizer
    kind, _ = parse_student(spec)
    if kind == "folder":
        yield Path(spec)
        return
    teacher = _trained(Path(teacher_folder), task) if task in TASKS else _base_model(teacher_folder)
    student = make_student(spec, teacher, seed)
    tmp = Path(tempfile.mkdtemp(prefix="bertkit-student-"))
    try:
        student.save_pretrained(tmp)
        load_tokenizer(teacher_folder).save_pretrained(tmp)
        crf = Path(teacher_folder) / CRF_FILE
        if kind == "layers" and crf.is_file():
            shutil.copy(crf, tmp / CRF_FILE)
        yield tmp
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _base_model(folder):
    from ..registry import AutoModel
    return AutoModel.from_pretrained(folder, fresh=[])


# -- the teacher ----------------------------------------------------------------------------------------

def teacher_task(folder: Path) -> tuple[str | None, dict]:
    from .finetune import _task_of
    if not (folder / "config.json").is_file():
        raise ConfigError(f"--teacher {folder}: not a model folder (no config.json); give a folder fine-tuned "
                          "with bertkit finetune (or, for --task embed, any model folder)")
    return _task_of(folder)


def file_digest(*paths_: Path) -> str:
    """sha256 over the bytes of the files that exist among `paths_`, in order (a teacher's identity)."""
    h = hashlib.sha256()
    for p in paths_:
        if p.is_file():
            h.update(p.name.encode())
            with open(p, "rb") as f:
                for chunk in iter(lambda: f.read(1 << 20), b""):
                    h.update(chunk)
    return h.hexdigest()


def teacher_digest(folder: Path) -> str:
    return file_digest(*(folder / n for n in ("config.json", "model.safetensors", "pytorch_model.bin", CRF_FILE)))


def cache_path(teacher: Path, what: str, data: object) -> Path:
    """$BERTKIT_CACHE/teacher/<sha256>.pt, keyed by the teacher's files and `data` (any JSON value: the
    encoded inputs and the options that shape the logits)."""
    h = hashlib.sha256(teacher_digest(teacher).encode())
    h.update(what.encode())
    h.update(json.dumps(data, sort_keys=True).encode())
    return paths.CACHE / "teacher" / f"{h.hexdigest()}.pt"


def load_or_compute(path: Path, compute):
    """torch.load(path) when it exists, else compute() and write it atomically; says which on stderr."""
    import torch

    from ..io import atomic_path
    if path.is_file():
        try:
            value = torch.load(path, weights_only=True)
            print(f"teacher outputs from the cache: {path}", file=sys.stderr)
            return value
        except Exception as e:  # a damaged cache entry is recomputed, not trusted
            print(f"warning: {path}: unreadable ({e}); computing it again", file=sys.stderr)
    value = compute()
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        torch.save(value, tmp)
    print(f"teacher outputs cached in {path}", file=sys.stderr)
    return value


# -- throughput -------------------------------------------------------------------------------------------

def throughput(runners: dict, batches: list[dict], n_examples: int, rounds: int = 3) -> dict:
    """Examples per second of each `runners[name](batch)` over the same `batches`, timed in alternation
    (`rounds` passes each, the fastest kept), so that a busy machine slows every model alike."""
    import torch
    best = {name: float("inf") for name in runners}
    with torch.no_grad():
        for name, run in runners.items():  # warm-up
            run(batches[0])
        for _ in range(rounds):
            for name, run in runners.items():
                t0 = time.perf_counter()
                for b in batches:
                    run(b)
                best[name] = min(best[name], time.perf_counter() - t0)
    return {name: round(n_examples / s, 1) for name, s in best.items()}


# -- task distillation -------------------------------------------------------------------------------------

class _Hooks:
    """What distillation changes in the fine-tuning pipeline (finetune(hooks=...)): the teacher's labels, the
    trained module (student + projection), the objective, and the report at the end."""

    def __init__(self, a: "DistillArgs", task: str, student_spec: str):
        self.a, self.task_name, self.student_spec = a, task, student_spec
        self.teacher_folder = Path(a.teacher)

    def options(self) -> dict:
        keep = ("student", "temperature", "alpha_kd", "alpha_hard", "alpha_hidden", "alpha_attention",
                "alpha_relation", "relation_heads", "cache_teacher", "augment", "augment_mlm", "augment_prob",
                "augment_top_k", "unlabeled")
        return {**{k: getattr(self.a, k) for k in keep}, "teacher": str(self.teacher_folder.absolute()),
                "model": self.student_spec}  # not the temporary folder a layers: or preset student is written to

    def before_read(self, task) -> None:
        """The student predicts the teacher's labels, in the teacher's order: every file is checked against them."""
        cfg = self.teacher_config()
        label2id = {str(k): int(v) for k, v in (cfg.label2id or {}).items()}
        if self.task_name in ("classify", "ner") and label2id and cfg.problem_type != "regression":
            task.fixed_labels = [t for t, _ in sorted(label2id.items(), key=lambda kv: kv[1])]
            task.fixed_labels_name = "the teacher's labels"

    def after_read(self, task) -> None:
        """A classification teacher and the data must be of one kind (classes, multi-label, regression)."""
        if self.task_name == "classify":
            kind = self.teacher_config().problem_type or "single_label_classification"
            if task.kind != kind:
                raise ConfigError(f"--train {self.a.train}: its labels make a {task.kind} task, but the teacher "
                                  f"{self.teacher_folder} was fine-tuned for {kind}; give data of the teacher's kind")

    def teacher_config(self):
        from ..registry import AutoConfig
        return AutoConfig.from_pretrained(self.teacher_folder)

    def setup(self, task, tok, device, dtype):
        import torch

        from ..train.objectives.distill import (ADAPTERS, Distiller, DistillationObjective, DistillWeights,
                                                TeacherCache, check_relation_heads, freeze)
        from ..train.precision import autocast
        from .finetune import load_tokenizer
        a = self.a
        _check_same_vocab(load_tokenizer(self.teacher_folder, self.task_name), tok, f"--student {self.student_spec}")
        teacher = freeze(self.load_teacher(task).to(device))
        student = task.module
        if self.task_name == "ner" and teacher.crf is not None and student.crf is not None \
                and parse_student(self.student_spec)[0] == "layers":
            student.crf.load_state_dict(teacher.crf.state_dict())  # the teacher's transitions, as its layers
        adapter = ADAPTERS[self.task_name](*([teacher.config.problem_type] if self.task_name == "classify" else []))
        w = DistillWeights(a.alpha_kd, a.alpha_hard, a.alpha_hidden, a.alpha_attention, a.alpha_relation,
                           a.temperature, a.relation_heads)
        s_cfg, t_cfg = student.config, teacher.config
        if w.attention and s_cfg.num_attention_heads != t_cfg.num_attention_heads:
            raise OptionError(f"--alpha-attention: the student has {s_cfg.num_attention_heads} attention heads and the "
                              f"teacher {t_cfg.num_attention_heads}; attention maps are compared head by head, so use "
                              "--alpha-relation (MiniLM's relations work across head counts) instead")
        if w.relation:
            try:
                check_relation_heads(w.relation_heads or s_cfg.num_attention_heads, s_cfg.hidden_size,
                                     t_cfg.hidden_size)
            except ValueError as e:
                raise OptionError(f"--relation-heads: {e}; give a number that divides both") from None
        if a.cache_teacher and (w.hidden or w.attention or w.relation):
            raise OptionError("--cache-teacher: the cache holds the teacher's logits only, and --alpha-hidden, "
                              "--alpha-attention and --alpha-relation need its layers at every step; drop one of them")
        if a.augment or a.unlabeled:
            self.add_unlabelled(task, tok, device)
        distiller = Distiller(student, s_cfg.hidden_size, t_cfg.hidden_size, project=bool(w.hidden)).to(device)
        task.index = True  # QA's training batches carry their feature indices (the cache's key)
        cache = None
        if a.cache_teacher:
            feats = task.data["train"][1]
            n = len(task.data["train"][0]) if self.task_name == "classify" else len(feats)
            key = {"task": self.task_name, "dtype": dtype, "options": task._options(),
                   "inputs": [[f["input_ids"], f.get("token_type_ids"), f.get("doc")] for f in feats]}
            path = cache_path(self.teacher_folder, "logits", key)

            def compute():
                c = TeacherCache.compute(teacher, adapter, self.eval_batches(task, "train"), n,
                                         autocast=lambda: autocast(device, dtype), progress=not a.quiet)
                return c.rows
            cache = TeacherCache(load_or_compute(path, compute), adapter.index_key, adapter.token_level)
        self.teacher, self.adapter, self.device, self.dtype = teacher, adapter, device, dtype
        objective = DistillationObjective(teacher, adapter, w, cache)
        self.teacher_scores = {}
        if task.dev:
            with torch.no_grad(), autocast(device, dtype):
                self.teacher_scores["dev"] = _numbers(task.evaluate(teacher))
            print(f"teacher dev: {_fmt(self.teacher_scores['dev'])}", file=sys.stderr)
        evaluate = (lambda m: task.evaluate(m.student)) if task.dev else None
        return distiller, objective, task.batches, evaluate

    def add_unlabelled(self, task, tok, device) -> None:
        """Append the --unlabeled texts and the --augment copies to the training data, with no hard label
        (IGNORE_INDEX): the student learns the teacher's soft targets on them."""
        import torch

        from ..data.readers import ClassExample, read_classification
        from ..labels import IGNORE_INDEX
        from .augment import fill_with_mlm, masked_copies
        from .classification import encode
        a = self.a
        if self.task_name != "classify" or task.kind != "single_label_classification":
            raise OptionError("--augment/--unlabeled: for single-label classification (--task classify) only")
        xs, feats, labels = task.data["train"]
        new_feats: list[dict] = []
        next_doc = len(xs)  # each new text (or copy) is a document of its own, after the training ones
        if a.unlabeled:
            extra = [ClassExample(x.text, x.text_pair, None, x.line)
                     for x in read_classification(a.unlabeled, require_label=False)]
            if bool(extra and extra[0].text_pair is not None) != bool(task.pair):
                raise OptionError(f"--unlabeled {a.unlabeled}: its rows must be {'pairs' if task.pair else 'single texts'}, "
                                  "like the training file's")
            for f in encode(tok, extra, task.opts):  # doc: the text's index in the file (a text may have windows)
                new_feats.append({**f, "doc": next_doc + f["doc"]})
            next_doc += len(extra)
            print(f"--unlabeled: {len(extra)} texts from {a.unlabeled}", file=sys.stderr)
        if a.augment:
            special = set(tok.all_special_ids)
            gen = torch.Generator().manual_seed(a.seed + 1)
            mlm = self.augment_model(tok, device)
            prob = a.augment_prob if a.augment_prob is not None else (0.4 if mlm is not None else 0.1)
            copies = masked_copies(feats, a.augment, prob, tok.mask_token_id, special, gen)
            if mlm is not None:
                fill_with_mlm(copies, mlm, tok.pad_token_id, a.augment_top_k, gen, special=special)
            for _, copy, _ in copies:
                new_feats.append({**copy, "doc": next_doc})
                next_doc += 1
            print(f"--augment: {len(copies)} copies ({a.augment} per training example), pieces replaced with "
                  f"probability {prob} by " + ("a masked LM's top predictions" if mlm is not None else "[MASK]"),
                  file=sys.stderr)
        n_new = next_doc - len(xs)
        task.data["train"] = (list(xs) + [ClassExample("")] * n_new, feats + new_feats,
                              torch.cat([labels, torch.full((n_new,), IGNORE_INDEX, dtype=labels.dtype)]))

    def augment_model(self, tok, device):
        """The masked LM for --augment: --augment-mlm, else the teacher's folder when it holds an MLM head,
        else None ([MASK] replacement)."""
        from ..registry import AutoModelForMaskedLM
        from .finetune import load_tokenizer
        from ..checkpoint import loading_quietly
        folder = self.a.augment_mlm or str(self.teacher_folder)
        fresh: list = []
        try:
            with loading_quietly():  # probing the folder for an MLM head: what it lacks is the answer
                model = AutoModelForMaskedLM.from_pretrained(folder, fresh=fresh)
        except ValueError:
            model = None
        if model is None or fresh:
            if self.a.augment_mlm:
                raise ConfigError(f"--augment-mlm {folder}: holds no masked-LM head"
                                  + (f" ({', '.join(fresh[:3])} missing)" if fresh else "")
                                  + "; give a folder pretrained with MLM (bertkit pretrain, or a *ForMaskedLM one)")
            return None
        _check_same_vocab(tok, load_tokenizer(folder), f"--augment-mlm {folder}")
        return model.to(device)

    def load_teacher(self, task):
        from .classification import WindowClassifier
        from .finetune import _trained
        from .ner import load_tagger
        model = _trained(self.teacher_folder, self.task_name)
        if self.task_name == "classify":
            return WindowClassifier(model, task.a.pool)
        if self.task_name == "ner":
            return load_tagger(model, self.teacher_folder)
        return model

    def eval_batches(self, task, split: str) -> list[dict]:
        feats = task.data[split][1]
        pad, bs = task.tok.pad_token_id, task.a.batch_size * 2
        if self.task_name == "classify":
            from .classification import make_batches
            return make_batches(feats, None, bs, pad, None)
        if self.task_name == "ner":
            from .ner import make_batches
            return make_batches(feats, bs, pad, None)
        from .qa import make_batches
        return make_batches(feats, bs, pad, None, train=False)

    def finish(self, task, folder: Path, summary: dict) -> None:
        """Score the teacher on test, time both models on the same batches, write distillation.json and
        distill.png into `folder`, and add the figures to `summary`."""
        import torch

        from ..train.precision import autocast
        report = {"teacher": str(self.teacher_folder), "student": self.student_spec,
                  "weights": {k: v for k, v in self.options().items() if k.startswith(("alpha", "temperature"))},
                  "teacher_scores": dict(self.teacher_scores), "student_scores": {}}
        if task.dev:  # the kept (best) student's, as evaluated in training
            report["student_scores"]["dev"] = best_eval(folder / "metrics.jsonl", summary["best_step"])
        if task.test:
            with torch.no_grad(), autocast(self.device, self.dtype):
                report["teacher_scores"]["test"] = _numbers(task.evaluate(self.teacher, split="test"))
            report["student_scores"]["test"] = summary.get("test", {})
        split = next(s for s in ("test", "dev", "train") if s in task.data)
        batches = [{k: v.to(self.device) for k, v in b.items() if hasattr(v, "to")} for b in self.eval_batches(task, split)]
        student = task.module  # train() left it in eval mode

        def runner(module):
            def run(b):
                with autocast(self.device, self.dtype):
                    self.adapter.run(module, b, False, False, False)
            return run
        speed = throughput({"teacher": runner(self.teacher), "student": runner(student)}, batches,
                           len(task.data[split][0]) if self.task_name == "classify" else len(task.data[split][1]))
        report["throughput"] = {"split": split, "unit": "examples/s", **speed,
                                "speedup": round(speed["student"] / speed["teacher"], 2)}
        report["parameters"] = {"teacher": _count(self.teacher), "student": _count(student)}
        metric = task.metric
        t_test = report["teacher_scores"].get("test", {}).get(metric)
        s_test = report["student_scores"].get("test", {}).get(metric)
        if t_test and s_test is not None:
            report["retained"] = round(s_test / t_test, 4)
        (folder / "distillation.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
        plot_distillation(folder / "metrics.jsonl", metric, self.teacher_scores.get("dev", {}).get(metric),
                          folder / "distill.png")
        summary["distillation"] = report


def _count(module) -> int:
    return sum(p.numel() for p in module.parameters())


def _numbers(d: dict) -> dict:
    return {k: float(v) for k, v in d.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}


def best_eval(metrics_path: Path, step: int) -> dict:
    """The scores logged by the evaluation at `step` (the kept weights': summary["best_step"]) in
    metrics.jsonl, so the report needs no second pass over the evaluation set."""
    from ..train.loop import read_metrics
    row = next((r for r in read_metrics(metrics_path) if r.get("event") == "eval" and r.get("step") == step), {})
    return {k: v for k, v in _numbers(row).items() if k not in ("step", "epoch")}


def _fmt(d: dict) -> str:
    return ", ".join(f"{k} {v:.4f}" for k, v in d.items() if not k.endswith("total"))


def plot_distillation(metrics_path: Path, metric: str, teacher_dev: float | None, out: Path,
                      label: str | None = None) -> None:
    """Left: the loss terms over the steps; right: the student's dev `metric` over the steps (`label` names
    the axis), and the teacher's as a line. Points get markers when there are few of them."""
    from matplotlib.ticker import MaxNLocator

    from ..plots import pyplot, save
    from ..train.loop import read_metrics
    rows = read_metrics(metrics_path)
    plt = pyplot()
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4))
    train = [r for r in rows if r.get("event") == "train"]
    for key in ("loss", "kd", "hard", "hidden", "attention", "relation", "mse", "cosine"):
        pts = [(r["step"], r[key]) for r in train if key in r and r[key] > 0]
        if pts:
            ax1.plot(*zip(*pts), "o-" if len(pts) <= 20 else "-", label=key)
    ax1.set_xlabel("step")
    ax1.set_ylabel("training loss (log scale)")
    ax1.set_yscale("log")
    if ax1.lines:
        ax1.legend()
    evals = [(r["step"], r[metric]) for r in rows if r.get("event") == "eval" and metric in r]
    if evals:
        ax2.plot(*zip(*evals), "o-", label="student")
    if teacher_dev is not None:
        ax2.axhline(teacher_dev, color="gray", linestyle="--", label="teacher")
    ax2.set_xlabel("step")
    ax2.set_ylabel(label or f"dev {metric}")
    if ax2.lines:
        ax2.legend()
    for ax in (ax1, ax2):
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    fig.tight_layout()
    save(fig, out)


def check_files(a, options) -> None:
    """Each of `options` that is given names an existing path (a file, or for augment_mlm a folder): DataError
    naming the option otherwise, before the teacher is loaded."""
    from ..errors import DataError
    for opt in options:
        path = getattr(a, opt, None)
        if path is None or path == "-":
            continue
        ok = Path(path).is_dir() if opt == "augment_mlm" else Path(path).is_file()
        if not ok:
            what = "no such folder" if opt == "augment_mlm" else ("a folder, not a file" if Path(path).is_dir()
                                                                   else "no such file")
            raise DataError(f"--{opt.replace('_', '-')} {path}: {what}; check the path")


def distill(a: DistillArgs) -> dict:
    """Run the distillation `a` describes; return the summary (with "distillation": the report)."""
    from ..cliargs import check_options
    check_options(a, {"task": DISTILL_TASKS})  # the CLI did this already; Python callers get the same checks
    if a.teacher is None:
        raise OptionError("--teacher: give the teacher's model folder (a fine-tuned one; for --task embed any model)")
    weights = ("alpha_mse", "alpha_cos", "alpha_hidden") if a.task == "embed" else \
        ("alpha_kd", "alpha_hard", "alpha_hidden", "alpha_attention", "alpha_relation")
    if not any(getattr(a, w) for w in weights):
        raise OptionError(f"{', '.join('--' + w.replace('_', '-') for w in weights)}: all 0, so there is nothing to "
                          "learn; give at least one a positive weight")
    teacher = Path(a.teacher)
    saved_task, saved = teacher_task(teacher)
    task = a.task or saved_task
    if task is None:
        raise ConfigError(f"--teacher {teacher}: not fine-tuned for a task bertkit knows (its config.json has no "
                          "bertkit_task and no task head); give --task, or --task embed for sentence vectors")
    if task not in DISTILL_TASKS:
        raise OptionError(f"--task {task!r}: use one of {', '.join(DISTILL_TASKS)}")
    if task == "embed":
        from .distill_embed import distill_embeddings
        return distill_embeddings(a)
    if a.alpha_mse != 1.0 or a.alpha_cos != 1.0:
        raise OptionError(f"--alpha-mse/--alpha-cos: for --task embed; --task {task} takes --alpha-kd, --alpha-hard, "
                          "--alpha-hidden, --alpha-attention and --alpha-relation")
    if saved_task not in (None, task):
        raise ConfigError(f"--task {task}: the teacher {teacher} was fine-tuned for {saved_task}; give a teacher "
                          f"fine-tuned for {task}")
    if a.files:
        raise OptionError(f"{a.files[0]}: corpus files are for --task embed; give --train (and --dev) for {task}")
    if a.train is None:
        raise OptionError(f"--train: --task {task} needs a training file (and --dev, to keep the best student)")
    parse_student(a.student)  # a malformed --student is said before any work
    check_files(a, ("train", "dev", "test", "unlabeled", "augment_mlm"))
    from .finetune import finetune
    fa = finetune_args(a, task, saved)
    with student_folder(a.student, teacher, task, a.seed) as folder:
        fa.model = str(folder)
        summary = finetune(fa, hooks=_Hooks(a, task, a.student))
    return summary


def finetune_args(a: DistillArgs, task: str, saved: dict) -> FinetuneArgs:
    """The fine-tuning options of the run: the teacher's own task options (windows, CRF, QA limits...) unless
    given here."""
    fa = FinetuneArgs(task=task, model=a.teacher, train=a.train, dev=a.dev, test=a.test, out=a.out,
                      epochs=3.0 if a.epochs is None else a.epochs, batch_size=a.batch_size, lr=a.lr,
                      warmup=a.warmup, weight_decay=a.weight_decay, max_length=a.max_length or saved.get("max_length"),
                      seed=a.seed, eval_every=a.eval_every, patience=a.patience, limit=a.limit, dtype=a.dtype,
                      resume=a.resume, save_every=a.save_every, quiet=a.quiet, tag_column=a.tag_column)
    for name in ("long", "stride", "pool", "crf", "doc_stride", "max_answer_length", "null_threshold",
                 "max_query_length"):
        if name in saved and saved[name] is not None:
            setattr(fa, name, saved[name])
    return fa


def distill_cli(a: DistillArgs) -> None:
    summary = distill(a)
    rep = summary.get("distillation", {})
    print(f"wrote {summary['out']} ({summary['steps']} steps, {summary['elapsed_s']} s)")
    for split in ("dev", "test"):
        for side in ("teacher", "student"):
            d = rep.get(f"{side}_scores", {}).get(split)
            if d:
                print(f"{side} {split}: {_fmt(d)}")
    held = rep.get("held_out")  # --task embed
    if held:
        print(f"held-out sentences: {rep['sentences']['held_out']}: " + _fmt(held))
    if "retained" in rep:
        print(f"the student keeps {100 * rep['retained']:.1f}% of the teacher's test score")
    tp = rep.get("throughput")
    if tp:
        print(f"throughput on {tp['split']}: teacher {tp['teacher']} {tp['unit']}, student {tp['student']} "
              f"({tp['speedup']}×); parameters {rep['parameters']['teacher'] / 1e6:.1f}M → "
              f"{rep['parameters']['student'] / 1e6:.1f}M")
