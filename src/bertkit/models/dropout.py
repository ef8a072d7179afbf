"""Dropout with a cheaper random mask on CPU.

torch's CPU dropout draws one random number per element (`bernoulli_`), at a few nanoseconds each: in
a fine-tuning or pretraining step at BERT's small shapes that costs more than LayerNorm, GELU and the
residual adds together. Here one 31-bit draw gives two 15-bit uniforms: about 2× cheaper per call,
forward and backward.

The drop rate is p rounded to a multiple of 2⁻¹⁵ (0.1 → 0.100006), and kept values are scaled by
1 / (1 − that rate), so the expected output is the input, as with torch's dropout. On other devices,
and in eval mode, it is torch's dropout.
"""
from __future__ import annotations

import torch
from torch import nn

Tensor = torch.Tensor
BITS = 15  # bits per uniform: two of them from each 31-bit draw of random_()


def keep_mask(shape: torch.Size, p: float) -> tuple[Tensor, float]:
    """A bool mask of `shape` (True = keep, with probability 1 − p up to 2⁻¹⁵) and the scale of kept values."""
    n = shape.numel()
    draws = torch.empty((n + 1) // 2, dtype=torch.int32).random_()  # uniform in [0, 2³¹)
    cut = round(p * (1 << BITS))
    low, high = draws & ((1 << BITS) - 1), draws >> 16  # two independent uniforms in [0, 2¹⁵) per draw
    keep = torch.cat((low >= cut, high >= cut))[:n].view(shape)
    return keep, 1.0 / (1.0 - cut / (1 << BITS))


class Dropout(nn.Dropout):
    """`nn.Dropout` (same `p`, same train/eval behaviour) with the cheaper CPU mask above."""

    def forward(self, x: Tensor) -> Tensor:
        if not self.training or self.p == 0 or self.p >= 1 or x.device.type != "cpu" or self.inplace:
            return super().forward(x)
        keep, scale = keep_mask(x.shape, self.p)
        return (x * scale) * keep  # the product rounds once in x's dtype (bf16 included)
