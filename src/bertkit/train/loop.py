"""The one training loop. Fine-tuning, pretraining (every objective) and distillation run through it.

    source.next_step()  ─► this process's micro-batches of one optimizer step
    objective(model, b) ─► (loss, metrics) per micro-batch; loss / accum backward (fp16: through GradScaler)
                        ─► unscale, clip the global norm ─► optimizer ─► schedule
    callbacks           ─► log, evaluate, keep the best weights, stop early, plot (after every step)
    checkpoint          ─► every `save_every` steps, when a callback asks, on SIGINT/SIGTERM, at the end

It knows nothing of BERT. An *objective* turns a batch into a loss and metrics (train/objectives/); a
*source* gives each step's micro-batches and can say where it is (`state_dict`) so that a resumed run
reads the very batches the uninterrupted one would have; callbacks are small objects with hooks.

Exact resume: a checkpoint holds the model, optimizer, schedule, gradient scaler, every rank's torch RNG
(dropout), the source's position, the objective's RNG (ELECTRA's sampling) and each callback's state (the
best weights so far, the metric window being averaged). Loading it and running on gives, in fp32 on a CPU,
the same floats as the run that was never stopped.

Distributed: the caller wraps the model (DDP, or FSDP2 through train/distributed.py) and hands the wrapper
as `wrapped`; the loop runs forward and backward through it, skips DDP's all-reduce on all but the last
micro-batch, and averages logged metrics over ranks. Checkpoints are written by a `CheckpointIO`
(a torch.save file, or a torch.distributed.checkpoint folder for FSDP).
"""
from __future__ import annotations

import json
import math
import signal
import time
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, NamedTuple, Protocol

import torch
import torch.distributed as dist
from torch import nn

from ..errors import CheckpointError, TrainError
from ..io import atomic_write_text, save_torch, writing
from .precision import autocast

Tensor = torch.Tensor


# -- what the loop is given ------------------------------------------------------------------------------

class StepBatches(NamedTuple):
    micro: list[dict]  # this process's micro-batches of one optimizer step
    epoch: float  # epochs done once this step is taken (fractional)
    epoch_end: bool = False  # the step took the last batch of an epoch


class Source(Protocol):
    """The batches of a run, one optimizer step at a time, resumable."""

    def next_step(self) -> StepBatches: ...
    def state_dict(self) -> dict: ...
    def load_state_dict(self, state: dict) -> None: ...


class Objective(Protocol):
    """Turns one micro-batch into a loss (a scalar to minimise) and metrics (scalar tensors to log)."""

    def __call__(self, model: nn.Module, batch: dict) -> tuple[Tensor, dict[str, Tensor]]: ...


class Callback:
    """Hooks of the loop; each may read `loop` and set `loop.stop_reason` to end the run after this step,
    or `loop.save_now` to write a checkpoint after it. A callback with state (the best weights so far) puts
    it in `state_dict()` and it comes back through `load_state_dict()` on resume."""

    name = "callback"

    def on_start(self, loop: "Loop") -> None: ...
    def on_step_end(self, loop: "Loop", metrics: dict[str, float]) -> None: ...
    def on_end(self, loop: "Loop") -> None: ...

    def state_dict(self) -> dict:
        return {}

    def load_state_dict(self, state: dict) -> None:
        pass


@dataclass
class LoopConfig:
    steps: int  # optimizer steps of the whole run
    accum: int = 1  # each micro-batch's loss is divided by this before backward
    max_grad_norm: float = 1.0  # clip the global gradient norm (0 = no clipping)
    dtype: str = "fp32"  # fp32, bf16 (autocast) or fp16 (autocast + GradScaler; CUDA only): resolved already
    save_every: int = 0  # steps between checkpoints (0 = only when asked, on a signal and at the end)
    desc: str = "train"  # the progress bar's label
    progress: bool = True


# -- the loop --------------------------------------------------------------------------------------------

class Loop:
    """One run: `Loop(...).run()` trains from `start` (a loaded checkpoint or none) to `cfg.steps`.

    `model` is the bare module (its state is what is saved); `wrapped` the module forward runs through
    (DDP/FSDP; the model itself when alone). `checkpoint_io` writes and reads checkpoints (None: never)."""

    def __init__(self, model: nn.Module, objective: Objective, source: Source, optimizer: torch.optim.Optimizer,
                 scheduler, cfg: LoopConfig, *, device: torch.device, wrapped: nn.Module | None = None,
                 callbacks: Iterable[Callback] = (), checkpoint_io: "CheckpointIO | None" = None,
                 rank: int = 0, world: int = 1, extra_state: dict | None = None):
        self.model, self.objective, self.source = model, objective, source
        self.optimizer, self.scheduler, self.cfg = optimizer, scheduler, cfg
        self.device, self.wrapped = device, wrapped if wrapped is not None else model
        self.callbacks = list(callbacks)
        self.checkpoint_io = checkpoint_io
        self.rank, self.world = rank, world
        self.extra_state = extra_state or {}  # written into every checkpoint (the run's args, its config)
        self.scaler = torch.amp.GradScaler(device.type, enabled=cfg.dtype == "fp16")
        self.step = 0
        self.epoch = 0.0
        self.stop_reason: str | None = None  # set by a callback or a signal: stop after this step
        self.save_now = False  # set by a callback: checkpoint after this step
        self.last_batches: list[dict] = []  # the micro-batches of the step just taken (for meters)
        self.saved_step: int | None = None  # the step of the checkpoint on disk
        self.signal: int = 0
        self.bar = None

    # the state that makes a resumed run continue exactly
    def state_dict(self) -> dict:
        rngs = [torch.get_rng_state()]
        if self.world > 1:
            rngs = [None] * self.world
            dist.all_gather_object(rngs, torch.get_rng_state())
        return {"step": self.step, "epoch": self.epoch, "optimizer_scheduler": self.scheduler.state_dict(),
                "scaler": self.scaler.state_dict(), "rng": rngs, "world_size": self.world,
                "source": self.source.state_dict(), "objective": _state_of(self.objective),
                "callbacks": {cb.name: cb.state_dict() for cb in self.callbacks}, **self.extra_state}

    def load_state_dict(self, state: dict) -> None:
        """Restore the loop's part of a checkpoint (model and optimizer are the CheckpointIO's)."""
        self.step, self.epoch = int(state["step"]), float(state.get("epoch", 0.0))
        self.scheduler.load_state_dict(state["optimizer_scheduler"])
        if state.get("scaler"):
            self.scaler.load_state_dict(state["scaler"])
        self.source.load_state_dict(state["source"])
        if hasattr(self.objective, "load_state_dict"):
            self.objective.load_state_dict(state.get("objective") or {})
        saved = state.get("callbacks", {})
        for cb in self.callbacks:
            if cb.name in saved:
                cb.load_state_dict(saved[cb.name])
        if state.get("world_size") == self.world:
            torch.set_rng_state(state["rng"][self.rank])
        elif self.rank == 0:
            import sys
            print(f"resuming with {self.world} processes instead of {state.get('world_size')}: dropout is "
                  "reseeded", file=sys.stderr)
        self.saved_step = self.step

    def autocast(self):
        return autocast(self.device, self.cfg.dtype)

    def train_step(self, batches: StepBatches) -> dict[str, float]:
        """Forward and backward over the step's micro-batches, then one optimizer step; the metrics are
        the mean over the micro-batches (this process's)."""
        sums: dict[str, float] = {}
        n = len(batches.micro)
        for m, batch in enumerate(batches.micro):
            batch = {k: v.to(self.device) if isinstance(v, Tensor) else v for k, v in batch.items()}
            with self._grad_sync(last=m == n - 1):
                with self.autocast():
                    loss, metrics = self.objective(self.wrapped, batch)
                if loss is None:
                    raise TrainError("the model returned no loss: do the batches carry labels?")
                self.scaler.scale(loss.float() / self.cfg.accum).backward()
            for k, v in metrics.items():
                sums[k] = sums.get(k, 0.0) + float(v.detach() if isinstance(v, Tensor) else v)
        self.scaler.unscale_(self.optimizer)
        grad_norm = None
        if self.cfg.max_grad_norm:
            norm = torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.cfg.max_grad_norm)
            grad_norm = float(norm.full_tensor() if hasattr(norm, "full_tensor") else norm)  # FSDP: a DTensor
        lr = self.scheduler.get_last_lr()[0]
        self.scaler.step(self.optimizer)
        self.scaler.update()
        self.scheduler.step()
        self.optimizer.zero_grad(set_to_none=True)
        out = {k: v / n for k, v in sums.items()}
        out["lr"] = lr
        if grad_norm is not None:
            out["grad_norm"] = grad_norm
        return out

    def _grad_sync(self, last: bool):
        """Gradients are averaged over the processes on the step's last micro-batch only: DDP's no_sync(),
        FSDP2's set_requires_gradient_sync(False) for the others."""
        if self.world == 1:
            return nullcontext()
        if hasattr(self.wrapped, "set_requires_gradient_sync"):
            self.wrapped.set_requires_gradient_sync(last)
            return nullcontext()
        return nullcontext() if last or not hasattr(self.wrapped, "no_sync") else self.wrapped.no_sync()

    def save_checkpoint(self) -> None:
        if self.checkpoint_io is not None:
            self.checkpoint_io.save(self)
            self.saved_step = self.step

    def run(self) -> None:
        from tqdm.auto import tqdm
        self.bar = tqdm(total=self.cfg.steps, initial=self.step, desc=self.cfg.desc, unit="step",
                        dynamic_ncols=True, disable=self.rank != 0 or not self.cfg.progress)
        stop = _Signals()
        try:
            for cb in self.callbacks:
                cb.on_start(self)
            self.model.train()
            while self.step < self.cfg.steps and self.stop_reason is None:
                batches = self.source.next_step()
                self.last_batches = batches.micro
                metrics = self.train_step(batches)
                self.step += 1
                self.epoch = batches.epoch
                self.bar.update(1)
                self.epoch_end = batches.epoch_end
                for cb in self.callbacks:
                    cb.on_step_end(self, metrics)
                signalled = _any_rank(stop.flag, self.world)
                if signalled:
                    self.signal = stop.signum or signal.SIGTERM
                    self.stop_reason = self.stop_reason or "signal"
                due = self.cfg.save_every and self.step % self.cfg.save_every == 0
                if due or self.save_now or signalled or (self.step >= self.cfg.steps):
                    self.save_checkpoint()
                    self.save_now = False
            if self.stop_reason not in (None, "signal"):
                self.save_checkpoint()  # an early stop: the state it stopped in
            for cb in self.callbacks:
                cb.on_end(self)
        finally:
            stop.restore()
            self.bar.close()


def _state_of(obj) -> dict:
    return obj.state_dict() if hasattr(obj, "state_dict") else {}


def _any_rank(flag: bool, world: int) -> bool:
    if world == 1:
        return flag
    t = torch.tensor([float(flag)])
    dist.all_reduce(t)
    return bool(t.item())


def mean_over_ranks(values: dict[str, float], world: int, device) -> dict[str, float]:
    """The mean of each metric over the processes (the loop's metrics are per process)."""
    if world == 1 or not values:
        return values
    keys = sorted(values)
    t = torch.tensor([values[k] for k in keys], dtype=torch.float64, device=device)
    dist.all_reduce(t)
    return dict(zip(keys, (t / world).tolist()))


class _Signals:
    """SIGINT/SIGTERM set a flag; the loop checkpoints at the end of the step and stops."""

    def __init__(self):
        self.flag, self.signum, self.old = False, 0, {}
        try:
            for s in (signal.SIGINT, signal.SIGTERM):
                self.old[s] = signal.signal(s, self._handle)
        except ValueError:  # not the main thread: no handlers (a library caller's own thread)
            self.old = {}

    def _handle(self, signum, frame):
        self.flag, self.signum = True, signum

    def restore(self):
        for s, h in self.old.items():
            signal.signal(s, h)


# -- checkpoints -----------------------------------------------------------------------------------------

class CheckpointIO:
    """A checkpoint as one torch.save file (written atomically; the previous one stays whole until the
    new one is complete). FSDP runs use train/distributed.py's sharded variant with the same methods."""

    def __init__(self, path: Path, rank: int = 0):
        self.path, self.rank = Path(path), rank

    def save(self, loop: Loop) -> None:
        state = loop.state_dict()  # every rank takes part (the RNG gather)
        if self.rank != 0:
            return
        state["model"] = loop.model.state_dict()
        state["optimizer"] = loop.optimizer.state_dict()
        kept = (f"the previous checkpoint (step {loop.saved_step}) is intact: continue with --resume"
                if loop.saved_step is not None else "no checkpoint was written yet")
        save_torch(state, self.path, note=kept)  # a WriteError naming the file if the write fails

    def read(self) -> dict:
        """The checkpoint's contents, or a CheckpointError naming the file and what is wrong with it."""
        try:
            state = torch.load(self.path, map_location="cpu", weights_only=True)
        except Exception as e:  # noqa: BLE001 - any unpickling or read failure means a damaged file
            raise CheckpointError(f"{self.path}: cannot be read ({one_line(e)}); the file is damaged: start a "
                                  "new --out (or restore the file)") from None
        missing = [k for k in CHECKPOINT_KEYS if not isinstance(state, dict) or k not in state]
        if missing:
            raise CheckpointError(f"{self.path}: not a bertkit training checkpoint (no {', '.join(missing)}); "
                                  "start a new --out")
        return state

    def load(self, loop: Loop, state: dict) -> None:
        """Put a checkpoint read by `read()` into the loop's model, optimizer and loop state."""
        try:
            loop.model.load_state_dict(state["model"])
            loop.optimizer.load_state_dict(state["optimizer"])
            loop.load_state_dict(state)
        except (RuntimeError, ValueError, KeyError, TypeError) as e:
            raise CheckpointError(f"{self.path}: does not fit this run ({one_line(e)}); resume with the run's "
                                  "own options, or start a new --out") from None


CHECKPOINT_KEYS = ("step", "model", "optimizer", "optimizer_scheduler", "rng", "world_size", "source")


def one_line(e: BaseException, limit: int = 200) -> str:
    text = " ".join(str(e).split())
    return text if len(text) <= limit else text[:limit] + "..."


# -- callbacks every run uses ----------------------------------------------------------------------------

class MetricsLog(Callback):
    """metrics.jsonl: one JSON object per line, written by rank 0. On resume, the lines logged after the
    checkpoint's step are dropped (the resumed run logs them again). `every` steps, a `train` line with
    the mean of each metric over those steps and processes."""

    name = "metrics"

    def __init__(self, path: Path, every: int, rank: int = 0, world: int = 1, device=None, event: bool = True,
                 extra: Callable[[Loop], dict] | None = None):
        self.path, self.every, self.rank, self.world, self.device = Path(path), every, rank, world, device
        self.event = event  # rows carry "event": "train" (fine-tuning's format)
        self.extra = extra  # more fields of a train row (tokens/s, MFU)
        self.window: dict[str, float] = {}
        self.n = 0
        self.file = None
        self.t0 = time.time()

    def open(self, resume_step: int | None) -> None:
        if self.rank != 0:
            return
        if resume_step is not None and self.path.exists():
            atomic_write_text(self.path, "".join(ln + "\n" for ln in _lines_upto(self.path, resume_step)))
        with writing(self.path):
            self.file = open(self.path, "a" if resume_step is not None else "w", encoding="utf-8")

    def write(self, row: dict) -> None:
        if self.rank == 0 and self.file is not None:
            with writing(self.path):
                self.file.write(json.dumps(row) + "\n")
                self.file.flush()

    def on_step_end(self, loop: Loop, metrics: dict[str, float]) -> None:
        for k, v in metrics.items():
            self.window[k] = self.window.get(k, 0.0) + v
        self.n += 1
        if loop.step % self.every and loop.step != loop.cfg.steps and loop.stop_reason is None:
            return
        means = {k: v / self.n for k, v in self.window.items()}
        lr, grad_norm = means.pop("lr", None), means.pop("grad_norm", None)
        means = mean_over_ranks(means, self.world, self.device)
        row = {**({"event": "train"} if self.event else {}), "step": loop.step, **means, "lr": metrics.get("lr", lr)}
        if grad_norm is not None:
            row["grad_norm"] = metrics.get("grad_norm")
        if self.extra is not None:
            row.update(self.extra(loop))
        row["epoch"] = round(loop.epoch, 4)
        self.write(row)
        if loop.bar is not None and "loss" in means:
            loop.bar.set_postfix_str(f"loss {means['loss']:.4f} lr {row['lr']:.2e}", refresh=False)
        self.window, self.n = {}, 0

    def state_dict(self) -> dict:
        return {"window": dict(self.window), "n": self.n}

    def load_state_dict(self, state: dict) -> None:
        self.window, self.n = dict(state.get("window", {})), int(state.get("n", 0))

    def close(self) -> None:
        if self.file is not None:
            self.file.close()
            self.file = None


def _lines_upto(path: Path, step: int) -> list[str]:
    """The lines of a metrics file logged at or before `step` (a damaged line is dropped, not fatal)."""
    keep = []
    with open(path, "rb") as f:
        for raw in f:
            line = raw.decode("utf-8", "replace").rstrip("\r\n")
            try:
                row = json.loads(line)
            except ValueError:
                continue
            if isinstance(row, dict) and isinstance(row.get("step"), int) and row["step"] <= step:
                keep.append(line)
    return keep


def read_metrics(path: Path) -> list[dict]:
    """The rows of a metrics.jsonl file (for plots)."""
    rows = []
    for line in path.read_text(encoding="utf-8").split("\n"):
        if line.strip():
            try:
                rows.append(json.loads(line))
            except ValueError:
                continue
    return rows


@dataclass
class BestWeights:
    """The best score so far and a copy of the weights that made it (fine-tuning's best checkpoint)."""
    greater_is_better: bool = True
    score: float | None = None
    step: int = 0
    bad_evals: int = 0
    state: dict | None = field(default=None, repr=False)

    def better(self, new: float) -> bool:
        if self.score is None or (isinstance(self.score, float) and math.isnan(self.score)):
            return True
        return new > self.score if self.greater_is_better else new < self.score

    def offer(self, score: float, step: int, model: nn.Module) -> bool:
        """Keep the weights when `score` beats the best; return whether it did."""
        if self.better(score):
            self.score, self.step, self.bad_evals = score, step, 0
            self.state = {k: v.detach().clone() for k, v in model.state_dict().items()}
            return True
        self.bad_evals += 1
        return False

    def to_dict(self) -> dict:
        return {"score": self.score, "step": self.step, "bad_evals": self.bad_evals, "state": self.state}

    def from_dict(self, d: dict) -> None:
        self.score, self.step, self.bad_evals, self.state = d["score"], d["step"], d["bad_evals"], d["state"]

