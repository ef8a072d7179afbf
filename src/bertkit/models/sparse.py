"""The last layer at a few positions only: a fast path for heads that read few outputs.

An MLM loss reads the masked positions (about 15%) and [CLS]; a sequence classifier reads [CLS] alone.
The last layer's keys and values still need every token, but its queries, output projection, FFN and
LayerNorms are needed only where the head reads. Computing them there gives the same numbers at those
positions for a fraction of the last layer's work. Every family's Layer (models/blocks.py) has the
same submodules, so this one copy serves them all.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from .padding import Packing

Tensor = torch.Tensor
IGNORE_INDEX = -100  # labels that take no part in a loss, as in PyTorch's cross_entropy and transformers


def layer_at(layer, x: Tensor, key_mask: Tensor | None, where: Tensor) -> tuple[Tensor, Tensor]:
    """`layer`'s output at the positions `where` (B, T) bool only; keys and values still come from every
    token. x: (B, T, C) → (S, C) for the S selected positions, in row-major order, and their (S,) flat
    indices into the B·T grid. Same numbers there as `layer(x, ...)`."""
    B, T, C = x.shape
    attn, H, D = layer.attn, layer.attn.num_heads, layer.attn.head_dim
    w_q, w_kv = attn.qkv.weight.split([C, 2 * C])
    b_q, b_kv = attn.qkv.bias.split([C, 2 * C])
    k, v = F.linear(x, w_kv, b_kv).view(B, T, 2, H, D).permute(2, 0, 3, 1, 4)  # 2 × (B, H, T, D)
    rows, cols = where.nonzero(as_tuple=True)  # (S,) each
    slot = (where.cumsum(1) - 1)[rows, cols]  # place of each selected token among its row's
    M = max(int(where.sum(1).max()), 1)
    xs = x[rows, cols]  # (S, C)
    q = x.new_zeros(B, M, C, dtype=k.dtype)
    q[rows, slot] = F.linear(xs, w_q, b_q).to(k.dtype)  # (B, M, C): each row's queries, zero-padded
    q = q.view(B, M, H, D).transpose(1, 2)  # (B, H, M, D)
    ctx = F.scaled_dot_product_attention(q, k, v, attn_mask=key_mask,
                                         dropout_p=attn.dropout_p if layer.training else 0.0)  # (B, H, M, D)
    ctx = ctx.transpose(1, 2).reshape(B, M, C)[rows, slot]  # (S, C)
    h = layer.attn_norm(xs + layer.attn_dropout(attn.out(ctx)))
    return layer.ffn_sublayer(h), rows * T + cols


def encoder_last_at(encoder, x: Tensor, key_mask: Tensor | None, packing: Packing | None,
                    where: Tensor) -> Tensor:
    """Every layer of `encoder` but the last as usual, the last only at `where` (B, T) bool.
    x: (B, T, C), or (N, C) with `packing` → (B, T, C), zeros at the positions not computed."""
    for layer in encoder.layers[:-1]:
        x, _ = layer(x, key_mask, packing)
    if packing is not None:
        x = packing.pad(x)  # (N, C) → (B, T, C): the last layer's keys and values are per sequence
    h, flat = layer_at(encoder.layers[-1], x, key_mask, where)  # (S, C), (S,)
    out = h.new_zeros(x.shape[0] * x.shape[1], h.shape[-1])
    out[flat] = h
    return out.view(x.shape[0], x.shape[1], -1)


def scored_positions(labels: Tensor | None, cls: bool) -> Tensor | None:
    """(B, T) bool: the positions an MLM loss scores, plus [CLS] (position 0) when a pooler reads it."""
    if labels is None:
        return None
    read = labels != IGNORE_INDEX
    if cls:
        read[:, 0] = True
    return read


def first_positions(input_ids, inputs_embeds=None) -> Tensor | None:
    """(B, T) bool, True at position 0 ([CLS], or <s>): what a sequence classifier reads. None for input
    that is not one non-empty (B, T) id tensor or (B, T, C) embedding tensor; the model then says what
    is wrong with it."""
    given, dims = (input_ids, 2) if inputs_embeds is None else (inputs_embeds, 3)
    if (input_ids is not None and inputs_embeds is not None) or not isinstance(given, Tensor) \
            or given.dim() != dims or given.shape[1] == 0:
        return None
    read = torch.zeros(given.shape[:2], dtype=torch.bool, device=given.device)
    read[:, 0] = True
    return read
