"""The BERT encoder, written from the paper (Devlin et al., 2019) and google-research/bert.

    tokens ─► Embeddings (word + position + segment, LayerNorm, dropout)
           ─► Encoder: num_hidden_layers × Layer
                 x = LayerNorm(x + SelfAttention(x))      # post-LN, as in the original BERT
                 x = LayerNorm(x + FeedForward(x))
           ─► last_hidden_state (B, T, C);  Pooler: tanh(W · h[CLS]) ─► pooler_output (B, C)

Two ways through the same weights, giving the same numbers on real tokens:
- padded: every tensor is (B, T, C), as in `transformers`;
- unpadded (the default when a batch has padding): the dense layers run on the N real tokens only,
  packed as (N, C); see padding.py. Padding positions of the outputs are then zeros.
A head that reads only a few positions (MLM training: the masked ones and [CLS]) can also ask for the
last layer at those positions only (`last_layer_at`, Layer.forward_at).

Weights are named for reading, not after the Hugging Face layout; checkpoint.py holds the one table
that maps between the two (including the fused QKV projection).
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from ..config import BertConfig
from ..errors import BertkitError
from .dropout import Dropout
from .outputs import BaseModelOutput
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
    """Token + learned absolute position + segment (token type) embeddings, then LayerNorm and dropout."""

    def __init__(self, config: BertConfig):
        super().__init__()
        C = config.hidden_size
        self.word = nn.Embedding(config.vocab_size, C, padding_idx=config.pad_token_id)
        self.position = nn.Embedding(config.max_position_embeddings, C)
        self.token_type = nn.Embedding(config.type_vocab_size, C)
        self.norm = nn.LayerNorm(C, eps=config.layer_norm_eps)
        self.dropout = Dropout(config.hidden_dropout_prob)

    def forward(self, input_ids: Tensor | None, token_type_ids: Tensor, position_ids: Tensor,
                inputs_embeds: Tensor | None = None) -> Tensor:
        """Any leading shape: (B, T) → (B, T, C), or packed (N,) → (N, C). `inputs_embeds` (..., C), given
        instead of `input_ids`, replaces the word lookup only: segment and position embeddings, LayerNorm
        and dropout still apply, as in `transformers`' BertEmbeddings."""
        words = self.word(input_ids) if inputs_embeds is None else inputs_embeds
        x = words + self.token_type(token_type_ids) + self.position(position_ids)
        return self.dropout(self.norm(x))


# unpadded attention: one masked SDPA call on the padded layout instead of a call per run of equal
# lengths, when there are more than MAX_RUNS runs and padding at most MAX_ATTN_PADDING × the real tokens
MAX_RUNS = 4
MAX_ATTN_PADDING = 1.5


class SelfAttention(nn.Module):
    """Multi-head scaled dot-product self-attention with one fused QKV projection."""

    def __init__(self, config: BertConfig):
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


class FeedForward(nn.Module):
    def __init__(self, config: BertConfig):
        super().__init__()
        self.up = nn.Linear(config.hidden_size, config.intermediate_size)
        self.act = activation(config.hidden_act)
        self.down = nn.Linear(config.intermediate_size, config.hidden_size)

    def forward(self, x: Tensor) -> Tensor:
        return self.down(self.act(self.up(x)))  # (..., C) → (..., 4C) → (..., C)


class Layer(nn.Module):
    """One post-LN transformer layer: each sublayer is followed by residual add and LayerNorm."""

    def __init__(self, config: BertConfig):
        super().__init__()
        C, eps = config.hidden_size, config.layer_norm_eps
        self.attn = SelfAttention(config)
        self.attn_norm = nn.LayerNorm(C, eps=eps)
        self.ffn = FeedForward(config)
        self.ffn_norm = nn.LayerNorm(C, eps=eps)
        self.dropout = Dropout(config.hidden_dropout_prob)

    def forward(self, x: Tensor, key_mask: Tensor | None, packing: Packing | None = None,
                output_attentions: bool = False) -> tuple[Tensor, Tensor | None]:
        a, probs = self.attn(x, key_mask, packing, output_attentions)
        x = self.attn_norm(x + self.dropout(a))
        del a  # (B, T, C) no longer needed: free it before the FFN's (B, T, 4C) intermediates peak
        return self.ffn_sublayer(x), probs

    def ffn_sublayer(self, x: Tensor) -> Tensor:
        """FFN, dropout, residual add, LayerNorm. (..., C) → (..., C)"""
        return self.ffn_norm(x + self.dropout(self.ffn(x)))

    def forward_at(self, x: Tensor, key_mask: Tensor | None, where: Tensor) -> tuple[Tensor, Tensor]:
        """The layer's output at the positions `where` (B, T) bool only; keys and values still come from
        every token. x: (B, T, C) → (S, C) for the S selected positions, in row-major order, and their
        (S,) flat indices into the B·T grid. Same numbers there as `forward`, for a fraction of the work
        when S ≪ B·T (the last layer in pretraining: only masked positions and [CLS] are read)."""
        B, T, C = x.shape
        attn, H, D = self.attn, self.attn.num_heads, self.attn.head_dim
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
                                             dropout_p=attn.dropout_p if self.training else 0.0)  # (B, H, M, D)
        ctx = ctx.transpose(1, 2).reshape(B, M, C)[rows, slot]  # (S, C)
        h = self.attn_norm(xs + self.dropout(attn.out(ctx)))
        return self.ffn_sublayer(h), rows * T + cols


class Encoder(nn.Module):
    def __init__(self, config: BertConfig):
        super().__init__()
        self.layers = nn.ModuleList(Layer(config) for _ in range(config.num_hidden_layers))

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

    def forward_last_at(self, x: Tensor, key_mask: Tensor | None, packing: Packing | None,
                        where: Tensor) -> Tensor:
        """Every layer but the last as usual, the last only at `where` (B, T) bool.
        Returns (B, T, C), zeros at the positions not computed."""
        for layer in self.layers[:-1]:
            x, _ = layer(x, key_mask, packing)
        if packing is not None:
            x = packing.pad(x)  # (N, C) → (B, T, C): the last layer's keys and values are per sequence
        h, flat = self.layers[-1].forward_at(x, key_mask, where)  # (S, C), (S,)
        out = h.new_zeros(x.shape[0] * x.shape[1], h.shape[-1])
        out[flat] = h
        return out.view(x.shape[0], x.shape[1], -1)


class Pooler(nn.Module):
    """tanh(W · h_[CLS] + b): the sentence vector that NSP and classification heads read."""

    def __init__(self, config: BertConfig):
        super().__init__()
        self.dense = nn.Linear(config.hidden_size, config.hidden_size)

    def forward(self, hidden: Tensor) -> Tensor:
        return torch.tanh(self.dense(hidden[:, 0]))  # (B, T, C) → (B, C)


class BertPreTrainedModel(nn.Module):
    """Base for BERT and its heads: weight init, and Hugging Face folder loading and saving.

    Subclass it for a custom head the way `transformers` tutorials do:

        class MyModel(BertPreTrainedModel):
            def __init__(self, config):
                super().__init__(config)
                self.bert = BertModel(config)
                self.head = nn.Linear(config.hidden_size, 3)
                self.post_init()
    """

    base_model_prefix = "bert"
    # heads that read few positions (MLM with labels) compute the last layer only there; False = always full
    sparse_last_layer = True

    def __init__(self, config: BertConfig):
        super().__init__()
        config.validate()
        self.config = config

    def post_init(self) -> None:
        """Initialise every weight as BERT does: N(0, initializer_range), zero biases, unit LayerNorm."""
        self.apply(self._init_weights)

    @torch.no_grad()
    def _init_weights(self, module: nn.Module) -> None:
        std = self.config.initializer_range
        if isinstance(module, nn.Linear):
            module.weight.normal_(0.0, std)
            if module.bias is not None:
                module.bias.zero_()
        elif isinstance(module, nn.Embedding):
            module.weight.normal_(0.0, std)
            if module.padding_idx is not None:
                module.weight[module.padding_idx].zero_()
        elif isinstance(module, nn.LayerNorm):
            module.weight.fill_(1.0)
            module.bias.zero_()

    @classmethod
    def from_pretrained(cls, folder, config: BertConfig | None = None, *, fresh: list | None = None,
                        **config_overrides):
        """Load a Hugging Face folder (config.json + model.safetensors or pytorch_model.bin). A head
        absent from the folder is initialised fresh and logged; with a list as `fresh`, the names of
        those tensors are appended to it instead."""
        from ..checkpoint import load_pretrained
        return load_pretrained(cls, folder, config=config, fresh=fresh, **config_overrides)

    def save_pretrained(self, folder) -> None:
        """Write config.json and model.safetensors in the layout `transformers` reads."""
        from ..checkpoint import save_pretrained
        save_pretrained(self, folder)

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())

    # -- embeddings, as in `transformers` ------------------------------------------------------------
    def _encoder(self) -> "BertModel":
        base = getattr(self, self.base_model_prefix, None)
        if not isinstance(base, BertModel):
            raise NotImplementedError(f"{type(self).__name__} has no BertModel at .{self.base_model_prefix}; "
                                      "override get_input_embeddings and set_input_embeddings")
        return base

    def get_input_embeddings(self) -> nn.Embedding:
        """The word-embedding table, nn.Embedding (vocab_size, hidden_size)."""
        return self._encoder().get_input_embeddings()

    def set_input_embeddings(self, value: nn.Embedding) -> None:
        """Replace the word-embedding table (a tied MLM decoder follows it: it reads the table's weight)."""
        self._encoder().set_input_embeddings(value)

    def get_output_embeddings(self) -> nn.Module | None:
        """The vocabulary decoder of an MLM head (see heads.TiedDecoder), None for a model without one."""
        return None

    def resize_token_embeddings(self, new_num_tokens: int | None = None, pad_to_multiple_of: int | None = None,
                                mean_resizing: bool = True, generator: torch.Generator | None = None) -> nn.Embedding:
        """Grow or shrink the vocabulary, e.g. after adding tokens to the tokenizer (`len(tokenizer)`).

        As `transformers` does for BERT: the first min(old, new) rows are kept and rows are added or
        removed at the end; `pad_to_multiple_of` rounds the size up to a multiple; config.vocab_size
        becomes the new size. Added rows start at the mean of the old rows when `mean_resizing` (the
        default; `transformers` samples N(mean, 1e-9 · covariance), a few 1e-5 standard deviations
        from the mean, and this takes the mean itself), else N(0, initializer_range) drawn from
        `generator`. An MLM decoder stays tied to the word embeddings and its bias gets zeros for the
        added tokens (what `transformers` gives BERT). The parameters are resized in place, so anything
        holding them still holds the model's. With neither size given nothing changes.

        Returns the word-embedding module, nn.Embedding (new_num_tokens, hidden_size).
        Raises BertkitError for a size that is not a positive integer or that would drop pad_token_id.
        """
        emb = self.get_input_embeddings()
        old_n = emb.weight.shape[0]
        if new_num_tokens is None and pad_to_multiple_of is None:
            return emb
        n = old_n if new_num_tokens is None else new_num_tokens
        for name, value, hint in (("new_num_tokens", n, "pass the tokenizer's size, len(tokenizer)"),
                                  ("pad_to_multiple_of", pad_to_multiple_of, "e.g. 8 or 64, or None")):
            if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 1):
                raise BertkitError(f"resize_token_embeddings: {name} must be a positive integer, got {value!r}; "
                                   f"{hint}")
        if pad_to_multiple_of is not None:
            n = -(-n // pad_to_multiple_of) * pad_to_multiple_of
        pad = self.config.pad_token_id
        if n <= pad:
            raise BertkitError(f"resize_token_embeddings: new_num_tokens {n} would drop pad_token_id {pad}; "
                               f"keep at least {pad + 1} tokens")
        std = self.config.initializer_range

        def added(table: Tensor) -> Tensor | None:  # the rows to append to a (V, C) table
            if n <= table.shape[0]:
                return None
            if mean_resizing:
                return table.float().mean(0).to(table.dtype)  # (C,), broadcast
            rows = torch.empty(n - table.shape[0], table.shape[1])
            return rows.normal_(0.0, std, generator=generator).to(table)  # (n - V, C)

        with torch.no_grad():
            resized = [emb.weight]
            emb.weight.data = _resized(emb.weight, n, added(emb.weight))
            emb.num_embeddings = n
            out = self.get_output_embeddings()
            if out is not None:
                if out.weight is not emb.weight:  # an untied decoder: its rows follow the same rule
                    out.weight.data = _resized(out.weight, n, added(out.weight))
                    resized.append(out.weight)
                if isinstance(out, nn.Linear):
                    out.out_features = n
                if out.bias is not None:
                    out.bias.data = _resized(out.bias, n, out.bias.new_zeros(()))
                    resized.append(out.bias)
            for p in resized:
                p.grad = None  # a gradient of the old shape could not be added to
        self.config.vocab_size = n
        return emb

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    @property
    def dtype(self) -> torch.dtype:
        return next(self.parameters()).dtype


def _resized(t: Tensor, n: int, fill: Tensor | None) -> Tensor:
    """(V, ...) → (n, ...): the first min(V, n) rows of `t`, then `fill` (one row, broadcast, or n - V rows)."""
    out = t.new_empty(n, *t.shape[1:])
    keep = min(n, t.shape[0])
    out[:keep] = t[:keep]
    if n > keep:
        out[keep:] = fill
    return out


class BertModel(BertPreTrainedModel):
    """The bare encoder: `last_hidden_state`, `pooler_output`, and optionally every layer's states
    and attention weights.

    `unpad` (default True) runs the dense layers on real tokens only when the batch has padding;
    set it False for the plain padded computation (same numbers on real tokens).
    """

    def __init__(self, config: BertConfig, add_pooling_layer: bool = True):
        super().__init__(config)
        self.embeddings = Embeddings(config)
        self.encoder = Encoder(config)
        self.pooler = Pooler(config) if add_pooling_layer else None
        self.unpad = True
        self.post_init()

    def get_input_embeddings(self) -> nn.Embedding:
        return self.embeddings.word

    def set_input_embeddings(self, value: nn.Embedding) -> None:
        self.embeddings.word = value

    def _check_inputs(self, input_ids: Tensor | None, inputs_embeds: Tensor | None, token_type_ids: Tensor | None,
                      attention_mask: Tensor | None) -> tuple[int, int]:
        """Check the inputs; return (B, T)."""
        if (input_ids is None) == (inputs_embeds is None):
            given = "both were given" if input_ids is not None else "neither was given"
            raise BertkitError(f"input_ids, inputs_embeds: {given}; pass exactly one of input_ids or inputs_embeds")
        cfg = self.config
        if input_ids is not None:
            if not isinstance(input_ids, torch.Tensor):
                raise TypeError(f"input_ids must be a torch.Tensor, got {type(input_ids).__name__}; "
                                "call the tokenizer with return_tensors='pt'")
            if input_ids.dim() != 2:
                raise BertkitError(f"input_ids must be 2-D (batch, seq_len), got shape {tuple(input_ids.shape)}")
            if input_ids.dtype not in (torch.long, torch.int, torch.int16, torch.uint8):
                raise TypeError(f"input_ids must hold integers, got {input_ids.dtype}")
            name, given = "input_ids", input_ids
        else:
            if not isinstance(inputs_embeds, torch.Tensor):
                raise TypeError(f"inputs_embeds must be a torch.Tensor, got {type(inputs_embeds).__name__}")
            if inputs_embeds.dim() != 3 or inputs_embeds.shape[-1] != cfg.hidden_size:
                raise BertkitError(f"inputs_embeds must be 3-D (batch, seq_len, hidden_size {cfg.hidden_size}), "
                                   f"got shape {tuple(inputs_embeds.shape)}; e.g. model.get_input_embeddings()(input_ids)")
            if not inputs_embeds.is_floating_point():
                raise TypeError(f"inputs_embeds must hold floating-point numbers, got {inputs_embeds.dtype}; "
                                "pass token ids as input_ids")
            name, given = "inputs_embeds", inputs_embeds
        B, T = given.shape[:2]
        if T > cfg.max_position_embeddings:
            raise BertkitError(f"sequence length {T} exceeds max_position_embeddings {cfg.max_position_embeddings}; "
                               "truncate the input (tokenizer truncation=True, max_length=...)")
        if input_ids is not None and input_ids.numel() and (input_ids.min() < 0 or input_ids.max() >= cfg.vocab_size):
            raise BertkitError(f"input_ids hold {int(input_ids.min())}..{int(input_ids.max())}, outside the "
                               f"vocabulary of size {cfg.vocab_size}; is the tokenizer the model's own?")
        for what, t in (("token_type_ids", token_type_ids), ("attention_mask", attention_mask)):
            if t is not None and t.shape != (B, T):
                raise BertkitError(f"{what} has shape {tuple(t.shape)}, {name} {tuple(given.shape)}")
        if token_type_ids is not None and token_type_ids.numel() and token_type_ids.max() >= cfg.type_vocab_size:
            raise BertkitError(f"token_type_ids hold {int(token_type_ids.max())}, but type_vocab_size is "
                               f"{cfg.type_vocab_size}")
        return B, T

    def forward(self, input_ids: Tensor | None = None, attention_mask: Tensor | None = None,
                token_type_ids: Tensor | None = None, position_ids: Tensor | None = None,
                inputs_embeds: Tensor | None = None, output_hidden_states: bool = False,
                output_attentions: bool = False, return_dict: bool = True,
                last_layer_at: Tensor | None = None) -> BaseModelOutput | tuple:
        """input_ids (B, T) int, or inputs_embeds (B, T, C) float instead (exactly one of the two): vectors
        that replace the word-embedding lookup, as in `transformers` (segment and position embeddings
        and LayerNorm still apply); gradients flow back to them. attention_mask, token_type_ids,
        position_ids: (B, T). `last_layer_at` (B, T) bool: compute the last layer only at these
        positions (the rest of last_hidden_state is zeros), for heads that read a few positions; see
        Layer.forward_at. Raises BertkitError (a ValueError) for inputs that do not fit the model."""
        B, T = self._check_inputs(input_ids, inputs_embeds, token_type_ids, attention_mask)
        if last_layer_at is not None and (output_hidden_states or output_attentions):
            raise ValueError("last_layer_at computes part of the last layer; it cannot return every hidden "
                             "state or attention map")
        device = (input_ids if input_ids is not None else inputs_embeds).device
        if token_type_ids is None:
            token_type_ids = torch.zeros((B, T), dtype=torch.long, device=device)
        if position_ids is None:
            position_ids = torch.arange(T, device=device).expand(B, T)

        key_mask = packing = None
        if attention_mask is not None and not bool(attention_mask.all()):
            mask = attention_mask.bool()
            key_mask = mask[:, None, None, :]  # (B, 1, 1, T): every query sees the real keys
            # attention maps are for inspection: computed on the padded grid, every row as in transformers
            if self.unpad and not output_attentions:
                packing = Packing.from_mask(mask)

        if packing is not None:
            ids, embeds, types, pos = (t if t is None else packing.unpad(t)
                                       for t in (input_ids, inputs_embeds, token_type_ids, position_ids))
            x = self.embeddings(ids, types, pos, embeds)  # (N, C)
        else:
            x = self.embeddings(input_ids, token_type_ids, position_ids, inputs_embeds)  # (B, T, C)

        if last_layer_at is not None:
            x, hidden, attentions = self.encoder.forward_last_at(x, key_mask, packing, last_layer_at), None, None
            packing = None  # already padded
        else:
            x, hidden, attentions = self.encoder(x, key_mask, packing, output_hidden_states, output_attentions)
        if packing is not None:
            x = packing.pad(x)  # (B, T, C)
            hidden = [packing.pad(h) for h in hidden] if hidden is not None else None
        pooled = self.pooler(x) if self.pooler is not None else None

        out = BaseModelOutput(
            last_hidden_state=x,
            pooler_output=pooled,
            hidden_states=tuple(hidden) if hidden is not None else None,
            attentions=tuple(attentions) if attentions is not None else None,
        )
        return out if return_dict else out.to_tuple()
