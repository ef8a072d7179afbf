"""Fine-tuning on the one loop (train/loop.py). It knows nothing of BERT: a model is any nn.Module whose
output has `.loss` when called as `model(**batch)`; batches come from a function of the epoch; evaluation
is a function returning a dict of metrics.

    optimizer  AdamW, no weight decay on biases and LayerNorm (train/optim.py)
    schedule   warmup, then linear (or cosine) decay, per optimizer step
    steps      gradient accumulation over `grad_accum` batches, clipped to `max_grad_norm`
    precision  bf16 autocast where it is faster than fp32 on this hardware (or as `dtype` says; fp16 with
               a gradient scaler on CUDA); fp32 master weights
    evaluation every epoch, or every `eval_every` optimizer steps
    best       the weights with the best `metric` are kept and restored at the end; `patience`
               evaluations without improvement stop the run early
    output     `out/` is built in `<out>.partial` beside it and renamed into place at the end, so an
               error never leaves a half-written output: it holds whatever `save(model, folder)` writes,
               metrics.jsonl (one JSON object per log line) and curves.png (training curves)
    resume     a checkpoint in `<out>.partial` after each evaluation (or every `save_every` steps) and on
               SIGINT/SIGTERM; `resume=True` continues from it exactly (bitwise in fp32 on a CPU)

Randomness is explicit: `seed` seeds a torch.Generator handed to `batches(epoch, generator)`, and the
global torch RNG (which dropout draws from) is seeded once at the start; both are in the checkpoint.
"""
from __future__ import annotations

import errno
import json
import math
import os
import shutil
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable, Sequence

import torch
from torch import nn

from ..errors import TrainError
from ..io import check_replaceable, replace_dir, writing
from .loop import (BestWeights, Callback, CheckpointIO, Loop, LoopConfig, MetricsLog, StepBatches,
                   read_metrics)
from .objectives.task import TaskObjective
from .optim import OptimConfig, make_optimizer, make_scheduler
from .precision import bf16_supported, resolve_dtype

CHECKPOINT = "checkpoint.pt"


@dataclass
class TrainConfig:
    out: str = "finetuned"
    epochs: float = 3.0
    grad_accum: int = 1
    bf16: bool | None = None  # autocast to bfloat16; None = where it is faster than fp32 (bf16_pays)
    seed: int = 42
    eval_every: int = 0  # optimizer steps between evaluations; 0 = once per epoch
    metric: str = "loss"  # the key of the evaluate() dict that picks the best weights
    greater_is_better: bool = True
    patience: int = 0  # evaluations without improvement before stopping; 0 = never stop early
    max_grad_norm: float = 1.0
    log_every: int = 10  # optimizer steps between training-loss lines in metrics.jsonl
    progress: bool = True
    dtype: str = "auto"  # auto, bf16, fp16 (CUDA), fp32; `bf16` (when not None) decides under auto
    resume: bool = False  # continue the interrupted run in <out>.partial exactly
    save_every: int = 0  # optimizer steps between checkpoints; 0 = after each evaluation
    options: dict | None = None  # the caller's own options that shape the run (files, batch size...): resume checks them


class OutputFolder:
    """The run's working folder `<out>.partial` beside `out`, renamed onto it by `commit()`.

    It holds the checkpoint while the run goes (so `--resume` finds it after a crash or a signal) and the
    outputs as they are written; `discard()` removes it unless it holds a checkpoint to resume from."""

    def __init__(self, out: str | os.PathLike, resume: bool = False):
        self.out = Path(out)
        self.tmp = partial_dir(self.out)
        self.check(out, resume)
        if not resume:
            shutil.rmtree(self.tmp, ignore_errors=True)  # a leftover without a checkpoint: nothing to keep
            with writing(self.out):
                if self.out.exists() and not self.out.is_dir():
                    raise FileExistsError(errno.EEXIST, "a file of that name exists", str(self.out))
                self.tmp.mkdir(parents=True)

    @staticmethod
    def check(out: str | os.PathLike, resume: bool = False) -> None:
        """Raise, before any work, what creating the folder would: TrainError when `resume` finds no
        checkpoint in `<out>.partial`, or when a new run would overwrite one there; OptionError when `out`
        is someone's folder (io.check_replaceable). Writes nothing."""
        ckpt = partial_dir(out) / CHECKPOINT
        if resume and not ckpt.is_file():
            raise TrainError(f"--resume: {ckpt} does not exist, so there is no interrupted run of --out "
                             f"{out} to continue; start without --resume")
        if not resume:
            if ckpt.exists():
                raise TrainError(f"{ckpt.parent} holds an interrupted run (checkpoint.pt); continue it with "
                                 "--resume, or delete that folder to start over")
            check_replaceable(out)

    def writing(self):
        """A context in which a failed write (OSError) is a WriteError naming the output folder."""
        return writing(self.out)

    def commit(self) -> Path:
        """Rename the working folder onto `out` (an old `out` is replaced) without its checkpoint; WriteError
        if that fails."""
        (self.tmp / CHECKPOINT).unlink(missing_ok=True)
        return replace_dir(self.tmp, self.out)

    def discard(self) -> None:
        """Remove the working folder, unless it holds a checkpoint: then `--resume` continues from it."""
        if not (self.tmp / CHECKPOINT).exists():
            shutil.rmtree(self.tmp, ignore_errors=True)

    def __enter__(self) -> "OutputFolder":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is not None:
            self.discard()


def partial_dir(out: str | os.PathLike) -> Path:
    """`<out>.partial`: where a fine-tuning run works until it is complete."""
    out = Path(out).absolute()
    return out.with_name(out.name + ".partial")


class EpochSource:
    """Fine-tuning's batches: `batches(epoch, generator)` gives an epoch's batches (shuffled by the
    generator), `accum` consecutive ones make an optimizer step (the last step of an epoch may take fewer).
    Its position is (epoch, index) plus the generator's state at the start of the epoch, so a resumed run
    draws the same permutation again."""

    def __init__(self, batches: Callable[[int, torch.Generator], Sequence[dict]], accum: int, seed: int):
        self.fn, self.accum = batches, accum
        self.gen = torch.Generator().manual_seed(seed)
        self.epoch, self.index = 0, 0
        self.gen_state = self.gen.get_state()
        self.current = batches(0, self.gen)
        self.per_epoch = math.ceil(len(self.current) / accum)

    def next_step(self) -> StepBatches:
        if self.index >= len(self.current):
            self.epoch, self.index = self.epoch + 1, 0
            self.gen_state = self.gen.get_state()
            self.current = self.fn(self.epoch, self.gen)
        group = list(self.current[self.index:self.index + self.accum])
        self.index += len(group)
        done = self.epoch * self.per_epoch + math.ceil(self.index / self.accum)
        return StepBatches(group, done / self.per_epoch, self.index >= len(self.current))

    def state_dict(self) -> dict:
        return {"epoch": self.epoch, "index": self.index, "gen_state": self.gen_state}

    def load_state_dict(self, state: dict) -> None:
        self.epoch, self.index = int(state["epoch"]), int(state["index"])
        self.gen_state = state["gen_state"]
        self.gen.set_state(self.gen_state)
        self.current = self.fn(self.epoch, self.gen)


class EvaluateAndKeepBest(Callback):
    """Fine-tuning's evaluation: every epoch (or every `eval_every` steps, and once at the end), log the
    metrics, keep the weights with the best `metric`, stop after `patience` evaluations without
    improvement. After an evaluation (or where one would be, without an `evaluate`) the loop writes a
    checkpoint when `save_every` is 0."""

    name = "best"

    def __init__(self, evaluate, cfg: TrainConfig, log: MetricsLog):
        self.evaluate, self.cfg, self.log = evaluate, cfg, log
        self.best = BestWeights(cfg.greater_is_better)

    def _due(self, loop: Loop) -> bool:
        if self.cfg.eval_every:
            return loop.step % self.cfg.eval_every == 0 or loop.step >= loop.cfg.steps
        return loop.epoch_end or loop.step >= loop.cfg.steps

    def on_start(self, loop: Loop) -> None:
        if self.cfg.patience and self.best.bad_evals >= self.cfg.patience:
            loop.stop_reason = "early_stop"  # resumed from the checkpoint of a run that had stopped early

    def on_step_end(self, loop: Loop, metrics: dict) -> None:
        if not self._due(loop):
            return
        if not self.cfg.save_every:
            loop.save_now = True  # after each evaluation, or where one would be when there is no dev set
        if self.evaluate is None:
            return
        model = loop.model
        model.eval()
        with torch.no_grad(), loop.autocast():
            result = self.evaluate(model)
        model.train()
        score = result.get(self.cfg.metric)
        if score is None:
            raise KeyError(f"evaluate() returned no {self.cfg.metric!r} (it returned {', '.join(result)})")
        improved = self.best.offer(score, loop.step, model)
        self.log.write({"event": "eval", "step": loop.step, "epoch": round(loop.epoch, 4), **_scalars(result),
                        "best": improved})
        loop.bar.write(f"eval step {loop.step} (epoch {loop.epoch:.2f}): "
                       + ", ".join(f"{k} {v:.4f}" for k, v in _scalars(result).items()) + (" *" if improved else ""))
        if self.cfg.patience and self.best.bad_evals >= self.cfg.patience and loop.step < loop.cfg.steps:
            loop.stop_reason = "early_stop"

    def state_dict(self) -> dict:
        return self.best.to_dict()

    def load_state_dict(self, state: dict) -> None:
        self.best.from_dict(state)


def _check_resume(ckpt: dict, path: Path, cfg: TrainConfig, optim: OptimConfig, total: int) -> None:
    """--resume continues the run the checkpoint was written by: the options that shape the run must match."""
    saved = json.loads(json.dumps(ckpt.get("run") or {}))  # both as JSON sees them: tuples are lists
    now = json.loads(json.dumps(_run_options(cfg, optim, total)))
    diff = [k for k in now if k in saved and saved[k] != now[k]]
    if diff:
        from ..errors import OptionError
        shown = {k: "total steps" if k == "total_steps" else "--" + k.removeprefix("optim.").replace("_", "-")
                 for k in diff}  # the command's option names
        parts = ", ".join(f"{shown[k]} {saved[k]!r} (this run: {now[k]!r})" for k in diff[:5])
        raise OptionError(f"--resume: the run in {path.parent} was started with {parts}; resume with the run's "
                          "own options, or start a new --out")


def _run_options(cfg: TrainConfig, optim: OptimConfig, total: int) -> dict:
    keep = {k: v for k, v in asdict(cfg).items()
            if k not in ("out", "resume", "progress", "log_every", "save_every", "options")}
    return {**keep, **(cfg.options or {}), **{f"optim.{k}": v for k, v in asdict(optim).items()},
            "total_steps": total}


def train(model: nn.Module, batches: Callable[[int, torch.Generator], Sequence[dict]],
          evaluate: Callable[[nn.Module], dict] | None, save: Callable[[nn.Module, Path], None],
          optim: OptimConfig, cfg: TrainConfig, folder: OutputFolder | None = None, objective=None) -> dict:
    """Fine-tune `model` on the one loop (train/loop.py), keep the best weights, write the output folder;
    return a summary dict.

    `batches(epoch, generator)` returns that epoch's batches (a sequence: its length sets the schedule).
    `evaluate(model)` returns metrics (higher or lower is better, as `cfg.greater_is_better` says).
    `save(model, folder)` writes the model (and tokenizer, labels...) into `folder`.
    If `folder` is given, the caller commits it (to add files after training); else it is committed here.
    `objective(model, batch) -> (loss, metrics)` is the head's own loss unless given (distillation's).
    With `cfg.resume`, the run continues from the checkpoint in the folder's `.partial` twin exactly.
    A SIGINT/SIGTERM writes a checkpoint there and raises SystemExit(128 + signal)."""
    torch.manual_seed(cfg.seed)
    device = next(model.parameters()).device
    dtype = _dtype_of(cfg, device)
    own_folder = folder is None
    folder = folder or OutputFolder(cfg.out, resume=cfg.resume)
    try:
        source = EpochSource(batches, cfg.grad_accum, cfg.seed)
        if source.per_epoch == 0:
            raise TrainError("no training batches: the training file holds no examples; check --train")
        total = max(1, math.ceil(source.per_epoch * cfg.epochs))
        opt = make_optimizer(model, optim)
        sched = make_scheduler(opt, optim, total)
        ckpt_io = CheckpointIO(folder.tmp / CHECKPOINT)
        resumed = ckpt_io.read() if cfg.resume else None
        if resumed is not None:
            _check_resume(resumed, ckpt_io.path, cfg, optim, total)
        log = MetricsLog(folder.tmp / "metrics.jsonl", cfg.log_every)
        best = EvaluateAndKeepBest(evaluate, cfg, log)
        loop = Loop(model, objective or TaskObjective(), source, opt, sched,
                    LoopConfig(steps=total, accum=cfg.grad_accum, max_grad_norm=cfg.max_grad_norm, dtype=dtype,
                               save_every=cfg.save_every, progress=cfg.progress),
                    device=device, callbacks=[log, best], checkpoint_io=ckpt_io,
                    extra_state={"run": _run_options(cfg, optim, total)})
        if resumed is not None:
            ckpt_io.load(loop, resumed)
        log.open(loop.step if resumed is not None else None)
        if resumed is None:
            log.write({"event": "config", "step": 0, "train": asdict(cfg), "optim": asdict(optim),
                       "total_steps": total, "steps_per_epoch": source.per_epoch, "dtype": dtype,
                       "bf16": dtype == "bf16"})
        t0 = time.time()
        try:
            loop.run()
        finally:
            log.close()
        if loop.stop_reason == "signal":
            print(f"stopped by signal {loop.signal} at step {loop.step}; checkpoint written in {folder.tmp}: "
                  "continue with --resume", file=sys.stderr)
            raise SystemExit(128 + int(loop.signal))
        if best.best.state is not None:
            model.load_state_dict(best.best.state)
        model.eval()
        summary = {"event": "done", "steps": loop.step, "best_step": best.best.step,
                   f"best_{cfg.metric}": best.best.score, "elapsed_s": round(time.time() - t0, 1),
                   "stopped_early": loop.stop_reason == "early_stop"}
        with writing(folder.out):
            with open(folder.tmp / "metrics.jsonl", "a", encoding="utf-8") as f:
                f.write(json.dumps(summary) + "\n")
            plot_curves(read_metrics(folder.tmp / "metrics.jsonl"), folder.tmp / "curves.png")
            save(model, folder.tmp)
        if own_folder:
            folder.commit()
        return summary
    except BaseException:
        folder.discard()
        raise


def _dtype_of(cfg: TrainConfig, device: torch.device) -> str:
    if cfg.dtype != "auto":
        return resolve_dtype(cfg.dtype, device)
    if cfg.bf16 is None:
        return resolve_dtype("auto", device)
    return "bf16" if cfg.bf16 and bf16_supported(device) else "fp32"


def _scalars(metrics: dict) -> dict:
    return {k: float(v) for k, v in metrics.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}


def plot_curves(history: list[dict], path: Path) -> None:
    """Training loss (left) and evaluation metrics (right) against the optimizer step."""
    from ..plots import pyplot, save
    plt = pyplot()

    train_rows = [r for r in history if r.get("event") == "train"]
    eval_rows = [r for r in history if r.get("event") == "eval"]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4))
    if train_rows:
        ax1.plot([r["step"] for r in train_rows], [r["loss"] for r in train_rows], label="train loss")
    if eval_rows:
        keys = [k for k in eval_rows[-1] if k not in ("event", "step", "epoch", "best") and not k.endswith("total")]
        for k in keys:
            if "loss" in k:
                ax1.plot([r["step"] for r in eval_rows], [r.get(k) for r in eval_rows], "o-", label=f"eval {k}")
            else:
                ax2.plot([r["step"] for r in eval_rows], [r.get(k) for r in eval_rows], "o-", label=k)
    ax1.set_xlabel("step")
    ax1.set_ylabel("loss")
    ax1.legend()
    ax2.set_xlabel("step")
    ax2.set_ylabel("metric")
    if ax2.lines:
        ax2.legend()
    fig.tight_layout()
    save(fig, path)
