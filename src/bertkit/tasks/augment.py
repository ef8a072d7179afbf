"""Data augmentation for distillation on small training sets: more inputs for the teacher to label.

A copy of a training example has some of its word pieces replaced; the teacher's soft targets on the copy
are what the student learns (a copy has no hard label). Two ways to replace a piece:

- with a masked language model (`mlm`): the piece is masked and replaced by a token drawn uniformly from
  the model's `top_k` predictions at that position (TinyBERT's rule for single-piece words, Jiao et al.,
  2020, §3.3 and Algorithm 1: p_t = 0.4, K = 15; here every piece is a candidate, and a word's pieces are
  masked together in one pass);
- without one: the piece becomes [MASK] (the masking rule of Tang et al., 2019, "Distilling
  task-specific knowledge from BERT into simple neural networks", §3.3, p_mask = 0.1).

Copies are made once, before training, from an explicit generator: a fixed data set, so the teacher's
logits on them can be cached like those of the training set.
"""
from __future__ import annotations

from typing import Sequence

import torch

Tensor = torch.Tensor


def replaceable(ids: Sequence[int], special: set[int]) -> list[int]:
    """Positions of `ids` that are not special tokens ([CLS], [SEP], [PAD]...)."""
    return [i for i, t in enumerate(ids) if t not in special]


def masked_copies(features: list[dict], n: int, prob: float, mask_id: int, special: set[int],
                  generator: torch.Generator) -> list[tuple[int, dict, list[int]]]:
    """`n` copies of each feature with each replaceable piece masked with probability `prob` (at least one
    per copy when the feature has any). Returns (index of the source feature, the copy, masked positions)."""
    out = []
    for k, f in enumerate(features):
        cand = replaceable(f["input_ids"], special)
        for _ in range(n):
            ids = list(f["input_ids"])
            picked = [p for p in cand if float(torch.rand((), generator=generator)) < prob]
            if not picked and cand:
                picked = [cand[int(torch.randint(len(cand), (), generator=generator))]]
            for p in picked:
                ids[p] = mask_id
            out.append((k, {**f, "input_ids": ids}, picked))
    return out


@torch.no_grad()
def fill_with_mlm(copies: list[tuple[int, dict, list[int]]], mlm, pad_id: int, top_k: int,
                  generator: torch.Generator, batch_size: int = 64, special: set[int] | None = None) -> None:
    """Replace the masked positions of each copy (in place) by a token drawn uniformly from `mlm`'s `top_k`
    predictions there (special tokens excluded). `mlm` is a *ForMaskedLM model (logits (B, T, V))."""
    from ..data.batching import collate
    device = next(mlm.parameters()).device
    mlm.eval()
    special = special or set()
    for start in range(0, len(copies), batch_size):
        chunk = copies[start:start + batch_size]
        batch = collate([c[1] for c in chunk], pad_id)
        inputs = {k: v.to(device) for k, v in batch.items() if k in ("input_ids", "attention_mask", "token_type_ids")}
        logits = mlm(**inputs).logits.float()  # (B, T, V)
        if special:
            logits[..., sorted(special)] = float("-inf")
        top = logits.topk(top_k, dim=-1).indices.cpu()  # (B, T, K)
        for r, (_, feat, picked) in enumerate(chunk):
            for p in picked:
                feat["input_ids"][p] = int(top[r, p, int(torch.randint(top_k, (), generator=generator))])
