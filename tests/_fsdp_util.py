"""Shared by tests/test_fsdp.py and the processes it launches (tests/_fsdp_worker.py): a tiny random
BertForPreTraining, deterministic MLM + NSP global batches, and a 1-process reference training run."""
from __future__ import annotations

import torch

from bertkit.config import BertConfig
from bertkit.labels import IGNORE_INDEX
from bertkit.models import BertForPreTraining
from bertkit.train.optim import OptimConfig, make_optimizer, make_scheduler

VOCAB, T, GLOBAL_BATCH, STEPS, CLIP = 97, 16, 8, 20, 1.0  # 97: a vocabulary that 2 ranks shard unevenly
OPTIM = OptimConfig(lr=2e-3, weight_decay=0.01, warmup=2, schedule="linear")


def tiny_config(dropout: float = 0.0) -> BertConfig:
    return BertConfig(vocab_size=VOCAB, hidden_size=32, num_hidden_layers=3, num_attention_heads=4,
                      intermediate_size=64, max_position_embeddings=64, hidden_dropout_prob=dropout,
                      attention_probs_dropout_prob=dropout)


def tiny_model(dropout: float = 0.0, shared: bool = False) -> BertForPreTraining:
    """Seeded init, so every process builds the same weights. `shared`: layer 1 is layer 0 (the module
    runs twice per forward, as ALBERT's cross-layer sharing does)."""
    torch.manual_seed(0)
    model = BertForPreTraining(tiny_config(dropout))
    if shared:
        model.bert.encoder.layers[1] = model.bert.encoder.layers[0]
    return model


def global_batch(step: int, seed: int = 1234) -> dict[str, torch.Tensor]:
    """A (GLOBAL_BATCH, T) MLM + NSP batch, a pure function of (seed, step): padded rows of mixed length,
    ~15% of the real tokens scored (at least one per row), random NSP labels."""
    g = torch.Generator().manual_seed(seed * 100_003 + step)
    ids = torch.randint(5, VOCAB, (GLOBAL_BATCH, T), generator=g)
    lengths = torch.randint(T // 2, T + 1, (GLOBAL_BATCH,), generator=g)
    mask = (torch.arange(T)[None, :] < lengths[:, None]).long()
    ids[:, 0] = 2  # [CLS]
    ids[mask == 0] = 0
    types = (torch.arange(T)[None, :] >= (lengths[:, None] // 2)).long() * mask
    scored = (torch.rand(GLOBAL_BATCH, T, generator=g) < 0.15) & mask.bool()
    scored[:, 0] = False
    scored[torch.arange(GLOBAL_BATCH), lengths - 1] = True
    labels = torch.where(scored, ids, torch.full_like(ids, IGNORE_INDEX))
    ids = torch.where(scored, torch.full_like(ids, 4), ids)  # [MASK]
    nsp = torch.randint(0, 2, (GLOBAL_BATCH,), generator=g)
    return {"input_ids": ids, "attention_mask": mask, "token_type_ids": types, "labels": labels,
            "next_sentence_label": nsp}


def part(batch: dict, i: int, n: int) -> dict:
    """The i-th of n contiguous slices of a global batch (rank i's share)."""
    k = GLOBAL_BATCH // n
    return {name: t[i * k:(i + 1) * k] for name, t in batch.items()}


def eval_batch() -> dict[str, torch.Tensor]:
    b = global_batch(10_000)
    return {k: b[k] for k in ("input_ids", "attention_mask", "token_type_ids")}


def reference_curve(parts: int, steps: int = STEPS, shared: bool = False) -> tuple[list[float], list[float]]:
    """(losses, grad norms) of one process training on the same global batches, as `parts` micro-batches
    whose gradients are averaged (the gradient an FSDP run with `parts` ranks computes)."""
    model = tiny_model(shared=shared)
    model.train()
    opt = make_optimizer(model, OPTIM)
    sched = make_scheduler(opt, OPTIM, steps)
    losses, norms = [], []
    for step in range(steps):
        batch, total = global_batch(step), 0.0
        for i in range(parts):
            loss = model(**part(batch, i, parts)).loss / parts
            loss.backward()
            total += float(loss.detach())
        norms.append(float(torch.nn.utils.clip_grad_norm_(model.parameters(), CLIP)))
        opt.step()
        sched.step()
        opt.zero_grad(set_to_none=True)
        losses.append(total)
    return losses, norms
