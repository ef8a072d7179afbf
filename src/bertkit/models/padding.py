"""Unpadding: run the dense layers on real tokens only.

A padded batch of B sequences, T long, holds N ≤ B·T real tokens. Everything in a BERT layer except
attention works token by token (QKV and output projections, FFN, LayerNorm, dropout), so it runs on
the N real tokens packed into one (N, C) matrix and never touches padding. The tokens of each
sequence stay contiguous in the packed matrix, so attention runs sequence by sequence on slices of
it, each at its own length and with no mask at all.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

Tensor = torch.Tensor


@dataclass
class Packing:
    """Where the real tokens of a padded (B, T) batch sit."""

    indices: Tensor  # (N,) positions of the real tokens in the flattened B·T grid, row by row
    batch: int
    seqlen: int
    lengths: list[int]  # real tokens of each sequence: its rows in the packed matrix are consecutive

    @classmethod
    def from_mask(cls, attention_mask: Tensor) -> "Packing":
        B, T = attention_mask.shape
        indices = attention_mask.reshape(-1).nonzero().squeeze(1)
        return cls(indices, B, T, attention_mask.sum(1).tolist())

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
