"""What every model shares: the base class (init, base model, folders in and out) and the bare encoder.

`PreTrainedModel` is the base of every family's models and heads, as in `transformers`; `EncoderModel`
is the bare encoder that BertModel, RobertaModel, DistilBertModel and AlbertModel specialise. The
encoder's forward checks its inputs, then runs the readable blocks (blocks.py) on the padded batch, or
on the real tokens only (padding.py), or the last layer at a few positions (sparse.py), with the same
numbers on real tokens.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch
from torch import nn

from ..config import PretrainedConfig
from ..errors import BertkitError, ConfigError
from .blocks import Embeddings, Encoder, Layer, Pooler
from .outputs import BaseModelOutput
from .padding import Packing
from .sparse import encoder_last_at

Tensor = torch.Tensor


@dataclass(frozen=True)
class KeyTable:
    """How a family names its weights in Hugging Face files, declared once in the family's file.

    Paths are module paths; "{}" stands for a layer number. `encoder` pairs are relative to the bare
    encoder (whose keys carry `base_model_prefix` + "." inside a head model), `heads` pairs relative to
    the head model. `qkv` is the template of the separate query, key and value modules of HF files and
    their three names, which are the row blocks of our one fused projection. `derived` keys are in HF
    files but computed here (a decoder tied to the word embeddings, position-id buffers): skipped on load,
    not written."""

    encoder: tuple[tuple[str, str], ...]
    qkv: tuple[str, tuple[str, str, str]]
    heads: tuple[tuple[str, str], ...]
    derived: tuple[str, ...] = ()
    # our fused projection's path; as many "{}" as the HF template has before its part name (ALBERT's
    # shared layers are numbered by group and by layer within the group: two)
    our_qkv: str = "encoder.layers.{}.attn.qkv"

    @property
    def encoder_roots(self) -> tuple[str, ...]:
        """The first components of the encoder's HF keys ("embeddings.", "encoder.", ...)."""
        paths = [hf for hf, _ in self.encoder] + [self.qkv[0]]
        return tuple(dict.fromkeys(p.split(".")[0] + "." for p in paths))

    @property
    def head_modules(self) -> tuple[str, ...]:
        """Our head modules' names ("mlm.", "classifier.", ...): what a model without that head drops."""
        return tuple(dict.fromkeys(ours.split(".")[0] + "." for _, ours in self.heads)) + ("mlm.bias",)


class PreTrainedModel(nn.Module):
    """Base of every model and head: weight init, the base model, Hugging Face folders in and out.

    A family sets `config_class`, `base_model_prefix` (the attribute that holds the bare encoder in a
    head model, and its keys' prefix in HF files), `base_model_class` and `key_table`. Subclass a
    family's base (BertPreTrainedModel, ...) for a custom head the way `transformers` tutorials do:

        class MyModel(BertPreTrainedModel):
            def __init__(self, config):
                super().__init__(config)
                self.bert = BertModel(config)
                self.head = nn.Linear(config.hidden_size, 3)
                self.post_init()
    """

    config_class: ClassVar[type[PretrainedConfig]] = PretrainedConfig
    base_model_prefix: ClassVar[str] = ""
    base_model_class: ClassVar[type]  # the family's bare encoder, set in its file
    key_table: ClassVar[KeyTable]
    # heads that read few positions (MLM with labels) compute the last layer only there; False = always full
    sparse_last_layer = True

    def __init__(self, config: PretrainedConfig):
        super().__init__()
        if not isinstance(config, self.config_class) or \
                (self.config_class.model_type and config.model_type != self.config_class.model_type):
            # (RobertaConfig is a BertConfig subclass: the model_type tells the families apart)
            raise ConfigError(f"{type(self).__name__} takes a {self.config_class.__name__}, got "
                              f"{type(config).__name__} (model_type {config.model_type!r}); use the "
                              f"{config.model_type} classes or AutoModel*")
        config.validate()
        self.config = config

    @property
    def base_model(self) -> "EncoderModel":
        """The bare encoder: the model itself, or the one a head model holds at `base_model_prefix`."""
        return getattr(self, self.base_model_prefix, self)

    def add_base_model(self, add_pooling_layer: bool = True) -> None:
        """Build the family's bare encoder at `self.<base_model_prefix>` (heads call this first)."""
        setattr(self, self.base_model_prefix, self.base_model_class(self.config, add_pooling_layer=add_pooling_layer))

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
    def from_pretrained(cls, folder, config: PretrainedConfig | None = None, *, fresh: list | None = None,
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
    def _encoder(self) -> "EncoderModel":
        base = self.base_model
        if not isinstance(base, EncoderModel):
            raise NotImplementedError(f"{type(self).__name__} has no {self.base_model_class.__name__} at "
                                      f".{self.base_model_prefix}; "
                                      "override get_input_embeddings and set_input_embeddings")
        return base

    def get_input_embeddings(self) -> nn.Embedding:
        """The word-embedding table, nn.Embedding (vocab_size, hidden_size), or (vocab_size, embedding_size)
        in a family with narrower embeddings (ELECTRA)."""
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


class EncoderModel(PreTrainedModel):
    """The bare encoder of any family: `last_hidden_state`, `pooler_output` (None without a pooler),
    and optionally every layer's states and attention weights.

    A family's encoder (BertModel, RobertaModel, DistilBertModel, AlbertModel) subclasses this and its
    family base, and changes only what differs: `make_embeddings`, `make_encoder`, `layer_class`,
    `has_pooler`, `position_ids`.

    `unpad` (default True) runs the dense layers on real tokens only when the batch has padding;
    set it False for the plain padded computation (same numbers on real tokens).
    """

    layer_class: ClassVar[type[Layer]] = Layer
    has_pooler: ClassVar[bool] = True

    def __init__(self, config: PretrainedConfig, add_pooling_layer: bool = True):
        super().__init__(config)
        self.embeddings = self.make_embeddings(config)
        self.encoder = self.make_encoder(config)
        self.pooler = Pooler(config) if add_pooling_layer and self.has_pooler else None
        self.unpad = True
        self.post_init()

    def make_embeddings(self, config: PretrainedConfig) -> Embeddings:
        return Embeddings(config)

    def make_encoder(self, config: PretrainedConfig) -> Encoder:
        """The layers (ALBERT's shares them between groups); anything with `layers` in running order."""
        return Encoder(config, self.layer_class)

    def position_ids(self, input_ids: Tensor | None, B: int, T: int, device: torch.device) -> Tensor:
        """(B, T) position of each token when the caller gives none: 0, 1, ..., T - 1 on every row."""
        return torch.arange(T, device=device).expand(B, T)

    def get_input_embeddings(self) -> nn.Embedding:
        return self.embeddings.word

    def set_input_embeddings(self, value: nn.Embedding) -> None:
        self.embeddings.word = value

    def _check_inputs(self, input_ids: Tensor | None, inputs_embeds: Tensor | None, token_type_ids: Tensor | None,
                      attention_mask: Tensor | None, position_ids: Tensor | None = None) -> tuple[int, int]:
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
            width = self.get_input_embeddings().embedding_dim  # hidden_size, or ALBERT's / ELECTRA's embedding_size
            if inputs_embeds.dim() != 3 or inputs_embeds.shape[-1] != width:
                what = "hidden_size" if width == cfg.hidden_size else "embedding_size"
                raise BertkitError(f"inputs_embeds must be 3-D (batch, seq_len, {what} {width}), "
                                   f"got shape {tuple(inputs_embeds.shape)}; e.g. model.get_input_embeddings()(input_ids)")
            if not inputs_embeds.is_floating_point():
                raise TypeError(f"inputs_embeds must hold floating-point numbers, got {inputs_embeds.dtype}; "
                                "pass token ids as input_ids")
            name, given = "inputs_embeds", inputs_embeds
        B, T = given.shape[:2]
        if T > cfg.max_sequence_length:
            limit = f"max_position_embeddings {cfg.max_position_embeddings}"
            if cfg.max_sequence_length != cfg.max_position_embeddings:
                limit += (f" (positions start after pad_token_id {cfg.pad_token_id}: at most "
                          f"{cfg.max_sequence_length} tokens)")
            raise BertkitError(f"sequence length {T} exceeds {limit}; truncate the input "
                               "(tokenizer truncation=True, max_length=...)")
        if torch.compiler.is_exporting():  # the value checks below read data, which an exported graph cannot
            return B, T
        if input_ids is not None and input_ids.numel() and (input_ids.min() < 0 or input_ids.max() >= cfg.vocab_size):
            raise BertkitError(f"input_ids hold {int(input_ids.min())}..{int(input_ids.max())}, outside the "
                               f"vocabulary of size {cfg.vocab_size}; is the tokenizer the model's own?")
        for what, t in (("token_type_ids", token_type_ids), ("attention_mask", attention_mask)):
            if t is not None and t.shape != (B, T):
                raise BertkitError(f"{what} has shape {tuple(t.shape)}, {name} {tuple(given.shape)}")
        if position_ids is not None and position_ids.numel() \
                and not 0 <= position_ids.min() <= position_ids.max() < cfg.max_position_embeddings:
            bad = int(position_ids.max()) if position_ids.min() >= 0 else int(position_ids.min())
            raise BertkitError(f"position_ids hold {bad}, outside the position table 0..{cfg.max_position_embeddings - 1} "
                               "(max_position_embeddings); leave position_ids out to have them made")
        segments = self.embeddings.token_type is not None  # without a segment table they are ignored
        if segments and token_type_ids is not None and token_type_ids.numel() \
                and not 0 <= token_type_ids.min() <= token_type_ids.max() < cfg.type_vocab_size:
            hint = ("this model has one segment: leave token_type_ids out, or all zeros" if cfg.type_vocab_size == 1
                    else f"use segment ids 0..{cfg.type_vocab_size - 1}")
            bad = int(token_type_ids.max()) if token_type_ids.min() >= 0 else int(token_type_ids.min())
            raise BertkitError(f"token_type_ids hold {bad}, but type_vocab_size is {cfg.type_vocab_size}; {hint}")
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
        B, T = self._check_inputs(input_ids, inputs_embeds, token_type_ids, attention_mask, position_ids)
        if last_layer_at is not None and (output_hidden_states or output_attentions):
            raise ValueError("last_layer_at computes part of the last layer; it cannot return every hidden "
                             "state or attention map")
        device = (input_ids if input_ids is not None else inputs_embeds).device
        if self.embeddings.token_type is None:
            token_type_ids = None  # accepted and ignored (DistilBERT), as users pass the tokenizer's output
        elif token_type_ids is None:
            token_type_ids = torch.zeros((B, T), dtype=torch.long, device=device)
        if position_ids is None:
            position_ids = self.position_ids(input_ids, B, T, device)

        key_mask = packing = None
        # an exported graph (ONNX) takes any batch: always the padded grid with a key mask, no data-dependent branch
        exporting = torch.compiler.is_exporting()
        if attention_mask is not None and (exporting or not bool(attention_mask.all())):
            mask = attention_mask.bool()
            key_mask = mask[:, None, None, :]  # (B, 1, 1, T): every query sees the real keys
            # attention maps are for inspection: computed on the padded grid, every row as in transformers
            if self.unpad and not output_attentions and not exporting:
                packing = Packing.from_mask(mask)

        if packing is not None:
            ids, embeds, types, pos = (t if t is None else packing.unpad(t)
                                       for t in (input_ids, inputs_embeds, token_type_ids, position_ids))
            x = self.embeddings(ids, types, pos, embeds)  # (N, C)
        else:
            x = self.embeddings(input_ids, token_type_ids, position_ids, inputs_embeds)  # (B, T, C)

        if last_layer_at is not None:
            x, hidden, attentions = encoder_last_at(self.encoder, x, key_mask, packing, last_layer_at), None, None
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
