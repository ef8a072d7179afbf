"""One training loop for every task. It knows nothing of BERT: a model is any nn.Module whose output
has `.loss` when called as `model(**batch)`; batches come from a function of the epoch; evaluation is
a callback returning a dict of metrics.

    optimizer  AdamW, no weight decay on biases and LayerNorm (train/optim.py)
    schedule   warmup, then linear (or cosine) decay, per optimizer step
    steps      gradient accumulation over `grad_accum` batches, clipped to `max_grad_norm`
    precision  bf16 autocast where it is faster than fp32 on this hardware; fp32 master weights
    evaluation every epoch, or every `eval_every` optimizer steps
    best       the weights with the best `metric` are kept (in memory) and restored at the end;
               `patience` evaluations without improvement stop the run early
    output     `out/` is built in a temporary folder beside it and renamed into place at the end, so an
               error never leaves a partial folder: it holds whatever `save(model, folder)` writes,
               metrics.jsonl (one JSON object per log line) and curves.png (training curves)

Randomness is explicit: `seed` seeds a torch.Generator handed to `batches(epoch, generator)`, and the
global torch RNG (which dropout draws from) is seeded once at the start.
"""
from __future__ import annotations

import json
import math
import os
import shutil
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Callable, Sequence

import torch
from torch import nn

from ..errors import TrainError
from ..io import make_temp_dir, replace_dir, writing
from .optim import OptimConfig, make_optimizer, make_scheduler
from .precision import autocast_for, bf16_pays, bf16_supported, matmul_peak  # noqa: F401  (pretrain imports them here)


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


class OutputFolder:
    """A temporary folder beside `out`, renamed onto it by `commit()`, removed by `discard()`."""

    def __init__(self, out: str | os.PathLike):
        self.out = Path(out)
        self.tmp = make_temp_dir(self.out)  # WriteError naming `out` if it cannot be made

    def writing(self):
        """A context in which a failed write (OSError) is a WriteError naming the output folder."""
        return writing(self.out)

    def commit(self) -> Path:
        """Rename the temporary folder onto `out` (an old `out` is replaced); WriteError if that fails."""
        return replace_dir(self.tmp, self.out)

    def discard(self) -> None:
        shutil.rmtree(self.tmp, ignore_errors=True)

    def __enter__(self) -> "OutputFolder":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is not None:
            self.discard()


def _to(batch: dict, device: torch.device) -> dict:
    return {k: v.to(device) if isinstance(v, torch.Tensor) else v for k, v in batch.items()}


def _better(new: float, best: float | None, greater: bool) -> bool:
    if best is None or (isinstance(best, float) and math.isnan(best)):
        return True
    return new > best if greater else new < best


def train(model: nn.Module, batches: Callable[[int, torch.Generator], Sequence[dict]],
          evaluate: Callable[[nn.Module], dict] | None, save: Callable[[nn.Module, Path], None],
          optim: OptimConfig, cfg: TrainConfig, folder: OutputFolder | None = None) -> dict:
    """Train `model`, keep the best weights, write the output folder; return a summary dict.

    `batches(epoch, generator)` returns that epoch's batches (a sequence: its length sets the schedule).
    `evaluate(model)` returns metrics (higher or lower is better, as `cfg.greater_is_better` says).
    `save(model, folder)` writes the model (and tokenizer, labels...) into `folder`.
    If `folder` is given, the caller commits it (to add files after training); else it is committed here.
    """
    from tqdm.auto import tqdm

    torch.manual_seed(cfg.seed)
    gen = torch.Generator().manual_seed(cfg.seed)
    device = next(model.parameters()).device
    if cfg.bf16 is None:
        cfg = replace(cfg, bf16=bf16_pays(device))
    own_folder = folder is None
    folder = folder or OutputFolder(cfg.out)
    try:
        epoch0 = batches(0, gen)
        per_epoch = math.ceil(len(epoch0) / cfg.grad_accum)
        if per_epoch == 0:
            raise TrainError("no training batches: the training file holds no examples; check --train")
        total = max(1, math.ceil(per_epoch * cfg.epochs))
        opt = make_optimizer(model, optim)
        sched = make_scheduler(opt, optim, total)
        log_path = folder.tmp / "metrics.jsonl"
        with writing(folder.out):
            log = open(log_path, "w", encoding="utf-8")
        history: list[dict] = []

        def record(row: dict) -> None:
            history.append(row)
            with writing(folder.out):
                log.write(json.dumps(row) + "\n")
                log.flush()

        record({"event": "config", "train": asdict(cfg), "optim": asdict(optim), "total_steps": total,
                "steps_per_epoch": per_epoch, "bf16": bool(cfg.bf16 and bf16_supported(device))})
        best, best_state, best_step, bad_evals = None, None, 0, 0
        step, stop, t0 = 0, False, time.time()
        bar = tqdm(total=total, desc="train", unit="step", disable=not cfg.progress, dynamic_ncols=True)
        running, n_running = 0.0, 0

        def run_eval(epoch_f: float) -> bool:
            nonlocal best, best_state, best_step, bad_evals
            if evaluate is None:
                return False
            model.eval()
            with torch.no_grad(), autocast_for(device, cfg.bf16):
                metrics = evaluate(model)
            model.train()
            score = metrics.get(cfg.metric)
            if score is None:
                raise KeyError(f"evaluate() returned no {cfg.metric!r} (it returned {', '.join(metrics)})")
            improved = _better(score, best, cfg.greater_is_better)
            if improved:
                best, best_step, bad_evals = score, step, 0
                best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
            else:
                bad_evals += 1
            record({"event": "eval", "step": step, "epoch": round(epoch_f, 4), **_scalars(metrics),
                    "best": improved})
            bar.write(f"eval step {step} (epoch {epoch_f:.2f}): "
                      + ", ".join(f"{k} {v:.4f}" for k, v in _scalars(metrics).items())
                      + (" *" if improved else ""))
            return bool(cfg.patience and bad_evals >= cfg.patience)

        model.train()
        epoch = 0
        while step < total and not stop:
            epoch_batches = epoch0 if epoch == 0 else batches(epoch, gen)
            for i, batch in enumerate(epoch_batches):
                with autocast_for(device, cfg.bf16):
                    out = model(**_to(batch, device))
                loss = out.loss
                if loss is None:
                    raise ValueError("the model returned no loss: do the batches carry labels?")
                (loss.float() / cfg.grad_accum).backward()
                running += float(loss.detach())
                n_running += 1
                if (i + 1) % cfg.grad_accum and i + 1 != len(epoch_batches):
                    continue
                if cfg.max_grad_norm:
                    torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.max_grad_norm)
                opt.step()
                sched.step()
                opt.zero_grad(set_to_none=True)
                step += 1
                bar.update(1)
                if step % cfg.log_every == 0 or step == total:
                    row = {"event": "train", "step": step, "epoch": round(step / per_epoch, 4),
                           "loss": running / n_running, "lr": sched.get_last_lr()[0],
                           "elapsed_s": round(time.time() - t0, 1)}
                    record(row)
                    bar.set_postfix(loss=f"{row['loss']:.4f}", lr=f"{row['lr']:.2e}")
                    running, n_running = 0.0, 0
                if cfg.eval_every and step % cfg.eval_every == 0:
                    stop = run_eval(step / per_epoch)
                if stop or step >= total:
                    break
            epoch += 1
            if not cfg.eval_every and not stop:
                stop = run_eval(step / per_epoch)
        if cfg.eval_every and step % cfg.eval_every and not stop:
            run_eval(step / per_epoch)
        bar.close()
        if best_state is not None:
            model.load_state_dict(best_state)
        model.eval()
        summary = {"event": "done", "steps": step, "best_step": best_step, f"best_{cfg.metric}": best,
                   "elapsed_s": round(time.time() - t0, 1), "stopped_early": bool(stop and step < total)}
        record(summary)
        with writing(folder.out):
            log.close()
            plot_curves(history, folder.tmp / "curves.png")
            save(model, folder.tmp)
        if own_folder:
            folder.commit()
        return summary
    except BaseException:
        folder.discard()
        raise


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
