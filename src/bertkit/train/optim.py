"""AdamW with BERT's parameter groups, and warmup-then-decay learning-rate schedules.

BERT applies weight decay to weight matrices only: biases and LayerNorm parameters are excluded
(google-research/bert's optimization.py excludes "LayerNorm" and "bias"). Here a parameter decays
when it has two or more dimensions, which selects exactly the matrices and embeddings.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn


@dataclass
class OptimConfig:
    lr: float = 5e-5
    weight_decay: float = 0.01
    betas: tuple[float, float] = (0.9, 0.999)
    eps: float = 1e-6
    warmup: float = 0.1  # a fraction of the total steps if < 1, else a number of steps
    schedule: str = "linear"  # linear | cosine | constant | wsd (after warmup)
    min_lr_ratio: float = 0.0  # the floor of the decay, as a fraction of lr


def param_groups(model: nn.Module, weight_decay: float) -> list[dict]:
    decay, no_decay = [], []
    for p in model.parameters():
        if p.requires_grad:
            (decay if p.dim() >= 2 else no_decay).append(p)
    return [{"params": decay, "weight_decay": weight_decay},
            {"params": no_decay, "weight_decay": 0.0}]


def make_optimizer(model: nn.Module, cfg: OptimConfig) -> torch.optim.AdamW:
    # fused: one pass over memory per parameter instead of one per arithmetic step; the update is
    # memory-bound, so on this kind of CPU it is about 2.5x faster than foreach (same numbers).
    groups = param_groups(model, cfg.weight_decay)
    device = next(model.parameters()).device
    fast = {"fused": True} if device.type in ("cpu", "cuda") else {"foreach": True}
    return torch.optim.AdamW(groups, lr=cfg.lr, betas=cfg.betas, eps=cfg.eps, **fast)


WSD_DECAY = 0.2  # the wsd schedule decays over this final fraction of the steps


def warmup_steps(cfg: OptimConfig, total_steps: int) -> int:
    return int(cfg.warmup * total_steps) if cfg.warmup < 1 else int(cfg.warmup)


def lr_factor(step: int, total_steps: int, warmup: int, schedule: str = "linear", min_ratio: float = 0.0) -> float:
    """Multiplier of the peak learning rate at `step` (0-based): linear warmup from 0, then decay.

    linear and cosine are the same curves as `transformers`' schedules, so recipes carry over. wsd
    (warmup-stable-decay) holds the peak and decays linearly over the last WSD_DECAY of the steps: a
    short run spends most of its steps at the full learning rate."""
    if warmup and step < warmup:
        return step / warmup
    if schedule == "constant":
        return 1.0
    progress = min(1.0, (step - warmup) / max(1, total_steps - warmup))
    if schedule == "wsd":
        decay_steps = max(1, int(WSD_DECAY * total_steps))
        progress = min(1.0, max(0.0, (step - (total_steps - decay_steps)) / decay_steps))
        schedule = "linear"
    if schedule == "linear":
        decay = 1.0 - progress
    elif schedule == "cosine":
        decay = 0.5 * (1.0 + math.cos(math.pi * progress))
    else:
        raise ValueError(f"unknown schedule {schedule!r}; use linear, cosine, constant or wsd")
    return min_ratio + (1.0 - min_ratio) * decay


def make_scheduler(optimizer: torch.optim.Optimizer, cfg: OptimConfig, total_steps: int):
    warmup = warmup_steps(cfg, total_steps)
    return torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: lr_factor(step, total_steps, warmup, cfg.schedule, cfg.min_lr_ratio))
