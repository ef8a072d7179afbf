"""The encoder's blocks, shared by every family: the readable path.

    tokens ─► Embeddings (word + position [+ segment], LayerNorm, dropout)
           ─► Encoder: num_hidden_layers × Layer
                 x = LayerNorm(x + SelfAttention(x))      # post-LN, as in the original BERT
                 x = LayerNorm(x + FeedForward(x))
           ─► last_hidden_state (B, T, C);  Pooler: tanh(W · h[CLS]) ─► pooler_output (B, C)

BERT, RoBERTa and DistilBERT compute exactly this; they differ in their embeddings (RoBERTa's position
ids, DistilBERT's missing segments), in dropout placement and in the names of their weights, which
each family's file declares (bert.py, roberta.py, distilbert.py). ALBERT (albert.py) runs the same
blocks with narrower embeddings projected to hidden_size, and layers shared between passes (its
encoder's `layers` lists a module once per pass). The fast paths live elsewhere and
serve every family: attention kernels in attention.py, unpadding in padding.py, the last layer at a
few positions in sparse.py.

Weights are named for reading, not after the Hugging Face layout; each family's key table maps between
the two (including the fused QKV projection), and checkpoint.py applies it.
"""
from __future__ import annotations

import torch
from torch import nn

from ..config import PretrainedConfig
from .attention import SelfAttention
from .dropout import Dropout
from .padding import Packing

Tensor = torch.Tensor


def activation(name: str):
    if name == "gelu":
        return nn.GELU()  # exact, erf-based: what BERT was trained with
    if name in ("gelu_new", "gelu_pytorch_tanh", "gelu_fast"):
        return nn.GELU(approximate="tanh")
    if name == "relu":
        return nn.ReLU()
    if name in ("silu", "swish"):
        return nn.SiLU()
    raise ValueError(f"unknown activation {name!r}")


class Embeddings(nn.Module):
    """Token + learned absolute position [+ segment (token type)] embeddings, then LayerNorm and dropout.

    A config with type_vocab_size 0 (DistilBERT) has no segment table. `position_padding_idx` keeps
    that row of the position table at zero with no gradient (RoBERTa: position pad_token_id is padding's).
    `width` is the tables' width when it is not hidden_size (ALBERT's and ELECTRA's embedding_size)."""

    def __init__(self, config: PretrainedConfig, position_padding_idx: int | None = None, width: int | None = None):
        super().__init__()
        C = width or config.hidden_size
        self.word = nn.Embedding(config.vocab_size, C, padding_idx=config.pad_token_id)
        self.position = nn.Embedding(config.max_position_embeddings, C, padding_idx=position_padding_idx)
        self.token_type = nn.Embedding(config.type_vocab_size, C) if config.type_vocab_size else None
        self.norm = nn.LayerNorm(C, eps=config.layer_norm_eps)
        self.dropout = Dropout(config.hidden_dropout_prob)

    def forward(self, input_ids: Tensor | None, token_type_ids: Tensor | None, position_ids: Tensor,
                inputs_embeds: Tensor | None = None) -> Tensor:
        """Any leading shape: (B, T) → (B, T, C), or packed (N,) → (N, C). `inputs_embeds` (..., C), given
        instead of `input_ids`, replaces the word lookup only: segment and position embeddings, LayerNorm
        and dropout still apply, as in `transformers`. token_type_ids are ignored without a segment table."""
        x = self.word(input_ids) if inputs_embeds is None else inputs_embeds
        if self.token_type is not None:
            x = x + self.token_type(token_type_ids)
        x = x + self.position(position_ids)
        return self.dropout(self.norm(x))


class FeedForward(nn.Module):
    def __init__(self, config: PretrainedConfig):
        super().__init__()
        self.up = nn.Linear(config.hidden_size, config.intermediate_size)
        self.act = activation(config.hidden_act)
        self.down = nn.Linear(config.intermediate_size, config.hidden_size)

    def forward(self, x: Tensor) -> Tensor:
        return self.down(self.act(self.up(x)))  # (..., C) → (..., 4C) → (..., C)


class Layer(nn.Module):
    """One post-LN transformer layer: each sublayer is followed by residual add and LayerNorm."""

    def __init__(self, config: PretrainedConfig):
        super().__init__()
        C, eps = config.hidden_size, config.layer_norm_eps
        self.attn = SelfAttention(config)
        self.attn_norm = nn.LayerNorm(C, eps=eps)
        self.ffn = FeedForward(config)
        self.ffn_norm = nn.LayerNorm(C, eps=eps)
        self.attn_dropout = Dropout(config.hidden_dropout_prob)  # on the attention output (not its weights)
        self.ffn_dropout = Dropout(config.hidden_dropout_prob)

    def forward(self, x: Tensor, key_mask: Tensor | None, packing: Packing | None = None,
                output_attentions: bool = False) -> tuple[Tensor, Tensor | None]:
        """x: (B, T, C), or (N, C) with `packing`. Returns the same shape, and the (B, H, T, T) attention
        weights when `output_attentions`."""
        a, probs = self.attn(x, key_mask, packing, output_attentions)
        x = self.attn_norm(x + self.attn_dropout(a))
        del a  # (B, T, C) no longer needed: free it before the FFN's (B, T, 4C) intermediates peak
        return self.ffn_sublayer(x), probs

    def ffn_sublayer(self, x: Tensor) -> Tensor:
        """FFN, dropout, residual add, LayerNorm. (..., C) → (..., C)"""
        return self.ffn_norm(x + self.ffn_dropout(self.ffn(x)))


class Encoder(nn.Module):
    """num_hidden_layers layers, one after another; optionally every layer's states and attention weights."""

    def __init__(self, config: PretrainedConfig, layer_class: type[Layer] = Layer):
        super().__init__()
        self.layers = nn.ModuleList(layer_class(config) for _ in range(config.num_hidden_layers))

    def forward(self, x: Tensor, key_mask: Tensor | None, packing: Packing | None = None,
                output_hidden_states: bool = False, output_attentions: bool = False):
        hidden = [x] if output_hidden_states else None
        attentions = [] if output_attentions else None
        for layer in self.layers:
            x, probs = layer(x, key_mask, packing, output_attentions)
            if hidden is not None:
                hidden.append(x)
            if attentions is not None:
                attentions.append(probs)
        return x, hidden, attentions


class Pooler(nn.Module):
    """tanh(W · h_[CLS] + b): the sentence vector that NSP and classification heads read."""

    def __init__(self, config: PretrainedConfig):
        super().__init__()
        self.dense = nn.Linear(config.hidden_size, config.hidden_size)

    def forward(self, hidden: Tensor) -> Tensor:
        return torch.tanh(self.dense(hidden[:, 0]))  # (B, T, C) → (B, C)
