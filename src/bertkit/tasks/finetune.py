"""`bertkit finetune` and `bertkit predict`: read the files, build the model, train, evaluate, write.

    from bertkit.tasks.finetune import FinetuneArgs, finetune, PredictArgs, predict
    finetune(FinetuneArgs(task="classify", model="minilm", train="train.jsonl", dev="dev.jsonl", out="clf"))
    predict(PredictArgs(model="clf", input="new.jsonl", output="pred.jsonl"))

Input files are read (and checked) before anything is written; the output folder is built beside
`--out` and renamed into place at the end, so an error leaves no partial folder. The folder is a
Hugging Face folder (config.json with id2label/label2id, model.safetensors, tokenizer files) plus
metrics.jsonl, curves.png, and for a test file test_metrics.json (and confusion.png for classes).
The task options (max_length, windows, ...) are kept in config.json under "bertkit_task", so
`predict` uses them by default.
"""
from __future__ import annotations

import json
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

from .. import paths
from ..cliargs import arg as _arg
from ..data.readers import (STDIN, ClassExample, QAExample, ReaderError, check_labels, class_names,
                            label_kind, read_classification, read_conll, read_records, read_squad)

TASKS = ("classify", "ner", "qa")
# a folder fine-tuned for a task has an architecture that ends in the head class suffix
ARCH_SUFFIX = {"classify": "ForSequenceClassification", "ner": "ForTokenClassification",
               "qa": "ForQuestionAnswering"}


@dataclass
class FinetuneArgs:
    """Fine-tune a model folder (BERT, RoBERTa, DistilBERT, ALBERT or ELECTRA) on your files: text classification, NER or extractive QA. With no
    arguments: the demo, all-MiniLM-L6-v2 on Rotten Tomatoes sentences (a subset, one epoch; --full
    for the whole 3-epoch recipe)."""
    task: str = _arg("classify", "classify | ner | qa")
    model: str = _arg(str(paths.MINILM), "model folder to start from (Hugging Face layout)")
    train: str | None = _arg(None, "training file: CSV/TSV/JSONL (classify), CoNLL (ner), SQuAD JSON (qa)")
    dev: str | None = _arg(None, "evaluation file, same format; picks the best checkpoint")
    test: str | None = _arg(None, "optional test file, scored once with the best checkpoint")
    out: str | None = _arg(None, "output folder, written at the end in one step (default: ./finetuned; "
                                 "the demo writes $BERTKIT_CACHE/runs/rt-minilm)")
    epochs: float | None = _arg(None, "training epochs (default 3; the demo uses 1)")
    batch_size: int = _arg(32, "examples per batch (documents, for windowed classification)")
    grad_accum: int = _arg(1, "batches per optimizer step")
    lr: float = _arg(1e-4, "peak learning rate")
    warmup: float = _arg(0.1, "warmup: a fraction of the steps (< 1) or a number of steps")
    weight_decay: float = _arg(0.01, "AdamW weight decay (not on biases and LayerNorm)")
    max_length: int | None = _arg(None, "tokens per window (default 128, qa 384, or the model's positions if fewer; "
                                        "more than its max_position_embeddings is refused)")
    long: str = _arg("truncate", "classify: truncate | windows (slide over the whole text, pool the logits)")
    stride: int | None = _arg(None, "windows (classify --long windows, and ner sentences longer than "
                                    "--max-length): tokens shared by consecutive windows (default 32, or "
                                    "half a window when 32 does not fit)")
    pool: str = _arg("mean", "classify windows: mean | max pooling of window logits")
    problem_type: str | None = _arg(None, "classify: single_label_classification | multi_label_classification | "
                                          "regression (default: from the labels: lists are multi-label, numbers "
                                          "with a decimal point regression, names and whole numbers classes)",
                                    choices=("single_label_classification", "multi_label_classification",
                                             "regression"))
    crf: bool = _arg(False, "ner: a CRF layer on top of the softmax head (Viterbi decoding)")
    tag_column: int | None = _arg(None, "ner: the CoNLL column that holds the tags, counted from 1 (1 is the "
                                        "token), or -1 for the last (default: the last column)")
    doc_stride: int | None = _arg(None, "qa: tokens shared by consecutive context windows (default: a third "
                                        "of --max-length, at most 128: run_qa's 128 for 384-token windows)")
    max_query_length: int = _arg(64, "qa: questions longer than this many tokens are truncated (and counted)")
    max_answer_length: int = _arg(30, "qa: longest answer in tokens")
    null_threshold: float = _arg(0.0, "qa (SQuAD 2.0): answer '' when null score − best span > this")
    dtype: str = _arg("auto", "auto (bf16 autocast where it is faster than fp32 on this hardware), bf16, fp16 "
                      "(CUDA only, with a gradient scaler) or fp32", choices=("auto", "bf16", "fp16", "fp32"))
    fp32: bool = _arg(False, "the same as --dtype fp32")
    resume: bool = _arg(False, "continue the interrupted run of --out (its checkpoint is in <out>.partial) exactly "
                        "where it stopped; give the same options as the first time")
    save_every: int = _arg(0, "write a checkpoint every N optimizer steps (0 = at each evaluation: each epoch "
                           "or every --eval-every steps, with or without --dev); Ctrl-C and SIGTERM also write one")
    seed: int = _arg(42, "seed of the head initialisation, dropout and batch order")
    eval_every: int = _arg(0, "evaluate every N optimizer steps (0 = each epoch)")
    patience: int = _arg(0, "stop after N evaluations without improvement (0 = never)")
    limit: int | None = _arg(None, "use only the first N training examples (the demo uses 2000)")
    full: bool = _arg(False, "demo: the full recipe (all training data, 3 epochs)")
    quiet: bool = _arg(False, "no progress bar")


DEMO = {"train": paths.DATA / "rt" / "train.jsonl", "dev": paths.DATA / "rt" / "dev.jsonl",
        "test": paths.DATA / "rt" / "test.jsonl", "epochs": 1, "limit": 2000}


def _resolve(a: FinetuneArgs) -> FinetuneArgs:
    a = FinetuneArgs(**asdict(a))
    if a.task not in TASKS:
        raise ReaderError(f"--task {a.task!r}: use one of {', '.join(TASKS)}")
    if a.train is None:
        if a.task != "classify":
            raise ReaderError(f"--task {a.task} needs --train (and --dev) files")
        demo = not a.full
        a.train, a.dev = str(DEMO["train"]), a.dev or str(DEMO["dev"])
        a.test = a.test or str(DEMO["test"])
        if not Path(a.train).exists():
            raise ReaderError(f"{a.train}: the demo data is absent; run `make data`")
        a.out = a.out or str(paths.CACHE / "runs" / "rt-minilm")
        if demo:
            a.epochs = a.epochs if a.epochs is not None else DEMO["epochs"]
            a.limit = a.limit if a.limit is not None else DEMO["limit"]
    a.out = a.out or "finetuned"
    a.epochs = 3.0 if a.epochs is None else a.epochs
    if a.max_length is None:  # the default, within the model's positions
        a.max_length = min(384 if a.task == "qa" else 128, model_positions(a.model) or 512)
    else:
        check_max_length(a.max_length, a.model)
    if a.doc_stride is None:  # run_qa's 128 for its 384-token windows; shorter windows share less
        a.doc_stride = min(128, a.max_length // 3)
    if a.stride is None:
        a.stride = min(32, max(0, (a.max_length - 2) // 2))
    elif a.task == "classify" and a.long == "windows":  # checked before any file is read
        from .ner import check_window
        check_window(a.max_length, a.stride)
    return a


def model_positions(folder) -> int | None:
    """The most tokens one input may hold for the folder's model (max_position_embeddings; RoBERTa's
    positions start after the pad id), or None when config.json cannot be read (loading the model then
    fails later, with its own message)."""
    from ..registry import AutoConfig
    try:
        return AutoConfig.from_pretrained(folder).max_sequence_length
    except ValueError:
        return None


def check_max_length(max_length: int, folder, option: str = "--max-length") -> None:
    """Refuse a window longer than the model's position table (config.json max_position_embeddings),
    and one too short to hold [CLS], [SEP] and a token. Raises ConfigError."""
    from ..errors import ConfigError
    if isinstance(max_length, bool) or not isinstance(max_length, int) or max_length < 3:
        raise ConfigError(f"{option} {max_length!r}: a window needs [CLS], [SEP] and at least one token; "
                          f"use {option} 3 or more")
    limit = model_positions(folder)
    if limit is not None and max_length > limit:
        raise ConfigError(f"{option} {max_length}: the model at {folder} reads at most {limit} tokens "
                          f"(max_position_embeddings); use {option} {limit} or less")


def load_tokenizer(folder, task: str | None = None):
    """The folder's tokenizer (AutoTokenizer). For NER a byte-level BPE tokenizer gets add_prefix_space:
    NER reads words one by one, and each must be cut as a word inside a text is, after a space ("ĠLondon",
    not "London"), as `transformers`' run_ner loads RoBERTa's tokenizer."""
    from ..tokenization import RobertaTokenizer
    from ..tokenization.auto import tokenizer_class_for
    cls = tokenizer_class_for(folder)
    byte_level = issubclass(cls, RobertaTokenizer)
    return cls.from_pretrained(folder, **({"add_prefix_space": True} if task == "ner" and byte_level else {}))


def finetune(a: FinetuneArgs, tokenizer=None, hooks=None) -> dict:
    """Train and write the output folder; return the summary (with test metrics when --test is given).

    `hooks` (distillation's, tasks/distill.py) may change the run: `before_read(task)` (fixed labels),
    `after_read(task)` once the files are read, `setup(task, tok, device, dtype)` → (module to train, objective, batches, evaluate),
    `options()` → more options a --resume must repeat, `finish(task, folder, summary)` before the commit."""
    import torch

    from ..train.optim import OptimConfig
    from ..train.trainer import OutputFolder, TrainConfig, train

    from ..train.precision import resolve_dtype
    a = _resolve(a)  # checks --max-length against the model's positions
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    dtype = resolve_dtype("fp32" if a.fp32 else a.dtype, device)  # fp16 without CUDA: said before any work
    OutputFolder.check(a.out, a.resume)  # --resume without a checkpoint (or a new run over one): the same
    task = {"classify": _Classify, "ner": _Ner, "qa": _QA}[a.task](a)
    if hooks is not None:
        hooks.before_read(task)
    task.read()  # every input file is checked before anything is written
    if hooks is not None:
        hooks.after_read(task)
    tok = tokenizer or load_tokenizer(a.model, a.task)
    torch.manual_seed(a.seed)  # the fresh head's initialisation
    from contextlib import nullcontext

    from ..checkpoint import loading_quietly
    # on --resume the weights come from the checkpoint: the folder's "initialised fresh" notes were the first run's
    with loading_quietly() if a.resume else nullcontext():
        task.build(tok)
    task.module.to(device)
    module, objective, batches = task.module, None, task.batches
    evaluate = task.evaluate if task.dev else None
    if hooks is not None:
        module, objective, batches, evaluate = hooks.setup(task, tok, device, dtype)
    optim = OptimConfig(lr=a.lr, weight_decay=a.weight_decay, warmup=a.warmup)
    cfg = TrainConfig(out=a.out, epochs=a.epochs, grad_accum=a.grad_accum, dtype=dtype,
                      seed=a.seed, eval_every=a.eval_every, metric=task.metric, greater_is_better=True,
                      patience=a.patience, progress=not a.quiet, resume=a.resume, save_every=a.save_every,
                      options={**_run_options(a), **(hooks.options() if hooks is not None else {})})
    folder = OutputFolder(a.out, resume=a.resume)
    try:
        summary = train(module, batches, evaluate, lambda m, d: task.save(tok, d), optim, cfg, folder=folder,
                        objective=objective)
        summary.update(getattr(task, "notes", {}))
        if task.test:
            from ..train.precision import autocast
            with torch.no_grad(), autocast(device, dtype):
                result = task.evaluate(task.module, split="test", folder=folder.tmp)
            (folder.tmp / "test_metrics.json").write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
            summary["test"] = {k: v for k, v in result.items() if isinstance(v, (int, float))}
        if hooks is not None:
            hooks.finish(task, folder.tmp, summary)
        folder.commit()
    except BaseException:
        folder.discard()
        raise
    summary["out"] = str(a.out)
    return summary


def _run_options(a: FinetuneArgs) -> dict:
    """The options besides the trainer's that shape a run (files, model, batches, task options): a --resume
    must give the same. Paths are compared absolute; --test, --out, --quiet and --save-every may change."""
    skip = {"out", "resume", "save_every", "quiet", "test", "full", "fp32", "dtype", "epochs", "grad_accum", "lr",
            "warmup", "weight_decay", "seed", "eval_every", "patience"}  # the last ones: TrainConfig/OptimConfig
    opts = {k: v for k, v in asdict(a).items() if k not in skip}
    for k in ("model", "train", "dev"):
        if opts[k] is not None:
            opts[k] = str(Path(opts[k]).absolute())
    return opts


# -- the three tasks: read, build, batches, evaluate, save -----------------------------------------------

class _Task:
    metric = "loss"

    def __init__(self, a: FinetuneArgs):
        self.a = a
        self.dev = self.test = None
        # labels fixed from outside (a distillation teacher's, in id order) instead of the training file's;
        # every file is then checked against them, `fixed_labels_name` saying whose they are
        self.fixed_labels: list[str] | None = None
        self.fixed_labels_name = "the training labels"

    def _limit(self, xs):
        return xs[:self.a.limit] if self.a.limit else xs

    def _options(self) -> dict:
        return {}

    def save(self, tok, folder) -> None:
        model = self.module.model if hasattr(self.module, "model") else self.module
        model.config.extra["bertkit_task"] = {"task": self.a.task, **self._options()}
        model.save_pretrained(folder)
        tok.save_pretrained(folder)


class _Classify(_Task):
    def read(self):
        a = self.a
        self.train = self._limit(read_classification(a.train, problem_type=a.problem_type))
        self.kind = label_kind(self.train, a.train)
        self.pair = self.train[0].text_pair is not None if self.train else False
        check_pairs(self.train, a.train, self.pair, f"the first example of {a.train} has")
        self.label2id = None
        if self.kind != "regression":
            names = self.fixed_labels or class_names(self.train, a.train)
            self.label2id = {n: i for i, n in enumerate(names)}
            if self.fixed_labels:
                check_labels(self.train, self.label2id, a.train, self.fixed_labels_name)
        for attr in ("dev", "test"):
            path = getattr(a, attr)
            if path:
                xs = read_classification(path, problem_type=self.kind)  # read as the training labels are
                check_pairs(xs, path, self.pair, f"the training file {a.train} has")
                if self.label2id:
                    check_labels(xs, self.label2id, path, self.fixed_labels_name)
                setattr(self, attr, xs)
        from .classification import main_metric
        self.metric = main_metric(self.kind)[0]

    def _options(self):
        from .classification import ClassifyOptions
        return asdict(ClassifyOptions(self.a.max_length, self.a.long, self.a.stride, self.a.pool, self.pair))

    def build(self, tok):
        from ..registry import AutoModelForSequenceClassification
        from .classification import ClassifyOptions, WindowClassifier, encode, label_tensor
        a = self.a
        for split in ("train", "dev", "test"):  # before the model is loaded
            if getattr(self, split):
                check_pair_room(tok, getattr(self, split), getattr(a, split), ClassifyOptions(**self._options()))
        if self.label2id:
            over = dict(id2label={i: n for n, i in self.label2id.items()}, label2id=self.label2id)
        else:
            over = dict(id2label={0: "LABEL_0"}, label2id={"LABEL_0": 0})
        model = AutoModelForSequenceClassification.from_pretrained(a.model, problem_type=self.kind, **over)
        self.module = WindowClassifier(model, a.pool)
        self.opts = ClassifyOptions(**self._options())
        self.tok = tok
        self.data = {}
        for split in ("train", "dev", "test"):
            xs = getattr(self, split)
            if xs:
                self.data[split] = (xs, encode(tok, xs, self.opts), label_tensor(xs, self.label2id, self.kind))

    def batches(self, epoch, gen):
        from .classification import make_batches
        _, feats, labels = self.data["train"]
        return make_batches(feats, labels, self.a.batch_size, self.tok.pad_token_id, gen)

    def evaluate(self, module, split="dev", folder=None):
        from .classification import (classification_loss, doc_logits, make_batches, metrics,
                                     plot_confusion)
        xs, feats, labels = self.data[split]
        batches = make_batches(feats, labels, self.a.batch_size * 2, self.tok.pad_token_id, None)
        logits = doc_logits(module, batches, len(xs))
        out = metrics(logits, labels, self.kind, module.config.id2label)
        out["loss"] = float(classification_loss(logits, labels, self.kind))
        if folder is not None and "confusion" in out:
            names = [module.config.id2label[i] for i in range(len(module.config.id2label))]
            plot_confusion(out["confusion"], names, Path(folder) / "confusion.png")
        return out


class _Ner(_Task):
    metric = "f1"

    def read(self):
        from .ner import check_scheme, check_window, detect_scheme, label_list, word_unit, word_unit_note
        a = self.a
        check_window(a.max_length, a.stride)
        self.train = self._limit(read_conll(a.train, tag_column=a.tag_column))
        self.labels = self.fixed_labels or label_list(self.train)
        if self.labels == ["O"]:
            raise ReaderError(f"{a.train}: every tag is O, no entity to learn; tag the entities (B-PER, I-PER, "
                              "...), or check --tag-column")
        self.label2id = {t: i for i, t in enumerate(self.labels)}
        self.scheme = detect_scheme(self.train, a.train)
        self.words = word_unit(self.train)
        note = word_unit_note(self.train, a.train) if self.words == "tokenizer" else None
        if note:
            print(f"bertkit finetune: note: {note}", file=sys.stderr)
        known = "the training tags" if self.fixed_labels is None else self.fixed_labels_name.replace("labels", "tags")
        for attr in (("train", "dev", "test") if self.fixed_labels else ("dev", "test")):
            path = getattr(a, attr)
            if path:
                xs = self.train if attr == "train" else read_conll(path, tag_column=a.tag_column)
                for e in xs:
                    for k, t in enumerate(e.tags):
                        if t not in self.label2id:
                            raise ReaderError(f"{path}:{e.line + k}: field 'tag': {t!r} is not one of "
                                              f"{known} ({', '.join(self.labels)})")
                if attr != "train":
                    check_scheme(xs, self.scheme, path)
                    setattr(self, attr, xs)

    def _options(self):
        return {"max_length": self.a.max_length, "stride": self.a.stride, "scheme": self.scheme,
                "crf": self.a.crf, "words": self.words}

    def build(self, tok):
        from ..registry import AutoModelForTokenClassification
        from .ner import NerOptions, Tagger, encode
        self.tok = tok
        self.opts = NerOptions(self.a.max_length, self.a.stride, self.scheme, self.words)
        self.data = {s: (getattr(self, s), encode(tok, getattr(self, s), self.opts, self.label2id))
                     for s in ("train", "dev", "test") if getattr(self, s)}
        model = AutoModelForTokenClassification.from_pretrained(
            self.a.model, id2label=dict(enumerate(self.labels)), label2id=self.label2id)
        self.module = Tagger(model, crf=self.a.crf)

    def batches(self, epoch, gen):
        from .ner import make_batches
        return make_batches(self.data["train"][1], self.a.batch_size, self.tok.pad_token_id, gen)

    def evaluate(self, module, split="dev", folder=None):
        from .ner import evaluate, predict_tags
        xs, feats = self.data[split]
        pred = predict_tags(module, feats, self.a.batch_size * 2, self.tok.pad_token_id, module.config.id2label)
        return evaluate([e.tags for e in xs], pred, self.scheme)

    def save(self, tok, folder):
        from .ner import save_crf
        super().save(tok, folder)
        save_crf(self.module, folder)


class _QA(_Task):
    metric = "f1"

    def read(self):
        a = self.a
        self.train = self._limit(read_squad(a.train))
        for attr in ("dev", "test"):
            if getattr(a, attr):
                setattr(self, attr, read_squad(getattr(a, attr)))
        self.v2 = any(e.is_impossible for e in self.train)

    def _options(self):
        from .qa import QAOptions
        return asdict(QAOptions(self.a.max_length, self.a.doc_stride, self.a.max_answer_length,
                                null_threshold=self.a.null_threshold, version_2=self.v2,
                                max_query_length=self.a.max_query_length))

    def build(self, tok):
        from ..registry import AutoModelForQuestionAnswering
        from .qa import QAOptions, encode, truncation_note
        self.tok = tok
        self.opts = QAOptions(**self._options())
        self.data, counts = {}, {}
        for s in ("train", "dev", "test"):  # the limits are checked here, before the model is loaded
            if getattr(self, s):
                stats = {}
                feats = encode(tok, getattr(self, s), self.opts, train=s == "train", stats=stats,
                               path=getattr(self.a, s))
                self.data[s] = (getattr(self, s), feats)
                counts[s] = stats["truncated_questions"]
        self.notes = {"truncated_questions": counts}
        note = truncation_note(counts, self.opts.max_query_length)
        if note:
            print(note, file=sys.stderr)
        self.module = AutoModelForQuestionAnswering.from_pretrained(self.a.model)

    def batches(self, epoch, gen):
        from .qa import make_batches
        return make_batches(self.data["train"][1], self.a.batch_size, self.tok.pad_token_id, gen, train=True,
                            index=getattr(self, "index", False))

    def evaluate(self, module, split="dev", folder=None):
        from .qa import logits_for, postprocess, squad_metrics
        xs, feats = self.data[split]
        s, e = logits_for(module, feats, self.a.batch_size * 2, self.tok.pad_token_id)
        preds = postprocess(xs, feats, s, e, self.opts)
        return squad_metrics(xs, [p["answer"] for p in preds])


# -- predict ----------------------------------------------------------------------------------------------

@dataclass
class PredictArgs:
    """Predict with a fine-tuned folder; writes JSONL: labels with scores, entity spans with character
    offsets, or answers with scores."""
    model: str = _arg("finetuned", "fine-tuned model folder")
    input: str = _arg("-", "file (CSV/TSV/JSONL/.txt with one text per line; CoNLL too for ner; SQuAD JSON or "
                           "JSONL for qa) or - for stdin (JSON lines with 'text', or one text per line). A "
                           "character-level ner model (trained on a CoNLL file of single characters, as for "
                           "Chinese) cuts raw text into characters and joins a CoNLL input without spaces")
    output: str = _arg("-", "JSONL file to write, or - for stdout")
    task: str | None = _arg(None, "classify | ner | qa (default: from the folder's config.json)")
    batch_size: int = _arg(32, "examples per forward pass")
    bf16: bool = _arg(False, "bf16 autocast")
    tag_column: int | None = _arg(None, "ner CoNLL input with tags: their column, counted from 1 (1 is the "
                                        "token), or -1 for the last (default: the last column)")
    explain: str | None = _arg(None, "classify: ig | rollout, add 'attributions' (token, start, end, score per "
                                     "token, for the predicted label; see bertkit explain) to each row; texts "
                                     "past max_length are explained on their first window")
    engine: str = _arg("torch", "torch (the PyTorch model) or onnx (an exported file through onnxruntime, see "
                                "bertkit export)")
    onnx: str | None = _arg(None, "--engine onnx: the exported file (default: <model>/model.onnx)")


def _stdin_rows(source: str, required=("text",)) -> list[dict]:
    """The rows of a predict input (a file by its extension, or "-" for stdin), each with the `required`
    fields: the readers training uses (data.readers.read_records)."""
    return [row for _, row in read_records(source, required)]


def _task_of(folder: Path) -> tuple[str | None, dict]:
    """The task a folder was fine-tuned for (config.json "bertkit_task", else its architecture) and the
    saved task options (empty unless "bertkit_task" names the task). config.json is read by
    AutoConfig (ConfigError, one line, for a file that is not valid JSON or a model_type bertkit does not read)."""
    from ..registry import AutoConfig
    cfg = AutoConfig.from_pretrained(folder / "config.json")
    saved = cfg.extra.get("bertkit_task")
    opts = dict(saved) if isinstance(saved, dict) else {}
    task = opts.pop("task", None)
    if task not in TASKS:
        arch = (cfg.architectures or [""])[0]
        task, opts = next((t for t, suffix in ARCH_SUFFIX.items() if arch.endswith(suffix)), None), {}
    return task, opts


def resolve_task(folder: Path, task: str | None = None) -> tuple[str, dict]:
    """The task to predict with (`task`, else the folder's) and the folder's saved task options, checked:
    ReaderError for a folder without config.json or whose task cannot be told, ConfigError for a `task`
    that is not one of TASKS or that the folder was not fine-tuned for, or a saved max_length the model
    cannot hold."""
    from ..errors import ConfigError
    folder = Path(folder)
    if not (folder / "config.json").exists():
        raise ReaderError(f"{folder}: not a model folder (no config.json)")
    if task is not None and task not in TASKS:
        raise ConfigError(f"--task {task!r}: use one of {', '.join(TASKS)}")
    saved, opts = _task_of(folder)
    if task and saved and task != saved:
        raise ConfigError(f"--task {task}: {folder} was fine-tuned for {saved}; leave --task out or give a "
                          f"folder fine-tuned for {task}")
    task = task or saved
    if task not in TASKS:
        raise ReaderError(f"{folder}: cannot tell the task from config.json; give --task classify|ner|qa")
    if "max_length" in opts:
        check_max_length(opts["max_length"], folder, f"max_length (in {folder / 'config.json'}, bertkit_task)")
    return task, opts


HEADS = {"classify": "classifier head", "ner": "token-classification head", "qa": "question-answering head"}


def _trained(folder: Path, task: str):
    """The folder's model with the task's head (its family's class); a ConfigError naming the folder and the tensors when its head (or pooler)
    is not in the folder's weights (it would predict from random weights)."""
    from ..errors import ConfigError
    from .. import registry
    auto = {"classify": registry.AutoModelForSequenceClassification, "ner": registry.AutoModelForTokenClassification,
            "qa": registry.AutoModelForQuestionAnswering}[task]
    fresh: list = []
    model = auto.from_pretrained(folder, fresh=fresh)
    if fresh:
        raise ConfigError(f"{folder}: holds no trained {HEADS[task]} ({', '.join(fresh)}); fine-tune it first "
                          f"with bertkit finetune --task {task}")
    return model


def _known(opts: dict, cls) -> dict:
    """The saved options that `cls` (a dataclass of task options) takes."""
    from dataclasses import fields
    names = {f.name for f in fields(cls)}
    return {k: v for k, v in opts.items() if k in names}


def check_pairs(xs, path, pair: bool, why: str) -> None:
    """Every example of `xs` (read from `path`) has a text_pair when `pair`, none otherwise; else a
    ReaderError naming file:line (`why` says where the expectation comes from)."""
    for i, x in enumerate(xs):
        if (x.text_pair is not None) != pair:
            name = STDIN if str(path) == "-" else path
            at = f"{name}:{x.line}" if x.line else f"{name}: example {i + 1}"
            if pair:
                raise ReaderError(f"{at}: field 'text_pair' is missing, but {why} sentence pairs (text + "
                                  "text_pair); give text_pair on every row")
            raise ReaderError(f"{at}: field 'text_pair' is given, but {why} single texts (no text_pair); "
                              "remove text_pair, or use sentence pairs everywhere")


def check_pair_room(tok, xs, path, opts, model_folder=None) -> None:
    """With sentence pairs the text is what gets cut (truncation="only_first"), so the longest text_pair
    of `xs` (read from `path`) must leave room in a window of `opts.max_length` for 3 special tokens and
    one text token, or with --long windows for `opts.stride` + 1 (consecutive windows must move on).
    ConfigError naming the option (in training) or file:line (at predict, with `model_folder`, whose
    options are fixed) otherwise."""
    from ..errors import ConfigError
    pairs = [k for k, x in enumerate(xs) if x.text_pair is not None]
    if not pairs:
        return
    lengths = [len(ids) for ids in tok([xs[k].text_pair for k in pairs], add_special_tokens=False)["input_ids"]]
    j = max(range(len(pairs)), key=lambda k: lengths[k])
    n, x = lengths[j], xs[pairs[j]]
    windows = opts.long == "windows"
    need = opts.stride + 1 if windows else 1
    L = opts.max_length
    k = tok.num_special_tokens_to_add(pair=True)  # BERT's [CLS] A [SEP] B [SEP]: 3; RoBERTa's: 4
    room = L - k - n
    if room >= need:
        return
    name = STDIN if str(path) == "-" else path
    at = f"{name}:{x.line}" if x.line else f"{name}: example {pairs[j] + 1}"
    if model_folder is not None:
        what = f"max_length {L}" + (f" and stride {opts.stride}" if windows else "")
        raise ConfigError(f"{at}: field 'text_pair' has {n} tokens, but the model at {model_folder} ({what}) "
                          f"holds at most {L - k - need} beside {k} special tokens and {need} of the text; "
                          "shorten the text_pair")
    if windows and room >= 1:
        raise ConfigError(f"--stride {opts.stride}: a window of --max-length {L} holds {room} tokens of text beside "
                          f"{k} special tokens and the text_pair of {at} ({n} tokens); consecutive windows must "
                          f"move on, so use --stride {room - 1} or less (or a larger --max-length)")
    raise ConfigError(f"--max-length {L}: the text_pair of {at} has {n} tokens, which with {k} special tokens "
                      f"leaves no room for the text; use --max-length {n + k + need} or more")


def predict_rows(a: PredictArgs) -> list[dict]:
    """The rows `bertkit predict` writes: the input read and checked first, then the model loaded (on
    --engine) and run through the Predictor the server uses too (tasks/predictor.py)."""
    from .predictor import Predictor
    folder = Path(a.model)
    task, opts = resolve_task(folder, a.task)
    if a.explain is not None and task != "classify":
        from ..cliargs import OptionError
        raise OptionError(f"--explain {a.explain}: attributions are for classifiers; {folder} is a {task} "
                          "model: drop --explain")
    if a.engine == "onnx" and (a.bf16 or a.explain is not None):
        from ..cliargs import OptionError
        option = "--bf16" if a.bf16 else f"--explain {a.explain}"
        raise OptionError(f"{option}: the onnx engine runs the exported file as it is (no autocast, no gradients); "
                          f"drop {option.split()[0]} or use --engine torch")
    tok = load_tokenizer(folder, task)
    xs = _predict_inputs(a, task, tok, opts, folder)
    predictor = Predictor.load(folder, task, a.engine, a.onnx, a.bf16, tokenizer=tok)
    rows = predictor.predict(xs, a.batch_size, path=STDIN if a.input == "-" else a.input)
    if a.explain is not None:
        from ..viz.attribution import explain_rows
        max_length = predictor.classify_options().max_length
        cut = explain_rows(predictor.model, tok, xs, rows, a.explain, max_length)
        if cut:
            print(f"bertkit predict: {cut} text(s) longer than max_length {max_length}: their "
                  "attributions cover the first window only", file=sys.stderr)
    return rows


def _predict_inputs(a: PredictArgs, task: str, tok, opts: dict, folder: Path) -> list:
    """The examples of `a.input` for `task`, read and checked against the model's saved options:
    ClassExamples, NerExamples (a CoNLL file) or raw texts (ner), QAExamples."""
    suffix = Path(a.input).suffix.lower()
    if task == "classify":
        from .classification import ClassifyOptions
        xs = read_classification(a.input, require_label=False)
        if isinstance(opts.get("pair"), bool):
            check_pairs(xs, a.input, opts["pair"], f"the model at {folder} was fine-tuned on")
        check_pair_room(tok, xs, a.input, ClassifyOptions(**_known(opts, ClassifyOptions)), folder)
        return xs
    if task == "ner":
        if suffix in (".conll", ".bio", ".iob"):
            return read_conll(a.input, require_tags=False, tag_column=a.tag_column)
        return [r.get("text", "") for r in _stdin_rows(a.input)]
    if suffix == ".json":
        return read_squad(a.input)
    xs, seen = [], {}
    name = STDIN if a.input == "-" else a.input
    for i, (line, r) in enumerate(read_records(a.input, ("question", "context"))):
        for field in ("question", "context"):
            if not isinstance(r[field], str):
                raise ReaderError(f"{name}:{line}: field {field!r} must be a string, "
                                  f"got {type(r[field]).__name__}")
        qid = str(r["id"]) if r.get("id") is not None else str(i)
        if qid in seen:
            raise ReaderError(f"{name}:{line}: field 'id': {qid!r} is also the id of the question at "
                              f"{name}:{seen[qid]}; give every question its own id")
        seen[qid] = line
        xs.append(QAExample(qid, r["question"], r["context"], line=line))
    return xs


def predict_cli(a: PredictArgs) -> None:
    from ..io import atomic_path
    rows = predict_rows(a)
    text = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
    if a.output == "-":
        sys.stdout.write(text)
    else:
        with atomic_path(a.output) as tmp:
            tmp.write_text(text, encoding="utf-8")
        print(f"wrote {len(rows)} predictions to {a.output}", file=sys.stderr)


def finetune_cli(a: FinetuneArgs) -> None:
    demo = a.train is None
    summary = finetune(a)
    chosen = (f"best {summary.get('best_step')} of {summary['steps']} steps" if (a.dev or demo) else
              f"{summary['steps']} steps, the final weights: no --dev to choose by")
    print(f"wrote {summary['out']} ({chosen}, {summary['elapsed_s']} s)")
    test = summary.get("test")
    if test:
        print("test: " + ", ".join(f"{k} {v:.4f}" for k, v in test.items() if not k.endswith("total")))
        report = json.loads((Path(summary["out"]) / "test_metrics.json").read_text(encoding="utf-8")).get("report")
        if report:
            from .classification import format_report
            print(format_report({"report": report}))
    if demo:
        samples = ["A gorgeous, witty and deeply moving film.", "Tedious, predictable and far too long.",
                   "The actors try hard, but the script gives them nothing to do."]
        from ..registry import AutoModelForSequenceClassification
        from .classification import ClassifyOptions, predict as cpredict
        folder = summary["out"]
        model = AutoModelForSequenceClassification.from_pretrained(folder)
        preds = cpredict(model, load_tokenizer(folder), [ClassExample(s) for s in samples], ClassifyOptions())
        print("\npredictions:")
        for s, p in zip(samples, preds):
            print(f"  {p['label']:>8} {p['score']:.3f}  {s}")
        if test and "accuracy" in test:
            print(f"\ntest accuracy: {100 * test['accuracy']:.1f}%")
