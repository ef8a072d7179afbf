"""Unpadding: run the dense layers on real tokens only.

A padded batch of B sequences, T long, holds N ≤ B·T real tokens. Everything in a BERT layer except
attention works token by token (QKV and output projections, FFN, LayerNorm, dropout), so it can run on
the N real tokens packed into one (N, C) matrix and never touch padding. Attention is the one place
where tokens meet; there the packed rows are scattered back into a (B, T, ·) grid for one masked SDPA
call and gathered again afterwards. At T = 128 the attention matmuls are a few percent of a layer's
FLOPs, so this keeps nearly all of the saving.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

Tensor = torch.Tensor


@dataclass
class Packing:
    """Where the real tokens of a padded (B, T) batch sit."""

    indices: Tensor  # (N,) positions of the real tokens in the flattened B·T grid
    batch: int
    seqlen: int

    @classmethod
    def from_mask(cls, attention_mask: Tensor) -> "Packing":
        B, T = attention_mask.shape
        indices = attention_mask.reshape(-1).nonzero().squeeze(1)
        return cls(indices, B, T)

    @property
    def num_tokens(self) -> int:
        return self.indices.numel()

    def unpad(self, x: Tensor) -> Tensor:
        """(B, T, ...) → (N, ...)"""
        return x.reshape(self.batch * self.seqlen, *x.shape[2:])[self.indices]

    def pad(self, x: Tensor) -> Tensor:
        """(N, ...) → (B, T, ...), zeros at padding."""
        out = x.new_zeros(self.batch * self.seqlen, *x.shape[1:])
        out[self.indices] = x
        return out.view(self.batch, self.seqlen, *x.shape[1:])
