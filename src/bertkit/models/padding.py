"""Unpadding: run the dense layers on real tokens only.

A padded batch of B sequences, T long, holds N ≤ B·T real tokens. Everything in a BERT layer except
attention works token by token (QKV and output projections, FFN, LayerNorm, dropout), so it runs on
the N real tokens packed into one (N, C) matrix and never touches padding. The tokens of each
sequence stay contiguous in the packed matrix, so attention runs on slices of it with no mask at
all: one call for each run of consecutive sequences of equal length (a (count, L) batch), so a
batch sorted by length needs one call per distinct length, not one per sequence. A batch of many
different but similar lengths (length-grouped training batches) instead takes one masked call on the
padded layout: attention is a small part of the FLOPs, the dense layers stay unpadded.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

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

    @cached_property
    def key_mask(self) -> Tensor:
        """(B, 1, 1, T) bool, True at real tokens: the attention mask of the padded layout."""
        mask = torch.zeros(self.batch * self.seqlen, dtype=torch.bool, device=self.indices.device)
        mask[self.indices] = True
        return mask.view(self.batch, 1, 1, self.seqlen)

    @cached_property
    def runs(self) -> list[tuple[int, int]]:
        """(length, count) of each run of consecutive sequences with the same length."""
        out: list[tuple[int, int]] = []
        for L in self.lengths:
            if out and out[-1][0] == L:
                out[-1] = (L, out[-1][1] + 1)
            else:
                out.append((L, 1))
        return out

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
