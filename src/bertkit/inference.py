"""Batched inference helpers: length-sorted batching and sentence embeddings.

Sorting a large input by length before batching makes each batch nearly padding-free; the results
are put back in input order at the end.
"""
from __future__ import annotations

from contextlib import nullcontext
from typing import Iterator, Sequence

import torch

Tensor = torch.Tensor


def autocast(dtype: str | None):
    """A context for bf16 autocast on CPU/GPU (`dtype="bf16"`), or nothing (`None`/"fp32")."""
    if dtype in (None, "fp32", "float32"):
        return nullcontext()
    if dtype in ("bf16", "bfloat16"):
        return torch.autocast("cpu", dtype=torch.bfloat16)
    from .cliargs import OptionError
    raise OptionError(f"--dtype {dtype!r}: use fp32 or bf16")


def length_sorted_batches(lengths: Sequence[int], batch_size: int) -> list[list[int]]:
    """Indices grouped into batches of similar length (longest first, so memory peaks early)."""
    order = sorted(range(len(lengths)), key=lambda i: -lengths[i])
    return [order[i:i + batch_size] for i in range(0, len(order), batch_size)]


def pad_batch(rows: Sequence[Sequence[int]], pad_id: int) -> Tensor:
    """Lists of ids (ragged) → (B, T_max) tensor."""
    T = max(len(r) for r in rows)
    out = torch.full((len(rows), T), pad_id, dtype=torch.long)
    for i, r in enumerate(rows):
        out[i, :len(r)] = torch.as_tensor(r, dtype=torch.long)
    return out


def iter_batches(encodings: dict, batch_size: int, pad_id: int, sort: bool = True
                 ) -> Iterator[tuple[list[int], dict[str, Tensor]]]:
    """Yield (indices, model inputs) batches from an unpadded tokenizer output."""
    ids = encodings["input_ids"]
    groups = (length_sorted_batches([len(r) for r in ids], batch_size) if sort
              else [list(range(i, min(i + batch_size, len(ids)))) for i in range(0, len(ids), batch_size)])
    for idx in groups:
        batch = {
            "input_ids": pad_batch([ids[i] for i in idx], pad_id),
            "token_type_ids": pad_batch([encodings["token_type_ids"][i] for i in idx], 0),
            "attention_mask": pad_batch([[1] * len(ids[i]) for i in idx], 0),
        }
        yield idx, batch


def mean_pool(hidden: Tensor, attention_mask: Tensor) -> Tensor:
    """Average of the real tokens' vectors: (B, T, C), (B, T) → (B, C)."""
    mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
    return (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)


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
        limits = [n for n in (tokenizer.model_max_length, model.config.max_position_embeddings) if n]
        max_length = min(limits) if limits else None
    enc = tokenizer(list(texts), truncation=True, max_length=max_length, return_token_type_ids=True)
    out = torch.empty(len(texts), model.config.hidden_size)
    bar = tqdm(total=len(texts), desc="embed", unit="line", disable=not progress)
    with autocast(dtype):
        for idx, batch in iter_batches(enc, batch_size, tokenizer.pad_token_id, sort=sort):
            hidden = model(**batch).last_hidden_state
            vec = mean_pool(hidden.float(), batch["attention_mask"])
            if normalize:
                vec = torch.nn.functional.normalize(vec, dim=-1)
            out[idx] = vec
            bar.update(len(idx))
    bar.close()
    return out
