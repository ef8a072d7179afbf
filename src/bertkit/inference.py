"""Batched inference helpers: length-sorted batching and sentence embeddings.

Sorting a large input by length before batching makes each batch nearly padding-free; the results
are put back in input order at the end.
"""
from __future__ import annotations

from contextlib import nullcontext
from typing import Iterator, Sequence

import torch

from .data.batching import collate, length_grouped

Tensor = torch.Tensor


def autocast(dtype: str | None, device: torch.device = torch.device("cpu")):
    """A context for bf16 autocast (`dtype="bf16"`, see train/precision.py), or nothing (`None`/"fp32")."""
    from .train.precision import autocast_for
    if dtype in (None, "fp32", "float32"):
        return nullcontext()
    if dtype in ("bf16", "bfloat16"):
        return autocast_for(device, True)
    from .cliargs import OptionError
    raise OptionError(f"--dtype {dtype!r}: use fp32 or bf16")


def iter_batches(encodings: dict, batch_size: int, pad_id: int, sort: bool = True
                 ) -> Iterator[tuple[list[int], dict[str, Tensor]]]:
    """Yield (indices, model inputs) batches from an unpadded tokenizer output."""
    ids = encodings["input_ids"]
    # sorted: batches of similar length, longest first (so memory peaks early)
    groups = (length_grouped([len(r) for r in ids], batch_size, None) if sort
              else [list(range(i, min(i + batch_size, len(ids)))) for i in range(0, len(ids), batch_size)])
    types = encodings.get("token_type_ids")  # a RoBERTa tokenizer gives none
    for idx in groups:
        yield idx, collate([{"input_ids": ids[i], "token_type_ids": types[i] if types else None} for i in idx], pad_id)


def mean_pool(hidden: Tensor, attention_mask: Tensor) -> Tensor:
    """Average of the real tokens' vectors: (B, T, C), (B, T) → (B, C)."""
    mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
    return (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)


POOLINGS = ("mean", "cls", "none")


def pool(hidden: Tensor, attention_mask: Tensor, how: str = "mean", normalize: bool = True) -> list[Tensor]:
    """Sentence vectors from the last hidden states (B, T, C) and the mask (B, T): "mean" (the real tokens'
    average, as sentence-transformers' mean pooling), "cls" (the first token's vector) → B tensors (C,);
    "none" → B tensors (T_i, C), each row's real tokens. `normalize` L2-normalises each vector."""
    hidden = hidden.float()
    if how == "none":
        rows = [h[:int(n)] for h, n in zip(hidden, attention_mask.sum(1))]
        return [torch.nn.functional.normalize(r, dim=-1) if normalize else r for r in rows]
    if how not in POOLINGS:
        raise ValueError(f"pooling {how!r}: use one of {', '.join(POOLINGS)}")
    vec = mean_pool(hidden, attention_mask) if how == "mean" else hidden[:, 0]  # (B, C)
    if normalize:
        vec = torch.nn.functional.normalize(vec, dim=-1)
    return list(vec)


@torch.no_grad()
def sentence_embeddings(model, tokenizer, texts: Sequence[str], batch_size: int = 32,
                        max_length: int | None = None, normalize: bool = True, sort: bool = True,
                        dtype: str | None = None, progress: bool = False) -> Tensor:
    """Mean-pooled (and L2-normalised) sentence vectors, (len(texts), C), in input order.

    This is how all-MiniLM-L6-v2 and other sentence-transformers BERTs make sentence embeddings. Longer
    texts are cut to `max_length` tokens (default: the smaller of the tokenizer's model_max_length and the
    model's max_position_embeddings). An unknown `dtype` raises OptionError.
    """
    from tqdm.auto import tqdm

    model.eval()
    if max_length is None:  # the tokenizer's limit, but never more positions than the model has
        limits = [n for n in (tokenizer.model_max_length, model.config.max_sequence_length) if n]
        max_length = min(limits) if limits else None
    enc = tokenizer(list(texts), truncation=True, max_length=max_length, return_token_type_ids=True)
    out = torch.empty(len(texts), model.config.hidden_size)
    bar = tqdm(total=len(texts), desc="embed", unit="line", disable=not progress)
    with autocast(dtype):
        for idx, batch in iter_batches(enc, batch_size, tokenizer.pad_token_id, sort=sort):
            hidden = model(**batch).last_hidden_state
            out[idx] = torch.stack(pool(hidden, batch["attention_mask"], "mean", normalize))
            bar.update(len(idx))
    bar.close()
    return out
