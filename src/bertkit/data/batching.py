"""Batches of similar length (little padding), in an order drawn from an explicit generator.

Examples are shuffled, cut into "mega-batches" of `mega` batches, sorted by length inside each, split
into batches, and the batches shuffled again: each batch is nearly padding-free while the order stays
random from epoch to epoch.
"""
from __future__ import annotations

from typing import Sequence

import torch

from ..labels import IGNORE_INDEX


def length_grouped(lengths: Sequence[int], batch_size: int, generator: torch.Generator | None,
                   mega: int = 50) -> list[list[int]]:
    n = len(lengths)
    if generator is None:  # evaluation: just sort, longest first
        order = sorted(range(n), key=lambda i: -lengths[i])
        return [order[i:i + batch_size] for i in range(0, n, batch_size)]
    perm = torch.randperm(n, generator=generator).tolist()
    span = batch_size * mega
    batches = []
    for m in range(0, n, span):
        chunk = sorted(perm[m:m + span], key=lambda i: -lengths[i])
        batches += [chunk[i:i + batch_size] for i in range(0, len(chunk), batch_size)]
    order = torch.randperm(len(batches), generator=generator).tolist()
    return [batches[i] for i in order]


def pad(rows: Sequence[Sequence[int]], value: int) -> torch.Tensor:
    """Ragged lists → (B, T_max)."""
    T = max(len(r) for r in rows)
    out = torch.full((len(rows), T), value, dtype=torch.long)
    for i, r in enumerate(rows):
        out[i, :len(r)] = torch.as_tensor(list(r), dtype=torch.long)
    return out


def collate(features: Sequence[dict], pad_id: int) -> dict[str, torch.Tensor]:
    """input_ids / attention_mask, and token_type_ids when the features have them (a RoBERTa tokenizer
    gives none), padded to (B, T_max); `labels` too when they are per token (`token_labels`)."""
    ids = [f["input_ids"] for f in features]
    batch = {"input_ids": pad(ids, pad_id), "attention_mask": pad([[1] * len(r) for r in ids], 0)}
    if features[0].get("token_type_ids") is not None:
        batch["token_type_ids"] = pad([f["token_type_ids"] for f in features], 0)
    if "token_labels" in features[0]:
        batch["labels"] = pad([f["token_labels"] for f in features], IGNORE_INDEX)
    return batch


def indexed_batches(features: Sequence[dict], batch_size: int, pad_id: int, generator: torch.Generator | None
                    ) -> list[dict[str, torch.Tensor]]:
    """Length-grouped, collated batches of `features`, each with the indices of its rows (`features`, (B,)):
    NER windows, sentences to embed, anything whose outputs are put back by index."""
    out = []
    for group in length_grouped([len(f["input_ids"]) for f in features], batch_size, generator):
        batch = collate([features[i] for i in group], pad_id)
        batch["features"] = torch.tensor(group)
        out.append(batch)
    return out


def token_budget_groups(lengths: Sequence[int], max_tokens: int, max_size: int | None = None) -> list[list[int]]:
    """Indices cut into batches, longest first, each padded batch within `max_tokens` (rows × its longest
    row) and `max_size` rows: the dynamic batcher's forward passes. A row longer than the budget alone
    makes a batch of one. Text-embeddings-inference bounds its batches the same way (--max-batch-tokens)."""
    order = sorted(range(len(lengths)), key=lambda i: -lengths[i])
    groups: list[list[int]] = []
    for i in order:
        g = groups[-1] if groups else None
        # sorted longest first: a group's padded size is its first row's length times its rows
        if g is not None and (len(g) + 1) * lengths[g[0]] <= max_tokens and (max_size is None or len(g) < max_size):
            g.append(i)
        else:
            groups.append([i])
    return groups
