"""Self-attention and its kernels: the one place where attention is computed, for every family.

    x (B, T, C) ─► fused QKV projection ─► q, k, v (B, H, T, D)
               ─► softmax(q·kᵀ / √D + mask) · v ─► output projection ─► (B, T, C)

Three kernels give the same numbers on real tokens:
- padded: one SDPA call on (B, H, T, D) with a key mask, as in `transformers`;
- spelled out (scores, softmax, weighted sum) when the caller asks for the attention weights;
- packed (see padding.py): the N real tokens of a batch as (N, C), attention per run of sequences of
  equal length with no mask, or one masked call on the padded layout when that costs less.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from .padding import Packing

Tensor = torch.Tensor


# unpadded attention: one masked SDPA call on the padded layout instead of a call per run of equal
# lengths, when there are more than MAX_RUNS runs and padding at most MAX_ATTN_PADDING × the real tokens
MAX_RUNS = 4
MAX_ATTN_PADDING = 1.5


class SelfAttention(nn.Module):
    """Multi-head scaled dot-product self-attention with one fused QKV projection."""

    def __init__(self, config):
        super().__init__()
        C = config.hidden_size
        self.num_heads = config.num_attention_heads
        self.head_dim = config.head_dim
        self.qkv = nn.Linear(C, 3 * C)  # rows: [query; key; value], each (C, C)
        self.out = nn.Linear(C, C)
        self.dropout_p = config.attention_probs_dropout_prob

    def forward(self, x: Tensor, key_mask: Tensor | None, packing: Packing | None = None,
                output_attentions: bool = False) -> tuple[Tensor, Tensor | None]:
        """x: (B, T, C), or (N, C) with `packing`. key_mask: (B, 1, 1, T) bool, True = may attend."""
        q, k, v = self._project(x)  # 3 × (B, T, C), or 3 × (N, C)
        if packing is not None:
            return self.out(self._packed(q, k, v, packing)), None
        B, T, _ = q.shape
        q, k, v = (t.view(B, T, self.num_heads, self.head_dim).transpose(1, 2) for t in (q, k, v))  # 3 × (B, H, T, D)
        dropout_p = self.dropout_p if self.training else 0.0
        probs = None
        if output_attentions:
            # spelled out, because the caller wants the softmax weights themselves
            scores = (q @ k.transpose(-2, -1)) / math.sqrt(self.head_dim)  # (B, H, T, T)
            if key_mask is not None:
                scores = scores.masked_fill(~key_mask, torch.finfo(scores.dtype).min)
            probs = scores.softmax(dim=-1)
            ctx = F.dropout(probs, dropout_p, self.training) @ v  # (B, H, T, D)
        else:
            ctx = F.scaled_dot_product_attention(q, k, v, attn_mask=key_mask, dropout_p=dropout_p)
        return self.out(ctx.transpose(1, 2).reshape(B, T, -1)), probs  # (B, T, C)

    def _project(self, x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """Query, key and value: (..., C) → 3 × (..., C).

        Training runs the fused projection as one matmul and takes three views of its (..., 3C) output.
        Inference runs three matmuls, one per row block of the same weight, each into its own tensor:
        at batch 64 × 512, bert-base, the single 2,304-wide matmul raised peak memory 3.6 MiB above
        `transformers` (a larger BLAS workspace), and three 768-wide ones do not. In A/B runs they were
        as fast within noise (full-length batches 5-8% faster, variable ones -1% to +4%). Writing the
        three into column blocks of one (..., 3C) buffer instead is 16-28% slower per matmul here."""
        C = x.shape[-1]
        if torch.is_grad_enabled():
            return self.qkv(x).split(C, dim=-1)
        return tuple(F.linear(x, w, b) for w, b in zip(self.qkv.weight.split(C), self.qkv.bias.split(C)))

    def _packed(self, q: Tensor, k: Tensor, v: Tensor, packing: Packing) -> Tensor:
        """Attention over packed sequences: a call per run of equal lengths, with no padding and no mask;
        or, for many runs with little padding, one masked call on the padded layout. 3 × (N, C) → (N, C)"""
        if len(packing.runs) > MAX_RUNS and packing.batch * packing.seqlen <= MAX_ATTN_PADDING * packing.num_tokens:
            # many different lengths but little padding (a length-grouped batch): one masked call on the
            # padded layout costs less than a call per length; attention is a small part of the FLOPs
            return self._padded(q, k, v, packing)
        return self._per_run(q, k, v, packing)

    def _padded(self, q: Tensor, k: Tensor, v: Tensor, packing: Packing) -> Tensor:
        """One masked SDPA call on the (B, T) padded layout. 3 × (N, C) → (N, C)"""
        H, D = self.num_heads, self.head_dim
        B, T = packing.batch, packing.seqlen
        q, k, v = (packing.pad(t).view(B, T, H, D).transpose(1, 2) for t in (q, k, v))  # 3 × (B, H, T, D)
        ctx = F.scaled_dot_product_attention(q, k, v, attn_mask=packing.key_mask,
                                             dropout_p=self.dropout_p if self.training else 0.0)
        return packing.unpad(ctx.transpose(1, 2).reshape(B, T, H * D))  # (N, C)

    def _per_run(self, q: Tensor, k: Tensor, v: Tensor, packing: Packing) -> Tensor:
        """An SDPA call per run of consecutive sequences of equal length: no padding, no mask. 3 × (N, C) → (N, C)"""
        dropout_p = self.dropout_p if self.training else 0.0
        H, D = self.num_heads, self.head_dim
        out, start = [], 0
        for L, n in packing.runs:
            rows = slice(start, start + n * L)  # n sequences of L tokens, one after another
            start += n * L
            q_, k_, v_ = (t[rows].view(n, L, H, D).transpose(1, 2) for t in (q, k, v))  # 3 × (n, H, L, D)
            ctx = F.scaled_dot_product_attention(q_, k_, v_, dropout_p=dropout_p)  # (n, H, L, D)
            out.append(ctx.transpose(1, 2).reshape(n * L, H * D))  # (n·L, C)
        return torch.cat(out) if len(out) > 1 else out[0]
